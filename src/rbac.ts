// kvlog rbac: the least-privilege ClusterRole (and its binding) for what kvlog does with the
// chosen components, the Role over kvlog's record in kube-system (and the record's ConfigMaps,
// so that kvlog needs no create permission there), as YAML for `kubectl apply -f -`. The
// README's RBAC section is this output for every component (a test keeps the two the same).

import type { Component, ComponentName } from "./components.js";
import { emptyRecord, recordName, RECORD_NAMESPACE } from "./record.js";

/** What else the roles should allow: `capture`, what kvlog capture reads (the components' logs). */
export interface RbacOptions {
  capture?: boolean;
}

interface Rule {
  /** Which components need the rule. */
  for: (c: Component, o: RbacOptions) => boolean;
  /** What the rule allows and why, in sentences (wrapped into YAML comment lines). */
  comment: (names: ComponentName[], o: RbacOptions) => string[];
  apiGroups?: string[];
  resources?: string[];
  resourceNames?: string[];
  nonResourceURLs?: string[];
  verbs: string[];
}

const secured = (c: Component): boolean => c.authenticates && (c.discovery === "apiserver" || c.discovery === "pod");
const byPod = (c: Component): boolean => c.discovery === "pod" || c.discovery === "node-pod";
const list = (names: string[]): string => (names.length <= 1 ? names.join("") : `${names.slice(0, -1).join(", ")} and ${names.at(-1)}`);

const RULES: Rule[] = [
  {
    for: secured,
    comment: (names) => {
      const sar = names.filter((n) => n !== "kube-apiserver");
      return [
        `PUT /debug/flags/v on ${list(names)}${sar.length ? ` (${sar.length > 1 ? "all but the apiserver" : sar[0]} ask${sar.length > 1 ? "" : "s"} the apiserver with SubjectAccessReview)` : ""}; GET is kvlog doctor's probe, which every component answers 406 without acting.`,
      ];
    },
    nonResourceURLs: ["/debug/flags/v"],
    verbs: ["get", "put"],
  },
  {
    for: secured,
    comment: (names) => [`Read the level ${list(names)} started with (GET /flagz, 1.36+): kvlog get, reset and set --for.`],
    nonResourceURLs: ["/flagz"],
    verbs: ["get"],
  },
  {
    for: (c) => c.name === "kubelet",
    comment: (_names, o) => [
      `kubelet, through the apiserver's node proxy or --direct: update to change the level, get to read the level it started with (/configz) for kvlog get, reset and set --for${o.capture ? ", and the kubelet's own log (/logs/) for kvlog capture" : ""}. Powerful: nodes/proxy also reaches the kubelet's exec and run paths. Leave it out if you do not change kubelets.`,
    ],
    apiGroups: [""],
    resources: ["nodes/proxy"],
    verbs: ["get", "update"],
  },
  {
    for: (c) => c.discovery === "apiserver",
    comment: () => ["Find every kube-apiserver replica: each writes its address into the default/kubernetes Endpoints (only that object)."],
    apiGroups: [""],
    resources: ["endpoints"],
    resourceNames: ["kubernetes"],
    verbs: ["get"],
  },
  {
    for: (c) => c.discovery !== "apiserver",
    comment: (names) => {
      const nodes = names.filter((n) => n === "kubelet" || n === "kube-proxy");
      const vouched = names.filter((n) => n !== "kubelet" && n !== "kube-proxy");
      return [
        [
          nodes.length ? `Find nodes (${list(nodes)})` : "",
          vouched.length ? `tell the control-plane nodes (the ${list(vouched)} pods must run on one before kvlog sends them credentials)` : "",
        ]
          .filter(Boolean)
          .join(", and ")
          .replace(/^t/, "T") + ".",
      ];
    },
    apiGroups: [""],
    resources: ["nodes"],
    verbs: ["get", "list"],
  },
  {
    for: (c, o) => byPod(c) || (o.capture === true && c.discovery === "apiserver"),
    comment: (names, o) => {
      const forwarded = names.filter((n) => n !== "kube-apiserver");
      return [
        forwarded.length
          ? `Find the ${list(forwarded)} pods and port-forward to them. WebSocket port-forwards need "get" on older apiservers and "create" from 1.35 on.${names.includes("kube-apiserver") && o.capture ? " kvlog capture also lists the kube-apiserver static pods, to read their logs." : ""}`
          : "kvlog capture: find the kube-apiserver static pods (kube-system, component=kube-apiserver), to read their logs.",
      ];
    },
    apiGroups: [""],
    resources: ["pods"],
    verbs: ["get", "list"],
  },
  {
    for: (c, o) => o.capture === true && (byPod(c) || c.discovery === "apiserver"),
    comment: (names) => [`kvlog capture: read the logs of the ${list(names)} pods during the window (kubectl logs).`],
    apiGroups: [""],
    resources: ["pods/log"],
    verbs: ["get"],
  },
  {
    for: byPod,
    comment: () => [],
    apiGroups: [""],
    resources: ["pods/portforward"],
    verbs: ["get", "create"],
  },
];

export type Subject = { kind: "Group" | "User"; name: string } | { kind: "ServiceAccount"; namespace: string; name: string } | undefined;

/** Words into lines of at most `width` characters. */
function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = "";
  for (const word of text.split(" ")) {
    if (line && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) lines.push(line);
  return lines;
}

const q = (xs: string[]): string => `[${xs.map((x) => JSON.stringify(x)).join(", ")}]`;

function subjectLines(subject: Subject): string[] {
  if (!subject) return ["  - kind: Group", "    name: kvlog-operators # replace with your user, group or ServiceAccount", "    apiGroup: rbac.authorization.k8s.io"];
  if (subject.kind === "ServiceAccount") return ["  - kind: ServiceAccount", `    name: ${subject.name}`, `    namespace: ${subject.namespace}`];
  return [`  - kind: ${subject.kind}`, `    name: ${JSON.stringify(subject.name)}`, "    apiGroup: rbac.authorization.k8s.io"];
}

/**
 * The ClusterRole and ClusterRoleBinding, the Role and RoleBinding over the record, and the
 * record's ConfigMaps, as YAML. Without a subject, a placeholder group to replace.
 */
export function rbacYaml(components: Component[], subject: Subject, name = "kvlog", o: RbacOptions = {}): string {
  const names = components.map((c) => c.name);
  const lines = ["apiVersion: rbac.authorization.k8s.io/v1", "kind: ClusterRole", "metadata:", `  name: ${name}`, "rules:"];
  for (const rule of RULES) {
    const users = components.filter((c) => rule.for(c, o)).map((c) => c.name);
    if (users.length === 0) continue;
    for (const c of rule.comment(users, o)) lines.push(...wrap(c, 94).map((l) => `  # ${l}`));
    const fields: [string, string[] | undefined][] = [
      ["nonResourceURLs", rule.nonResourceURLs],
      ["apiGroups", rule.apiGroups],
      ["resources", rule.resources],
      ["resourceNames", rule.resourceNames],
      ["verbs", rule.verbs],
    ];
    fields
      .filter((f): f is [string, string[]] => f[1] !== undefined)
      .forEach(([k, v], i) => lines.push(`${i === 0 ? "  - " : "    "}${k}: ${q(v)}`));
  }
  if (names.length === 0) lines.push("  []");
  lines.push("---", "apiVersion: rbac.authorization.k8s.io/v1", "kind: ClusterRoleBinding", "metadata:", `  name: ${name}`, "roleRef:");
  lines.push("  apiGroup: rbac.authorization.k8s.io", "  kind: ClusterRole", `  name: ${name}`, "subjects:", ...subjectLines(subject));
  if (names.length > 0) {
    const records = names.map(recordName);
    lines.push("---", "apiVersion: rbac.authorization.k8s.io/v1", "kind: Role", "metadata:", `  name: ${name}`, `  namespace: ${RECORD_NAMESPACE}`, "rules:");
    const why = "kvlog's record of who changed which level, until when (kvlog status, reset --expired): read and update these ConfigMaps only. They are created below, so kvlog needs no create permission in kube-system; without this Role, levels still change and kvlog warns that the change is not recorded.";
    lines.push(...wrap(why, 94).map((l) => `  # ${l}`));
    lines.push('  - apiGroups: [""]', '    resources: ["configmaps"]', "    resourceNames:", ...records.map((r) => `      - ${r}`), '    verbs: ["get", "update"]');
    lines.push("---", "apiVersion: rbac.authorization.k8s.io/v1", "kind: RoleBinding", "metadata:", `  name: ${name}`, `  namespace: ${RECORD_NAMESPACE}`, "roleRef:");
    lines.push("  apiGroup: rbac.authorization.k8s.io", "  kind: Role", `  name: ${name}`, "subjects:", ...subjectLines(subject));
    for (const c of names) {
      const cm = emptyRecord(c);
      lines.push("---", "apiVersion: v1", "kind: ConfigMap", "metadata:", `  name: ${cm.metadata.name}`, `  namespace: ${RECORD_NAMESPACE}`, "  labels:");
      for (const [k, v] of Object.entries(cm.metadata.labels ?? {})) lines.push(`    ${k}: ${v}`);
      lines.push("  annotations:");
      for (const [k, v] of Object.entries(cm.metadata.annotations ?? {})) lines.push(`    ${k}: ${JSON.stringify(v)}`);
    }
  }
  return `${lines.join("\n")}\n`;
}

// The one catalog of Kubernetes components kvlog knows how to reach.
// Adding a component is an entry here; plan.ts and apply.ts read only these fields.

import { editDistance } from "./suggest.js";

export type ComponentName =
  | "kube-apiserver"
  | "kube-scheduler"
  | "kube-controller-manager"
  | "cloud-controller-manager"
  | "kubelet"
  | "kube-proxy";

/**
 * How a component's replicas are found:
 * - "apiserver": the kubeconfig's cluster URL itself.
 * - "pod": every matching pod (by namespace + label selector), reached by a port-forward.
 * - "node": every selected node, reached through the apiserver's node proxy (or directly).
 * - "node-pod": one pod per selected node (a DaemonSet), reached by a port-forward.
 */
export type Discovery = "apiserver" | "pod" | "node" | "node-pod";

export interface Component {
  name: ComponentName;
  aliases: string[];
  discovery: Discovery;
  /** Port of the debug endpoint inside the pod / on the node. */
  port: number;
  scheme: "https" | "http";
  /** Whether the endpoint authenticates callers. kube-proxy does not: no credentials are ever sent to it. */
  authenticates: boolean;
  /** Default namespace and pod label selector for pod-based discovery. */
  namespace?: string;
  podSelector?: string;
  /** First minor release that serves PUT /debug/flags/v. */
  since: [major: number, minor: number];
  /** What turns the endpoint on when it answers 404. */
  gate: string;
  /** The RBAC rule the caller needs for the PUT, as printed in a 403 hint ("" when the endpoint has no auth). */
  rbac: string;
  /** Where the component's own name appears in a pod's container image (for the version). */
  image?: string;
}

const NON_RESOURCE_RULE = `nonResourceURLs ["/debug/flags/v"] verbs ["put"]`;
const NODES_PROXY_RULE = `apiGroups [""] resources ["nodes/proxy"] verbs ["update"]`;

export const COMPONENTS: readonly Component[] = [
  {
    name: "kube-apiserver",
    aliases: ["apiserver"],
    discovery: "apiserver",
    port: 6443,
    scheme: "https",
    authenticates: true,
    since: [1, 11],
    gate: "start kube-apiserver with --profiling=true (the default)",
    rbac: NON_RESOURCE_RULE,
  },
  {
    name: "kube-scheduler",
    aliases: ["scheduler"],
    discovery: "pod",
    port: 10259,
    scheme: "https",
    authenticates: true,
    namespace: "kube-system",
    podSelector: "component=kube-scheduler",
    since: [1, 12],
    gate: "set enableProfiling: true in the KubeSchedulerConfiguration or --profiling=true (the default)",
    rbac: NON_RESOURCE_RULE,
    image: "kube-scheduler",
  },
  {
    name: "kube-controller-manager",
    aliases: ["controller-manager", "kcm"],
    discovery: "pod",
    port: 10257,
    scheme: "https",
    authenticates: true,
    namespace: "kube-system",
    podSelector: "component=kube-controller-manager",
    since: [1, 23],
    gate: "start kube-controller-manager with --profiling=true (the default)",
    rbac: NON_RESOURCE_RULE,
    image: "kube-controller-manager",
  },
  {
    name: "cloud-controller-manager",
    aliases: ["ccm"],
    discovery: "pod",
    port: 10258,
    scheme: "https",
    authenticates: true,
    namespace: "kube-system",
    podSelector: "k8s-app=cloud-controller-manager",
    since: [1, 23],
    gate: "start cloud-controller-manager with --profiling=true (the default)",
    rbac: NON_RESOURCE_RULE,
    image: "cloud-controller-manager",
  },
  {
    name: "kubelet",
    aliases: [],
    discovery: "node",
    port: 10250,
    scheme: "https",
    authenticates: true,
    since: [1, 12],
    gate: "set enableDebuggingHandlers: true and enableDebugFlagsHandler: true in the KubeletConfiguration, then restart the kubelet",
    rbac: NODES_PROXY_RULE,
  },
  {
    name: "kube-proxy",
    aliases: ["proxy"],
    discovery: "node-pod",
    port: 10249,
    scheme: "http",
    authenticates: false,
    namespace: "kube-system",
    podSelector: "k8s-app=kube-proxy",
    since: [1, 22],
    gate: "set enableProfiling: true in the kube-proxy ConfigMap (kubectl -n kube-system edit configmap kube-proxy), then kubectl -n kube-system rollout restart daemonset kube-proxy",
    rbac: "",
    image: "kube-proxy",
  },
];

/** Finds a component by canonical name or alias (case-insensitive). */
export function findComponent(input: string): Component | undefined {
  const q = input.trim().toLowerCase();
  return COMPONENTS.find((c) => c.name === q || c.aliases.includes(q));
}

/** The closest known name or alias to a mistyped one, or undefined if nothing is close. */
export function suggestComponent(input: string): string | undefined {
  const q = input.trim().toLowerCase();
  let best: { name: string; score: number } | undefined;
  for (const c of COMPONENTS) {
    for (const candidate of [c.name, ...c.aliases]) {
      let score = editDistance(q, candidate);
      // "sched" or "controller" are prefixes/parts of a real name: count them as close.
      if (q.length >= 3 && candidate.includes(q)) score = Math.min(score, 1);
      if (!best || score < best.score) best = { name: c.name, score };
    }
  }
  if (!best) return undefined;
  return best.score <= Math.max(2, Math.floor(q.length / 3)) ? best.name : undefined;
}

/** Parses "v1.22.3", "1.23", "v1.30.0-eks-1234" into [major, minor]; undefined when it is not a version. */
export function parseVersion(v: string | undefined): [number, number] | undefined {
  const m = v?.match(/^v?(\d+)\.(\d+)/);
  return m ? [Number(m[1]), Number(m[2])] : undefined;
}

/** True when a known version is older than the release that added the endpoint. */
export function tooOld(component: Component, version: string | undefined): boolean {
  const v = parseVersion(version);
  if (!v) return false;
  const [maj, min] = component.since;
  return v[0] < maj || (v[0] === maj && v[1] < min);
}

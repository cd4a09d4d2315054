// The fake cluster's state (SIMULATED, test-only): what startFakeCluster's options become before
// anything listens. Options are checked here (a bad one throws before any port is taken): the PKI
// (x509.ts), users, static tokens and ServiceAccounts, nodes and pods (in etcd order, with the
// indexes LISTs use), the ConfigMap store, every target (kubelet, component pod, apiserver replica
// plans) with its resolved behaviour, and the bookkeeping every module shares: timers close()
// cancels (later / sleep), tracked sockets, and the recorded requests.
// The other modules (auth, components, resources, portforward, apiserver) take this World.

import * as crypto from "node:crypto";
import type * as http from "node:http";
import type * as net from "node:net";
import type { Duplex } from "node:stream";
import { issue, selfSignedServing } from "./x509.ts";
import type { KeyAndCert } from "./x509.ts";
import { cloudLabels } from "./objects.ts";
import type { ReadyCondition } from "./objects.ts";
import { createFakeLogs } from "./logs.ts";
import { newConfigMapStore } from "./configmaps.ts";
import { DEFAULT_VERSION, KVLOG_RULES, RECORDLESS_RULES, defaultNodes, defaultPods } from "./types.ts";
import type { ComponentBehaviour, FakeClusterOptions, FakeComponentKind, FakeRule, FakeUser, RecordedRequest, ThrottleOptions } from "./types.ts";
import { HOST_PORT, genId, hex64, minorAtLeast, tagOf, uidFrom } from "./internal.ts";
import type { Identity, Kind, Node, Pod, Resolved, Target } from "./internal.ts";
import { rfc3339 } from "./status.ts";
import { BUILTIN_GROUP_RULES } from "./auth.ts";

export type World = Awaited<ReturnType<typeof createWorld>>;

function defaultLabels(kind: FakeComponentKind | undefined): Record<string, string> {
  switch (kind) {
    case "kube-apiserver":
    case "kube-scheduler":
    case "kube-controller-manager":
      return { component: kind, tier: "control-plane" };
    case "cloud-controller-manager":
      return { "k8s-app": "cloud-controller-manager" };
    case "kube-proxy":
      return { "controller-revision-hash": "6b5b4f9b7d", "k8s-app": "kube-proxy", "pod-template-generation": "1" };
  }
  return {};
}

export async function createWorld(dir: string, opts: FakeClusterOptions) {
  const version = opts.version ?? DEFAULT_VERSION;
  const anonymousAuth = opts.anonymousAuth ?? true;
  const createCheck = opts.portForwardCreateCheck ?? true;
  const behaviourIn = opts.behaviour ?? {};
  const kindDefaults = opts.defaultBehaviour ?? {};
  const dialTimeoutMs = opts.kubeletDialTimeoutMs ?? 30_000;
  const maxRecorded = Math.max(1, opts.maxRecordedRequests ?? 200_000);
  const startedAt = new Date().toISOString().replace(/\.\d+Z$/, "Z");
  // Nodes registered a while ago; a node whose kubelet is gone stopped posting 5 minutes ago.
  const createdAt = new Date(Date.now() - 86_400_000).toISOString().replace(/\.\d+Z$/, "Z");
  const lastHeartbeat = new Date(Date.now() - 300_000).toISOString().replace(/\.\d+Z$/, "Z");
  const counters = { connections: 0, peakConnections: 0, requests: 0 };
  const replicaCount = Math.floor(opts.apiserverReplicas ?? 1);
  const unreachableCount = Math.floor(opts.unreachableApiserverReplicas ?? 0);
  if (!(replicaCount >= 1) || !(unreachableCount >= 0) || replicaCount + unreachableCount > 254)
    throw new Error(`fake cluster: apiserverReplicas must be >= 1 and unreachableApiserverReplicas >= 0, at most 254 addresses in all`);
  /** 127.0.0.1 .. 127.0.0.(n+m): replicas then unreachable replicas. */
  const replicaIPs = Array.from({ length: replicaCount + unreachableCount }, (_, i) => `127.0.0.${i + 1}`);
  const endpointsUid = genId();

  // ---- PKI -----------------------------------------------------------------
  const ca = await issue({ commonName: "kubernetes", isCA: true });
  const [apiserverCert, kubeletClient] = await Promise.all([
    issue({
      commonName: "kube-apiserver",
      issuer: ca,
      serverAuth: true,
      dnsNames: ["kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local", "localhost"],
      // kubeadm puts each replica's advertise address in its own cert; here one cert carries them all.
      ipAddresses: [...replicaIPs, "10.96.0.1"],
    }),
    issue({
      commonName: "kube-apiserver-kubelet-client",
      organizations: ["kubeadm:cluster-admins"],
      issuer: ca,
      clientAuth: true,
    }),
  ]);
  const userCerts = new Map<string, KeyAndCert>();
  const kubeletClientIdentity: Identity = { name: "kube-apiserver-kubelet-client", groups: ["kubeadm:cluster-admins", "system:authenticated"] };
  const caX509 = new crypto.X509Certificate(ca.certPem);

  // ---- identities ------------------------------------------------------------
  const users = new Map<string, FakeUser>();
  const defaults: FakeUser[] = [
    { name: "admin", groups: ["system:masters"], kubeconfigAuth: "cert" },
    { name: "kvlog", rules: KVLOG_RULES },
    { name: "recordless", rules: RECORDLESS_RULES },
    { name: "nobody" },
  ];
  for (const u of [...defaults, ...(opts.users ?? [])]) users.set(u.name, { ...u });
  const staticTokens = new Map<string, string>(); // token -> user name
  for (const u of users.values()) {
    if (!u.token) u.token = crypto.randomBytes(24).toString("base64url");
    staticTokens.set(u.token, u.name);
  }
  // Every user's client certificate (kubeconfig(user, { auth: "cert" }), clientCertFor): issued now, as
  // issuing is asynchronous and those two are not.
  await Promise.all(
    [...users.values()].map(async (u) => {
      const groups = (u.groups ?? []).filter((g) => g !== "system:authenticated");
      userCerts.set(u.name, await issue({ commonName: u.name, organizations: groups, issuer: ca, clientAuth: true }));
    }),
  );
  const groupRules: Record<string, FakeRule[]> = { ...BUILTIN_GROUP_RULES, ...(opts.groups ?? {}) };
  const mintedTokens = new Map<string, { user: Identity; exp: number }>();

  const serviceAccounts = new Set<string>();
  for (const sa of opts.serviceAccounts ?? []) serviceAccounts.add(sa);
  for (const u of users.values()) {
    const m = /^system:serviceaccount:([^:]+):([^:]+)$/.exec(u.name);
    if (m) serviceAccounts.add(`${m[1]}/${m[2]}`);
  }

  /** A ServiceAccount's uid (stable per name). */
  const serviceAccountUid = (ns: string, name: string): string => uidFrom(`serviceaccount/${ns}/${name}`);
  const anonymous: Identity = { name: "system:anonymous", groups: ["system:unauthenticated"] };
  // ---- topology --------------------------------------------------------------
  const nodeSpecs = opts.nodes ?? defaultNodes();
  const podSpecs = opts.pods ?? defaultPods(nodeSpecs);
  const nodes = new Map<string, Node>();
  nodeSpecs.forEach((spec, index) => {
    if (nodes.has(spec.name)) throw new Error(`fake cluster: duplicate node ${JSON.stringify(spec.name)}`);
    const labels: Record<string, string> = {
      "beta.kubernetes.io/arch": "amd64",
      "beta.kubernetes.io/os": "linux",
      "kubernetes.io/arch": "amd64",
      "kubernetes.io/hostname": spec.name,
      "kubernetes.io/os": "linux",
      ...(spec.controlPlane ? { "node-role.kubernetes.io/control-plane": "", "node.kubernetes.io/exclude-from-external-load-balancers": "" } : {}),
      ...cloudLabels(spec.name),
      ...(spec.labels ?? {}),
    };
    const ready: ReadyCondition = spec.readyCondition ?? (spec.ready === false ? "Unknown" : "True");
    nodes.set(spec.name, { spec, labels, uid: genId(), created: createdAt, ready, virtual: spec.virtual ?? false, index });
  });
  // Virtual kubelets and components have no certificate of their own: one shared self-signed "localhost" pair.
  const virtualServing = [...nodes.values()].some((n) => n.virtual) ? await selfSignedServing("localhost", ["localhost"], ["127.0.0.1"]) : undefined;
  // etcd order (/registry/minions/<name>): what LIST pages walk.
  const nodesSorted = [...nodes.values()].sort((a, b) => (a.spec.name < b.spec.name ? -1 : a.spec.name > b.spec.name ? 1 : 0));
  const pods: Pod[] = [];
  const podsByKey = new Map<string, Pod>();
  for (const spec of podSpecs) {
    const labels: Record<string, string> = { ...defaultLabels(spec.component), ...(spec.labels ?? {}) };
    const namespace = spec.namespace ?? "kube-system";
    const key = `${namespace}/${spec.name}`;
    if (podsByKey.has(key)) throw new Error(`fake cluster: duplicate pod ${JSON.stringify(key)}`);
    const pod: Pod = { spec, namespace, labels, uid: genId(), sandboxId: hex64(key), created: createdAt, key, restartCount: 0, startedAt: createdAt };
    pods.push(pod);
    podsByKey.set(key, pod);
    serviceAccounts.add(`${namespace}/default`);
  }
  serviceAccounts.add("default/default");
  serviceAccounts.add("kube-system/default");
  // Namespaces that exist (NamespaceLifecycle admission refuses creations elsewhere).
  const namespaces = new Set<string>(["default", "kube-system", "kube-public", "kube-node-lease"]);
  for (const p of pods) namespaces.add(p.namespace);
  const namespaceExists = (ns: string): boolean => namespaces.has(ns) || [...serviceAccounts].some((sa) => sa.startsWith(ns + "/"));
  const configMaps = newConfigMapStore({
    bump: () => String(++w.resourceVersion),
    now: () => rfc3339(new Date()),
    namespaceExists,
  });
  // etcd order (/registry/pods/<ns>/<name>), per namespace, and the watch cache's spec.nodeName index.
  const byKey = (a: Pod, b: Pod): number => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0);
  const podsSorted = [...pods].sort(byKey);
  const podsByNamespace = new Map<string, Pod[]>();
  const podsByNode = new Map<string, Pod[]>();
  for (const p of podsSorted) {
    const ns = podsByNamespace.get(p.namespace) ?? [];
    ns.push(p);
    podsByNamespace.set(p.namespace, ns);
    const nn = p.spec.nodeName ?? "";
    const on = podsByNode.get(nn) ?? [];
    on.push(p);
    podsByNode.set(nn, on);
  }

  /** Per-target behaviour over the kind default (and over "unreachable" for a node that is gone). */
  function layered(kind: Kind, node: string, explicit: ComponentBehaviour): ComponentBehaviour {
    const n = nodes.get(node);
    const gone = kind === "kubelet" && n && (n.ready === "Unknown" || n.ready === "absent") ? { mode: "unreachable" as const } : {};
    return { ...(kindDefaults[kind] ?? {}), ...gone, ...explicit };
  }

  function resolveBehaviour(kind: Kind, b: ComponentBehaviour, fallbackVersion: string): Resolved {
    const v = b.version ?? fallbackVersion;
    // klog's Level is an int32.
    if (b.startupLevel !== undefined && !(Number.isInteger(b.startupLevel) && b.startupLevel >= -(2 ** 31) && b.startupLevel < 2 ** 31))
      throw new Error(`fake cluster: startupLevel must be an int32, not ${String(b.startupLevel)}`);
    return {
      profiling: b.profiling ?? kind !== "kube-proxy",
      debugFlagsHandler: b.debugFlagsHandler ?? true,
      debuggingHandlers: b.debuggingHandlers ?? true,
      version: v,
      mode: b.mode ?? "normal",
      levelSyntax: b.levelSyntax ?? (minorAtLeast(v, 27) ? "1.27+" : "pre-1.27"),
      delayMs: Math.max(0, b.delayMs ?? 0),
      startupLevel: b.startupLevel ?? 0,
      startupExplicit: b.startupLevel !== undefined,
      // ComponentFlagz: beta and on by default from 1.36.
      flagz: b.flagz ?? minorAtLeast(v, 36),
      logs: b.logs,
      systemLogQuery: b.systemLogQuery ?? false,
      systemLogHandler: b.systemLogHandler ?? true,
      nodeLogQueryGate: b.nodeLogQueryGate ?? minorAtLeast(v, 36),
    };
  }

  const targets = new Map<string, Target>();
  const targetsByNode = new Map<string, Target[]>();
  const levels = new Map<string, number>();
  /** Every component's log (logs.ts): computed from the level history when read. */
  const fakeLogs = createFakeLogs();
  const requests: RecordedRequest[] = [];
  const sockets = new Set<net.Socket | Duplex>();
  const hangingResponses = new Set<http.ServerResponse>();
  const pendingTimers = new Set<NodeJS.Timeout>();
  const originPorts = { nodeProxy: new Set<number>(), tunnel: new Set<number>() };

  /** setTimeout that close() cancels. */
  function later(ms: number, fn: () => void): void {
    const t = setTimeout(() => {
      pendingTimers.delete(t);
      fn();
    }, ms);
    pendingTimers.add(t);
  }
  const sleep = (ms: number): Promise<void> => new Promise((resolve) => later(ms, resolve));

  function track<T extends net.Socket | Duplex>(s: T): T {
    sockets.add(s);
    s.once("close", () => sockets.delete(s));
    return s;
  }

  // The apiserver target (one fake apiserver serves every kube-apiserver pod).
  const apiserverPod = pods.find((p) => p.spec.component === "kube-apiserver");
  const apiserverAliases = pods
    .filter((p) => p.spec.component === "kube-apiserver")
    .map((p) => `kube-apiserver/${p.namespace}/${p.spec.name}`);
  // A replica's id carries the port, unknown before start: `behaviour` keys name replicas without it.
  apiserverAliases.push("kube-apiserver/127.0.0.1");
  const apiserverExplicit = behaviourIn["kube-apiserver"] ?? (apiserverAliases.map((a) => behaviourIn[a]).find((x) => x) || {});
  const apiserverLayered = layered("kube-apiserver", "", apiserverExplicit);
  if (apiserverLayered.mode === "refuse" || apiserverLayered.mode === "unreachable")
    throw new Error(`fake cluster: mode ${JSON.stringify(apiserverLayered.mode)} is not supported for kube-apiserver`);
  const apiserverTarget: Target = {
    id: "kube-apiserver",
    kind: "kube-apiserver",
    node: apiserverPod?.spec.nodeName ?? "",
    behaviour: resolveBehaviour("kube-apiserver", apiserverLayered, version),
    explicit: apiserverExplicit,
    port: 0,
    hostPort: 6443,
    virtual: false,
    secure: true,
  };
  targets.set("kube-apiserver", apiserverTarget);
  for (const p of pods) if (p.spec.component === "kube-apiserver") p.target = apiserverTarget;

  const addTarget = (t: Target): void => {
    targets.set(t.id, t);
    const list = targetsByNode.get(t.node) ?? [];
    list.push(t);
    targetsByNode.set(t.node, list);
  };
  /** The serving certificates of real kubelets and components, issued together (awaited below). */
  const serving: Array<Promise<void>> = [];
  for (const n of nodes.values()) {
    const id = `kubelet/${n.spec.name}`;
    const explicit = behaviourIn[id] ?? {};
    const t: Target = {
      id,
      kind: "kubelet",
      node: n.spec.name,
      behaviour: resolveBehaviour("kubelet", layered("kubelet", n.spec.name, explicit), n.spec.kubeletVersion ?? version),
      explicit,
      port: 0,
      hostPort: 10250,
      tls: undefined, // below
      virtual: n.virtual,
      secure: true,
    };
    n.kubelet = t;
    addTarget(t);
    if (!n.virtual) serving.push(selfSignedServing(n.spec.name, [n.spec.name], []).then((c) => void (t.tls = c)));
  }
  for (const p of pods) {
    const kind = p.spec.component;
    if (!kind || kind === "kube-apiserver") continue;
    const id = `${kind}/${p.namespace}/${p.spec.name}`;
    const explicit = behaviourIn[id] ?? {};
    const virtual = nodes.get(p.spec.nodeName ?? "")?.virtual ?? false;
    const t: Target = {
      id,
      kind,
      node: p.spec.nodeName ?? "",
      pod: p,
      behaviour: resolveBehaviour(kind, layered(kind, p.spec.nodeName ?? "", explicit), version),
      explicit,
      port: 0,
      hostPort: HOST_PORT[kind],
      tls: undefined, // below
      virtual,
      secure: kind !== "kube-proxy",
    };
    p.target = t;
    addTarget(t);
    if (kind !== "kube-proxy" && !virtual) serving.push(selfSignedServing("localhost", ["localhost"], ["127.0.0.1"]).then((c) => void (t.tls = c)));
  }
  await Promise.all(serving);
  // Logs start a minute before the cluster "started", so a read of the last seconds finds lines.
  const logsStart = Date.now() - 60_000;
  for (const t of targets.values()) fakeLogs.add(t.id, t.kind, t.node, t.behaviour.startupLevel, t.behaviour.logs, logsStart);
  // One fake apiserver serves every kube-apiserver pod: each pod's node reaches it on 6443.
  for (const p of pods) {
    if (p.spec.component !== "kube-apiserver" || !p.spec.nodeName) continue;
    const list = targetsByNode.get(p.spec.nodeName) ?? [];
    if (!list.includes(apiserverTarget)) list.push(apiserverTarget);
    targetsByNode.set(p.spec.nodeName, list);
  }
  /** Replicas 2..n: their targets (ids with the port) are made once the port is known. */
  const replicaPlans: Array<{ host: string; explicit: ComponentBehaviour; behaviour: Resolved }> = [];
  for (let i = 2; i <= replicaCount; i++) {
    const host = `127.0.0.${i}`;
    const explicit = behaviourIn[`kube-apiserver/${host}`] ?? {};
    const l = layered("kube-apiserver", "", explicit);
    if (l.mode === "unreachable") throw new Error(`fake cluster: mode "unreachable" is not supported for kube-apiserver replicas (use unreachableApiserverReplicas)`);
    replicaPlans.push({ host, explicit, behaviour: resolveBehaviour("kube-apiserver", l, version) });
  }
  for (const id of Object.keys(behaviourIn)) {
    const replica = /^kube-apiserver\/127\.0\.0\.(\d+)(:\d+)?$/.exec(id);
    if (replica && Number(replica[1]) >= 2 && Number(replica[1]) <= replicaCount && !replica[2]) continue;
    if (replica?.[2]) throw new Error(`fake cluster: behaviour for ${JSON.stringify(id)}: name replicas without the port (unknown before start)`);
    if (!targets.has(id) && !apiserverAliases.includes(id)) throw new Error(`fake cluster: behaviour for unknown target ${JSON.stringify(id)}`);
  }

  const MAX_BODY = 64 * 1024;
  function record(r: RecordedRequest): RecordedRequest {
    if (r.body.length > MAX_BODY) r.body = r.body.slice(0, MAX_BODY);
    requests.push(r);
    // Drop the oldest in batches (keeps the array's identity; amortised O(1)).
    if (requests.length > maxRecorded + Math.ceil(maxRecorded / 10)) requests.splice(0, requests.length - maxRecorded);
    return r;
  }

  function viaFor(req: http.IncomingMessage): RecordedRequest["via"] {
    const tag = tagOf(req.socket);
    if (tag) return tag.via;
    const port = req.socket.remotePort ?? -1;
    if (originPorts.tunnel.has(port)) return "port-forward";
    if (originPorts.nodeProxy.has(port)) return "node-proxy";
    return "direct";
  }

  const w = {
    dir,
    version, anonymousAuth, createCheck, behaviourIn, kindDefaults, dialTimeoutMs, startedAt, createdAt, lastHeartbeat,
    /** The cluster's one resourceVersion counter (every object reports it; writes bump it). */
    resourceVersion: 1000,
    /** Paging: continue tokens with 0 < rv < compactedBelow are expired (etcd compaction). */
    compactedBelow: 0,
    expireContinueLeft: Math.max(0, opts.expireContinue ?? 0),
    /** APF: the 429 budget throttle() gives. */
    throttleLeft: 0,
    throttleOpts: {} as ThrottleOptions,
    counters, replicaCount, replicaIPs, endpointsUid,
    ca, apiserverCert, kubeletClient, userCerts, kubeletClientIdentity, caX509, virtualServing,
    users, staticTokens, groupRules, mintedTokens, serviceAccounts, serviceAccountUid, anonymous,
    nodes, nodesSorted, pods, podsByKey, namespaces, configMaps, podsSorted, podsByNamespace, podsByNode,
    layered, resolveBehaviour,
    targets, targetsByNode, levels, fakeLogs, requests, sockets, hangingResponses, pendingTimers, originPorts,
    later, sleep, track, record, viaFor,
    apiserverPod, apiserverAliases, apiserverTarget, replicaPlans,
    /** Replica 1's in-process server (port-forwards to a kube-apiserver pod): set by apiserver.ts. */
    apiserverInProcess: undefined as http.Server | undefined,
  };
  return w;
}

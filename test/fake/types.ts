// The fake cluster's public API (SIMULATED, test-only): the options startFakeCluster takes, the
// FakeCluster it returns, and the builders tests use (defaultNodes, fleetNodes, defaultPods,
// KVLOG_RULES). cluster.ts re-exports all of it: tests import from ./cluster.ts.

import * as crypto from "node:crypto";
import type { LevelSyntax } from "./goparse.ts";
import type { LogBehaviour } from "./logs.ts";
import type { ReadyCondition } from "./objects.ts";

export type FakeComponentKind =
  | "kube-apiserver"
  | "kube-scheduler"
  | "kube-controller-manager"
  | "cloud-controller-manager"
  | "kube-proxy";

export interface FakeNodeSpec {
  name: string;
  /** Adds node-role.kubernetes.io/control-plane="" and the control-plane taint. */
  controlPlane?: boolean;
  labels?: Record<string, string>;
  /** Default: the cluster version (or the kubelet behaviour's version). */
  kubeletVersion?: string;
  /** false: as readyCondition "Unknown" (kept for compatibility; readyCondition wins). */
  ready?: boolean;
  /**
   * The node's Ready condition. "True" (default); "False": the kubelet is alive but
   * NotReady (KubeletNotReady, CNI not initialized); "Unknown": the kubelet stopped
   * posting status (node lifecycle controller: every condition Unknown, unreachable
   * taints, pods on it Ready=False) and is gone; "absent": registered but the kubelet
   * never posted status (no conditions at all) and is gone. For Unknown and absent the
   * kubelet's default mode is "unreachable".
   */
  readyCondition?: ReadyCondition;
  /**
   * No listener and no certificate of its own: the kubelet and every component pod on
   * this node are served in process (node proxy, port-forward). A direct
   * (`--direct`) connection to it is impossible (portOf throws).
   */
  virtual?: boolean;
}

export interface FakePodSpec {
  name: string;
  namespace?: string; // default "kube-system"
  nodeName?: string; // empty: unscheduled
  /** Which fake server backs this pod; none: the pod exists in the API only. */
  component?: FakeComponentKind;
  labels?: Record<string, string>;
  image?: string;
  phase?: string; // default "Running"
  hostNetwork?: boolean; // default true
  command?: string[];
  /** For non-hostNetwork pods: pod port -> a local TCP port the tunnel dials. */
  ports?: Record<number, number>;
}

export interface FakeRule {
  verbs: string[];
  apiGroups?: string[]; // default [""]
  resources?: string[]; // "nodes", "nodes/proxy", "*", "*/proxy"
  resourceNames?: string[];
  nonResourceURLs?: string[]; // exact, or a prefix ending in "*"
  /** Namespaced grant (like a RoleBinding in each); absent: cluster-wide. Never grants nonResourceURLs. */
  namespaces?: string[];
  /** Shorthand for `namespaces: [namespace]` (a RoleBinding in that namespace). */
  namespace?: string;
}

export interface FakeUser {
  /** User name; "system:serviceaccount:NS:NAME" creates that ServiceAccount. */
  name: string;
  groups?: string[];
  token?: string;
  rules?: FakeRule[];
  /** What kubeconfig() writes for this user. Default: "cert" for admin, else "token". */
  kubeconfigAuth?: "token" | "cert";
}

/**
 * normal; refuse (nothing listens: connection refused); reset (reads the request, then
 * drops the connection); hang (answers nothing); index (the HTML flags index answers at
 * /debug/flags/v); unreachable (a host that is gone: TCP never connects; the apiserver's
 * node proxy and port-forward give up after kubeletDialTimeoutMs like upstream's dialer,
 * a direct client sees "hang").
 */
export type ComponentMode = "normal" | "refuse" | "reset" | "hang" | "index" | "unreachable";

export interface ComponentBehaviour {
  profiling?: boolean;
  debugFlagsHandler?: boolean;
  debuggingHandlers?: boolean;
  version?: string;
  mode?: ComponentMode;
  levelSyntax?: LevelSyntax;
  /** Wait this long (ms) before answering /debug/flags/v (network + answer latency). */
  delayMs?: number;
  /**
   * The level the process started with (klog's default: 0). `level(id)` reports it until a PUT
   * changes it, restart() returns to it, /flagz ("v") and the kubelet's /configz
   * (logging.verbosity) always show it. Set explicitly, the pod's command carries `--v=N`
   * (kube-apiserver, kube-scheduler, the controller-managers, kube-proxy).
   */
  startupLevel?: number;
  /** /flagz installed (ComponentFlagz). Default: version >= 1.36 (beta, on by default). */
  flagz?: boolean;
  /** How much the component logs, and where (logs.ts): 2 + 10·level lines per second by default. */
  logs?: LogBehaviour;
  /** kubelet: KubeletConfiguration enableSystemLogQuery (default false, as upstream). */
  systemLogQuery?: boolean;
  /** kubelet: KubeletConfiguration enableSystemLogHandler (default true). */
  systemLogHandler?: boolean;
  /** kubelet: feature gate NodeLogQuery (default: on from 1.36, where it is GA; off before). */
  nodeLogQueryGate?: boolean;
}

export interface FakeClusterOptions {
  nodes?: FakeNodeSpec[];
  pods?: FakePodSpec[];
  users?: FakeUser[];
  behaviour?: Record<string, ComponentBehaviour>;
  /** Rules granted to groups (like ClusterRoleBindings to a Group). */
  groups?: Record<string, FakeRule[]>;
  /** kube-apiserver --anonymous-auth (default true, as upstream). */
  anonymousAuth?: boolean;
  /** Cluster version, default v1.34.1. */
  version?: string;
  /**
   * 1.35+ AuthorizePodWebsocketUpgradeCreatePermission (beta, on by default):
   * a WebSocket port-forward also needs `create` on pods/portforward. Default true.
   */
  portForwardCreateCheck?: boolean;
  /** Extra ServiceAccounts ("ns/name"); "default" exists in every namespace used. */
  serviceAccounts?: string[];
  /** Behaviour for every target of a kind, under any per-target `behaviour`. */
  defaultBehaviour?: Partial<Record<"kubelet" | FakeComponentKind, ComponentBehaviour>>;
  /**
   * The first N LIST requests that carry a (valid, positive-rv) continue token answer
   * 410 Expired, as after an etcd compaction.
   */
  expireContinue?: number;
  /**
   * How long the apiserver's dialer waits for a kubelet that is gone (mode
   * "unreachable") before the node proxy answers 503 / port-forward 500 "... i/o
   * timeout". Upstream: 30 s (net.Dialer in utilnet.SetTransportDefaults).
   */
  kubeletDialTimeoutMs?: number;
  /** Most RecordedRequests kept (oldest dropped first). Default 200,000. */
  maxRecordedRequests?: number;
  /**
   * kube-apiserver replicas (default 1). Replica 1 is https://127.0.0.1:P (the kubeconfig
   * URL); replica i (2..n) listens on 127.0.0.i, same port P. Every replica serves the same
   * API; each has its own /debug/flags/v level and behaviour (target id
   * "kube-apiserver/127.0.0.i:P"; "kube-apiserver" is replica 1). All are in the
   * default/kubernetes Endpoints.
   */
  apiserverReplicas?: number;
  /**
   * Extra replica addresses 127.0.0.(n+1)..., port P, listed in the default/kubernetes
   * Endpoints where nothing listens (connection refused): replicas the user cannot reach.
   */
  unreachableApiserverReplicas?: number;
}

/** One kube-apiserver replica as the default/kubernetes Endpoints lists it. */
export interface FakeApiserverReplica {
  /** "kube-apiserver/127.0.0.i:P" (replica 1 also answers to "kube-apiserver"). */
  id: string;
  /** "127.0.0.i" */
  ip: string;
  port: number;
  /** false for unreachableApiserverReplicas: nothing listens there. */
  reachable: boolean;
}

export interface ThrottleOptions {
  /** Retry-After header value (APF's DroppedRequestsTracker starts at 1). */
  retryAfterSeconds?: number;
  /** Only requests whose path (with query string) matches count and are rejected. */
  match?: (path: string) => boolean;
  /** Also reject requests APF exempts (system:masters, health probes). Default false. */
  includeExempt?: boolean;
}

export interface FakeClusterStats {
  /** Client TCP connections to the fake apiserver open now (internal ones excluded). */
  connections: number;
  peakConnections: number;
  /** Requests the fake apiserver received (HTTP and upgrades, those tunnelled to a kube-apiserver pod included). */
  requests: number;
}

export interface RecordedRequest {
  target: string;
  method: string;
  path: string;
  query: string;
  body: string;
  authorization: "bearer" | "cert" | "none";
  user?: string;
  via: "apiserver" | "node-proxy" | "port-forward" | "direct";
  status?: number;
}

export interface FakeCluster {
  url: string;
  caPem: string;
  dir: string;
  kubeconfig(user?: string, extra?: { insecure?: boolean; server?: string; auth?: "token" | "cert" }): string;
  tokenFor(user: string): string;
  /** PEM client certificate and key for a user (signed by caPem). */
  clientCertFor(user: string): { certPem: string; keyPem: string };
  /** What every fake server received, oldest first (at most maxRecordedRequests). */
  requests: RecordedRequest[];
  level(targetId: string): number | undefined;
  /** Every target id, e.g. "kubelet/cp-1", "kube-scheduler/kube-system/kube-scheduler-cp-1". */
  targets(): string[];
  /** Every replica in the default/kubernetes Endpoints, in the order of its addresses (reachable and not). */
  apiserverReplicas: FakeApiserverReplica[];
  /** The local port a target listens on (reserved but closed in mode "refuse"); throws for virtual targets. */
  portOf(targetId: string): number;
  /** Changes a target's behaviour at runtime (reopens/closes its listener as needed). */
  setBehaviour(targetId: string, patch: ComponentBehaviour): Promise<void>;
  /** etcd compaction: every continue token issued so far answers 410 Expired. */
  compact(): void;
  /** APF: the next n (matching, non-exempt, non-long-running) requests answer 429. */
  throttle(n: number, opts?: ThrottleOptions): void;
  stats(): FakeClusterStats;
  /** Starts a new measurement: requests to 0, peakConnections to the connections open now. */
  resetStats(): void;
  /** The stored ConfigMap (a copy, with kind/apiVersion), or undefined. */
  configMap(namespace: string, name: string): Record<string, unknown> | undefined;
  /**
   * Stores a ConfigMap directly (creates or replaces it; no validation, no RBAC, not recorded),
   * with a new resourceVersion from the cluster's counter. Returns the stored copy.
   */
  putConfigMap(namespace: string, obj: Record<string, unknown>): Record<string, unknown>;
  /**
   * The target's process restarts: its level returns to the startup level; for a pod-based
   * target the pod's containerStatuses[0].restartCount increases by 1 and state.running.startedAt
   * becomes now (new resourceVersion).
   */
  restart(targetId: string): void;
  /** The lines of the target's current container logged between two times (test/fake/logs.ts). */
  logLines(targetId: string, fromMs: number, toMs: number): string[];
  /** Destroys every open pods/log follow (of one target, or all), as an apiserver that cuts them. Returns how many. */
  cutLogStreams(targetId?: string): number;
  close(): Promise<void>;
}

export const DEFAULT_VERSION = "v1.34.1";

export function defaultNodes(): FakeNodeSpec[] {
  return [{ name: "cp-1", controlPlane: true }, { name: "worker-1" }];
}

/**
 * A fleet of `count` nodes: `controlPlanes` (default 1) real control-plane nodes
 * cp-1, cp-2, ... then workers node-00001, node-00002, ... (virtual unless
 * `virtual: false`). defaultPods(fleet) puts kube-proxy on every one.
 */
export function fleetNodes(count: number, opts: { controlPlanes?: number; virtual?: boolean } = {}): FakeNodeSpec[] {
  const cps = Math.min(count, opts.controlPlanes ?? 1);
  const workers = count - cps;
  const width = Math.max(5, String(workers).length);
  const out: FakeNodeSpec[] = [];
  for (let i = 1; i <= cps; i++) out.push({ name: `cp-${i}`, controlPlane: true });
  for (let i = 1; i <= workers; i++) out.push({ name: `node-${String(i).padStart(width, "0")}`, virtual: opts.virtual ?? true });
  return out;
}

/** A DaemonSet pod suffix: aaaaa, bbbbb, ... for the first 26 nodes, then 5 chars as the apiserver's generateName makes. */
function dsSuffix(i: number, used: Set<string>): string {
  if (i < 26) return String.fromCharCode(97 + i).repeat(5);
  const alphabet = "bcdfghjklmnpqrstvwxz2456789";
  for (let salt = 0; ; salt++) {
    const h = crypto.createHash("sha256").update(`ds-${i}-${salt}`).digest();
    let s = "";
    for (let k = 0; k < 5; k++) s += alphabet[(h[k] ?? 0) % alphabet.length];
    if (!used.has(s)) return s;
  }
}

/** kubeadm-like control plane on the first control-plane node, kube-proxy on every node. */
export function defaultPods(nodes: FakeNodeSpec[] = defaultNodes()): FakePodSpec[] {
  const cp = (nodes.find((n) => n.controlPlane) ?? nodes[0])?.name ?? "cp-1";
  const pods: FakePodSpec[] = [
    { name: `kube-apiserver-${cp}`, nodeName: cp, component: "kube-apiserver" },
    { name: `kube-scheduler-${cp}`, nodeName: cp, component: "kube-scheduler" },
    { name: `kube-controller-manager-${cp}`, nodeName: cp, component: "kube-controller-manager" },
    { name: "cloud-controller-manager-x2v8q", nodeName: cp, component: "cloud-controller-manager" },
  ];
  const used = new Set<string>();
  nodes.forEach((n, i) => {
    const suffix = dsSuffix(i, used);
    used.add(suffix);
    pods.push({ name: `kube-proxy-${suffix}`, nodeName: n.name, component: "kube-proxy" });
  });
  return pods;
}

export const KVLOG_RULES: FakeRule[] = [
  { nonResourceURLs: ["/debug/flags/v"], verbs: ["get", "put"] },
  { resources: ["nodes/proxy"], verbs: ["update", "get"] },
  { resources: ["nodes"], verbs: ["get", "list"] },
  { resources: ["pods"], verbs: ["get", "list"] },
  { resources: ["pods/portforward"], verbs: ["get", "create"] },
  { resources: ["pods/log"], verbs: ["get"] },
  { resources: ["endpoints"], verbs: ["get"], resourceNames: ["kubernetes"] },
  { nonResourceURLs: ["/flagz"], verbs: ["get"] },
  {
    resources: ["configmaps"],
    verbs: ["get", "update"],
    resourceNames: [
      "kvlog-kube-apiserver",
      "kvlog-kube-scheduler",
      "kvlog-kube-controller-manager",
      "kvlog-cloud-controller-manager",
      "kvlog-kubelet",
      "kvlog-kube-proxy",
    ],
    namespace: "kube-system",
  },
  { resources: ["configmaps"], verbs: ["create"], namespace: "kube-system" },
];

/** KVLOG_RULES without any configmaps rule: may change levels, cannot write the record (user "recordless"). */
export const RECORDLESS_RULES: FakeRule[] = KVLOG_RULES.filter((r) => !(r.resources ?? []).includes("configmaps"));

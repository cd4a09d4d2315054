// An in-process fake Kubernetes cluster for kvlog's tests (SIMULATED, test-only).
//
// It runs, on 127.0.0.1 and random ports:
//   - a fake kube-apiserver (HTTPS): authentication (bearer tokens, client
//     certificates, anonymous), RBAC-like authorization, API Priority and Fairness
//     headers and 429s on demand, nodes and pods (real-size objects, label/field
//     selectors, limit/continue paging with 410 Expired), ConfigMaps (create, read, update with
//     optimistic concurrency, delete, list), TokenRequest, SelfSubjectReview,
//     SelfSubjectAccessReview, the default/kubernetes Endpoints, its own
//     /debug/flags/v and /flagz, the node proxy (nodes/NAME/proxy/...) and pod port-forward over WebSocket
//     (v4.channel.k8s.io, v4.base64.channel.k8s.io); with apiserverReplicas > 1,
//     more listeners on 127.0.0.2, 127.0.0.3, ... (same port, same API, each with its
//     own /debug/flags/v level and behaviour);
//   - one fake kubelet per node (HTTPS, webhook-style auth, self-signed cert; /debug/flags/v,
//     /flagz, /configz);
//   - one fake component server per control-plane / kube-proxy pod: kube-scheduler,
//     kube-controller-manager, cloud-controller-manager (HTTPS, self-signed,
//     delegated auth) and kube-proxy (plain HTTP, no auth).
// Nodes marked `virtual` (fleets of thousands: fleetNodes()) have no listener and no
// certificate: their kubelet and component pods are served in process, over in-memory
// streams, by the same handlers.
//
// Every answer (status code, Content-Type, body, trailing newline) follows the
// upstream source; see README.md in this directory for the references and for
// the places where the fake deliberately differs.
//
// Certificates are generated in memory at start (./x509.ts); nothing is fetched
// and no external binary is used.

import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as http from "node:http";
import * as https from "node:https";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import * as tls from "node:tls";
import { duplexPair } from "node:stream";
import type { Duplex } from "node:stream";
import { WebSocketServer } from "ws";
import type { WebSocket } from "ws";
import { issue, selfSignedServing } from "./x509.ts";
import type { KeyAndCert } from "./x509.ts";
import { glogSetter, goQuote, parseInt64, parseUint } from "./goparse.ts";
import type { LevelSyntax } from "./goparse.ts";
import { buildNode, buildPod, cloudLabels, containerId, sha256hex } from "./objects.ts";
import { createFakeLogs, type LogBehaviour } from "./logs.ts";
import { newConfigMapStore } from "./configmaps.ts";
import type { StatusError } from "./configmaps.ts";
import { FLAGZ_NOT_ACCEPTABLE, flagsFor, flagzObject, flagzText, kubeletConfigz, negotiateFlagz } from "./zpages.ts";
import type { ReadyCondition } from "./objects.ts";
import { cutPage, decodeContinue, encodeContinue } from "./paging.ts";
import {
  fieldsMatch,
  labelsMatch,
  nodeFieldLabels,
  parseFieldSelector,
  parseLabelSelector,
  podFieldLabels,
} from "./selectors.ts";

// ---------------------------------------------------------------------------
// Public API
// ---------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------
// Internals
// ---------------------------------------------------------------------------

type Kind = FakeComponentKind | "kubelet";

interface Resolved {
  profiling: boolean;
  debugFlagsHandler: boolean;
  debuggingHandlers: boolean;
  version: string;
  mode: ComponentMode;
  levelSyntax: LevelSyntax;
  delayMs: number;
  startupLevel: number;
  /** startupLevel was given (the pod's command carries --v=N; level() reports it before any PUT). */
  startupExplicit: boolean;
  flagz: boolean;
  logs: LogBehaviour | undefined;
  systemLogQuery: boolean;
  systemLogHandler: boolean;
  nodeLogQueryGate: boolean;
}

interface Target {
  id: string;
  kind: Kind;
  node: string;
  pod?: Pod;
  behaviour: Resolved;
  explicit: ComponentBehaviour;
  port: number;
  hostPort: number;
  server?: http.Server;
  tls?: { keyPem: string; certChainPem: string };
  /** Served in process: no listener, no certificate of its own. */
  virtual: boolean;
  /** Speaks TLS (everything but kube-proxy). */
  secure: boolean;
  /** kube-apiserver replicas: the address it listens on (127.0.0.i). */
  host?: string;
}

interface Pod {
  spec: FakePodSpec;
  namespace: string;
  labels: Record<string, string>;
  uid: string;
  sandboxId: string;
  target?: Target;
  created: string;
  /** etcd key after /registry/pods/: "ns/name". */
  key: string;
  /** containerStatuses[0]: restarts so far, when the running container started, the previous run. */
  restartCount: number;
  startedAt: string;
  lastTerminated?: { startedAt: string; finishedAt: string; containerID: string };
}

interface Node {
  spec: FakeNodeSpec;
  labels: Record<string, string>;
  uid: string;
  created: string;
  kubelet?: Target;
  ready: ReadyCondition;
  virtual: boolean;
  index: number;
}

/** What an in-process (virtual) connection carries instead of a TCP peer. */
interface StreamTag {
  target?: Target;
  via: RecordedRequest["via"];
  /** The identity a client certificate would have given (the apiserver's kubelet-client). */
  identity?: Identity;
}
const TAG = Symbol("kvlog-fake-stream");
type Tagged = { [TAG]?: StreamTag };
const tagOf = (s: unknown): StreamTag | undefined => (s as Tagged | undefined)?.[TAG];

interface Identity {
  name: string;
  groups: string[];
  uid?: string;
  extra?: Record<string, string[]>;
}

type Authn =
  | { kind: "user"; user: Identity; cred: "bearer" | "cert" }
  | { kind: "anonymous"; cred: "none" }
  | { kind: "error"; cred: "bearer" | "cert" | "none" };

interface Attrs {
  resourceRequest: boolean;
  verb: string;
  path: string;
  apiGroup: string;
  apiVersion: string;
  namespace: string;
  resource: string;
  subresource: string;
  name: string;
  parts: string[];
}

interface StatusObj {
  kind: "Status";
  apiVersion: "v1";
  metadata: { continue?: string };
  status: "Failure";
  message: string;
  reason?: string;
  details?: Record<string, unknown>;
  code: number;
}

const SINCE: Record<Kind, number> = {
  "kube-apiserver": 11,
  "kube-scheduler": 12,
  "kube-controller-manager": 23,
  "cloud-controller-manager": 23,
  "kube-proxy": 22,
  kubelet: 12,
};

const HOST_PORT: Record<Kind, number> = {
  "kube-apiserver": 6443,
  "kube-scheduler": 10259,
  "kube-controller-manager": 10257,
  "cloud-controller-manager": 10258,
  "kube-proxy": 10249,
  kubelet: 10250,
};

const IMAGE: Record<FakeComponentKind, string> = {
  "kube-apiserver": "registry.k8s.io/kube-apiserver",
  "kube-scheduler": "registry.k8s.io/kube-scheduler",
  "kube-controller-manager": "registry.k8s.io/kube-controller-manager",
  "cloud-controller-manager": "registry.k8s.io/cloud-controller-manager",
  "kube-proxy": "registry.k8s.io/kube-proxy",
};

function minorOf(version: string): number {
  const m = /^v?(\d+)\.(\d+)/.exec(version);
  return m ? Number(m[1]) * 1000 + Number(m[2]) : 1034;
}
const minorAtLeast = (version: string, minor: number): boolean => minorOf(version) >= 1000 + minor;

/** Go encoding/json output: HTML-sensitive characters escaped. */
function goJSON(v: unknown): string {
  const s = JSON.stringify(v);
  return /[<>&\u2028\u2029]/.test(s) ? s.replace(/[<>&\u2028\u2029]/g, (c) => "\\u" + c.charCodeAt(0).toString(16).padStart(4, "0")) : s;
}

const sanitizer = (s: string): string => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

function status(code: number, reason: string, message: string, details?: Record<string, unknown>): StatusObj {
  // Field order as metav1.Status marshals: kind, apiVersion, metadata, status, message, reason, details, code.
  const out: Partial<StatusObj> = { kind: "Status", apiVersion: "v1", metadata: {}, status: "Failure", message };
  if (reason) out.reason = reason;
  if (details) out.details = details;
  out.code = code;
  return out as StatusObj;
}

function details(name: string, group: string, kind: string, extra?: Record<string, unknown>): Record<string, unknown> {
  const d: Record<string, unknown> = {};
  if (name) d.name = name;
  if (group) d.group = group;
  if (kind) d.kind = kind;
  return { ...d, ...(extra ?? {}) };
}

const qualified = (group: string, resource: string): string => (group ? `${resource}.${group}` : resource);

function notFound(group: string, resource: string, name: string): StatusObj {
  return status(404, "NotFound", `${qualified(group, resource)} ${goQuote(name)} not found`, details(name, group, resource));
}

function newForbidden(group: string, resource: string, name: string, err: string): StatusObj {
  let message: string;
  if (!group && !resource) message = `forbidden: ${err}`;
  else if (!name) message = `${qualified(group, resource)} is forbidden: ${err}`;
  else message = `${qualified(group, resource)} ${goQuote(name)} is forbidden: ${err}`;
  return status(403, "Forbidden", message, details(name, group, resource));
}

/** responsewriters.Forbidden + forbiddenMessage (reason empty, as RBAC denials are). */
function forbidden(a: Attrs, username: string): StatusObj {
  let msg: string;
  if (!a.resourceRequest) msg = `User ${goQuote(username)} cannot ${a.verb} path ${goQuote(a.path)}`;
  else {
    const res = a.subresource ? `${a.resource}/${a.subresource}` : a.resource;
    msg = a.namespace
      ? `User ${goQuote(username)} cannot ${a.verb} resource ${goQuote(res)} in API group ${goQuote(a.apiGroup)} in the namespace ${goQuote(a.namespace)}`
      : `User ${goQuote(username)} cannot ${a.verb} resource ${goQuote(res)} in API group ${goQuote(a.apiGroup)} at the cluster scope`;
  }
  msg = sanitizer(msg);
  return a.resourceRequest ? newForbidden(a.apiGroup, a.resource, a.name, msg) : newForbidden("", "", "", msg);
}

const unauthorized = (): StatusObj => status(401, "Unauthorized", "Unauthorized");
const badRequest = (msg: string): StatusObj => status(400, "BadRequest", msg);
const internalError = (msg: string): StatusObj => status(500, "", msg);

function statusBody(s: StatusObj): string {
  return goJSON(s) + "\n";
}

function fromStatusError(e: StatusError): StatusObj {
  return status(e.code, e.reason, e.message, e.details);
}

/** RFC 3339 with seconds, as metav1.Time marshals. */
const rfc3339 = (d: Date): string => d.toISOString().replace(/\.\d+Z$/, "Z");

/** A request body decoded as a JSON object (empty: {}), else the decoder's 400. */
function parseJSONBody(body: Buffer): { ok: true; obj: Record<string, unknown> } | { ok: false; status: StatusObj } {
  if (body.length === 0) return { ok: true, obj: {} };
  try {
    const v: unknown = JSON.parse(body.toString());
    if (typeof v === "object" && v !== null && !Array.isArray(v)) return { ok: true, obj: v as Record<string, unknown> };
    return { ok: false, status: badRequest("couldn't get version/kind; json parse error: json: cannot unmarshal into Go value of type struct") };
  } catch (e) {
    return { ok: false, status: badRequest(`couldn't get version/kind; json parse error: ${(e as Error).message}`) };
  }
}

const INDEX_HTML =
  "<html>\n<head>\n<title>/debug/flags/</title>\n</head>\n<body>\n/debug/flags/<br>\n<br>\nflags:<br>\n<table>\n\n<tr>v<br>\n\n</table>\n<br>\nfull flags configurable<br>\n</body>\n</html>\n";

function readBody(req: http.IncomingMessage): Promise<Buffer> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => resolve(Buffer.concat(chunks)));
    req.on("error", () => resolve(Buffer.concat(chunks)));
    req.on("close", () => resolve(Buffer.concat(chunks)));
  });
}

function send(res: http.ServerResponse, code: number, headers: Record<string, string>, body: string | Buffer): void {
  if (res.headersSent || res.destroyed) return;
  res.writeHead(code, headers);
  res.end(body);
}

/** routes.writePlainText */
function writePlainText(res: http.ServerResponse, code: number, text: Buffer | string): void {
  send(res, code, { "Content-Type": "text/plain", "X-Content-Type-Options": "nosniff" }, Buffer.concat([Buffer.from(text), Buffer.from("\n")]));
}

/** net/http.Error */
function httpError(res: http.ServerResponse, code: number, text: string): void {
  send(res, code, { "Content-Type": "text/plain; charset=utf-8", "X-Content-Type-Options": "nosniff" }, text + "\n");
}

/** go-restful Response.WriteErrorString: no Content-Type set (Go sniffs it), no newline. */
function restfulError(res: http.ServerResponse, code: number, text: string): void {
  send(res, code, { "Content-Type": "text/plain; charset=utf-8" }, text);
}

function sendStatus(res: http.ServerResponse, s: StatusObj, extra: Record<string, string> = {}): void {
  send(res, s.code, { ...extra, "Content-Type": "application/json" }, statusBody(s));
}

function rawResponse(code: number, headers: Record<string, string>, body: string | Buffer): Buffer {
  const b = Buffer.from(body);
  let head = `HTTP/1.1 ${code} ${http.STATUS_CODES[code] ?? ""}\r\n`;
  const all: Record<string, string> = { ...headers, Date: new Date().toUTCString(), "Content-Length": String(b.length) };
  for (const [k, v] of Object.entries(all)) head += `${k}: ${v}\r\n`;
  return Buffer.concat([Buffer.from(head + "\r\n"), b]);
}

function verbForMethod(method: string): string {
  switch (method) {
    case "POST":
      return "create";
    case "GET":
    case "HEAD":
      return "get";
    case "PUT":
      return "update";
    case "PATCH":
      return "patch";
    case "DELETE":
      return "delete";
  }
  return "";
}

/** A subset of the apiserver's RequestInfoFactory. */
function requestInfo(method: string, pathname: string, query: URLSearchParams): Attrs {
  const a: Attrs = {
    resourceRequest: false,
    verb: method.toLowerCase(),
    path: pathname,
    apiGroup: "",
    apiVersion: "",
    namespace: "",
    resource: "",
    subresource: "",
    name: "",
    parts: [],
  };
  const segs = pathname.replace(/^\/+/, "").split("/");
  let rest: string[];
  if (segs[0] === "api") {
    if (segs.length < 3 || !segs[2]) return a;
    a.apiVersion = segs[1] ?? "";
    rest = segs.slice(2);
  } else if (segs[0] === "apis") {
    if (segs.length < 4 || !segs[3]) return a;
    a.apiGroup = segs[1] ?? "";
    a.apiVersion = segs[2] ?? "";
    rest = segs.slice(3);
  } else return a;
  const verb = verbForMethod(method);
  if (!verb) return a;
  a.resourceRequest = true;
  a.verb = verb;
  let parts = rest;
  if (parts[0] === "namespaces" && parts.length > 1) {
    a.namespace = parts[1] ?? "";
    if (parts.length > 2 && parts[2] !== "status" && parts[2] !== "finalize") parts = parts.slice(2);
  }
  a.parts = parts;
  if (parts.length >= 3) a.subresource = parts[2] ?? "";
  if (parts.length >= 2) a.name = parts[1] ?? "";
  a.resource = parts[0] ?? "";
  if (!a.name && a.verb === "get") a.verb = query.get("watch") === "true" || query.get("watch") === "1" ? "watch" : "list";
  if (!a.name && a.verb === "delete") a.verb = "deletecollection";
  return a;
}

function ruleMatches(r: FakeRule, a: Attrs): boolean {
  if (!r.verbs.includes("*") && !r.verbs.includes(a.verb)) return false;
  const namespaces = r.namespace !== undefined ? [r.namespace, ...(r.namespaces ?? [])] : r.namespaces;
  if (!a.resourceRequest) {
    // A RoleBinding grants no non-resource URL.
    if (namespaces) return false;
    return (r.nonResourceURLs ?? []).some(
      (u) => u === "*" || u === a.path || (u.endsWith("*") && a.path.startsWith(u.slice(0, -1))),
    );
  }
  if (!r.resources) return false;
  const groups = r.apiGroups ?? [""];
  if (!groups.includes("*") && !groups.includes(a.apiGroup)) return false;
  const combined = a.subresource ? `${a.resource}/${a.subresource}` : a.resource;
  const resOk = r.resources.some(
    (x) =>
      x === "*" ||
      x === combined ||
      (a.subresource !== "" && x.length === a.subresource.length + 2 && x.startsWith("*/") && x.endsWith(a.subresource)),
  );
  if (!resOk) return false;
  if (r.resourceNames && r.resourceNames.length > 0 && !r.resourceNames.includes(a.name)) return false;
  if (namespaces && !namespaces.includes(a.namespace)) return false;
  return true;
}

const BUILTIN_GROUP_RULES: Record<string, FakeRule[]> = {
  // cluster-admin, bound to kubeadm:cluster-admins by kubeadm 1.29+.
  "kubeadm:cluster-admins": [
    { verbs: ["*"], apiGroups: ["*"], resources: ["*"] },
    { verbs: ["*"], nonResourceURLs: ["*"] },
  ],
  // system:basic-user, system:discovery, system:public-info-viewer
  "system:authenticated": [
    { verbs: ["create"], apiGroups: ["authorization.k8s.io"], resources: ["selfsubjectaccessreviews", "selfsubjectrulesreviews"] },
    { verbs: ["create"], apiGroups: ["authentication.k8s.io"], resources: ["selfsubjectreviews"] },
    {
      verbs: ["get"],
      nonResourceURLs: ["/api", "/api/*", "/apis", "/apis/*", "/healthz", "/livez", "/openapi", "/openapi/*", "/readyz", "/version", "/version/"],
    },
  ],
  "system:unauthenticated": [{ verbs: ["get"], nonResourceURLs: ["/healthz", "/livez", "/readyz", "/version", "/version/"] }],
};

function genId(): string {
  return crypto.randomUUID();
}

function hex64(seed: string): string {
  return crypto.createHash("sha256").update(seed).digest("hex");
}

function listen(server: net.Server, port = 0, host = "127.0.0.1"): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (e: Error): void => reject(e);
    server.once("error", onError);
    server.listen(port, host, () => {
      server.off("error", onError);
      resolve((server.address() as net.AddressInfo).port);
    });
  });
}

/** Fails (EADDRINUSE, ...) unless host:port is free right now. */
async function probeFree(host: string, port: number): Promise<void> {
  const s = net.createServer();
  await listen(s, port, host);
  await new Promise<void>((r) => s.close(() => r()));
}

async function reservePort(): Promise<number> {
  const s = net.createServer();
  const port = await listen(s);
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

function goDialError(e: NodeJS.ErrnoException, port: number): string {
  switch (e.code) {
    case "ECONNREFUSED":
      return `dial tcp 127.0.0.1:${port}: connect: connection refused`;
    case "ECONNRESET":
    case "EPIPE":
      return "EOF";
  }
  if (/socket hang up/.test(e.message)) return "EOF";
  return e.message;
}

/** etcd3/errors.go: the 410 for a continue token older than the compaction. */
const INCONSISTENT_CONTINUE =
  "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, " +
  "or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an " +
  "inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list.";

/** A UUID-shaped, stable id from a name (FlowSchema / PriorityLevelConfiguration uids). */
function uidFrom(seed: string): string {
  const h = sha256hex(seed);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

function drained(res: http.ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      res.off("drain", done);
      res.off("close", done);
      resolve();
    };
    res.on("drain", done);
    res.on("close", done);
  });
}

const HOP_BY_HOP = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "proxy-authenticate",
  "proxy-authorization",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
]);

// ---------------------------------------------------------------------------
// startFakeCluster
// ---------------------------------------------------------------------------

/** Folders of clusters not closed yet: removed when the process exits (a test process ended early, a killed server). */
const openDirs = new Set<string>();
let exitHook = false;
function removeAtExit(dir: string): void {
  if (!exitHook) {
    exitHook = true;
    process.once("exit", () => {
      for (const d of openDirs) fs.rmSync(d, { recursive: true, force: true });
    });
  }
  openDirs.add(dir);
}

export async function startFakeCluster(opts: FakeClusterOptions = {}): Promise<FakeCluster> {
  // Its kubeconfigs and token files; removed by close(), or here when the start fails (a bad
  // option), else when the process exits.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "kvlog-fake-"));
  removeAtExit(dir);
  try {
    return await startIn(dir, opts);
  } catch (e) {
    fs.rmSync(dir, { recursive: true, force: true });
    openDirs.delete(dir);
    throw e;
  }
}

async function startIn(dir: string, opts: FakeClusterOptions): Promise<FakeCluster> {
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
  let resourceVersion = 1000;
  // Paging: continue tokens with 0 < rv < compactedBelow are expired (etcd compaction).
  let compactedBelow = 0;
  let expireContinueLeft = Math.max(0, opts.expireContinue ?? 0);
  // APF: 429 budget.
  let throttleLeft = 0;
  let throttleOpts: ThrottleOptions = {};
  const counters = { connections: 0, peakConnections: 0, requests: 0 };
  const replicaCount = Math.floor(opts.apiserverReplicas ?? 1);
  const unreachableCount = Math.floor(opts.unreachableApiserverReplicas ?? 0);
  if (!(replicaCount >= 1) || !(unreachableCount >= 0) || replicaCount + unreachableCount > 254)
    throw new Error(`fake cluster: apiserverReplicas must be >= 1 and unreachableApiserverReplicas >= 0, at most 254 addresses in all`);
  /** 127.0.0.1 .. 127.0.0.(n+m): replicas then unreachable replicas. */
  const replicaIPs = Array.from({ length: replicaCount + unreachableCount }, (_, i) => `127.0.0.${i + 1}`);
  const endpointsUid = genId();

  // ---- PKI -----------------------------------------------------------------
  const ca = issue({ commonName: "kubernetes", isCA: true });
  const apiserverCert = issue({
    commonName: "kube-apiserver",
    issuer: ca,
    serverAuth: true,
    dnsNames: ["kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local", "localhost"],
    // kubeadm puts each replica's advertise address in its own cert; here one cert carries them all.
    ipAddresses: [...replicaIPs, "10.96.0.1"],
  });
  const kubeletClient = issue({
    commonName: "kube-apiserver-kubelet-client",
    organizations: ["kubeadm:cluster-admins"],
    issuer: ca,
    clientAuth: true,
  });
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

  function identityOf(name: string, extraGroups: string[] = []): Identity {
    const u = users.get(name);
    const sa = /^system:serviceaccount:([^:]+):([^:]+)$/.exec(name);
    const groups = [...(u?.groups ?? []), ...extraGroups];
    if (sa) groups.push("system:serviceaccounts", `system:serviceaccounts:${sa[1]}`);
    if (!groups.includes("system:authenticated")) groups.push("system:authenticated");
    // The ServiceAccount token authenticator sets the ServiceAccount's uid.
    return sa ? { name, groups, uid: serviceAccountUid(sa[1] ?? "", sa[2] ?? "") } : { name, groups };
  }

  function rulesFor(user: Identity): FakeRule[] {
    const rules = [...(users.get(user.name)?.rules ?? [])];
    for (const g of user.groups) rules.push(...(groupRules[g] ?? []));
    return rules;
  }

  function authorize(user: Identity, a: Attrs): { allowed: boolean; reason: string } {
    if (user.groups.includes("system:masters")) return { allowed: true, reason: "" };
    const direct = users.get(user.name)?.rules ?? [];
    if (direct.some((r) => ruleMatches(r, a)))
      return {
        allowed: true,
        reason: `RBAC: allowed by ClusterRoleBinding "fake:${user.name}" of ClusterRole "fake:${user.name}" to User "${user.name}"`,
      };
    for (const g of user.groups) {
      if ((groupRules[g] ?? []).some((r) => ruleMatches(r, a)))
        return { allowed: true, reason: `RBAC: allowed by ClusterRoleBinding "fake:${g}" of ClusterRole "fake:${g}" to Group "${g}"` };
    }
    return { allowed: false, reason: "" };
  }

  function certFor(name: string): KeyAndCert {
    let c = userCerts.get(name);
    if (!c) {
      const groups = (users.get(name)?.groups ?? []).filter((g) => g !== "system:authenticated");
      c = issue({ commonName: name, organizations: groups, issuer: ca, clientAuth: true });
      userCerts.set(name, c);
    }
    return c;
  }

  /** Union of x509 and bearer-token authenticators, then anonymous (FailOnError). */
  const certAuthn = new WeakMap<tls.TLSSocket, Identity | "none" | "failed">();
  function authenticate(req: http.IncomingMessage, allowAnonymous: boolean, extraToken?: string): Authn {
    const sock = req.socket as tls.TLSSocket;
    // In-process stream from the apiserver's node proxy: it stands for the apiserver's
    // kubelet-client certificate (which a real TLS handshake would have verified).
    const tagged = tagOf(sock)?.identity;
    if (tagged) return { kind: "user", user: { name: tagged.name, groups: [...tagged.groups] }, cred: "cert" };
    let failed: "bearer" | "cert" | undefined;
    if (sock.encrypted) {
      // The peer certificate is the connection's: decide once per connection.
      let byCert = certAuthn.get(sock);
      if (byCert === undefined) {
        byCert = "none";
        const pc = sock.getPeerCertificate();
        if (pc && pc.subject && Object.keys(pc.subject).length > 0) {
          if (sock.authorized) {
            const cn = String(pc.subject.CN ?? "");
            const o = pc.subject.O;
            const groups = o === undefined ? [] : Array.isArray(o) ? o.map(String) : [String(o)];
            // x509 authenticator: the credential id is the certificate's SHA-256.
            const fp = String(pc.fingerprint256 ?? "").replace(/:/g, "").toLowerCase();
            byCert = { name: cn, groups: [...groups, "system:authenticated"], extra: { "authentication.kubernetes.io/credential-id": [`X509SHA256=${fp}`] } };
          } else byCert = "failed";
        }
        certAuthn.set(sock, byCert);
      }
      if (typeof byCert === "object") return { kind: "user", user: { ...byCert, groups: [...byCert.groups] }, cred: "cert" };
      if (byCert === "failed") failed = "cert";
    }
    let token: string | undefined;
    const h = String(req.headers.authorization ?? "").trim();
    const parts = h.split(" ");
    if (parts.length >= 2 && (parts[0] ?? "").toLowerCase() === "bearer" && parts[1]) token = parts[1];
    if (!token && extraToken) token = extraToken;
    if (token) {
      const staticUser = staticTokens.get(token);
      if (staticUser) return { kind: "user", user: identityOf(staticUser), cred: "bearer" };
      const minted = mintedTokens.get(token);
      if (minted && minted.exp > Date.now()) return { kind: "user", user: minted.user, cred: "bearer" };
      failed = "bearer";
    }
    if (failed) return { kind: "error", cred: failed };
    if (!allowAnonymous) return { kind: "error", cred: "none" };
    return { kind: "anonymous", cred: "none" };
  }
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
    bump: () => String(++resourceVersion),
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
  let closed = false;

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
      tls: n.virtual ? undefined : selfSignedServing(n.spec.name, [n.spec.name], []),
      virtual: n.virtual,
      secure: true,
    };
    n.kubelet = t;
    addTarget(t);
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
      tls: kind === "kube-proxy" || virtual ? undefined : selfSignedServing("localhost", ["localhost"], ["127.0.0.1"]),
      virtual,
      secure: kind !== "kube-proxy",
    };
    p.target = t;
    addTarget(t);
  }
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

  // ---- /debug/flags handlers shared by every component ----------------------

  function serveDebugFlags(t: Target, req: http.IncomingMessage, res: http.ServerResponse, pathname: string, body: Buffer, registersIndex: boolean): boolean {
    if (pathname === "/debug/flags/v") {
      if (t.behaviour.mode === "index") {
        send(res, 200, { "Content-Type": "text/html; charset=utf-8" }, INDEX_HTML);
        return true;
      }
      if (req.method !== "PUT") {
        writePlainText(res, 406, "unsupported http method");
        return true;
      }
      const r = glogSetter(body, t.behaviour.levelSyntax);
      if (!r.ok) {
        writePlainText(res, 400, r.message);
        return true;
      }
      fakeLogs.setLevel(t.id, r.level);
      levels.set(t.id, r.level);
      writePlainText(res, 200, r.message);
      return true;
    }
    if (registersIndex && (pathname === "/debug/flags" || pathname.startsWith("/debug/flags/"))) {
      send(res, 200, { "Content-Type": "text/html; charset=utf-8" }, INDEX_HTML);
      return true;
    }
    return false;
  }

  // ---- /flagz (every component) and the kubelet's /configz ------------------

  /**
   * /flagz as flagz.Install serves it (1.35+ negotiation): the flags the process started with,
   * so "v" is the startup level whatever /debug/flags/v set since.
   */
  function serveFlagz(t: Target, req: http.IncomingMessage, res: http.ServerResponse): void {
    const b = t.behaviour;
    // Structured Flagz: v1alpha1 from 1.35; v1beta1 from 1.36, where v1alpha1 is deprecated.
    const structured = minorAtLeast(b.version, 36) ? ["v1beta1", "v1alpha1"] : minorAtLeast(b.version, 35) ? ["v1alpha1"] : [];
    const host = t.kind === "kube-apiserver" ? (t.host ?? "127.0.0.1") : t.node;
    const flags = flagsFor({ kind: t.kind, startupLevel: b.startupLevel, profiling: b.profiling, host, anonymousAuth });
    const choice = negotiateFlagz(req.headers.accept, structured);
    if (choice.kind === "text") return send(res, 200, { "Content-Type": "text/plain; charset=utf-8" }, flagzText(t.kind, flags));
    // responsewriters.ErrorNegotiated: a Status, no nosniff.
    if (choice.kind === "406") return sendStatus(res, status(406, "NotAcceptable", FLAGZ_NOT_ACCEPTABLE));
    const headers: Record<string, string> = { "Content-Type": `application/json;g=config.k8s.io;v=${choice.version};as=Flagz` };
    if (choice.version === "v1alpha1" && minorAtLeast(b.version, 36))
      headers.Warning = '299 - "This version of the flagz endpoint is deprecated. Please use a newer version."';
    send(res, 200, headers, goJSON(flagzObject(t.kind, choice.version, flags)) + "\n");
  }

  /** The kubelet's /configz (component-base configz.write: json.Marshal, no newline). */
  function serveKubeletConfigz(t: Target, res: http.ServerResponse): void {
    const b = t.behaviour;
    const cfg = kubeletConfigz({ startupLevel: b.startupLevel, debuggingHandlers: b.debuggingHandlers, debugFlagsHandler: b.debugFlagsHandler, profiling: b.profiling });
    send(res, 200, { "Content-Type": "application/json", "X-Content-Type-Options": "nosniff" }, goJSON(cfg));
  }

  /** Returns true when the request was swallowed by a failure mode. */
  function applyMode(t: Target, req: http.IncomingMessage, res: http.ServerResponse): boolean {
    if (t.behaviour.mode === "reset") {
      req.socket.destroy();
      return true;
    }
    // "unreachable" can only be approximated for a client that dials a real listener: it hangs.
    if (t.behaviour.mode === "hang" || t.behaviour.mode === "unreachable") {
      hangingResponses.add(res);
      res.once("close", () => hangingResponses.delete(res));
      return true;
    }
    return false;
  }

  const debugFlagsInstalled = (t: Target): boolean => t.behaviour.profiling && minorAtLeast(t.behaviour.version, SINCE[t.kind]);
  /** mode "index": something answers the HTML index at /debug/flags/v whatever the gates say. */
  const indexLookAlike = (t: Target, p: string): boolean => t.behaviour.mode === "index" && p === "/debug/flags/v";

  // ---- delegated-auth components (scheduler, controller-managers) -----------

  async function delegatedHandler(t: Target, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const u = new URL(req.url ?? "/", "https://component");
    const body = await readBody(req);
    const authn = authenticate(req, anonymousAuth);
    const rec = record({
      target: t.id,
      method: req.method ?? "",
      path: u.pathname,
      query: u.search,
      body: body.toString(),
      authorization: authn.cred,
      user: authn.kind === "user" ? authn.user.name : authn.kind === "anonymous" ? anonymous.name : undefined,
      via: viaFor(req),
    });
    res.once("finish", () => (rec.status = res.statusCode));
    if (applyMode(t, req, res)) return;
    if (u.pathname === "/debug/flags/v" && t.behaviour.delayMs > 0) await sleep(t.behaviour.delayMs);
    const cache = { "Cache-Control": "no-cache, private" };
    if (authn.kind === "error") return sendStatus(res, unauthorized(), cache);
    const user = authn.kind === "user" ? authn.user : anonymous;
    const attrs = requestInfo(req.method ?? "GET", u.pathname, u.searchParams);
    const alwaysAllow = ["/healthz", "/readyz", "/livez"].includes(u.pathname) || user.groups.includes("system:masters");
    // Delegated authorization is a SubjectAccessReview; non-resource attributes for every path.
    const nonResource: Attrs = { ...attrs, resourceRequest: false, verb: (req.method ?? "").toLowerCase(), path: u.pathname };
    if (!alwaysAllow && !authorize(user, nonResource).allowed) return sendStatus(res, forbidden(nonResource, user.name), { ...cache, "X-Content-Type-Options": "nosniff" });
    res.setHeader("Cache-Control", "no-cache, private");
    if (u.pathname === "/flagz" && t.behaviour.flagz) return serveFlagz(t, req, res);
    if ((debugFlagsInstalled(t) || indexLookAlike(t, u.pathname)) && serveDebugFlags(t, req, res, u.pathname, body, true)) return;
    if (["/healthz", "/livez", "/readyz"].includes(u.pathname)) return send(res, 200, { "Content-Type": "text/plain; charset=utf-8", "X-Content-Type-Options": "nosniff" }, "ok");
    httpError(res, 404, "404 page not found");
  }

  // ---- kube-proxy (plain HTTP, no auth) -------------------------------------

  async function kubeProxyHandler(t: Target, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const u = new URL(req.url ?? "/", "http://component");
    const body = await readBody(req);
    const rec = record({
      target: t.id,
      method: req.method ?? "",
      path: u.pathname,
      query: u.search,
      body: body.toString(),
      authorization: req.headers.authorization ? "bearer" : "none",
      via: viaFor(req),
    });
    res.once("finish", () => (rec.status = res.statusCode));
    if (applyMode(t, req, res)) return;
    if (u.pathname === "/debug/flags/v" && t.behaviour.delayMs > 0) await sleep(t.behaviour.delayMs);
    if (u.pathname === "/flagz" && t.behaviour.flagz) return serveFlagz(t, req, res);
    if ((debugFlagsInstalled(t) || indexLookAlike(t, u.pathname)) && serveDebugFlags(t, req, res, u.pathname, body, true)) return;
    if (u.pathname === "/healthz") return send(res, 200, { "Content-Type": "text/plain; charset=utf-8", "X-Content-Type-Options": "nosniff" }, "ok");
    httpError(res, 404, "404 page not found");
  }

  // ---- kubelet ---------------------------------------------------------------

  const DEBUG_DISABLED_PREFIXES = ["/run/", "/exec/", "/attach/", "/portForward/", "/containerLogs/", "/runningpods/", "/debug/pprof/", "/logs/"];

  /** The kubelet's auth filter (pkg/kubelet/server/server.go InstallAuthFilter). Returns the user or undefined after answering. */
  function kubeletAuth(t: Target, req: http.IncomingMessage, res: http.ServerResponse, pathname: string): Identity | undefined {
    const authn = authenticate(req, false);
    if (authn.kind !== "user") {
      restfulError(res, 401, "Unauthorized");
      return undefined;
    }
    const verb = verbForMethod(req.method ?? "");
    let sub = "proxy";
    if (pathname === "/stats" || pathname.startsWith("/stats/")) sub = "stats";
    else if (pathname === "/metrics" || pathname.startsWith("/metrics/")) sub = "metrics";
    else if (pathname === "/logs" || pathname.startsWith("/logs/")) sub = "log";
    const attrs: Attrs = {
      resourceRequest: true,
      verb,
      path: pathname,
      apiGroup: "",
      apiVersion: "v1",
      namespace: "",
      resource: "nodes",
      subresource: sub,
      name: t.node,
      parts: [],
    };
    // KubeletFineGrainedAuthz (beta, on by default from 1.33): /configz and /healthz are allowed
    // by nodes/configz, nodes/healthz, else by nodes/proxy.
    const fine = minorAtLeast(t.behaviour.version, 33) ? (pathname === "/configz" ? "configz" : pathname === "/healthz" || pathname.startsWith("/healthz/") ? "healthz" : "") : "";
    if (fine && authorize(authn.user, { ...attrs, subresource: fine }).allowed) return authn.user;
    if (!authorize(authn.user, attrs).allowed) {
      restfulError(res, 403, `Forbidden (user=${authn.user.name}, verb=${verb}, resource=nodes, subresource=${sub})`);
      return undefined;
    }
    return authn.user;
  }

  async function kubeletHandler(t: Target, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const u = new URL(req.url ?? "/", "https://kubelet");
    const body = await readBody(req);
    const authn = authenticate(req, false);
    const rec = record({
      target: t.id,
      method: req.method ?? "",
      path: u.pathname,
      query: u.search,
      body: body.toString(),
      authorization: authn.cred,
      user: authn.kind === "user" ? authn.user.name : undefined,
      via: viaFor(req),
    });
    res.once("finish", () => (rec.status = res.statusCode));
    if (applyMode(t, req, res)) return;
    const p = u.pathname;
    const b = t.behaviour;
    if (p === "/debug/flags/v" && b.delayMs > 0) await sleep(b.delayMs);
    if (p === "/flagz" && b.flagz) {
      if (!kubeletAuth(t, req, res, p)) return;
      return serveFlagz(t, req, res);
    }
    // configz is installed with the debugging handlers (InstallDebuggingHandlers).
    if (p === "/configz" && b.debuggingHandlers) {
      if (!kubeletAuth(t, req, res, p)) return;
      return serveKubeletConfigz(t, res);
    }
    if (b.debuggingHandlers && (p === "/logs" || p.startsWith("/logs/"))) {
      if (!kubeletAuth(t, req, res, p)) return;
      return fakeLogs.serveKubeletLogs(t.id, { version: b.version, systemLogHandler: b.systemLogHandler, systemLogQuery: b.systemLogQuery, nodeLogQueryGate: b.nodeLogQueryGate }, req, res);
    }
    if (!b.debuggingHandlers) {
      if (DEBUG_DISABLED_PREFIXES.some((x) => p.startsWith(x))) {
        if (!kubeletAuth(t, req, res, p)) return;
        return httpError(res, 405, "Debug endpoints are disabled.");
      }
    } else if (p === "/debug/flags/v") {
      if (!kubeletAuth(t, req, res, p)) return;
      if (!b.debugFlagsHandler) return httpError(res, 405, "flags endpoint is disabled.");
      serveDebugFlags(t, req, res, p, body, false);
      return;
    }
    if (p === "/healthz") {
      if (!kubeletAuth(t, req, res, p)) return;
      return send(res, 200, { "Content-Type": "text/plain; charset=utf-8", "X-Content-Type-Options": "nosniff" }, "ok");
    }
    // Not registered on the kubelet's ServeMux: Go's NotFound, before any filter.
    httpError(res, 404, "404 page not found");
  }

  // ---- servers for kubelets and components -----------------------------------

  async function startTarget(t: Target): Promise<void> {
    if (t.kind === "kube-apiserver" || t.virtual) return;
    const wantPort = t.port || 0;
    if (t.behaviour.mode === "refuse") {
      if (!t.port) t.port = await reservePort();
      return;
    }
    let server: http.Server;
    const handler = (req: http.IncomingMessage, res: http.ServerResponse): void => {
      const fn = t.kind === "kubelet" ? kubeletHandler : t.kind === "kube-proxy" ? kubeProxyHandler : delegatedHandler;
      fn(t, req, res).catch((e: unknown) => {
        if (!res.headersSent) httpError(res, 500, String(e));
      });
    };
    if (t.tls) {
      server = https.createServer(
        { key: t.tls.keyPem, cert: t.tls.certChainPem, ca: [ca.certPem], requestCert: true, rejectUnauthorized: false },
        handler,
      );
    } else server = http.createServer(handler);
    server.on("connection", (s: net.Socket) => track(s));
    server.on("secureConnection", (s: tls.TLSSocket) => track(s));
    server.on("tlsClientError", () => undefined);
    server.on("clientError", (_e: Error, s: Duplex) => s.destroy());
    t.port = await listen(server, wantPort);
    t.server = server;
  }

  function stopServer(s: net.Server): Promise<void> {
    return new Promise<void>((resolve) => {
      if (!s.listening) return resolve();
      s.close(() => resolve());
      (s as http.Server).closeAllConnections?.();
    });
  }

  async function stopTarget(t: Target): Promise<void> {
    const s = t.server;
    t.server = undefined;
    if (!s) return;
    await new Promise<void>((resolve) => {
      s.close(() => resolve());
      s.closeAllConnections?.();
    });
  }

  // ---- in-process serving: virtual targets, and tunnels to the apiserver ----------

  const handlerFor = (t: Target): typeof kubeletHandler => (t.kind === "kubelet" ? kubeletHandler : t.kind === "kube-proxy" ? kubeProxyHandler : delegatedHandler);
  /** One non-listening server for every virtual target; the stream's tag says which one. */
  const inProcess = http.createServer((req, res) => {
    const t = tagOf(req.socket)?.target;
    if (!t) return void req.socket.destroy();
    handlerFor(t)(t, req, res).catch((e: unknown) => {
      if (!res.headersSent) httpError(res, 500, String(e));
    });
  });
  inProcess.on("clientError", (_e: Error, s: Duplex) => s.destroy());
  let virtualTLS: tls.SecureContext | undefined;
  const apiserverTLS = tls.createSecureContext({ key: apiserverCert.keyPem, cert: apiserverCert.certPem, ca: [ca.certPem] });

  /** What a TLS server with requestCert and the cluster CA decides (authorized). */
  function verifyPeer(t: tls.TLSSocket): boolean {
    const pc = t.getPeerX509Certificate();
    if (!pc) return false;
    const now = Date.now();
    return pc.checkIssued(caX509) && pc.verify(caX509.publicKey) && Date.parse(pc.validFrom) <= now && now <= Date.parse(pc.validTo);
  }

  /**
   * Connects to a target without TCP: a duplexPair whose server end (wrapped in TLS when
   * the target speaks TLS) is tagged and handed to a non-listening server. Returns the
   * client end.
   */
  function dialInProcess(t: Target, via: RecordedRequest["via"], o: { tls: boolean; identity?: Identity }): Duplex {
    const [client, server] = duplexPair();
    track(client);
    track(server);
    // Like a TCP socket without allowHalfOpen: the end of one direction ends the other.
    for (const side of [client, server]) side.on("end", () => side.end());
    let sock: Duplex = server;
    if (o.tls) {
      let ctx = apiserverTLS;
      if (t.kind !== "kube-apiserver") {
        // Virtual targets have no certificate of their own: one shared self-signed "localhost" pair.
        if (!virtualTLS) {
          const c = selfSignedServing("localhost", ["localhost"], ["127.0.0.1"]);
          virtualTLS = tls.createSecureContext({ key: c.keyPem, cert: c.certChainPem, ca: [ca.certPem] });
        }
        ctx = virtualTLS;
      }
      const ts = new tls.TLSSocket(server, { isServer: true, secureContext: ctx, requestCert: true, rejectUnauthorized: false });
      ts.on("secure", () => {
        ts.authorized = verifyPeer(ts);
      });
      ts.on("error", () => ts.destroy());
      track(ts);
      sock = ts;
    }
    (sock as Duplex & Tagged)[TAG] = { target: t, via, identity: o.identity };
    (t.kind === "kube-apiserver" ? apiserverInProcess : inProcess).emit("connection", sock);
    return client;
  }

  // ---- the fake kube-apiserver ---------------------------------------------

  function kubeletPortOf(node: string): number {
    const k = nodes.get(node)?.kubelet;
    if (!k) return 0;
    // A virtual kubelet has no listener: its node says what a real one would.
    return k.virtual ? 10250 : k.port;
  }

  function nodeObject(n: Node, inList: boolean): Record<string, unknown> {
    const kv = n.spec.kubeletVersion ?? n.kubelet?.behaviour.version ?? version;
    return buildNode(
      {
        name: n.spec.name,
        uid: n.uid,
        created: n.created,
        labels: n.labels,
        controlPlane: !!n.spec.controlPlane,
        kubeletVersion: kv,
        kubeletPort: kubeletPortOf(n.spec.name),
        ready: n.ready,
        resourceVersion: String(resourceVersion),
        index: n.index,
        heartbeat: n.ready === "Unknown" ? lastHeartbeat : startedAt,
        now: startedAt,
      },
      inList,
    );
  }

  function commandFor(p: Pod): string[] {
    if (p.spec.command) return p.spec.command;
    const base = baseCommand(p);
    // kubeadm writes no --v (klog's default, 0); an explicit startup level is a flag, sorted last
    // like kubeadm's flags (it sorts extraArgs).
    const b = p.target?.behaviour;
    return b?.startupExplicit && p.spec.component ? [...base, `--v=${b.startupLevel}`] : base;
  }

  function baseCommand(p: Pod): string[] {
    const prof = p.target && p.target.kind !== "kube-proxy" && !p.target.behaviour.profiling ? ["--profiling=false"] : [];
    switch (p.spec.component) {
      case "kube-apiserver":
        return [
          "kube-apiserver",
          "--advertise-address=127.0.0.1",
          "--allow-privileged=true",
          "--authorization-mode=Node,RBAC",
          "--client-ca-file=/etc/kubernetes/pki/ca.crt",
          "--enable-admission-plugins=NodeRestriction",
          "--enable-bootstrap-token-auth=true",
          "--kubelet-client-certificate=/etc/kubernetes/pki/apiserver-kubelet-client.crt",
          "--kubelet-client-key=/etc/kubernetes/pki/apiserver-kubelet-client.key",
          "--kubelet-preferred-address-types=InternalIP,ExternalIP,Hostname",
          ...prof,
          "--secure-port=6443",
          "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
          "--service-cluster-ip-range=10.96.0.0/12",
          "--tls-cert-file=/etc/kubernetes/pki/apiserver.crt",
          "--tls-private-key-file=/etc/kubernetes/pki/apiserver.key",
        ];
      case "kube-scheduler":
        return [
          "kube-scheduler",
          "--authentication-kubeconfig=/etc/kubernetes/scheduler.conf",
          "--authorization-kubeconfig=/etc/kubernetes/scheduler.conf",
          "--bind-address=127.0.0.1",
          "--kubeconfig=/etc/kubernetes/scheduler.conf",
          "--leader-elect=true",
          ...prof,
        ];
      case "kube-controller-manager":
        return [
          "kube-controller-manager",
          "--allocate-node-cidrs=true",
          "--authentication-kubeconfig=/etc/kubernetes/controller-manager.conf",
          "--authorization-kubeconfig=/etc/kubernetes/controller-manager.conf",
          "--bind-address=127.0.0.1",
          "--client-ca-file=/etc/kubernetes/pki/ca.crt",
          "--cluster-cidr=10.64.0.0/10",
          "--cluster-name=kubernetes",
          "--controllers=*,bootstrapsigner,tokencleaner",
          "--kubeconfig=/etc/kubernetes/controller-manager.conf",
          "--leader-elect=true",
          ...prof,
          "--service-cluster-ip-range=10.96.0.0/12",
          "--use-service-account-credentials=true",
        ];
      case "cloud-controller-manager":
        return ["/bin/cloud-controller-manager", "--cloud-provider=external", "--leader-elect=true", "--use-service-account-credentials", ...prof];
      case "kube-proxy":
        return ["/usr/local/bin/kube-proxy", "--config=/var/lib/kube-proxy/config.conf", "--hostname-override=$(NODE_NAME)"];
    }
    return ["sleep", "infinity"];
  }

  function podObject(p: Pod, inList: boolean): Record<string, unknown> {
    const kind = p.spec.component;
    const v = p.target?.behaviour.version ?? version;
    const node = p.spec.nodeName ? nodes.get(p.spec.nodeName) : undefined;
    return buildPod(
      {
        name: p.spec.name,
        namespace: p.namespace,
        uid: p.uid,
        created: p.created,
        labels: p.labels,
        component: kind,
        image: p.spec.image ?? (kind ? `${IMAGE[kind]}:${v}` : "registry.k8s.io/pause:3.10"),
        command: commandFor(p),
        nodeName: p.spec.nodeName,
        nodeUid: node?.uid,
        hostNetwork: p.spec.hostNetwork ?? true,
        phase: p.spec.phase ?? "Running",
        // node lifecycle controller MarkPodsNotReady: Ready=False on a node whose status is Unknown.
        markedNotReady: node?.ready === "Unknown",
        sandboxId: p.sandboxId,
        resourceVersion: String(resourceVersion),
        now: startedAt,
        notReadySince: startedAt,
        restartCount: p.restartCount,
        startedAt: p.startedAt,
        lastTerminated: p.lastTerminated,
      },
      inList,
    );
  }

  function podFields(p: Pod): Record<string, string> {
    return {
      "metadata.name": p.spec.name,
      "metadata.namespace": p.namespace,
      "spec.nodeName": p.spec.nodeName ?? "",
      "spec.restartPolicy": "Always",
      "spec.schedulerName": "default-scheduler",
      "spec.serviceAccountName": p.spec.component === "kube-proxy" ? "kube-proxy" : "",
      "spec.hostNetwork": String(p.spec.hostNetwork ?? true),
      "status.phase": p.spec.phase ?? "Running",
      "status.podIP": p.spec.nodeName ? "127.0.0.1" : "",
      "status.podIPs": p.spec.nodeName ? "127.0.0.1" : "",
      "status.nominatedNodeName": "",
    };
  }

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

  function listSelectors(q: URLSearchParams, supported: string[]): { labels: ReturnType<typeof parseLabelSelector>; fields: ReturnType<typeof parseFieldSelector> } | StatusObj {
    try {
      const labels = parseLabelSelector(q.get("labelSelector") ?? "");
      const fields = parseFieldSelector(q.get("fieldSelector") ?? "", supported);
      return { labels, fields };
    } catch (e) {
      return badRequest((e as Error).message);
    }
  }

  const apiHeaders = (): Record<string, string> => ({ "Audit-Id": genId(), "Cache-Control": "no-cache, private" });

  function versionInfo(): Record<string, string> {
    const m = /^v?(\d+)\.(\d+)/.exec(version);
    const major = m?.[1] ?? "1";
    const minor = m?.[2] ?? "34";
    return {
      major,
      minor,
      emulationMajor: major,
      emulationMinor: minor,
      minCompatibilityMajor: major,
      minCompatibilityMinor: String(Math.max(0, Number(minor) - 1)),
      gitVersion: version,
      gitCommit: hex64(version).slice(0, 40),
      gitTreeState: "clean",
      buildDate: "2025-09-09T19:44:50Z",
      goVersion: "go1.24.6",
      compiler: "gc",
      platform: "linux/amd64",
    };
  }

  type PortForwardPlan =
    | { kind: "status"; status: StatusObj }
    | { kind: "relay"; code: number; headers: Record<string, string>; body: string }
    | { kind: "hang" }
    | { kind: "timeout"; status: StatusObj }
    | { kind: "ok"; pod: Pod; ports: number[] };

  /** Everything the apiserver and the kubelet check before a port-forward stream starts. */
  function preparePortForward(attrs: Attrs, user: Identity, q: URLSearchParams, isUpgrade: boolean): PortForwardPlan {
    // getRequestOptions: Convert_Slice_string_To_Slice_int32
    const ports: number[] = [];
    for (const v of q.getAll("ports")) {
      for (const part of v.split(",")) {
        const r = parseUint(Buffer.from(part), 16);
        if (!r.ok) return { kind: "status", status: badRequest(`cannot convert to []int32: ${r.message}`) };
        ports.push(Number(r.value));
      }
    }
    // PortForwardREST.Connect: synthetic "create" check (KEP-4006, 1.35+)
    if (createCheck && attrs.verb !== "create" && !authorize(user, { ...attrs, verb: "create" }).allowed) {
      return { kind: "status", status: newForbidden("", "pods", attrs.name, "") };
    }
    const pod = podsByKey.get(`${attrs.namespace}/${attrs.name}`);
    if (!pod) return { kind: "status", status: notFound("", "pods", attrs.name) };
    if (!pod.spec.nodeName) return { kind: "status", status: badRequest(`pod ${attrs.name} does not have a host assigned`) };
    if (!isUpgrade) return { kind: "status", status: badRequest("Upgrade request required") };
    const kubelet = nodes.get(pod.spec.nodeName)?.kubelet;
    if (!kubelet) return { kind: "status", status: internalError(`nodes ${goQuote(pod.spec.nodeName)} not found`) };
    const kport = kubeletPortOf(pod.spec.nodeName);
    switch (kubelet.behaviour.mode) {
      case "refuse":
        return { kind: "status", status: internalError(`error dialing backend: dial tcp 127.0.0.1:${kport}: connect: connection refused`) };
      case "reset":
        return { kind: "status", status: internalError("unexpected EOF") };
      case "hang":
        return { kind: "hang" };
      case "unreachable":
        return { kind: "timeout", status: internalError(`error dialing backend: dial tcp 127.0.0.1:${kport}: i/o timeout`) };
    }
    const plain = { "Content-Type": "text/plain; charset=utf-8" };
    if (!kubelet.behaviour.debuggingHandlers)
      return { kind: "relay", code: 405, headers: { ...plain, "X-Content-Type-Options": "nosniff" }, body: "Debug endpoints are disabled.\n" };
    // kubelet: portforward.NewV4Options
    if (ports.length === 0) return { kind: "relay", code: 400, headers: plain, body: 'query parameter "port" is required' };
    for (const p of ports) if (p < 1) return { kind: "relay", code: 400, headers: plain, body: `port ${goQuote(String(p))} must be > 0` };
    return { kind: "ok", pod, ports };
  }

  type PodDial = { kind: "tcp"; port: number } | { kind: "in-process"; target: Target };

  /** What a connection to localhost:port inside the pod's network namespace reaches. */
  function resolvePodPort(pod: Pod, port: number): PodDial | undefined {
    // mode "refuse": nothing listens. Not dialled: the closed port number could by then belong
    // to another listener on this machine, and the test would hang instead of being refused.
    const reach = (t: Target): PodDial | undefined => {
      if (t.kind === "kube-apiserver") return { kind: "in-process", target: t };
      if (t.behaviour.mode === "refuse") return undefined;
      return t.virtual ? { kind: "in-process", target: t } : { kind: "tcp", port: t.port };
    };
    if (pod.spec.hostNetwork ?? true) {
      const t = (targetsByNode.get(pod.spec.nodeName ?? "") ?? []).find((x) => x.hostPort === port);
      return t ? reach(t) : undefined;
    }
    const own = pod.spec.ports?.[port];
    if (own !== undefined) return { kind: "tcp", port: own };
    if (pod.target && pod.target.hostPort === port) return reach(pod.target);
    return undefined;
  }

  function forwardError(pod: Pod, port: number): string {
    const hostNet = pod.spec.hostNetwork ?? true;
    const netns = hostNet ? "host" : `/var/run/netns/cni-${pod.uid}`;
    return (
      `error forwarding port ${port} to pod ${pod.sandboxId}, uid : ` +
      `failed to execute portforward in network namespace ${goQuote(netns)}: ` +
      `failed to connect to localhost:${port} inside namespace ${goQuote(pod.sandboxId)}, ` +
      `IPv4: dial tcp4 127.0.0.1:${port}: connect: connection refused IPv6 dial tcp6 [::1]:${port}: connect: connection refused `
    );
  }

  /** The CRI streaming server's WebSocket port-forward (k8s.io/kubelet/pkg/cri/streaming/portforward/websocket.go). */
  function runTunnel(ws: WebSocket, pod: Pod, ports: number[], protocol: string): void {
    const binary = protocol !== "v4.base64.channel.k8s.io";
    const sendFrame = (ch: number, data: Buffer): void => {
      if (ws.readyState !== ws.OPEN) return;
      if (binary) ws.send(Buffer.concat([Buffer.from([ch]), data]), { binary: true });
      else ws.send(String.fromCharCode(48 + ch) + data.toString("base64"));
    };
    const streams = ports.map(() => ({ socket: undefined as Duplex | undefined, connected: false, pending: [] as Buffer[], done: false }));
    const finish = (i: number): void => {
      const s = streams[i];
      if (!s || s.done) return;
      s.done = true;
      if (streams.every((x) => x.done) && ws.readyState === ws.OPEN) ws.close(1000);
    };
    ports.forEach((p, i) => {
      const pb = Buffer.alloc(2);
      pb.writeUInt16LE(p);
      sendFrame(2 * i, pb);
      sendFrame(2 * i + 1, pb);
    });
    ws.on("message", (raw: Buffer | ArrayBuffer | Buffer[], isBinary: boolean) => {
      const buf = Buffer.isBuffer(raw) ? raw : Array.isArray(raw) ? Buffer.concat(raw) : Buffer.from(raw);
      if (buf.length === 0) return;
      let ch: number;
      let data: Buffer;
      if (binary || isBinary) {
        ch = buf[0] ?? 0;
        data = buf.subarray(1);
      } else {
        ch = (buf[0] ?? 48) - 48;
        data = Buffer.from(buf.subarray(1).toString(), "base64");
      }
      if (ch % 2 !== 0) return;
      const s = streams[ch / 2];
      if (!s || s.done) return;
      if (s.connected && s.socket) s.socket.write(data);
      else s.pending.push(data);
    });
    ws.on("close", () => {
      for (const s of streams) s.socket?.destroy();
    });
    ports.forEach((p, i) => {
      const s = streams[i];
      if (!s) return;
      const fail = (): void => {
        sendFrame(2 * i + 1, Buffer.from(forwardError(pod, p)));
        finish(i);
      };
      const local = resolvePodPort(pod, p);
      if (local === undefined) return fail();
      if (local.kind === "in-process") {
        const sock = dialInProcess(local.target, "port-forward", { tls: local.target.secure });
        s.socket = sock;
        s.connected = true;
        for (const d of s.pending) sock.write(d);
        s.pending = [];
        sock.on("data", (d: Buffer) => sendFrame(2 * i, d));
        sock.on("error", () => undefined);
        sock.on("close", () => finish(i));
        return;
      }
      const sock = track(net.connect({ host: "127.0.0.1", port: local.port }));
      s.socket = sock;
      sock.on("connect", () => {
        if (sock.localPort) originPorts.tunnel.add(sock.localPort);
        s.connected = true;
        for (const d of s.pending) sock.write(d);
        s.pending = [];
      });
      sock.on("data", (d: Buffer) => sendFrame(2 * i, d));
      sock.on("error", () => {
        if (!s.connected) fail();
      });
      sock.on("close", () => {
        if (sock.localPort) originPorts.tunnel.delete(sock.localPort);
        finish(i);
      });
    });
  }

  const wss = new WebSocketServer({
    noServer: true,
    perMessageDeflate: false,
    handleProtocols: (_protocols: Set<string>, req: http.IncomingMessage) => (req as http.IncomingMessage & { chosenProtocol?: string }).chosenProtocol || false,
  });

  async function apiserverUpgrade(replica: Target, req: http.IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    track(socket);
    const u = new URL(req.url ?? "/", "https://apiserver");
    const offered = String(req.headers["sec-websocket-protocol"] ?? "")
      .split(",")
      .map((s) => s.trim())
      .filter((s) => s);
    let wsToken: string | undefined;
    const protocols: string[] = [];
    for (const p of offered) {
      const m = /^base64url\.bearer\.authorization\.k8s\.io\.(.*)$/.exec(p);
      if (m) wsToken = Buffer.from(m[1] ?? "", "base64url").toString();
      else protocols.push(p);
    }
    const authn = authenticate(req, anonymousAuth, wsToken);
    counters.requests++;
    const rec = record({
      target: replica.id,
      method: req.method ?? "",
      path: u.pathname,
      query: u.search,
      body: "",
      authorization: authn.cred,
      user: authn.kind === "user" ? authn.user.name : authn.kind === "anonymous" ? anonymous.name : undefined,
      via: viaFor(req) === "port-forward" ? "port-forward" : "apiserver",
    });
    const reject = (code: number, headers: Record<string, string>, body: string): void => {
      rec.status = code;
      socket.end(rawResponse(code, { ...apiHeaders(), ...headers }, body));
    };
    const rejectStatus = (s: StatusObj, extra: Record<string, string> = {}): void =>
      reject(s.code, { ...extra, "Content-Type": "application/json" }, statusBody(s));
    if (authn.kind === "error") return rejectStatus(unauthorized());
    const user = authn.kind === "user" ? authn.user : anonymous;
    const attrs = requestInfo(req.method ?? "GET", u.pathname, u.searchParams);
    if (!authorize(user, attrs).allowed) return rejectStatus(forbidden(attrs, user.name), { "X-Content-Type-Options": "nosniff" });
    const isPortForward = attrs.resourceRequest && attrs.apiGroup === "" && attrs.resource === "pods" && attrs.subresource === "portforward" && attrs.name !== "";
    if (!isPortForward) return rejectStatus(badRequest("fake apiserver: only pods/portforward accepts upgrade requests"));
    const isWebSocket = String(req.headers.upgrade ?? "").toLowerCase() === "websocket";
    const plan = preparePortForward(attrs, user, u.searchParams, true);
    if (plan.kind === "status") return rejectStatus(plan.status);
    if (!isWebSocket)
      return rejectStatus(badRequest("fake apiserver: SPDY port-forward is not implemented; use WebSocket v4.channel.k8s.io"));
    if (protocols.includes("SPDY/3.1+portforward.k8s.io"))
      return rejectStatus(badRequest("fake apiserver: SPDY-over-WebSocket tunneling (SPDY/3.1+portforward.k8s.io) is not implemented; use v4.channel.k8s.io"));
    if (plan.kind === "hang") return;
    if (plan.kind === "timeout") {
      // upstream's dialer gives up on a kubelet that is gone (net.Dialer Timeout, 30 s).
      later(dialTimeoutMs, () => {
        if (!socket.destroyed) rejectStatus(plan.status);
      });
      return;
    }
    if (plan.kind === "relay") {
      rec.status = plan.code;
      socket.end(rawResponse(plan.code, plan.headers, plan.body));
      return;
    }
    const supported = ["v4.channel.k8s.io", "v4.base64.channel.k8s.io"];
    let chosen = "";
    if (protocols.length > 0) {
      const hit = protocols.find((p) => supported.includes(p));
      if (!hit) {
        // golang.org/x/net/websocket handshake failure, relayed by the apiserver.
        rec.status = 403;
        socket.end("HTTP/1.1 403 Forbidden\r\n\r\n");
        return;
      }
      chosen = hit;
    }
    (req as http.IncomingMessage & { chosenProtocol?: string }).chosenProtocol = chosen;
    if (protocols.length > 0) req.headers["sec-websocket-protocol"] = protocols.join(", ");
    else delete req.headers["sec-websocket-protocol"];
    wss.handleUpgrade(req, socket, head, (ws) => {
      rec.status = 101;
      runTunnel(ws, plan.pod, plan.ports, chosen);
    });
  }

  function proxyToKubelet(req: http.IncomingMessage, res: http.ServerResponse, node: Node, subpath: string, search: string, body: Buffer): void {
    const kubelet = node.kubelet;
    const port = kubeletPortOf(node.spec.name);
    const headers: Record<string, string | string[]> = {};
    for (const [k, v] of Object.entries(req.headers)) {
      if (v === undefined || HOP_BY_HOP.has(k) || k === "authorization" || k === "host" || k.startsWith("impersonate-")) continue;
      headers[k] = v;
    }
    headers.host = `127.0.0.1:${port}`;
    headers["x-forwarded-for"] = "127.0.0.1";
    headers["x-forwarded-uri"] = new URL(req.url ?? "/", "https://apiserver").pathname;
    headers["x-forwarded-proto"] = "https";
    headers["content-length"] = String(body.length);
    if (kubelet?.behaviour.mode === "refuse") {
      // Not dialled: the closed port number could by then belong to another listener here.
      sendStatus(res, status(503, "ServiceUnavailable", `error trying to reach service: dial tcp 127.0.0.1:${port}: connect: connection refused`));
      return;
    }
    if (kubelet?.behaviour.mode === "unreachable") {
      // The kubelet's host is gone: the dial never completes; upstream's dialer gives up
      // after its timeout (30 s) and the proxy's error responder answers 503.
      hangingResponses.add(res);
      res.once("close", () => hangingResponses.delete(res));
      later(dialTimeoutMs, () =>
        sendStatus(res, status(503, "ServiceUnavailable", `error trying to reach service: dial tcp 127.0.0.1:${port}: i/o timeout`)),
      );
      return;
    }
    const up = kubelet?.virtual
      ? // No listener: hand the request to the kubelet's handler over an in-memory stream
        // that carries the identity the apiserver's kubelet-client certificate has.
        http.request({
          method: req.method,
          path: subpath + search,
          headers,
          createConnection: () => dialInProcess(kubelet, "node-proxy", { tls: false, identity: kubeletClientIdentity }) as net.Socket,
        })
      : https.request({
          host: "127.0.0.1",
          port,
          method: req.method,
          path: subpath + search,
          headers,
          createConnection: () => {
            const s = track(tls.connect({ host: "127.0.0.1", port, key: kubeletClient.keyPem, cert: kubeletClient.certPem, rejectUnauthorized: false }));
            s.on("connect", () => s.localPort && originPorts.nodeProxy.add(s.localPort));
            s.on("close", () => s.localPort && originPorts.nodeProxy.delete(s.localPort));
            return s;
          },
        });
    up.on("response", (r) => {
      const out: Record<string, string | string[]> = {};
      for (const [k, v] of Object.entries(r.headers)) if (v !== undefined && !HOP_BY_HOP.has(k)) out[k] = v;
      res.writeHead(r.statusCode ?? 502, out);
      r.pipe(res);
    });
    up.on("error", (e: NodeJS.ErrnoException) => {
      if (!res.headersSent) sendStatus(res, status(503, "ServiceUnavailable", `error trying to reach service: ${goDialError(e, port)}`));
      else res.destroy();
    });
    res.once("close", () => {
      if (!up.destroyed) up.destroy();
    });
    up.end(body);
  }

  // ---- LIST paging ---------------------------------------------------------------

  /**
   * A LIST answer as the apiserver gives it (limit, continue, resourceVersion), written
   * page by page: only this page's objects are ever built.
   */
  async function listPaged<T>(
    res: http.ServerResponse,
    q: URLSearchParams,
    kind: string,
    all: readonly T[],
    keyOf: (t: T) => string,
    match: ((t: T) => boolean) | undefined,
    render: (t: T) => string,
    indexed?: () => readonly T[],
  ): Promise<void> {
    const cont = q.get("continue") ?? "";
    const rvParam = q.get("resourceVersion") ?? "";
    let limit = 0;
    const limitRaw = q.get("limit");
    if (limitRaw) {
      // metav1.ListOptions.Limit (int64), decoded by the parameter codec.
      const r = parseInt64(Buffer.from(limitRaw), 64);
      if (!r.ok) return sendStatus(res, badRequest(r.message));
      limit = Number(r.value);
    }
    let start: string | undefined;
    let listRV = resourceVersion;
    if (cont) {
      // storage.ValidateListOptions
      const d = decodeContinue(cont);
      if (!d.ok) return sendStatus(res, badRequest(`invalid continue token: ${d.message}`));
      if (rvParam && rvParam !== "0") return sendStatus(res, badRequest("specifying resource version is not allowed when using continue"));
      // rv > 0: a read at that revision, which etcd may have compacted away; rv -1: at the latest.
      if (d.value.rv > 0 && (expireContinueLeft > 0 || d.value.rv < compactedBelow)) {
        if (expireContinueLeft > 0) expireContinueLeft--;
        // etcd3 handleCompactedErrorForPaging: 410 Expired, with a token (rv -1) that continues
        // from the same key at the latest revision, inconsistently.
        const s: StatusObj = {
          kind: "Status",
          apiVersion: "v1",
          metadata: { continue: encodeContinue(d.value.start, -1) },
          status: "Failure",
          message: INCONSISTENT_CONTINUE,
          reason: "Expired",
          code: 410,
        };
        return sendStatus(res, s);
      }
      start = d.value.start;
      if (d.value.rv > 0) listRV = d.value.rv;
    } else if (rvParam === "0") limit = 0; // served from the watch cache whole: limit ignored (computeListLimit)
    const candidates = !cont && indexed ? indexed() : all;
    const page = cutPage(candidates, keyOf, start, limit, match);
    const meta: Record<string, unknown> = { resourceVersion: String(listRV) };
    if (page.continueAfter !== undefined) meta.continue = encodeContinue(page.continueAfter + "\u0000", listRV);
    if (page.remainingItemCount !== undefined) meta.remainingItemCount = page.remainingItemCount;
    // Streamed like Go's encoder does for a big body (chunked), 1 MiB at a time.
    res.writeHead(200, { "Content-Type": "application/json" });
    let buf = `{"kind":"${kind}","apiVersion":"v1","metadata":${goJSON(meta)},"items":[`;
    for (let i = 0; i < page.items.length; i++) {
      if (res.destroyed) return;
      buf += (i ? "," : "") + render(page.items[i] as T);
      if (buf.length >= 1 << 20) {
        const more = res.write(buf);
        buf = "";
        if (!more) await drained(res);
      }
    }
    res.end(buf + "]}\n");
  }

  // ---- API Priority and Fairness ----------------------------------------------------

  /**
   * WithPriorityAndFairness: long-running requests (watch, proxy, portforward, exec...)
   * bypass it; the others are classified (response headers carry the FlowSchema and
   * PriorityLevel uids) and, while throttle() has budget, rejected with
   * tooManyRequests(). Returns true when the request was answered.
   */
  function priorityAndFairness(req: http.IncomingMessage, res: http.ServerResponse, user: Identity, attrs: Attrs): boolean {
    // BasicLongRunningRequestCheck(verbs {watch, proxy}, subresources {attach, exec, proxy, log, portforward})
    const longRunning =
      attrs.resourceRequest && (["watch", "proxy"].includes(attrs.verb) || ["attach", "exec", "proxy", "log", "portforward"].includes(attrs.subresource));
    if (longRunning) return false;
    const probe = !attrs.resourceRequest && ["/healthz", "/livez", "/readyz"].some((p) => attrs.path === p || attrs.path.startsWith(p + "/"));
    let fs: string;
    let pl: string;
    if (user.groups.includes("system:masters")) [fs, pl] = ["exempt", "exempt"];
    else if (probe) [fs, pl] = ["probes", "exempt"];
    else if (user.name.startsWith("system:serviceaccount:kube-system:")) [fs, pl] = ["kube-system-service-accounts", "workload-high"];
    else if (user.name.startsWith("system:serviceaccount:")) [fs, pl] = ["service-accounts", "workload-low"];
    else [fs, pl] = ["global-default", "global-default"];
    // setResponseHeaders: the uids, not the names.
    res.setHeader("X-Kubernetes-PF-FlowSchema-UID", uidFrom("flowschema/" + fs));
    res.setHeader("X-Kubernetes-PF-PriorityLevel-UID", uidFrom("prioritylevel/" + pl));
    if (throttleLeft <= 0) return false;
    if (pl === "exempt" && !throttleOpts.includeExempt) return false;
    if (throttleOpts.match && !throttleOpts.match(req.url ?? "/")) return false;
    throttleLeft--;
    // tooManyRequests(): Retry-After, then http.Error (plain text, not a Status).
    res.setHeader("Retry-After", String(throttleOpts.retryAfterSeconds ?? 1));
    httpError(res, 429, "Too many requests, please try again later.");
    return true;
  }

  /** Every replica serves the same API; `replica` decides whose /debug/flags/v and address. */
  async function apiserverRequest(replica: Target, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const u = new URL(req.url ?? "/", "https://apiserver");
    const body = await readBody(req);
    const authn = authenticate(req, anonymousAuth);
    counters.requests++;
    const rec = record({
      target: replica.id,
      method: req.method ?? "",
      path: u.pathname,
      query: u.search,
      body: body.toString(),
      authorization: authn.cred,
      user: authn.kind === "user" ? authn.user.name : authn.kind === "anonymous" ? anonymous.name : undefined,
      via: viaFor(req) === "port-forward" ? "port-forward" : "apiserver",
    });
    res.once("finish", () => (rec.status = res.statusCode));
    for (const [k, v] of Object.entries(apiHeaders())) res.setHeader(k, v);
    if (authn.kind === "error") return sendStatus(res, unauthorized());
    const user = authn.kind === "user" ? authn.user : anonymous;
    const method = req.method ?? "GET";
    const attrs = requestInfo(method, u.pathname, u.searchParams);
    // Filter order (DefaultBuildHandlerChain): authentication, then APF, then authorization.
    if (priorityAndFairness(req, res, user, attrs)) return;
    if (!authorize(user, attrs).allowed) return sendStatus(res, forbidden(attrs, user.name), { "X-Content-Type-Options": "nosniff" });
    const q = u.searchParams;
    const json = (code: number, obj: unknown): void => send(res, code, { "Content-Type": "application/json" }, goJSON(obj) + "\n");

    if (!attrs.resourceRequest) {
      const p = u.pathname;
      const t = replica;
      // Modes of a kube-apiserver replica only affect its /debug/flags/v (the fake API must keep working).
      if (p === "/debug/flags/v" && (t.behaviour.mode === "reset" || t.behaviour.mode === "hang")) {
        applyMode(t, req, res);
        return;
      }
      if (p === "/debug/flags/v" && t.behaviour.delayMs > 0) await sleep(t.behaviour.delayMs);
      if ((debugFlagsInstalled(t) || indexLookAlike(t, p)) && serveDebugFlags(t, req, res, p, body, true)) return;
      if (p === "/flagz" && t.behaviour.flagz) return serveFlagz(t, req, res);
      if ((p === "/version" || p === "/version/") && method === "GET") {
        return send(res, 200, { "Content-Type": "application/json" }, JSON.stringify(versionInfo(), null, 2));
      }
      if (["/healthz", "/livez", "/readyz"].includes(p)) return send(res, 200, { "Content-Type": "text/plain; charset=utf-8", "X-Content-Type-Options": "nosniff" }, "ok");
      if (p === "/api" || p === "/api/") return json(200, { kind: "APIVersions", versions: ["v1"], serverAddressByClientCIDRs: [{ clientCIDR: "0.0.0.0/0", serverAddress: `${replica.host ?? "127.0.0.1"}:${replica.port}` }] });
      if (p === "/api/v1" || p === "/api/v1/") {
        return json(200, {
          kind: "APIResourceList",
          groupVersion: "v1",
          resources: [
            { name: "configmaps", singularName: "configmap", namespaced: true, kind: "ConfigMap", verbs: ["create", "delete", "get", "list", "update"], shortNames: ["cm"] },
            { name: "endpoints", singularName: "endpoints", namespaced: true, kind: "Endpoints", verbs: ["get", "list"], shortNames: ["ep"] },
            { name: "nodes", singularName: "node", namespaced: false, kind: "Node", verbs: ["get", "list"], shortNames: ["no"] },
            { name: "nodes/proxy", singularName: "", namespaced: false, kind: "NodeProxyOptions", verbs: ["create", "delete", "get", "patch", "update"] },
            { name: "pods", singularName: "pod", namespaced: true, kind: "Pod", verbs: ["get", "list"], shortNames: ["po"] },
            { name: "pods/portforward", singularName: "", namespaced: true, kind: "PodPortForwardOptions", verbs: ["create", "get"] },
            { name: "serviceaccounts/token", singularName: "", namespaced: true, group: "authentication.k8s.io", version: "v1", kind: "TokenRequest", verbs: ["create"] },
          ],
        });
      }
      return httpError(res, 404, "404 page not found");
    }

    const restful404 = (): void =>
      sendStatus(
        res,
        status(404, "NotFound", "the server could not find the requested resource", { causes: [{ reason: "UnexpectedServerResponse", message: "404: Page Not Found" }] }),
      );
    const methodNotAllowed = (): void =>
      sendStatus(res, status(405, "MethodNotAllowed", "the server does not allow this method on the requested resource", {}));

    if (attrs.apiGroup === "authorization.k8s.io" && attrs.apiVersion === "v1" && attrs.resource === "selfsubjectaccessreviews" && !attrs.name) {
      if (method !== "POST") return methodNotAllowed();
      let review: { spec?: { resourceAttributes?: Record<string, string>; nonResourceAttributes?: Record<string, string> } };
      try {
        review = JSON.parse(body.toString() || "{}");
      } catch (e) {
        return sendStatus(res, badRequest(`json: ${(e as Error).message}`));
      }
      const ra = review.spec?.resourceAttributes;
      const na = review.spec?.nonResourceAttributes;
      const a: Attrs = ra
        ? { resourceRequest: true, verb: ra.verb ?? "", path: "", apiGroup: ra.group ?? "", apiVersion: ra.version ?? "", namespace: ra.namespace ?? "", resource: ra.resource ?? "", subresource: ra.subresource ?? "", name: ra.name ?? "", parts: [] }
        : { resourceRequest: false, verb: na?.verb ?? "", path: na?.path ?? "", apiGroup: "", apiVersion: "", namespace: "", resource: "", subresource: "", name: "", parts: [] };
      const d = authorize(user, a);
      return json(201, {
        kind: "SelfSubjectAccessReview",
        apiVersion: "authorization.k8s.io/v1",
        metadata: {},
        spec: review.spec ?? {},
        status: d.reason ? { allowed: d.allowed, reason: d.reason } : { allowed: d.allowed },
      });
    }
    // SelfSubjectReview (GA 1.28): who the caller is, as the authenticator saw it. RBAC allows it
    // to every authenticated user (system:basic-user); system:anonymous was refused above.
    if (attrs.apiGroup === "authentication.k8s.io" && attrs.apiVersion === "v1" && attrs.resource === "selfsubjectreviews" && !attrs.name && minorAtLeast(version, 28)) {
      if (method !== "POST") return methodNotAllowed();
      const parsed = parseJSONBody(body);
      if (!parsed.ok) return sendStatus(res, parsed.status);
      const userInfo: Record<string, unknown> = { username: user.name };
      if (user.uid) userInfo.uid = user.uid;
      if (user.groups.length) userInfo.groups = user.groups;
      if (user.extra && Object.keys(user.extra).length) userInfo.extra = user.extra;
      return json(201, { kind: "SelfSubjectReview", apiVersion: "authentication.k8s.io/v1", metadata: { creationTimestamp: rfc3339(new Date()) }, status: { userInfo } });
    }
    if (attrs.apiGroup !== "" || attrs.apiVersion !== "v1") return restful404();

    if (attrs.resource === "configmaps" && !attrs.subresource) {
      const ns = attrs.namespace;
      const done = (r: ReturnType<typeof configMaps.create>): void => (r.ok ? json(r.code, r.obj) : sendStatus(res, fromStatusError(r.error)));
      // fieldManager, else the User-Agent's product (managerOrUserAgent / prefixFromUserAgent)
      const manager = (q.get("fieldManager") ?? String(req.headers["user-agent"] ?? "").split("/")[0] ?? "").slice(0, 128);
      if (!attrs.name) {
        if (attrs.verb === "list") {
          const sel = listSelectors(q, ["metadata.name", "metadata.namespace"]);
          if ("code" in sel) return sendStatus(res, sel);
          type CM = Record<string, unknown> & { metadata: { name: string; namespace: string; labels?: Record<string, string> } };
          const all = configMaps.list(ns || undefined) as CM[];
          const empty = sel.labels.length === 0 && sel.fields.length === 0;
          const match = empty
            ? undefined
            : (o: CM): boolean =>
                labelsMatch(sel.labels, o.metadata.labels ?? {}) && fieldsMatch(sel.fields, { "metadata.name": o.metadata.name, "metadata.namespace": o.metadata.namespace });
          // etcd keys /registry/configmaps/NS/NAME
          const keyOf = ns ? (o: CM): string => o.metadata.name : (o: CM): string => `${o.metadata.namespace}/${o.metadata.name}`;
          return listPaged(res, q, "ConfigMapList", all, keyOf, match, (o) => {
            const { kind: _k, apiVersion: _v, ...item } = o;
            return goJSON(item);
          });
        }
        if (attrs.verb === "create" && ns) {
          const parsed = parseJSONBody(body);
          if (!parsed.ok) return sendStatus(res, parsed.status);
          return done(configMaps.create(ns, parsed.obj, manager));
        }
        return methodNotAllowed();
      }
      if (!ns) return restful404();
      if (attrs.verb === "get") {
        const cm = configMaps.get(ns, attrs.name);
        return cm ? json(200, cm) : sendStatus(res, notFound("", "configmaps", attrs.name));
      }
      if (attrs.verb === "update") {
        const parsed = parseJSONBody(body);
        if (!parsed.ok) return sendStatus(res, parsed.status);
        return done(configMaps.update(ns, attrs.name, parsed.obj, manager));
      }
      if (attrs.verb === "delete") {
        const parsed = parseJSONBody(body);
        if (!parsed.ok) return sendStatus(res, parsed.status);
        return done(configMaps.delete(ns, attrs.name, parsed.obj));
      }
      return methodNotAllowed();
    }

    if (attrs.resource === "nodes" && !attrs.namespace) {
      if (!attrs.name) {
        if (attrs.verb !== "list") return methodNotAllowed();
        const sel = listSelectors(q, nodeFieldLabels);
        if ("code" in sel) return sendStatus(res, sel);
        const empty = sel.labels.length === 0 && sel.fields.length === 0;
        const match = empty
          ? undefined
          : (n: Node): boolean => labelsMatch(sel.labels, n.labels) && fieldsMatch(sel.fields, { "metadata.name": n.spec.name, "spec.unschedulable": "false" });
        return listPaged(res, q, "NodeList", nodesSorted, (n) => n.spec.name, match, (n) => goJSON(nodeObject(n, true)));
      }
      const nodeName = attrs.name.replace(/^https?:/, "").replace(/:\d+$/, "");
      if (!attrs.subresource) {
        if (attrs.verb !== "get") return methodNotAllowed();
        const n = nodes.get(attrs.name);
        if (!n) return sendStatus(res, notFound("", "nodes", attrs.name));
        return json(200, nodeObject(n, false));
      }
      if (attrs.subresource === "proxy") {
        const n = nodes.get(nodeName);
        if (!n) return sendStatus(res, notFound("", "nodes", nodeName));
        const prefix = `/api/v1/nodes/${attrs.name}/proxy`;
        let sub = u.pathname.startsWith(prefix) ? u.pathname.slice(prefix.length) : "/";
        if (!sub.startsWith("/")) sub = "/" + sub;
        return proxyToKubelet(req, res, n, sub, u.search, body);
      }
      return restful404();
    }
    if (attrs.resource === "pods") {
      if (!attrs.name) {
        if (attrs.verb !== "list") return methodNotAllowed();
        const sel = listSelectors(q, podFieldLabels);
        if ("code" in sel) return sendStatus(res, sel);
        const ns = attrs.namespace;
        const all = ns ? (podsByNamespace.get(ns) ?? []) : podsSorted;
        // The key after the list's prefix: /registry/pods/ (all namespaces) or /registry/pods/NS/.
        const keyOf = ns ? (p: Pod): string => p.spec.name : (p: Pod): string => p.key;
        const empty = sel.labels.length === 0 && sel.fields.length === 0;
        const match = empty ? undefined : (p: Pod): boolean => labelsMatch(sel.labels, p.labels) && fieldsMatch(sel.fields, podFields(p));
        // The watch cache's spec.nodeName index serves a consistent (first-page) list.
        const onNode = sel.fields.find((t) => t.field === "spec.nodeName" && !t.negate)?.value;
        const indexed =
          onNode === undefined ? undefined : (): readonly Pod[] => (podsByNode.get(onNode) ?? []).filter((p) => !ns || p.namespace === ns);
        return listPaged(res, q, "PodList", all, keyOf, match, (p) => goJSON(podObject(p, true)), indexed);
      }
      if (!attrs.subresource) {
        if (attrs.verb !== "get") return methodNotAllowed();
        const p = podsByKey.get(`${attrs.namespace}/${attrs.name}`);
        if (!p) return sendStatus(res, notFound("", "pods", attrs.name));
        return json(200, podObject(p, false));
      }
      if (attrs.subresource === "log") {
        if (attrs.verb !== "get") return methodNotAllowed();
        const p = podsByKey.get(`${attrs.namespace}/${attrs.name}`);
        if (!p) return sendStatus(res, notFound("", "pods", attrs.name));
        const container = p.spec.component ?? p.spec.name;
        // The apiserver reads the log from the pod's kubelet (GET /containerLogs/...).
        const n = nodes.get(p.spec.nodeName ?? "");
        const port = kubeletPortOf(p.spec.nodeName ?? "");
        const logUrl = `https://127.0.0.1:${port}/containerLogs/${p.namespace}/${p.spec.name}/${container}${u.search}`;
        if (!n) return sendStatus(res, badRequest(`pod ${p.spec.name} does not have a host assigned`));
        if (n.kubelet?.behaviour.mode === "refuse") return sendStatus(res, internalError(`Get "${logUrl}": dial tcp 127.0.0.1:${port}: connect: connection refused`));
        if (n.kubelet?.behaviour.mode === "unreachable") {
          hangingResponses.add(res);
          res.once("close", () => hangingResponses.delete(res));
          return later(dialTimeoutMs, () => sendStatus(res, internalError(`Get "${logUrl}": dial tcp 127.0.0.1:${port}: i/o timeout`)));
        }
        return fakeLogs.servePodLog(p.target?.id, p.spec.name, container, q, res, (code, reason, message) => sendStatus(res, status(code, reason, message)));
      }
      if (attrs.subresource === "portforward") {
        if (method !== "GET" && method !== "POST") return methodNotAllowed();
        const plan = preparePortForward(attrs, user, q, false);
        if (plan.kind === "status") return sendStatus(res, plan.status);
        return sendStatus(res, badRequest("Upgrade request required"));
      }
      return restful404();
    }
    if (attrs.resource === "endpoints" && !attrs.subresource) {
      // KEP-4974: every read or write of v1 Endpoints warns from 1.33 on.
      if (minorAtLeast(version, 33)) res.setHeader("Warning", '299 - "v1 Endpoints is deprecated in v1.33+; use discovery.k8s.io/v1 EndpointSlice"');
      if (!attrs.name) {
        if (attrs.verb !== "list") return methodNotAllowed();
        const sel = listSelectors(q, ["metadata.name", "metadata.namespace"]);
        if ("code" in sel) return sendStatus(res, sel);
        const ns = attrs.namespace;
        const all = !ns || ns === "default" ? ["kubernetes"] : [];
        const empty = sel.labels.length === 0 && sel.fields.length === 0;
        const match = empty
          ? undefined
          : (_n: string): boolean =>
              labelsMatch(sel.labels, ENDPOINTS_LABELS) && fieldsMatch(sel.fields, { "metadata.name": "kubernetes", "metadata.namespace": "default" });
        // etcd keys /registry/services/endpoints/default/kubernetes.
        return listPaged(res, q, "EndpointsList", all, (n) => (ns ? n : `default/${n}`), match, () => goJSON(endpointsObject(true)));
      }
      if (attrs.verb !== "get") return methodNotAllowed();
      if (attrs.namespace !== "default" || attrs.name !== "kubernetes") return sendStatus(res, notFound("", "endpoints", attrs.name));
      return json(200, endpointsObject(false));
    }
    if (attrs.resource === "serviceaccounts" && attrs.subresource === "token" && attrs.namespace && attrs.name) {
      if (method !== "POST") return methodNotAllowed();
      return tokenRequest(res, attrs, body, json);
    }
    return restful404();
  }

  const ENDPOINTS_LABELS = { "endpointslice.kubernetes.io/skip-mirror": "true" };
  /**
   * default/kubernetes as the lease endpoint reconciler writes it (pkg/controlplane/reconcilers
   * lease.go + endpointsadapter.go): the skip-mirror label, one subset, the addresses in
   * Go string order (sort.Strings / sets.List: 127.0.0.10 before 127.0.0.2), port "https".
   */
  function endpointsObject(inList: boolean): Record<string, unknown> {
    const obj: Record<string, unknown> = inList ? {} : { kind: "Endpoints", apiVersion: "v1" };
    obj.metadata = {
      name: "kubernetes",
      namespace: "default",
      uid: endpointsUid,
      resourceVersion: String(resourceVersion),
      creationTimestamp: createdAt,
      labels: { ...ENDPOINTS_LABELS },
      managedFields: [
        {
          manager: "kube-apiserver",
          operation: "Update",
          apiVersion: "v1",
          time: startedAt,
          fieldsType: "FieldsV1",
          fieldsV1: { "f:metadata": { "f:labels": { ".": {}, "f:endpointslice.kubernetes.io/skip-mirror": {} } }, "f:subsets": {} },
        },
      ],
    };
    const ips = [...replicaIPs].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    obj.subsets = [{ addresses: ips.map((ip) => ({ ip })), ports: [{ name: "https", port: apiserverTarget.port, protocol: "TCP" }] }];
    return obj;
  }

  function tokenRequest(res: http.ServerResponse, attrs: Attrs, body: Buffer, json: (code: number, obj: unknown) => void): void {
    let reqObj: { spec?: { expirationSeconds?: number; audiences?: string[] } } = {};
    try {
      reqObj = body.length ? JSON.parse(body.toString()) : {};
    } catch (e) {
      return sendStatus(res, badRequest(`error decoding TokenRequest: ${(e as Error).message}`));
    }
    // SetDefaults_TokenRequestSpec: 3600 s. TokenREST.Create validates before it looks the ServiceAccount up.
    const exp = reqObj.spec?.expirationSeconds ?? 3600;
    const invalid = (detail: string): void =>
      sendStatus(
        res,
        status(422, "Invalid", `TokenRequest.authentication.k8s.io "" is invalid: spec.expirationSeconds: Invalid value: ${exp}: ${detail}`, {
          group: "authentication.k8s.io",
          kind: "TokenRequest",
          causes: [{ reason: "FieldValueInvalid", message: `Invalid value: ${exp}: ${detail}`, field: "spec.expirationSeconds" }],
        }),
      );
    if (exp < 600) return invalid("may not specify a duration less than 10 minutes");
    if (exp > 2 ** 32) return invalid("may not specify a duration larger than 2^32 seconds");
    if (!serviceAccounts.has(`${attrs.namespace}/${attrs.name}`)) return sendStatus(res, notFound("", "serviceaccounts", attrs.name));
    const audiences = reqObj.spec?.audiences?.length ? reqObj.spec.audiences : ["https://kubernetes.default.svc.cluster.local"];
    const now = Math.floor(Date.now() / 1000);
    const sub = `system:serviceaccount:${attrs.namespace}:${attrs.name}`;
    const b64 = (o: unknown): string => Buffer.from(JSON.stringify(o)).toString("base64url");
    const jti = genId();
    const token = [
      b64({ alg: "RS256", kid: hex64("kid").slice(0, 43) }),
      b64({
        aud: audiences,
        exp: now + exp,
        iat: now,
        iss: "https://kubernetes.default.svc.cluster.local",
        jti,
        "kubernetes.io": { namespace: attrs.namespace, serviceaccount: { name: attrs.name, uid: serviceAccountUid(attrs.namespace, attrs.name) } },
        nbf: now,
        sub,
      }),
      crypto.randomBytes(64).toString("base64url"),
    ].join(".");
    // A bound token's identity: the ServiceAccount's uid and the token's JTI as its credential id.
    mintedTokens.set(token, { user: { ...identityOf(sub), extra: { "authentication.kubernetes.io/credential-id": [`JTI=${jti}`] } }, exp: (now + exp) * 1000 });
    return json(201, {
      kind: "TokenRequest",
      apiVersion: "authentication.k8s.io/v1",
      metadata: { name: attrs.name, namespace: attrs.namespace },
      spec: { audiences, expirationSeconds: exp, boundObjectRef: null },
      status: { token, expirationTimestamp: new Date((now + exp) * 1000).toISOString().replace(/\.\d+Z$/, "Z") },
    });
  }

  // ---- start everything -------------------------------------------------------

  /** One HTTPS listener per replica: the same handler, the replica's own target. */
  function apiserverServer(replica: Target): https.Server {
    const server = https.createServer(
      { key: apiserverCert.keyPem, cert: apiserverCert.certPem, ca: [ca.certPem], requestCert: true, rejectUnauthorized: false },
      (req, res) => {
        apiserverRequest(replica, req, res).catch((e: unknown) => {
          if (!res.headersSent) sendStatus(res, internalError(String(e)));
        });
      },
    );
    server.on("upgrade", (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
      apiserverUpgrade(replica, req, socket, head).catch(() => socket.destroy());
    });
    server.on("connection", (s: net.Socket) => {
      track(s);
      counters.connections++;
      if (counters.connections > counters.peakConnections) counters.peakConnections = counters.connections;
      s.once("close", () => counters.connections--);
    });
    server.on("secureConnection", (s: tls.TLSSocket) => track(s));
    server.on("tlsClientError", () => undefined);
    server.on("clientError", (_e: Error, s: Duplex) => s.destroy());
    return server;
  }

  /** Replica i >= 2 (mode "refuse": nothing listens). Fails loudly when its address:port is taken. */
  async function startReplica(t: Target): Promise<void> {
    const host = t.host ?? "127.0.0.1";
    try {
      if (t.behaviour.mode === "refuse") return await probeFree(host, t.port);
      const server = apiserverServer(t);
      await listen(server, t.port, host);
      t.server = server;
    } catch (e) {
      throw new Error(`fake cluster: kube-apiserver replica ${host}:${t.port}: the port is not free there (${(e as Error).message})`);
    }
  }

  apiserverTarget.host = "127.0.0.1";
  const apiserver = apiserverServer(apiserverTarget);
  apiserverTarget.server = apiserver;
  const replicaTargets: Target[] = [];
  // Every replica listens on the same port P, as real replicas share --secure-port: pick P on
  // 127.0.0.1, then bind it on 127.0.0.2..n (and check it is free on the unreachable
  // addresses). A port another process holds on one of those addresses: try another P, a few
  // times, then fail loudly.
  for (let attempt = 1; ; attempt++) {
    apiserverTarget.port = await listen(apiserver);
    replicaTargets.length = 0;
    try {
      for (const plan of replicaPlans) {
        const t: Target = {
          id: `kube-apiserver/${plan.host}:${apiserverTarget.port}`,
          kind: "kube-apiserver",
          node: "",
          behaviour: plan.behaviour,
          explicit: plan.explicit,
          port: apiserverTarget.port,
          hostPort: 6443,
          virtual: false,
          secure: true,
          host: plan.host,
        };
        replicaTargets.push(t);
        await startReplica(t);
      }
      for (const ip of replicaIPs.slice(replicaCount)) {
        try {
          await probeFree(ip, apiserverTarget.port);
        } catch (e) {
          throw new Error(`fake cluster: unreachable kube-apiserver replica ${ip}:${apiserverTarget.port} must have no listener, but the port is not free there (${(e as Error).message})`);
        }
      }
      break;
    } catch (e) {
      await Promise.all([apiserver, ...replicaTargets.map((t) => t.server)].map((sv) => sv && stopServer(sv)));
      for (const t of replicaTargets) t.server = undefined;
      if (attempt >= 5) {
        fs.rmSync(dir, { recursive: true, force: true });
        throw e;
      }
    }
  }
  apiserverAliases.push(`kube-apiserver/127.0.0.1:${apiserverTarget.port}`);
  for (const t of replicaTargets) targets.set(t.id, t);
  // The same apiserver (replica 1) for port-forwards to a kube-apiserver pod's 6443: in
  // process, so that stats() counts client connections only.
  const apiserverInProcess = http.createServer((req, res) => {
    apiserverRequest(apiserverTarget, req, res).catch((e: unknown) => {
      if (!res.headersSent) sendStatus(res, internalError(String(e)));
    });
  });
  apiserverInProcess.on("upgrade", (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
    apiserverUpgrade(apiserverTarget, req, socket, head).catch(() => socket.destroy());
  });
  apiserverInProcess.on("clientError", (_e: Error, s: Duplex) => s.destroy());

  for (const t of targets.values()) await startTarget(t);

  const url = `https://127.0.0.1:${apiserverTarget.port}`;

  function kubeconfig(user = "admin", extra: { insecure?: boolean; server?: string; auth?: "token" | "cert" } = {}): string {
    const u = users.get(user);
    if (!u) throw new Error(`fake cluster: unknown user ${JSON.stringify(user)}`);
    const mode = extra.auth ?? u.kubeconfigAuth ?? "token";
    const cluster = extra.insecure
      ? `    insecure-skip-tls-verify: true\n`
      : `    certificate-authority-data: ${Buffer.from(ca.certPem).toString("base64")}\n`;
    let cred: string;
    if (mode === "cert") {
      const c = certFor(user);
      cred =
        `    client-certificate-data: ${Buffer.from(c.certPem).toString("base64")}\n` +
        `    client-key-data: ${Buffer.from(c.keyPem).toString("base64")}\n`;
    } else cred = `    token: ${u.token}\n`;
    const ctx = `${user}@fake-cluster`;
    const text =
      `apiVersion: v1\nkind: Config\nclusters:\n- cluster:\n${cluster}    server: ${extra.server ?? url}\n  name: fake-cluster\n` +
      `contexts:\n- context:\n    cluster: fake-cluster\n    user: ${JSON.stringify(user)}\n  name: ${JSON.stringify(ctx)}\n` +
      `current-context: ${JSON.stringify(ctx)}\npreferences: {}\nusers:\n- name: ${JSON.stringify(user)}\n  user:\n${cred}`;
    const safe = user.replace(/[^A-Za-z0-9_.-]/g, "_");
    const suffix = [extra.insecure ? "insecure" : "", extra.server ? "server" : "", extra.auth ?? ""].filter((x) => x).join("-");
    const file = path.join(dir, `${safe}${suffix ? "-" + suffix : ""}.kubeconfig`);
    fs.writeFileSync(file, text, { mode: 0o600 });
    return file;
  }

  /** A target by id or alias: "kube-apiserver" and its pod / address aliases are replica 1; "kube-apiserver/127.0.0.i" (no port) replica i. */
  function resolveTarget(id: string): Target | undefined {
    const t = targets.get(id) ?? (apiserverAliases.includes(id) ? apiserverTarget : undefined);
    if (t) return t;
    const m = /^kube-apiserver\/(127\.0\.0\.\d+)$/.exec(id);
    return m ? replicaTargets.find((r) => r.host === m[1]) : undefined;
  }

  async function setBehaviour(id: string, patch: ComponentBehaviour): Promise<void> {
    const t = resolveTarget(id);
    if (!t) throw new Error(`fake cluster: unknown target ${JSON.stringify(id)}`);
    // Replica 1 serves the fake's API (and the kubeconfig URL): it cannot go away. Other
    // replicas may refuse (their listener closes).
    if (t.kind === "kube-apiserver" && (patch.mode === "unreachable" || (patch.mode === "refuse" && t === apiserverTarget)))
      throw new Error(`fake cluster: mode ${JSON.stringify(patch.mode)} is not supported for ${t === apiserverTarget ? "kube-apiserver (replica 1)" : "kube-apiserver replicas"}`);
    t.explicit = { ...t.explicit, ...patch };
    const fallback = t.kind === "kubelet" ? (nodes.get(t.node)?.spec.kubeletVersion ?? version) : version;
    const wasRefusing = t.behaviour.mode === "refuse";
    t.behaviour = resolveBehaviour(t.kind, layered(t.kind, t.kind === "kube-apiserver" ? "" : t.node, t.explicit), fallback);
    if (t.kind === "kube-apiserver" && t !== apiserverTarget) {
      if (t.behaviour.mode === "refuse" && !wasRefusing && t.server) {
        const sv = t.server;
        t.server = undefined;
        await stopServer(sv);
      } else if (t.behaviour.mode !== "refuse" && wasRefusing) await startReplica(t);
      return;
    }
    if (t.kind === "kube-apiserver" || t.virtual) return;
    if (t.behaviour.mode === "refuse" && !wasRefusing) await stopTarget(t);
    else if (t.behaviour.mode !== "refuse" && wasRefusing) await startTarget(t);
    resourceVersion++;
  }

  /** The process behind a target restarts: back to its startup level; its pod's container restarts. */
  function restart(id: string): void {
    const t = resolveTarget(id);
    if (!t) throw new Error(`fake cluster: unknown target ${JSON.stringify(id)}`);
    levels.delete(t.id);
    fakeLogs.restarted(t.id, t.behaviour.startupLevel);
    let pod: Pod | undefined = t.pod;
    if (t === apiserverTarget) {
      // Replica 1 backs every kube-apiserver pod: the pod named by the id, else the first.
      const named = /^kube-apiserver\/([^/]+)\/([^/]+)$/.exec(id);
      pod = (named ? podsByKey.get(`${named[1]}/${named[2]}`) : undefined) ?? apiserverPod;
    }
    if (!pod) return; // the kubelet, replicas 2..n: no pod of their own
    const now = rfc3339(new Date());
    pod.lastTerminated = { startedAt: pod.startedAt, finishedAt: now, containerID: containerId(pod.uid, pod.restartCount) };
    pod.restartCount++;
    pod.startedAt = now;
    resourceVersion++;
  }

  async function close(): Promise<void> {
    if (closed) return;
    closed = true;
    fakeLogs.close();
    for (const c of wss.clients) c.terminate();
    for (const t of pendingTimers) clearTimeout(t);
    pendingTimers.clear();
    for (const r of hangingResponses) r.destroy();
    for (const s of sockets) s.destroy();
    const servers = [apiserver, ...[...targets.values()].map((t) => t.server).filter((s): s is http.Server => !!s && s !== apiserver)];
    await Promise.all(
      servers.map(
        (s) =>
          new Promise<void>((resolve) => {
            if (!s.listening) return resolve();
            s.close(() => resolve());
            s.closeAllConnections?.();
          }),
      ),
    );
    await new Promise<void>((resolve) => wss.close(() => resolve()));
    for (const s of sockets) s.destroy();
    fs.rmSync(dir, { recursive: true, force: true });
    openDirs.delete(dir);
  }

  return {
    url,
    caPem: ca.certPem,
    dir,
    kubeconfig,
    tokenFor(user: string): string {
      const u = users.get(user);
      if (!u?.token) throw new Error(`fake cluster: unknown user ${JSON.stringify(user)}`);
      return u.token;
    },
    clientCertFor(user: string) {
      if (!users.has(user)) throw new Error(`fake cluster: unknown user ${JSON.stringify(user)}`);
      const c = certFor(user);
      return { certPem: c.certPem, keyPem: c.keyPem };
    },
    requests,
    level(targetId: string): number | undefined {
      const t = resolveTarget(targetId);
      if (!t) return levels.get(targetId);
      // Set since the last (re)start, else the explicit startup level (undefined: klog's default 0, untouched).
      return levels.get(t.id) ?? (t.behaviour.startupExplicit ? t.behaviour.startupLevel : undefined);
    },
    targets: () => [...targets.keys()],
    apiserverReplicas: replicaIPs.map((ip, i) => ({
      id: i === 0 ? `kube-apiserver/127.0.0.1:${apiserverTarget.port}` : `kube-apiserver/${ip}:${apiserverTarget.port}`,
      ip,
      port: apiserverTarget.port,
      reachable: i < replicaCount,
    })),
    portOf(targetId: string): number {
      const t = resolveTarget(targetId);
      if (!t) throw new Error(`fake cluster: unknown target ${JSON.stringify(targetId)}`);
      if (t.virtual) throw new Error(`fake cluster: ${targetId} is on a virtual node: it has no listener (no direct connection)`);
      return t.port;
    },
    setBehaviour,
    compact(): void {
      // Tokens carry the revision of their first page; everything below the new one is gone.
      resourceVersion++;
      compactedBelow = resourceVersion;
    },
    throttle(n: number, o: ThrottleOptions = {}): void {
      throttleLeft = Math.max(0, Math.floor(n));
      throttleOpts = { ...o };
    },
    stats: (): FakeClusterStats => ({ ...counters }),
    resetStats(): void {
      counters.requests = 0;
      counters.peakConnections = counters.connections;
    },
    configMap: (ns: string, name: string) => configMaps.get(ns, name),
    putConfigMap(ns: string, obj: Record<string, unknown>): Record<string, unknown> {
      namespaces.add(ns);
      return configMaps.put(ns, obj);
    },
    restart,
    logLines(targetId: string, fromMs: number, toMs: number): string[] {
      const t = resolveTarget(targetId);
      if (!t) throw new Error(`fake cluster: unknown target ${JSON.stringify(targetId)}`);
      return fakeLogs.lines(t.id, fromMs, toMs);
    },
    cutLogStreams: (targetId?: string): number => fakeLogs.cut(targetId === undefined ? undefined : resolveTarget(targetId)?.id),
    close,
  };
}

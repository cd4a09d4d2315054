// Cluster access: read the kubeconfig (or the in-cluster ServiceAccount) into an
// Access (URL, TLS, credentials that renew themselves), one way to call the
// apiserver (apiRequest: fresh credentials, 429 Retry-After), and a narrow KubeApi
// for discovery that pages through lists and keeps only the fields kvlog uses.
// @kubernetes/client-node is used only to load kubeconfigs and run their auth
// (client certificates, tokens, exec plugins, auth providers); requests go through undici.

import type { ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { delimiter, join } from "node:path";
import { closest } from "./contexts.js";
import { ConfigError, RunError } from "./errors.js";
import { kubeconfigFiles } from "./home.js";
import {
  displayUrl,
  errorCode,
  failedBeforeAnswer,
  GOAWAY,
  joinUrl,
  networkReason,
  newDispatcher,
  request,
  sleep,
  statusMessage,
  statusOf,
  withDeadline,
  type Access,
  type ApiTls,
  type Credentials,
  type HttpAnswer,
  type SendOptions,
} from "./http.js";
import { ListFormatError, readList, type ListPage } from "./lists.js";
import { parseProxyUrl, proxiesFromEnv, type Proxies } from "./proxy.js";

// Discovery keeps these few fields of each listed object, and drops the rest of the page
// before the next one is read: a real node is 10–20 KB of JSON, of which kvlog needs ~200 bytes.
export interface ObjectMeta {
  name: string;
  namespace?: string | undefined;
  labels?: Record<string, string> | undefined;
  /** Of a pod, only the mirror-pod annotation is kept. */
  annotations?: Record<string, string> | undefined;
  deletionTimestamp?: string | undefined;
  ownerReferences?: { kind: string; name: string; controller?: boolean | undefined }[] | undefined;
}

/** Set by a kubelet on the API copy of a static pod (a mirror pod). */
export const MIRROR_ANNOTATION = "kubernetes.io/config.mirror";
export interface Container {
  name?: string | undefined;
  image?: string | undefined;
  /** Of the command line, only the klog verbosity flags (-v, --v) are kept. */
  command?: string[] | undefined;
  args?: string[] | undefined;
}
export interface ContainerStatus {
  restartCount?: number | undefined;
  state?: { running?: { startedAt?: string | undefined } | undefined } | undefined;
}
export interface Pod {
  metadata: ObjectMeta & { uid?: string | undefined };
  spec?: { nodeName?: string | undefined; containers?: Container[] | undefined } | undefined;
  /** Of the container statuses, only the first one's restart count and start time are kept. */
  status?: { phase?: string | undefined; hostIP?: string | undefined; containerStatuses?: ContainerStatus[] | undefined } | undefined;
}
export interface NodeCondition {
  type: string;
  status: string;
  reason?: string | undefined;
  message?: string | undefined;
}
export interface Node {
  metadata: ObjectMeta;
  status?:
    | {
        addresses?: { type: string; address: string }[] | undefined;
        daemonEndpoints?: { kubeletEndpoint?: { Port?: number | undefined } | undefined } | undefined;
        nodeInfo?: { kubeletVersion?: string | undefined } | undefined;
        /** Only the Ready condition is kept. */
        conditions?: NodeCondition[] | undefined;
      }
    | undefined;
}

/**
 * Fields of a listed Node or Pod that reducePod/reduceNode never read, dropped while the list
 * streams in (lists.ts), before they are parsed: on a real node, images and managedFields
 * alone are most of its 10–20 KB. Pod and node "conditions" differ: only nodes keep theirs.
 */
const NODE_FIELDS_UNUSED = ["managedFields", "annotations", "labels", "images", "capacity", "allocatable", "volumesInUse", "volumesAttached", "taints", "config", "runtimeHandlers", "features"];
const POD_FIELDS_UNUSED = [
  "managedFields", "labels", "volumes", "tolerations", "affinity", "conditions", "lastState", "allocatedResources",
  "initContainerStatuses", "initContainers", "env", "envFrom", "volumeMounts", "resources", "securityContext", "livenessProbe",
  "readinessProbe", "startupProbe", "ports", "volumeMountStatuses",
];

/** klog's verbosity flags on a command line: -v=N, --v=N, and the value after a bare -v/--v. */
function verbosityArgs(args: string[] | undefined): string[] | undefined {
  if (!args) return undefined;
  const out: string[] = [];
  args.forEach((a, i) => {
    if (/^--?v=/.test(a)) out.push(a);
    else if ((a === "-v" || a === "--v") && i + 1 < args.length) out.push(a, args[i + 1]!);
  });
  return out;
}

/** The few fields of a listed Pod that kvlog uses. */
export function reducePod(p: Pod): Pod {
  const m = p.metadata ?? { name: "" };
  const mirror = m.annotations?.[MIRROR_ANNOTATION];
  const first = p.status?.containerStatuses?.[0];
  return {
    metadata: {
      name: m.name,
      namespace: m.namespace,
      uid: m.uid,
      deletionTimestamp: m.deletionTimestamp,
      ...(mirror !== undefined ? { annotations: { [MIRROR_ANNOTATION]: mirror } } : {}),
      ...(m.ownerReferences?.length ? { ownerReferences: m.ownerReferences.map((o) => ({ kind: o.kind, name: o.name, controller: o.controller })) } : {}),
    },
    spec: {
      nodeName: p.spec?.nodeName,
      containers: (p.spec?.containers ?? []).map((c) => ({ name: c.name, image: c.image, command: verbosityArgs(c.command), args: verbosityArgs(c.args) })),
    },
    status: {
      phase: p.status?.phase,
      hostIP: p.status?.hostIP,
      containerStatuses: first ? [{ restartCount: first.restartCount, state: { running: { startedAt: first.state?.running?.startedAt } } }] : undefined,
    },
  };
}

/** The few fields of a listed Node that kvlog uses. */
export function reduceNode(n: Node): Node {
  const s = n.status;
  const ready = s?.conditions?.find((c) => c.type === "Ready");
  return {
    metadata: { name: n.metadata?.name ?? "" },
    status: {
      addresses: s?.addresses?.map((a) => ({ type: a.type, address: a.address })),
      daemonEndpoints: { kubeletEndpoint: { Port: s?.daemonEndpoints?.kubeletEndpoint?.Port } },
      nodeInfo: { kubeletVersion: s?.nodeInfo?.kubeletVersion },
      conditions: ready ? [{ type: "Ready", status: ready.status, reason: ready.reason, message: ready.message }] : [],
    },
  };
}

export interface ListOptions {
  labelSelector?: string | undefined;
  fieldSelector?: string | undefined;
}

/** What discovery needs from the apiserver, and nothing more (tests pass a fake). */
export interface KubeApi {
  listPods(namespace: string, opts: ListOptions): Promise<Pod[]>;
  /** Every node (or those matching the selector); `onPage` gets each page as it arrives. */
  listNodes(labelSelector?: string, onPage?: (nodes: Node[]) => void): Promise<Node[]>;
  getNode(name: string): Promise<Node | undefined>;
  getPod(namespace: string, name: string): Promise<Pod | undefined>;
  /**
   * Every kube-apiserver replica's address, from the default/kubernetes Endpoints that the
   * replicas write themselves; `refused` says why they could not be read.
   */
  apiserverReplicas(): Promise<{ addresses: string[]; port: number } | { refused: string }>;
  createToken(namespace: string, name: string, expirationSeconds: number): Promise<string>;
}

export interface ConfigMap {
  apiVersion?: string;
  kind?: string;
  metadata: { name: string; namespace?: string; resourceVersion?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  data?: Record<string, string>;
}

/** What the record (record.ts) needs: who am I, and one ConfigMap read and written with optimistic concurrency. */
export interface RecordApi {
  /** The user name as the apiserver sees it (SelfSubjectReview, what `kubectl auth whoami` prints). */
  whoami(): Promise<string>;
  getConfigMap(namespace: string, name: string): Promise<ConfigMap | undefined>;
  /** Creates (no resourceVersion) or replaces (with one); "conflict" when someone else wrote first (409). */
  writeConfigMap(cm: ConfigMap): Promise<ConfigMap | "conflict">;
}

/** One question to the authorizer: a resource verb, or a verb on a non-resource URL. */
export type AccessQuestion =
  | { verb: string; resource: string; subresource?: string; group?: string; namespace?: string; name?: string }
  | { verb: string; path: string };

/** What `kvlog doctor` asks: may I (SelfSubjectAccessReview), and which version is the apiserver. */
export interface DoctorApi {
  canI(q: AccessQuestion): Promise<{ allowed: boolean; reason: string }>;
  serverVersion(): Promise<string | undefined>;
}

export interface AccessOptions {
  kubeconfig?: string | undefined;
  context?: string | undefined;
  insecureSkipTlsVerify: boolean;
  token?: string | undefined;
  tokenFile?: string | undefined;
  timeoutMs: number;
  /** Connections to the apiserver at most (--concurrency); unlimited when absent. */
  connections?: number | undefined;
  /** With --endpoint a kubeconfig is optional. */
  optional: boolean;
  env: NodeJS.ProcessEnv;
  /** Where a pod's ServiceAccount token and CA are mounted (tests point it elsewhere). */
  serviceAccountDir?: string | undefined;
}

const SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount";

/**
 * Credentials that can expire are fetched again at least this often, as client-go re-reads
 * token files every minute; exec plugins answer from their cache until the token's own expiry.
 */
export const RENEW_EVERY_MS = 60_000;


interface Named {
  name: string;
}
interface MergeableConfig {
  clusters: Named[];
  users: Named[];
  contexts: Named[];
  currentContext: string;
}

/**
 * Merges a later KUBECONFIG file into `into` by kubectl's rules: the first file to define a
 * cluster, user or context name wins (client-node's mergeConfig throws on a repeated name), and
 * the first file that sets current-context wins.
 */
export function mergeKubeconfig(into: MergeableConfig, later: MergeableConfig): void {
  for (const key of ["clusters", "users", "contexts"] as const) {
    const have = new Set((into[key] ?? []).map((x) => x.name));
    into[key] = [...(into[key] ?? []), ...(later[key] ?? []).filter((x) => !have.has(x.name) && (have.add(x.name), true))];
  }
  if (!into.currentContext && later.currentContext) into.currentContext = later.currentContext;
}

/**
 * Loads the kubeconfig like kubectl does: --kubeconfig, else the files in KUBECONFIG (the first
 * that sets current-context wins), else ~/.kube/config (on Windows also %USERPROFILE%\.kube\config:
 * home.ts), else the in-cluster ServiceAccount.
 * Returns undefined only when `optional` (--endpoint) and there is none.
 */
export async function loadAccess(opts: AccessOptions): Promise<Access | undefined> {
  const env = opts.env;
  const files = kubeconfigFiles(opts.kubeconfig, env);
  const saDir = opts.serviceAccountDir ?? SERVICE_ACCOUNT_DIR;
  const inCluster = files.length === 0 && existsSync(join(saDir, "token")) && !!env.KUBERNETES_SERVICE_HOST && !!env.KUBERNETES_SERVICE_PORT;
  if (files.length === 0 && !inCluster) {
    if (opts.optional) return undefined;
    throw new ConfigError("no kubeconfig found: set KUBECONFIG, pass --kubeconfig, or create ~/.kube/config (kubectl config view should show a cluster)");
  }

  const { KubeConfig, bufferFromFileOrString } = await import("./kubeconfig.js");
  const kc = new KubeConfig();
  let source = inCluster ? "in-cluster ServiceAccount" : `kubeconfig ${files.join(delimiter)}`;
  let current = "";
  try {
    if (inCluster) {
      // What client-node's loadFromCluster does, but from the env kvlog was given.
      const host = env.KUBERNETES_SERVICE_HOST!.includes(":") ? `[${env.KUBERNETES_SERVICE_HOST}]` : env.KUBERNETES_SERVICE_HOST;
      kc.loadFromClusterAndUser(
        { name: "in-cluster", server: `https://${host}:${env.KUBERNETES_SERVICE_PORT}`, caFile: join(saDir, "ca.crt"), skipTLSVerify: false },
        { name: "in-cluster", authProvider: { name: "tokenFile", config: { tokenFile: join(saDir, "token") } } },
      );
    } else {
      for (const f of files) {
        current = f;
        const more = new KubeConfig();
        more.loadFromFile(f);
        mergeKubeconfig(kc, more);
      }
    }
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    const where = current || source;
    if (err.code === "ENOENT") {
      throw new ConfigError(`cannot read kubeconfig ${where}: file not found; check the path, or pass --kubeconfig`, { cause: e });
    }
    if (err.code === "EACCES" || err.code === "EISDIR") {
      throw new ConfigError(`cannot read kubeconfig ${where}: ${err.code}; check the file's permissions or pass another --kubeconfig`, { cause: e });
    }
    throw new ConfigError(`cannot parse kubeconfig ${where}: ${firstLine(err.message)}; fix the file or pass another --kubeconfig`, { cause: e });
  }

  if (opts.context) {
    if (!kc.getContextObject(opts.context)) {
      const names = kc.getContexts().map((c) => c.name);
      const near = closest(opts.context, names);
      throw new ConfigError(`context "${opts.context}" is not in the ${source}; ${near.length ? `did you mean ${near.join(", ")}? ` : ""}known contexts: ${names.join(", ") || "none"}`);
    }
    kc.setCurrentContext(opts.context);
    source += `, context ${opts.context}`;
  } else if (kc.getCurrentContext() && !inCluster) {
    source += `, context ${kc.getCurrentContext()}`;
  }

  const cluster = kc.getCurrentCluster();
  if (!cluster) {
    if (opts.optional) return undefined;
    throw new ConfigError(
      kc.getCurrentContext()
        ? `the current context in the ${source} names no cluster; pass --context or fix the kubeconfig`
        : `the ${source} has no current context; pass --context (known: ${kc.getContexts().map((c) => c.name).join(", ") || "none"})`,
    );
  }

  let server: URL;
  try {
    server = new URL(cluster.server);
  } catch (e) {
    throw new ConfigError(`the cluster server "${cluster.server}" in the ${source} is not a URL`, { cause: e });
  }
  if (server.username || server.password) server = new URL(displayUrl(server));

  interface HttpsOptions {
    ca?: Buffer;
    cert?: Buffer;
    key?: Buffer;
    rejectUnauthorized?: boolean;
    servername?: string;
    headers?: Record<string, string>;
    auth?: string;
  }
  // Let client-node run the user's auth: certificates, token, token file, exec plugin, auth provider.
  const plugins = watchExecPlugins(kc);
  const userAuth = async (): Promise<{ httpsOpts: HttpsOptions; credentials: Credentials }> => {
    const httpsOpts: HttpsOptions = {};
    try {
      await withDeadline(
        kc.applyToHTTPSOptions(httpsOpts as never),
        opts.timeoutMs,
        `the credentials of the ${source} (exec plugin or auth provider) did not answer within ${opts.timeoutMs} ms`,
      );
    } catch (e) {
      plugins.killAll(); // a plugin that missed its deadline does not outlive kvlog
      throw new ConfigError(`the credentials of the ${source} could not be loaded: ${credentialFailure(e, plugins.failed)}; check the user entry (exec plugin, token file, certificate paths)`, {
        cause: e,
      });
    }
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(httpsOpts.headers ?? {})) headers[k] = String(v).trim();
    if (httpsOpts.auth) headers.Authorization = `Basic ${Buffer.from(httpsOpts.auth).toString("base64")}`;
    return { httpsOpts, credentials: { kind: describeCredentials(headers, httpsOpts.cert !== undefined), headers, cert: httpsOpts.cert, key: httpsOpts.key } };
  };

  let httpsOpts: HttpsOptions = {};
  let credentials: Credentials;
  let renewCredentials: (() => Promise<Credentials>) | undefined;
  const override = await tokenOverride(opts);
  if (override) {
    // The token flags replace the identity: no exec plugin runs, only the cluster's TLS is used.
    try {
      httpsOpts.ca = bufferFromFileOrString(cluster.caFile, cluster.caData) ?? undefined;
    } catch (e) {
      throw new ConfigError(`cannot read the certificate-authority of the ${source}: ${firstLine((e as Error).message)}`, { cause: e });
    }
    if (cluster.skipTLSVerify) httpsOpts.rejectUnauthorized = false;
    if (cluster.tlsServerName) httpsOpts.servername = cluster.tlsServerName;
    credentials = override.credentials;
    renewCredentials = override.renew;
  } else {
    const first = await userAuth();
    httpsOpts = first.httpsOpts;
    credentials = first.credentials;
    const user = kc.getCurrentUser();
    // Exec plugins (EKS tokens live ~15 min), auth providers and the in-cluster token file expire.
    if (user?.exec || user?.authProvider) renewCredentials = async () => (await userAuth()).credentials;
  }

  const tlsConf: ApiTls = {
    ca: httpsOpts.ca,
    rejectUnauthorized: opts.insecureSkipTlsVerify ? false : httpsOpts.rejectUnauthorized !== false,
    servername: httpsOpts.servername,
  };
  if (opts.insecureSkipTlsVerify && tlsConf.ca) tlsConf.ca = undefined;

  // The kubeconfig's tls-server-name and insecure-skip-tls-verify describe the apiserver; another
  // host is checked against the cluster CA with its own name, unless --insecure-skip-tls-verify.
  const otherTls: ApiTls = { ca: opts.insecureSkipTlsVerify ? undefined : httpsOpts.ca, rejectUnauthorized: !opts.insecureSkipTlsVerify };
  const pool = { timeoutMs: opts.timeoutMs, connections: opts.connections, proxy: proxiesOf(cluster.proxyUrl, cluster.name, source, env) };
  const access: Access = { server, tls: tlsConf, otherTls, credentials, dispatcher: newDispatcher(tlsConf, credentials, pool), source, pool };
  if (renewCredentials) setRenewal(access, renewCredentials, RENEW_EVERY_MS);
  return access;
}

/**
 * Makes `access` renew its credentials with `load` every `everyMs` and when the apiserver
 * refuses them (apiRequest). A new client certificate gets a new dispatcher; the old one is
 * closed once its requests in flight are done.
 */
function setRenewal(access: Access, load: () => Promise<Credentials>, everyMs: number): void {
  let inFlight: Promise<boolean> | undefined;
  access.renewAt = Date.now() + everyMs;
  access.renew = () => {
    inFlight ??= (async () => {
      try {
        const next = await load();
        access.renewAt = Date.now() + everyMs;
        const prev = access.credentials;
        const same = JSON.stringify(next.headers) === JSON.stringify(prev.headers) && sameBuffer(next.cert, prev.cert) && sameBuffer(next.key, prev.key);
        if (same) return false;
        if (!sameBuffer(next.cert, prev.cert) || !sameBuffer(next.key, prev.key)) {
          const old = access.dispatcher;
          access.dispatcher = newDispatcher(access.tls, next, access.pool);
          access.tlsSession = undefined; // a resumed session would carry the old certificate's identity
          void old.close().catch(() => {});
        }
        access.credentials = { ...next, kind: prev.kind };
        return true;
      } finally {
        inFlight = undefined;
      }
    })();
    return inFlight;
  };
}

function sameBuffer(a: Buffer | undefined, b: Buffer | undefined): boolean {
  return a === b || (a !== undefined && b !== undefined && a.equals(b));
}

/** Renews the credentials when they are due. */
export async function freshCredentials(access: Access): Promise<Credentials> {
  if (access.renew && access.renewAt !== undefined && Date.now() >= access.renewAt) await access.renew();
  return access.credentials;
}

/** Why credentials failed, without echoing what a plugin printed (it may hold a token). */
function credentialFailure(e: unknown, failed: { command: string; code: number | null } | undefined): string {
  const msg = firstLine((e as Error).message ?? String(e));
  if (failed) return `the exec plugin ${failed.command} exited with code ${failed.code} (run it yourself to see its message; kvlog does not print a plugin's output)`;
  if (e instanceof SyntaxError || /JSON/.test(msg)) return "the exec plugin's output is not valid JSON";
  return msg;
}

/**
 * Tracks the exec credential plugins client-node starts (its ExecAuth spawns them through a
 * replaceable `execFn`), so that one that misses kvlog's deadline is killed rather than left
 * running, and so that a failure can be reported without printing the plugin's stderr.
 */
function watchExecPlugins(kc: object): { killAll(): void; readonly failed: { command: string; code: number | null } | undefined } {
  const running = new Set<ChildProcess>();
  let failed: { command: string; code: number | null } | undefined;
  const authenticators = (kc as { authenticators?: { execFn?: unknown }[] }).authenticators ?? [];
  for (const a of authenticators) {
    if (typeof a.execFn !== "function") continue;
    const spawnPlugin = a.execFn as (command: string, args: string[], opts: object) => ChildProcess;
    a.execFn = (command: string, args: string[], o: object) => {
      const child = spawnPlugin(command, args, o);
      running.add(child);
      child.once("close", (code) => {
        running.delete(child);
        if (code !== null && code !== 0) failed = { command, code };
      });
      return child;
    };
  }
  return {
    killAll() {
      for (const child of running) child.kill("SIGKILL");
    },
    get failed() {
      return failed;
    },
  };
}

/** --token / --token-file replace the kubeconfig's identity entirely (its client certificate too). */
async function tokenOverride(opts: AccessOptions): Promise<{ credentials: Credentials; renew?: () => Promise<Credentials> } | undefined> {
  if (opts.tokenFile) {
    const file = opts.tokenFile;
    const read = async (): Promise<Credentials> => {
      let token: string;
      try {
        token = (await readFile(file, "utf8")).trim();
      } catch (e) {
        throw new ConfigError(`cannot read --token-file ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, { cause: e });
      }
      if (!token) throw new ConfigError(`--token-file ${file} is empty`);
      return { kind: "bearer token (--token-file)", headers: { Authorization: `Bearer ${token}` } };
    };
    // Re-read like client-go does: projected tokens in the file are rotated underneath.
    return { credentials: await read(), renew: read };
  }
  if (opts.token === undefined) return undefined;
  return { credentials: { kind: "bearer token (--token)", headers: { Authorization: `Bearer ${opts.token}` } } };
}

/** A cluster's proxy-url (every request to it), else the environment's proxies (kubectl's rules). */
function proxiesOf(proxyUrl: string | undefined, cluster: string, source: string, env: NodeJS.ProcessEnv): Proxies | undefined {
  try {
    if (proxyUrl) {
      const where = `the proxy-url of cluster ${cluster}`;
      return { fixed: parseProxyUrl(proxyUrl, where), source: where };
    }
    return proxiesFromEnv(env);
  } catch (e) {
    throw new ConfigError(`${(e as Error).message}; fix the ${proxyUrl ? source : "environment"}`, { cause: e });
  }
}

export const BARE_SOURCE = "no kubeconfig";

/** Access for --endpoint without any kubeconfig: only token flags, system CAs. */
export async function bareAccess(opts: AccessOptions, endpoint: URL): Promise<Access> {
  const credentials = (await tokenOverride(opts))?.credentials ?? { kind: "none", headers: {} };
  const tlsConf: ApiTls = { rejectUnauthorized: !opts.insecureSkipTlsVerify };
  const pool = { timeoutMs: opts.timeoutMs, proxy: proxiesOf(undefined, "", BARE_SOURCE, opts.env) };
  return { server: endpoint, tls: tlsConf, otherTls: tlsConf, credentials, dispatcher: newDispatcher(tlsConf, credentials, pool), source: BARE_SOURCE, pool };
}

export function describeCredentials(headers: Record<string, string>, hasCert: boolean): string {
  const auth = headers.Authorization ?? headers.authorization;
  if (auth?.startsWith("Bearer ")) return hasCert ? "bearer token + client certificate (kubeconfig)" : "bearer token (kubeconfig)";
  if (auth?.startsWith("Basic ")) return "basic auth (kubeconfig)";
  if (hasCert) return "client certificate (kubeconfig)";
  return "none";
}

function firstLine(s: string): string {
  return s.split("\n")[0]!.slice(0, 300);
}

/** Lifetime of a minted ServiceAccount token; it is minted again after SA_TOKEN_RENEW_MS. */
export const SA_TOKEN_SECONDS = 600;
const SA_TOKEN_RENEW_MS = 480_000;

/**
 * Acts as a ServiceAccount: a short-lived token minted through the TokenRequest API with the
 * user's own credentials (`api`), minted again before it expires and when it is refused.
 */
export async function withServiceAccount(access: Access, api: KubeApi, namespace: string, name: string): Promise<Access> {
  const mint = async (): Promise<Credentials> => ({
    kind: `ServiceAccount ${namespace}/${name} token (TokenRequest, 10 min, renewed)`,
    headers: { Authorization: `Bearer ${await api.createToken(namespace, name, SA_TOKEN_SECONDS)}` },
    minted: true,
  });
  const credentials = await mint();
  const acting: Access = { ...access, credentials, dispatcher: newDispatcher(access.tls, credentials, access.pool), renew: undefined, renewAt: undefined, tlsSession: undefined };
  setRenewal(acting, mint, SA_TOKEN_RENEW_MS);
  return acting;
}

/** How often a request that the apiserver throttles (429) is tried again, and the longest wait. */
/**
 * One object as the apiserver sends it back, read whole: a record ConfigMap holds up to 1 MiB of
 * data (~10,000 targets) written as JSON strings inside JSON, so escaped; a node labelled by
 * node-feature-discovery, or with hundreds of volumes attached, is well over 64 KiB. etcd stores
 * at most 1.5 MiB an object. Any other answer (components, errors) stays at MAX_ANSWER.
 */
const OBJECT_ANSWER_MAX = 4 * 1024 * 1024;

export const MAX_THROTTLE_RETRIES = 5;
const MAX_RETRY_AFTER_S = 10;

/**
 * How long to wait before trying a throttled (429) request again: its Retry-After (1 s when
 * absent, at most MAX_RETRY_AFTER_S), spread a little so a fleet's requests do not all come back
 * at once. Undefined when that wait would pass the deadline.
 */
export function throttleWait(retryAfter: number | undefined, deadline: number): number | undefined {
  const wait = Math.min(retryAfter ?? 1, MAX_RETRY_AFTER_S) * 1000 + Math.floor(Math.random() * 250);
  return Date.now() + wait < deadline ? wait : undefined;
}

/**
 * One request to the apiserver, the way client-go makes it: credentials renewed when due and
 * once when refused (401), and a 429 from API Priority and Fairness waited out (Retry-After,
 * at most MAX_THROTTLE_RETRIES times) instead of failing. The whole call, retries included,
 * stays within `opts.timeoutMs`.
 */
export async function apiRequest(access: Access, path: string, opts: SendOptions, headers: Record<string, string> = {}, signal = opts.signal): Promise<HttpAnswer> {
  const url = joinUrl(access.server, path);
  const deadline = Date.now() + opts.timeoutMs;
  let attempts = 0;
  let renewed = false;
  let throttled = 0;
  for (;;) {
    const creds = await freshCredentials(access);
    attempts++;
    const ans = await request(access.dispatcher, url, { ...creds.headers, ...headers }, { ...opts, timeoutMs: Math.max(1, deadline - Date.now()) });
    if (ans.status === 401 && access.renew && !renewed) {
      renewed = true;
      // Requests in parallel (discovery, the record, whoami) are refused together: the first
      // renews, the others go again with what it fetched instead of running the plugin again.
      if (access.credentials !== creds || (await access.renew())) continue;
    }
    if (ans.status === 429 && throttled < MAX_THROTTLE_RETRIES && !signal?.aborted) {
      const wait = throttleWait(ans.retryAfter, deadline);
      if (wait !== undefined) {
        throttled++;
        await sleep(wait, signal);
        continue;
      }
    }
    return { ...ans, attempts };
  }
}

/** The list's continue token expired (410): the list must start again. */
class ExpiredListError extends Error {}

export interface KubeApiOptions {
  timeoutMs: number;
  /** Items a list page asks for (kubectl's --chunk-size, default 500); 0 lists in one answer. */
  chunkSize: number;
  /** Cuts every call short once aborted (--timeout passed, for discovery). */
  signal?: AbortSignal | undefined;
}

/** How often a paged list starts again after its continue token expired (410 Gone). */
const MAX_LIST_RESTARTS = 3;

export function kubeApi(access: Access, o: KubeApiOptions): KubeApi & RecordApi & DoctorApi {
  const notApiserver = (what: string, ans: { status: number; contentType: string }, why: string, cause?: unknown): RunError =>
    new RunError(
      `cannot ${what}: the apiserver answered ${ans.status} with something that is not ${why} (${ans.contentType || "no content type"}); is ${access.server.origin} an apiserver?`,
      { cause },
    );
  /**
   * One API call. Every call kvlog makes is safe to repeat (reads, reviews, a token, a write
   * guarded by resourceVersion), so a connection that fails before an answer (an apiserver
   * restarting behind its load balancer) and a 503 are tried again, at most 3 times, within the
   * call's --request-timeout; 429 is apiRequest's (Retry-After).
   */
  const call = async (method: string, path: string, what: string, body: unknown, readOk?: SendOptions["readOk"], maxBytes?: number): Promise<HttpAnswer> => {
    const deadline = Date.now() + o.timeoutMs;
    for (let attempt = 1; ; attempt++) {
      const left = Math.max(1, deadline - Date.now());
      const pause = 250 * 2 ** (attempt - 1) + Math.floor(Math.random() * 100);
      const again = attempt < 3 && pause + 500 < left;
      try {
        const ans = await apiRequest(
          access,
          path,
          { method, path, body: body ? JSON.stringify(body) : undefined, timeoutMs: left, readOk, maxBytes, signal: o.signal },
          { accept: "application/json", ...(body ? { "content-type": "application/json" } : {}) },
        );
        if (ans.status === 503 && again && !o.signal?.aborted) {
          await sleep(ans.retryAfter !== undefined ? Math.min(ans.retryAfter * 1000, left - 500) : pause, o.signal);
          continue;
        }
        return ans;
      } catch (e) {
        if (e instanceof ListFormatError) throw notApiserver(what, { status: 200, contentType: "" }, `a whole JSON list (${e.message})`, e);
        if (o.signal?.aborted) throw new RunError(`stopped before the apiserver answered (to ${what}): ${(o.signal.reason as Error).message ?? String(o.signal.reason)}`, { cause: e });
        if (again && failedBeforeAnswer(e)) {
          await sleep(errorCode(e) === GOAWAY ? 0 : pause, o.signal); // GOAWAY: the server asks for a new connection, now
          continue;
        }
        throw new RunError(`cannot reach the apiserver at ${access.server.origin} to ${what}: ${networkReason(e)} (${access.source})`, { cause: e });
      }
    }
  };
  /**
   * The answer's value (a parsed object, or what `readOk` made of a list), undefined for 404;
   * errors thrown. `conflict`: returned for a 409. `maxBytes`: read more than MAX_ANSWER.
   */
  const json = async <T>(
    method: string,
    path: string,
    what: string,
    rule: string,
    body?: unknown,
    { readOk, conflict, maxBytes }: { readOk?: SendOptions["readOk"]; conflict?: T; maxBytes?: number } = {},
  ): Promise<T | undefined> => {
    const ans = await call(method, path, what, body, readOk, maxBytes);
    const list = readOk !== undefined;
    if (ans.status === 404) return undefined;
    if (ans.status === 409 && conflict !== undefined) return conflict;
    if (ans.status < 200 || ans.status > 299) {
      const msg = statusMessage(ans.body) ?? `HTTP ${ans.status}`;
      if (ans.status === 410 && list && statusOf(ans.body)?.reason === "Expired") throw new ExpiredListError(msg);
      if (ans.status === 401) {
        throw new RunError(`the apiserver did not accept the credentials (401 ${msg}) to ${what}; check the ${access.source} or the token flags`);
      }
      if (ans.status === 403) {
        throw new RunError(`forbidden to ${what}: ${msg}. Grant: ${rule} (see the README's RBAC section)`);
      }
      if (ans.status === 429) throw new RunError(`cannot ${what}: the apiserver is overloaded (429 ${msg}) and still was after ${MAX_THROTTLE_RETRIES} retries; try again later`);
      if (ans.status === 400) throw new ConfigError(`cannot ${what}: HTTP 400 ${msg}; check the -l/--selector syntax`);
      throw new RunError(`cannot ${what}: HTTP ${ans.status} ${msg}`);
    }
    if (list) return ans.value as T;
    try {
      return JSON.parse(ans.body) as T;
    } catch (e) {
      throw notApiserver(what, ans, "JSON", e);
    }
  };

  /**
   * Reads a whole list page by page (limit/continue, as kubectl does), each page streamed item
   * by item and each item reduced at once to what `reduce` keeps, so memory holds one item of
   * the answer at a time. A continue token that expired (410, after an etcd compaction) starts
   * the list again.
   */
  const listAll = async <T, R>(
    path: string,
    params: Record<string, string | undefined>,
    what: string,
    rule: string,
    reduce: (item: T) => R,
    prune: string[],
    onPage?: (items: R[]) => void,
  ): Promise<R[]> => {
    for (let restart = 0; ; restart++) {
      const out: R[] = [];
      let cont: string | undefined;
      try {
        do {
          const q = new URLSearchParams();
          for (const [k, v] of Object.entries(params)) if (v) q.set(k, v);
          if (o.chunkSize > 0) q.set("limit", String(o.chunkSize));
          if (cont) q.set("continue", cont);
          const qs = q.toString();
          const page = await json<ListPage<R>>("GET", qs ? `${path}?${qs}` : path, what, rule, undefined, { readOk: (body) => readList(body, (item) => reduce(item as T), { prune }) });
          if (!page) break; // 404: no such list here, nothing to act on
          for (const item of page.items) out.push(item);
          onPage?.(page.items);
          cont = page.meta.metadata?.continue || undefined;
        } while (cont);
        return out;
      } catch (e) {
        if (!(e instanceof ExpiredListError)) throw e;
        if (restart + 1 >= MAX_LIST_RESTARTS) {
          throw new RunError(`cannot ${what}: the list kept changing faster than kvlog could page through it (410 ${e.message}); try again, or pass a larger --chunk-size`);
        }
      }
    }
  };

  return {
    async listPods(namespace, sel) {
      const what = `list pods in namespace ${namespace}`;
      const rule = `apiGroups [""] resources ["pods"] verbs ["list"] in namespace ${namespace}`;
      return listAll(`/api/v1/namespaces/${encodeURIComponent(namespace)}/pods`, { labelSelector: sel.labelSelector, fieldSelector: sel.fieldSelector }, what, rule, reducePod, POD_FIELDS_UNUSED);
    },
    async listNodes(labelSelector, onPage) {
      return listAll("/api/v1/nodes", { labelSelector }, "list nodes", `apiGroups [""] resources ["nodes"] verbs ["list"]`, reduceNode, NODE_FIELDS_UNUSED, onPage);
    },
    async apiserverReplicas() {
      const ans = await call("GET", "/api/v1/namespaces/default/endpoints/kubernetes", "get the endpoints default/kubernetes", undefined);
      // Refused or absent: the PUT to the cluster URL still shows what the credentials may do.
      if ([401, 403, 404].includes(ans.status)) return { refused: `${ans.status} ${statusMessage(ans.body) ?? ""}`.trim() };
      let ep: { subsets?: { addresses?: { ip?: string }[]; ports?: { name?: string; port?: number }[] }[] };
      try {
        ep = JSON.parse(ans.body);
      } catch (e) {
        throw notApiserver("get the endpoints default/kubernetes", ans, "JSON", e);
      }
      if (ans.status !== 200) throw new RunError(`cannot get the endpoints default/kubernetes: HTTP ${ans.status} ${statusMessage(ans.body) ?? ""}`.trim());
      const subset = ep.subsets?.[0];
      const port = subset?.ports?.find((p) => p.name === "https")?.port ?? subset?.ports?.[0]?.port ?? 443;
      return { addresses: (subset?.addresses ?? []).flatMap((a) => (a.ip ? [a.ip] : [])), port };
    },
    async getPod(namespace, name) {
      const what = `get pod ${namespace}/${name}`;
      const path = `/api/v1/namespaces/${encodeURIComponent(namespace)}/pods/${encodeURIComponent(name)}`;
      const p = await json<Pod>("GET", path, what, `apiGroups [""] resources ["pods"] verbs ["get"] in namespace ${namespace}`, undefined, { maxBytes: OBJECT_ANSWER_MAX });
      return p ? reducePod(p) : undefined;
    },
    async getNode(name) {
      const n = await json<Node>("GET", `/api/v1/nodes/${encodeURIComponent(name)}`, `get node ${name}`, `apiGroups [""] resources ["nodes"] verbs ["get"]`, undefined, { maxBytes: OBJECT_ANSWER_MAX });
      return n ? reduceNode(n) : undefined;
    },
    async createToken(namespace, name, expirationSeconds) {
      const what = `create a token for ServiceAccount ${namespace}/${name}`;
      const res = await json<{ status?: { token?: string } }>(
        "POST",
        `/api/v1/namespaces/${encodeURIComponent(namespace)}/serviceaccounts/${encodeURIComponent(name)}/token`,
        what,
        `apiGroups [""] resources ["serviceaccounts/token"] verbs ["create"] in namespace ${namespace}`,
        { apiVersion: "authentication.k8s.io/v1", kind: "TokenRequest", spec: { expirationSeconds } },
      );
      if (!res) throw new ConfigError(`ServiceAccount ${namespace}/${name} not found; check --service-account NAMESPACE/NAME`);
      const token = res.status?.token;
      if (!token) throw new RunError(`cannot ${what}: the TokenRequest answer had no token`);
      return token;
    },
    async whoami() {
      const what = "ask the apiserver who you are (SelfSubjectReview)";
      const res = await json<{ status?: { userInfo?: { username?: string } } }>(
        "POST",
        "/apis/authentication.k8s.io/v1/selfsubjectreviews",
        what,
        "none: every authenticated user may (system:basic-user)",
        { apiVersion: "authentication.k8s.io/v1", kind: "SelfSubjectReview" },
      );
      const name = res?.status?.userInfo?.username;
      if (!name) throw new RunError(`cannot ${what}: ${res ? "the answer names no user" : "the API is not served (Kubernetes 1.28 or newer has it)"}`);
      return name;
    },
    async canI(q) {
      const spec =
        "path" in q
          ? { nonResourceAttributes: { path: q.path, verb: q.verb } }
          : { resourceAttributes: { verb: q.verb, group: q.group ?? "", resource: q.resource, subresource: q.subresource, namespace: q.namespace, name: q.name } };
      const res = await json<{ status?: { allowed?: boolean; denied?: boolean; reason?: string; evaluationError?: string } }>(
        "POST",
        "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
        "ask the apiserver what you may do (SelfSubjectAccessReview)",
        "none: every authenticated user may (system:basic-user)",
        { apiVersion: "authorization.k8s.io/v1", kind: "SelfSubjectAccessReview", spec },
      );
      return { allowed: res?.status?.allowed === true, reason: res?.status?.reason ?? res?.status?.evaluationError ?? "" };
    },
    async serverVersion() {
      const v = await json<{ gitVersion?: string }>("GET", "/version", "read the apiserver version", "none: /version is public (system:public-info-viewer)");
      return v?.gitVersion;
    },
    async getConfigMap(namespace, name) {
      return json<ConfigMap>(
        "GET",
        `/api/v1/namespaces/${encodeURIComponent(namespace)}/configmaps/${encodeURIComponent(name)}`,
        `read the record ${namespace}/${name}`,
        `apiGroups [""] resources ["configmaps"] resourceNames ["${name}"] verbs ["get"] in namespace ${namespace}`,
        undefined,
        { maxBytes: OBJECT_ANSWER_MAX },
      );
    },
    async writeConfigMap(cm) {
      const ns = cm.metadata.namespace!;
      const create = cm.metadata.resourceVersion === undefined;
      const base = `/api/v1/namespaces/${encodeURIComponent(ns)}/configmaps`;
      const path = create ? base : `${base}/${encodeURIComponent(cm.metadata.name)}`;
      const rule = create
        ? `apiGroups [""] resources ["configmaps"] verbs ["create"] in namespace ${ns} (or create the ConfigMap ${cm.metadata.name} beforehand: kvlog rbac prints it)`
        : `apiGroups [""] resources ["configmaps"] resourceNames ["${cm.metadata.name}"] verbs ["update"] in namespace ${ns}`;
      const out = await json<ConfigMap | "conflict">(create ? "POST" : "PUT", path, `write the record ${ns}/${cm.metadata.name}`, rule, cm, { conflict: "conflict", maxBytes: OBJECT_ANSWER_MAX });
      // 404 on a PUT: deleted since it was read; the caller reads again and creates it.
      return out ?? "conflict";
    },
  };
}

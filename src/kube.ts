// Cluster access: read the kubeconfig (or the in-cluster ServiceAccount) into an
// Access (URL, TLS, credentials), and a narrow KubeApi for discovery.
// @kubernetes/client-node is used only to load kubeconfigs and run their auth
// (client certificates, tokens, exec plugins, auth providers); requests go through undici.

import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { delimiter, join } from "node:path";
import { ConfigError, RunError } from "./errors.js";
import { displayUrl, networkReason, statusMessage, withDeadline } from "./http.js";
import { newDispatcher, request, joinUrl, type Access, type ApiTls, type Credentials, type HttpAnswer } from "./transport.js";

export interface ObjectMeta {
  name: string;
  namespace?: string;
  labels?: Record<string, string>;
  deletionTimestamp?: string;
}
export interface Pod {
  metadata: ObjectMeta;
  spec?: { nodeName?: string; containers?: { name?: string; image?: string }[] };
  status?: { phase?: string };
}
export interface Node {
  metadata: ObjectMeta;
  status?: {
    addresses?: { type: string; address: string }[];
    daemonEndpoints?: { kubeletEndpoint?: { Port?: number } };
    nodeInfo?: { kubeletVersion?: string; kubeProxyVersion?: string };
  };
}

/** What discovery needs from the apiserver, and nothing more (tests pass a fake). */
export interface KubeApi {
  listPods(namespace: string, labelSelector: string): Promise<Pod[]>;
  listNodes(labelSelector?: string): Promise<Node[]>;
  getNode(name: string): Promise<Node | undefined>;
  createToken(namespace: string, name: string, expirationSeconds: number): Promise<string>;
}

export interface AccessOptions {
  kubeconfig?: string | undefined;
  context?: string | undefined;
  insecureSkipTlsVerify: boolean;
  token?: string | undefined;
  tokenFile?: string | undefined;
  timeoutMs: number;
  /** With --endpoint a kubeconfig is optional. */
  optional: boolean;
  env: NodeJS.ProcessEnv;
  /** Where a pod's ServiceAccount token and CA are mounted (tests point it elsewhere). */
  serviceAccountDir?: string | undefined;
}

const SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount";

/**
 * Loads the kubeconfig like kubectl does: --kubeconfig, else the files in KUBECONFIG (the first
 * that sets current-context wins), else ~/.kube/config, else the in-cluster ServiceAccount.
 * Returns undefined only when `optional` (--endpoint) and there is none.
 */
export async function loadAccess(opts: AccessOptions): Promise<Access | undefined> {
  const env = opts.env;
  const files = opts.kubeconfig
    ? [opts.kubeconfig]
    : env.KUBECONFIG
      ? env.KUBECONFIG.split(delimiter).filter(Boolean)
      : env.HOME && existsSync(join(env.HOME, ".kube", "config"))
        ? [join(env.HOME, ".kube", "config")]
        : [];
  const saDir = opts.serviceAccountDir ?? SERVICE_ACCOUNT_DIR;
  const inCluster = files.length === 0 && existsSync(join(saDir, "token")) && !!env.KUBERNETES_SERVICE_HOST && !!env.KUBERNETES_SERVICE_PORT;
  if (files.length === 0 && !inCluster) {
    if (opts.optional) return undefined;
    throw new ConfigError("no kubeconfig found: set KUBECONFIG, pass --kubeconfig, or create ~/.kube/config (kubectl config view should show a cluster)");
  }

  const { KubeConfig, bufferFromFileOrString } = await import("@kubernetes/client-node");
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
        if (f === files[0]) {
          kc.loadFromFile(f);
        } else {
          const more = new KubeConfig();
          more.loadFromFile(f);
          kc.mergeConfig(more, true);
        }
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
      throw new ConfigError(
        `context "${opts.context}" is not in the ${source}; known contexts: ${names.join(", ") || "none"}`,
      );
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

  // Let client-node run the user's auth: certificates, token, token file, exec plugin, auth provider.
  const httpsOpts: {
    ca?: Buffer;
    cert?: Buffer;
    key?: Buffer;
    rejectUnauthorized?: boolean;
    servername?: string;
    headers?: Record<string, string>;
    auth?: string;
  } = {};
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
  } else {
    try {
      await withDeadline(
        kc.applyToHTTPSOptions(httpsOpts as never),
        opts.timeoutMs,
        `the credentials of the ${source} (exec plugin or auth provider) did not answer within ${opts.timeoutMs} ms`,
      );
    } catch (e) {
      throw new ConfigError(
        `the credentials of the ${source} could not be loaded: ${credentialFailure(e)}; check the user entry (exec plugin, token file, certificate paths)`,
        { cause: e },
      );
    }
  }

  const tlsConf: ApiTls = {
    ca: httpsOpts.ca,
    rejectUnauthorized: opts.insecureSkipTlsVerify ? false : httpsOpts.rejectUnauthorized !== false,
    servername: httpsOpts.servername,
  };
  if (opts.insecureSkipTlsVerify && tlsConf.ca) tlsConf.ca = undefined;

  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(httpsOpts.headers ?? {})) headers[k] = String(v).trim();
  if (httpsOpts.auth) headers.Authorization = `Basic ${Buffer.from(httpsOpts.auth).toString("base64")}`;

  const credentials: Credentials = override ?? {
    kind: describeCredentials(headers, httpsOpts.cert !== undefined),
    headers,
    cert: httpsOpts.cert,
    key: httpsOpts.key,
  };

  return {
    server,
    tls: tlsConf,
    credentials,
    dispatcher: newDispatcher(tlsConf, credentials, opts.timeoutMs),
    source,
  };
}

/** Why credentials failed, without echoing what a plugin printed (it may hold a token). */
function credentialFailure(e: unknown): string {
  const msg = firstLine((e as Error).message ?? String(e));
  if (e instanceof SyntaxError || /JSON/.test(msg)) return "the exec plugin's output is not valid JSON";
  return msg;
}

/** --token / --token-file replace the kubeconfig's identity entirely (its client certificate too). */
async function tokenOverride(opts: AccessOptions): Promise<Credentials | undefined> {
  let token = opts.token;
  let kind = "bearer token (--token)";
  if (opts.tokenFile) {
    try {
      token = (await readFile(opts.tokenFile, "utf8")).trim();
    } catch (e) {
      throw new ConfigError(`cannot read --token-file ${opts.tokenFile}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, { cause: e });
    }
    if (!token) throw new ConfigError(`--token-file ${opts.tokenFile} is empty`);
    kind = "bearer token (--token-file)";
  }
  if (token === undefined) return undefined;
  return { kind, headers: { Authorization: `Bearer ${token}` } };
}

/** Access for --endpoint without any kubeconfig: only token flags, system CAs. */
export async function bareAccess(opts: AccessOptions, endpoint: URL): Promise<Access> {
  const credentials = (await tokenOverride(opts)) ?? { kind: "none", headers: {} };
  const tlsConf: ApiTls = { rejectUnauthorized: !opts.insecureSkipTlsVerify };
  return {
    server: endpoint,
    tls: tlsConf,
    credentials,
    dispatcher: newDispatcher(tlsConf, credentials, opts.timeoutMs),
    source: "no kubeconfig",
  };
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

/** Replaces the credentials with a short-lived ServiceAccount token minted through the TokenRequest API. */
export async function withServiceAccount(access: Access, api: KubeApi, namespace: string, name: string, timeoutMs: number): Promise<Access> {
  const token = await api.createToken(namespace, name, 600);
  const credentials: Credentials = { kind: `ServiceAccount ${namespace}/${name} token (TokenRequest, 10 min)`, headers: { Authorization: `Bearer ${token}` } };
  await access.dispatcher.close();
  return { ...access, credentials, dispatcher: newDispatcher(access.tls, credentials, timeoutMs) };
}

export function kubeApi(access: Access, timeoutMs: number): KubeApi {
  const call = async (method: string, path: string, what: string, body?: unknown): Promise<HttpAnswer> => {
    const url = joinUrl(access.server, path);
    let ans: HttpAnswer;
    try {
      ans = await request(
        access.dispatcher,
        url,
        { ...access.credentials.headers, accept: "application/json", ...(body ? { "content-type": "application/json" } : {}) },
        { method, path: url.pathname + url.search, body: body ? JSON.stringify(body) : undefined, timeoutMs },
      );
    } catch (e) {
      throw new RunError(`cannot reach the apiserver at ${access.server.origin} to ${what}: ${networkReason(e)} (${access.source})`, { cause: e });
    }
    return ans;
  };
  const json = async <T>(method: string, path: string, what: string, rule: string, body?: unknown): Promise<T | undefined> => {
    const ans = await call(method, path, what, body);
    if (ans.status === 404) return undefined;
    if (ans.status < 200 || ans.status > 299) {
      const msg = statusMessage(ans.body) ?? `HTTP ${ans.status}`;
      if (ans.status === 401) {
        throw new RunError(`the apiserver did not accept the credentials (401 ${msg}) to ${what}; check the ${access.source} or the token flags`);
      }
      if (ans.status === 403) {
        throw new RunError(`forbidden to ${what}: ${msg}. Grant: ${rule} (see the README's RBAC section)`);
      }
      if (ans.status === 400) throw new ConfigError(`cannot ${what}: HTTP 400 ${msg}; check the -l/--selector syntax`);
      throw new RunError(`cannot ${what}: HTTP ${ans.status} ${msg}`);
    }
    try {
      return JSON.parse(ans.body) as T;
    } catch (e) {
      throw new RunError(`cannot ${what}: the apiserver answered ${ans.status} with something that is not JSON (${ans.contentType || "no content type"}); is ${access.server.origin} an apiserver?`, { cause: e });
    }
  };
  const q = (selector?: string) => (selector ? `?labelSelector=${encodeURIComponent(selector)}` : "");
  return {
    async listPods(namespace, labelSelector) {
      const what = `list pods in namespace ${namespace}`;
      const rule = `apiGroups [""] resources ["pods"] verbs ["list"] in namespace ${namespace}`;
      const list = await json<{ items: Pod[] }>("GET", `/api/v1/namespaces/${encodeURIComponent(namespace)}/pods${q(labelSelector)}`, what, rule);
      return list?.items ?? [];
    },
    async listNodes(labelSelector) {
      const list = await json<{ items: Node[] }>("GET", `/api/v1/nodes${q(labelSelector)}`, "list nodes", `apiGroups [""] resources ["nodes"] verbs ["list"]`);
      return list?.items ?? [];
    },
    async getNode(name) {
      return json<Node>("GET", `/api/v1/nodes/${encodeURIComponent(name)}`, `get node ${name}`, `apiGroups [""] resources ["nodes"] verbs ["get"]`);
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
  };
}

// credentials: who kvlog is to the apiserver, read as kubectl reads it. The kubeconfig (or the
// in-cluster ServiceAccount) into an Access (access.ts): server URL, TLS settings, the user's
// credentials (certificates, tokens, token files, exec plugins killed at their deadline and never
// echoed, auth providers) renewed when they can expire, and the token flags that replace them.
// @kubernetes/client-node is used only to load kubeconfigs and run their auth. Loads no undici (nor
// anything that does): the dispatcher is made by the `connect` it is given, so the kubeconfig can
// be read, and a connection opened, while undici loads.

import type { ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { delimiter, join } from "node:path";
import { RENEW_EVERY_MS, setRenewal, type Access, type ApiTls, type Connect, type Credentials } from "./access.js";
import { closest } from "./suggest.js";
import { ConfigError } from "./errors.js";
import { kubeconfigFiles, loadKubeconfig } from "./home.js";
import { bracketHost, displayUrl, withDeadline } from "./http.js";
import { parseProxyUrl, proxiesFromEnv, type Proxies } from "./proxy.js";

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
 * Loads the kubeconfig like kubectl does: --kubeconfig, else the files in KUBECONFIG (the first
 * that sets current-context wins), else ~/.kube/config (on Windows also %USERPROFILE%\.kube\config:
 * home.ts), else the in-cluster ServiceAccount.
 * Returns undefined only when `optional` (--endpoint) and there is none.
 */
export async function readAccess(opts: AccessOptions, connect: Connect): Promise<Access | undefined> {
  const env = opts.env;
  const files = kubeconfigFiles(opts.kubeconfig, env);
  const saDir = opts.serviceAccountDir ?? SERVICE_ACCOUNT_DIR;
  const inCluster = files.length === 0 && existsSync(join(saDir, "token")) && !!env.KUBERNETES_SERVICE_HOST && !!env.KUBERNETES_SERVICE_PORT;
  if (files.length === 0 && !inCluster) {
    if (opts.optional) return undefined;
    throw new ConfigError("no kubeconfig found: set KUBECONFIG, pass --kubeconfig, or create ~/.kube/config (kubectl config view should show a cluster)");
  }

  const { KubeConfig, bufferFromFileOrString } = await import("./kubeconfig.js");
  let source = inCluster ? "in-cluster ServiceAccount" : `kubeconfig ${files.join(delimiter)}`;
  const kc = inCluster ? new KubeConfig() : await loadKubeconfig(files);
  if (inCluster) {
    // What client-node's loadFromCluster does, but from the env kvlog was given.
    const host = bracketHost(env.KUBERNETES_SERVICE_HOST!);
    kc.loadFromClusterAndUser(
      { name: "in-cluster", server: `https://${host}:${env.KUBERNETES_SERVICE_PORT}`, caFile: join(saDir, "ca.crt"), skipTLSVerify: false },
      { name: "in-cluster", authProvider: { name: "tokenFile", config: { tokenFile: join(saDir, "token") } } },
    );
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
  const access: Access = { server, tls: tlsConf, otherTls, credentials, dispatcher: connect(tlsConf, credentials, pool), source, pool };
  if (renewCredentials) setRenewal(access, renewCredentials, RENEW_EVERY_MS, connect);
  return access;
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
export async function bareAccess(opts: AccessOptions, endpoint: URL, connect: Connect): Promise<Access> {
  const credentials = (await tokenOverride(opts))?.credentials ?? { kind: "none", headers: {} };
  const tlsConf: ApiTls = { rejectUnauthorized: !opts.insecureSkipTlsVerify };
  const pool = { timeoutMs: opts.timeoutMs, proxy: proxiesOf(undefined, "", BARE_SOURCE, opts.env) };
  return { server: endpoint, tls: tlsConf, otherTls: tlsConf, credentials, dispatcher: connect(tlsConf, credentials, pool), source: BARE_SOURCE, pool };
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

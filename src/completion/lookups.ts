// The values only the kubeconfig or the cluster knows: context names (read from the kubeconfig
// files, no network) and node names (listed from the apiserver within a budget). The kubeconfig
// and network code are imported only when these run, so completing anything else (and --help)
// never loads node:tls.

import { join } from "node:path";
import { kubeconfigFiles, loadKubeconfig } from "../home.js";
import type { Access } from "../access.js";

/**
 * How long `kvlog __complete` may take to list nodes, counted from the process's start (the
 * shell waits on it), loading the credentials included; at least MIN_NODES_MS for the cluster.
 */
export const NODES_TIMEOUT_MS = 2000;
const MIN_NODES_MS = 500;

export function expandHome(path: string, env: NodeJS.ProcessEnv): string {
  return path.startsWith("~/") && env.HOME ? join(env.HOME, path.slice(2)) : path;
}


/** The context names of the kubeconfig files, read from disk only (no credentials, no network). */
export async function contextNames(kubeconfig: string | undefined, env: NodeJS.ProcessEnv): Promise<string[]> {
  // A file that cannot be read offers nothing; the others still do.
  const kc = await loadKubeconfig(kubeconfigFiles(kubeconfig && expandHome(kubeconfig, env), env), { skipUnreadable: true });
  return kc.getContexts().map((c) => c.name);
}

/**
 * The cluster's node names, or none when anything goes wrong or takes longer than
 * NODES_TIMEOUT_MS in all: a TAB must never hang the shell. The access flags typed on the line
 * apply (--kubeconfig, --context, --token, --token-file, --insecure-skip-tls-verify, -l), except
 * --service-account: completing never creates anything in the cluster. Ctrl-C (signal) ends it at once.
 */
export async function nodeNames(given: Map<string, string>, env: NodeJS.ProcessEnv, signal?: AbortSignal): Promise<string[]> {
  const budget = Math.round(Math.max(MIN_NODES_MS, NODES_TIMEOUT_MS - performance.now()));
  const deadline = Date.now() + budget;
  let access: Access | undefined;
  let over = false;
  const close = (a: Access) => void Promise.resolve(a.dispatcher.destroy()).catch(() => {});
  const work = (async () => {
    const { kubeApi, loadAccess } = await import("../api.js"); // the network code, only when completing node names
    const a = await loadAccess({
      kubeconfig: given.has("--kubeconfig") ? expandHome(given.get("--kubeconfig")!, env) : undefined,
      context: given.get("--context"),
      token: given.get("--token"),
      tokenFile: given.has("--token-file") ? expandHome(given.get("--token-file")!, env) : undefined,
      insecureSkipTlsVerify: given.has("--insecure-skip-tls-verify"),
      timeoutMs: budget,
      connections: 1,
      optional: false,
      env,
    });
    if (!a) return [];
    if (over) {
      close(a);
      return [];
    }
    access = a;
    const api = kubeApi(a, { timeoutMs: Math.max(1, deadline - Date.now()), chunkSize: 500 });
    const nodes = await api.listNodes(given.get("--selector") ?? given.get("-l"));
    // Candidates go into the shell's completion list: a name that is not a DNS name (as the apiserver
    // validates node names) could carry a newline, a tab (a description) or shell syntax; it is left out.
    return nodes.map((n) => n.metadata.name).filter((name) => /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/.test(name));
  })();
  work.catch(() => {});
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      work,
      new Promise<string[]>((resolve) => {
        timer = setTimeout(() => resolve([]), budget);
        signal?.addEventListener("abort", () => resolve([]), { once: true });
      }),
    ]);
  } catch {
    return [];
  } finally {
    over = true;
    clearTimeout(timer);
    if (access) close(access);
  }
}

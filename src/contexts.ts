// contexts: which kubeconfig contexts a run over several clusters works on. Reads the kubeconfig
// files only (merged as kubectl merges a KUBECONFIG list); no credentials are loaded and nothing
// is sent. Every way of naming a context that does not exist is a usage error (exit 2).

import { delimiter } from "node:path";
import { ConfigError, UsageError } from "./errors.js";
import { kubeconfigFiles, loadKubeconfig } from "./home.js";
import { isContextGlob } from "./options.js";
import { closest } from "./suggest.js";
import { displayServer } from "./http.js";

/** One context of the merged kubeconfig. */
export interface KubeContext {
  name: string;
  /** The cluster's server URL as the kubeconfig gives it (user:password removed), null when the context names no cluster. */
  server: string | null;
}

/** The contexts of the kubeconfig files, in the order kubectl lists them (first file first; a repeated name: the first wins). */
export async function readContexts(kubeconfig: string | undefined, env: NodeJS.ProcessEnv): Promise<{ source: string; contexts: KubeContext[] }> {
  const files = kubeconfigFiles(kubeconfig, env);
  if (files.length === 0) throw new ConfigError("no kubeconfig found: several contexts need one; set KUBECONFIG or pass --kubeconfig");
  const kc = await loadKubeconfig(files);
  const contexts = kc.getContexts().map((c) => {
    const server = kc.getCluster(c.cluster)?.server;
    return { name: c.name, server: server == null ? null : displayServer(server) };
  });
  return { source: `kubeconfig ${files.join(delimiter)}`, contexts };
}

/** A kubectl-style glob ('prod-*', 'eu-?', '[ab]-*') as a whole-name regular expression. */
export function globToRegExp(glob: string): RegExp {
  let re = "";
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === "*") re += ".*";
    else if (c === "?") re += ".";
    else if (c === "[") {
      const end = glob.indexOf("]", i + 2);
      if (end === -1) re += "\\[";
      else {
        const body = glob.slice(i + 1, end);
        const negated = body.startsWith("!");
        re += `[${negated ? "^" : ""}${(negated ? body.slice(1) : body).replace(/[\\^\]]/g, "\\$&")}]`;
        i = end;
      }
    } else re += c.replace(/[.+^${}()|\\\]]/g, "\\$&");
  }
  return new RegExp(`^${re}$`, "s");
}

/**
 * The contexts `wanted` names (each a name or a glob, or "all"), in the kubeconfig's order,
 * each once. A name that is not there, or a glob that matches nothing, is a UsageError that
 * names the closest contexts: nothing is sent to any cluster.
 */
export function chooseContexts(wanted: string[] | "all", known: string[], source: string): string[] {
  if (known.length === 0) throw new UsageError(`the ${source} has no contexts; kubectl config get-contexts should list some`);
  if (wanted === "all") return [...known];
  const chosen = new Set<string>();
  for (const w of wanted) {
    if (isContextGlob(w)) {
      const re = globToRegExp(w);
      const hits = known.filter((k) => re.test(k));
      if (hits.length === 0) throw new UsageError(`--context '${w}' matches no context in the ${source}; ${closestText(w.replace(/[*?[\]!]/g, ""), known)}`);
      for (const h of hits) chosen.add(h);
    } else {
      if (!known.includes(w)) throw new UsageError(`context "${w}" is not in the ${source}; ${closestText(w, known)}`);
      chosen.add(w);
    }
  }
  return known.filter((k) => chosen.has(k));
}

function closestText(name: string, known: string[]): string {
  const near = closest(name, known);
  return near.length > 0 ? `did you mean ${near.join(", ")}? (kubectl config get-contexts lists them all)` : `known: ${known.slice(0, 5).join(", ")}${known.length > 5 ? ", …" : ""}`;
}

/**
 * A directory name for a context's part of a bundle (capture --out DIR/<name>): a context name
 * may hold "/" or ":" (EKS ARNs), so anything but letters, digits, ".", "_" and "-" becomes "_",
 * a name of dots only becomes "_", and a name already taken (in any case) gets "-2", "-3", ...
 */
export function contextDirName(context: string, taken: Set<string>): string {
  let base = context.replace(/[^A-Za-z0-9._-]/g, "_").slice(0, 100);
  if (/^\.*$/.test(base)) base = `_${base}`;
  let name = base;
  // Compared without case: "Prod" and "prod" would share one directory on macOS and Windows.
  for (let i = 2; taken.has(name.toLowerCase()); i++) name = `${base}-${i}`;
  taken.add(name.toLowerCase());
  return name;
}

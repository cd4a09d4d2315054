// Which kubeconfig files kvlog reads, as kubectl chooses them, and how they are loaded and merged:
// the one rule for loadAccess, the contexts of a several-cluster run and completion. No
// credentials are loaded and no network code: client-node's kubeconfig code (src/kubeconfig.ts)
// is imported only when a kubeconfig is read.
import { existsSync } from "node:fs";
import { delimiter, join } from "node:path";
import { ConfigError } from "./errors.js";
import type { KubeConfig } from "./kubeconfig.js";

/** The kubeconfig files: --kubeconfig, else KUBECONFIG's list, else ~/.kube/config if it exists (homeKubeconfig). */
export function kubeconfigFiles(kubeconfig: string | undefined, env: NodeJS.ProcessEnv): string[] {
  if (kubeconfig) return [kubeconfig];
  if (env.KUBECONFIG) return env.KUBECONFIG.split(delimiter).filter(Boolean);
  return [homeKubeconfig(env)].filter((f) => f !== undefined);
}

/**
 * ~/.kube/config as kubectl finds it (client-go's homedir.HomeDir): under HOME; on Windows under
 * the first of %HOME%, %HOMEDRIVE%%HOMEPATH% and %USERPROFILE% that has a .kube\config (HOME is
 * usually unset there). undefined when there is none.
 */
export function homeKubeconfig(env: NodeJS.ProcessEnv, platform: NodeJS.Platform = process.platform): string | undefined {
  const homes =
    platform === "win32"
      ? [env.HOME, env.HOMEDRIVE && env.HOMEPATH ? env.HOMEDRIVE + env.HOMEPATH : undefined, env.USERPROFILE]
      : [env.HOME];
  for (const home of homes) {
    if (home && existsSync(join(home, ".kube", "config"))) return join(home, ".kube", "config");
  }
  return undefined;
}

/**
 * The kubeconfig files merged as kubectl merges them (relative paths in each resolved against its
 * own directory, by client-node). A file that cannot be read or parsed is a ConfigError naming it
 * and the next step, unless `skipUnreadable` (completion: the other files still offer their names).
 * An empty list gives an empty kubeconfig (loadAccess then adds the in-cluster ServiceAccount).
 */
export async function loadKubeconfig(files: string[], opts: { skipUnreadable?: boolean } = {}): Promise<KubeConfig> {
  const { KubeConfig, mergeKubeconfig } = await import("./kubeconfig.js");
  const kc = new KubeConfig();
  for (const f of files) {
    const more = new KubeConfig();
    try {
      more.loadFromFile(f);
    } catch (e) {
      if (opts.skipUnreadable) continue;
      throw kubeconfigError(f, e);
    }
    mergeKubeconfig(kc, more);
  }
  return kc;
}

/** What went wrong reading kubeconfig `file`, and what to do: one line. */
export function kubeconfigError(file: string, e: unknown): ConfigError {
  const err = e as NodeJS.ErrnoException;
  if (err?.code === "ENOENT") return new ConfigError(`cannot read kubeconfig ${file}: file not found; check the path, or pass --kubeconfig`, { cause: e });
  if (err?.code === "EACCES" || err?.code === "EISDIR") return new ConfigError(`cannot read kubeconfig ${file}: ${err.code}; check the file's permissions or pass another --kubeconfig`, { cause: e });
  return new ConfigError(`cannot parse kubeconfig ${file}: ${String(err?.message ?? e).split("\n")[0]!.slice(0, 300)}; fix the file or pass another --kubeconfig`, { cause: e });
}

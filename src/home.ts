// Which kubeconfig files kvlog reads, as kubectl chooses them: the one rule for loadAccess,
// the contexts of a several-cluster run and completion. Pure: no credentials, no network code.
import { existsSync } from "node:fs";
import { delimiter, join } from "node:path";

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

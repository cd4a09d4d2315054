// Where kubectl looks for its kubeconfig when neither --kubeconfig nor KUBECONFIG says.
import { existsSync } from "node:fs";
import { join } from "node:path";

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

// The one part of @kubernetes/client-node kvlog uses: kubeconfig loading and its auth (client
// certificates, tokens, exec plugins, auth providers). Imported from dist/config.js, not the
// package entry (which loads the whole generated API), and imported dynamically by its users, so
// it is evaluated only when a command reads a kubeconfig. `npm run build` (bin/build.mjs) bundles
// it with client-node's API client and agents left out: see the comment there. Also kubectl's
// rule for merging several KUBECONFIG files (mergeKubeconfig).
export { KubeConfig, bufferFromFileOrString } from "@kubernetes/client-node/dist/config.js";

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

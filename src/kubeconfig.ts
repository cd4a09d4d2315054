// The one part of @kubernetes/client-node kvlog uses: kubeconfig loading and its auth (client
// certificates, tokens, exec plugins, auth providers). Imported from dist/config.js, not the
// package entry (which loads the whole generated API), and imported dynamically by its users, so
// it is evaluated only when a command reads a kubeconfig. `npm run build` (bin/build.mjs) bundles
// it with client-node's API client and agents left out: see the comment there.
export { KubeConfig, bufferFromFileOrString } from "@kubernetes/client-node/dist/config.js";

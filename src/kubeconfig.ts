// The one part of @kubernetes/client-node kvlog uses: kubeconfig loading and its auth (client
// certificates, tokens, exec plugins, auth providers). Imported from dist/config.js, not the
// package entry, and bundled by `npm run build` (esbuild) into dist/kubeconfig.js without the
// generated API the package entry loads: 1.1 MB instead of ~16 MB of JavaScript, about a third
// of the load time and ~40 MB less memory (README "Large clusters").
export { KubeConfig, bufferFromFileOrString } from "@kubernetes/client-node/dist/config.js";

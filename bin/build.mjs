// npm run build: kvlog and every package it runs, bundled by esbuild into a few files.
//
//   node bin/build.mjs              the npm package: src/cli.ts as one CommonJS file,
//                                   dist/kvlog.cjs, which bin/kvlog.js requires
//   node bin/build.mjs --sea FILE   the single executable's script: sea/main.ts, the same way
//                                   (sea/build.sh)
// Each writes THIRD-PARTY-NOTICES.txt next to its file: the bundled packages and their licenses.
//
// Why one file (npm run bench, README "Benchmarks"): a process reads one file instead of ~40
// modules and their packages, and the package installs with no dependencies. CommonJS because
// it loads faster than the same bundle as an ES module here (~28 vs ~35 ms with Node's compile
// cache; an ES module's import of a built-in such as node:tls also costs more than a require).
// A command's run is a dynamic import in src/cli.ts: esbuild keeps it in the file but runs it
// only when called, so --help evaluates commander and the flag definitions only. Type-checking
// is `npm run typecheck` (esbuild only strips the types).
//
// What is left out of @kubernetes/client-node. kvlog uses its KubeConfig (loading, merging and
// the user's auth: certificates, tokens, token files, exec plugins, auth providers, through
// applyToHTTPSOptions) and has its own HTTP layer (src/http.ts, src/dispatch.ts, src/proxy.ts). client-node's
// dist/config.js also imports the generated API client (~600 model classes, 0.9 MB) for
// makeApiClient, undici's whole entry for applyToFetchOptions, and the socks/http proxy agents
// and node:http/node:https for the agent applyToHTTPSOptions puts in `opts.agent`, which kvlog
// never reads. Those imports resolve here to stand-ins: the API client throws when called; an
// agent is an object that throws if anything ever touches it. So a future use fails loudly in
// the tests instead of silently. Built-ins that the bundled packages import (node:child_process,
// node:https for an OIDC refresh, ...) are required the first time they are used rather than
// when the file is loaded: an exec plugin loads child_process, a client certificate never does.
// Measured (npm run bench, this machine): the kubeconfig code loaded in ~90 ms, now ~10 ms.
import { readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import * as esbuild from "esbuild";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const fromClientNode = (importer) => /[\\/]node_modules[\\/]@kubernetes[\\/]client-node[\\/]/.test(importer);
const fromPackage = (importer) => /[\\/]node_modules[\\/]/.test(importer);

const STAND_IN = `const absent = (what) => class {
  constructor() {
    throw new Error("kvlog: " + what + " is not part of kvlog's build of @kubernetes/client-node (bin/build.mjs)");
  }
};
// An agent kvlog never uses: built, never touched (kvlog's transport takes ca, cert, key and headers).
const unused = (what) => class {
  constructor() {
    return new Proxy({}, {
      get(_, k) {
        if (typeof k === "symbol" || k === "then") return undefined;
        throw new Error("kvlog: " + what + "." + String(k) + ": the agent client-node builds is not used by kvlog (bin/build.mjs)");
      },
    });
  }
};
export const Agent = unused("undici's Agent"), ProxyAgent = unused("undici's ProxyAgent");
export const SocksProxyAgent = unused("SocksProxyAgent"), HttpProxyAgent = unused("HttpProxyAgent"), HttpsProxyAgent = unused("HttpsProxyAgent");
export default { Agent: unused("the node:http(s) Agent") };
export const ServerConfiguration = absent("the generated API client");
export function createConfiguration() { new ServerConfiguration(); }
export const SocksClient = { createConnection() { new (absent("socks"))(); } };
`;

/** client-node's API client and agents out; built-ins that packages import loaded on first use. */
const trimPlugin = {
  name: "kvlog-trim",
  setup(build) {
    build.onResolve({ filter: /^\.\/gen\/index\.js$|^(undici|socks|socks-proxy-agent|hpagent)$|^node:https?$/ }, (a) =>
      fromClientNode(a.importer) && (!a.path.startsWith("node:") || /[\\/]dist[\\/]config\.js$/.test(a.importer))
        ? { path: "stand-ins", namespace: "kvlog-absent" }
        : undefined,
    );
    build.onLoad({ filter: /.*/, namespace: "kvlog-absent" }, () => ({ contents: STAND_IN, loader: "js" }));
    build.onResolve({ filter: /^(node:)?(http|https|child_process|net|tls|vm|http2|zlib|crypto)$/ }, (a) =>
      fromPackage(a.importer) && a.kind === "import-statement" ? { path: a.path.replace(/^node:/, ""), namespace: "kvlog-lazy" } : undefined,
    );
    // A default import of a built-in (all these packages use) as an object that requires the
    // module on first property access.
    build.onLoad({ filter: /.*/, namespace: "kvlog-lazy" }, (a) => ({
      contents: `let m;
const load = () => (m ??= require("node:${a.path}"));
export default new Proxy({}, { get: (_, k) => load()[k], has: (_, k) => k in load() });`,
      loader: "js",
    }));
  },
};

const common = {
  bundle: true,
  platform: "node",
  target: "node22",
  format: "cjs",
  logLevel: "warning",
  legalComments: "none",
  // ws's optional native add-ons: it requires them in a try and uses its own JavaScript without.
  external: ["bufferutil", "utf-8-validate"],
  plugins: [trimPlugin],
  absWorkingDir: root,
  metafile: true,
};

/**
 * The packages bundled into `outfile` (from esbuild's metafile), each with its version, license
 * and license text, written next to it as THIRD-PARTY-NOTICES.txt: their licenses (MIT,
 * Apache-2.0, ...) ask that the notices travel with the copy.
 */
function writeNotices(result, outfile) {
  const dirs = new Set();
  for (const input of Object.keys(result.metafile.inputs)) {
    const m = /^(.*node_modules\/(?:@[^/]+\/)?[^/]+)\//.exec(input);
    if (m) dirs.add(m[1]);
  }
  const parts = [...dirs]
    .map((dir) => ({ dir, pkg: JSON.parse(readFileSync(join(root, dir, "package.json"), "utf8")) }))
    .sort((a, b) => a.pkg.name.localeCompare(b.pkg.name))
    .map(({ dir, pkg }) => {
      const file = readdirSync(join(root, dir)).find((f) => /^(licen[cs]e|copying)(\.|$)/i.test(f));
      const text = file ? readFileSync(join(root, dir, file), "utf8").trim() : `(no license file in the package; package.json says ${pkg.license})`;
      return `${pkg.name} ${pkg.version} (${pkg.license ?? "see below"})\n\n${text}\n`;
    });
  const head = `kvlog bundles these packages into ${outfile.split("/").pop()}; their notices follow.\n`;
  writeFileSync(join(resolve(root, dirname(outfile)), "THIRD-PARTY-NOTICES.txt"), [head, ...parts].join(`\n${"-".repeat(78)}\n\n`));
}

const args = process.argv.slice(2);
if (args[0] === "--sea") {
  if (!args[1]) throw new Error("usage: node bin/build.mjs --sea OUTFILE");
  writeNotices(await esbuild.build({ ...common, entryPoints: ["sea/main.ts"], outfile: args[1] }), args[1]);
} else if (args.length === 0) {
  rmSync(join(root, "dist"), { recursive: true, force: true }); // nothing of an earlier build left to ship
  writeNotices(await esbuild.build({ ...common, entryPoints: ["src/cli.ts"], outfile: "dist/kvlog.cjs" }), "dist/kvlog.cjs");
} else {
  throw new Error("usage: node bin/build.mjs [--sea OUTFILE]");
}

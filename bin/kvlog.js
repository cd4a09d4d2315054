#!/usr/bin/env node
// Thin entry (CommonJS, bin/package.json): check the Node.js version, then hand over to the built CLI.
const [major, minor] = process.versions.node.split(".").map(Number);
if (major < 22 || (major === 22 && minor < 19)) {
  process.stderr.write(`kvlog: needs Node.js 22.19 or newer, this is ${process.versions.node}; install a newer Node.js (or run it through bin/with-node)\n`);
  process.exit(2);
}
// Cache compiled code between runs (os.tmpdir()/node-compile-cache): a run then starts from V8's
// compiled code instead of compiling kvlog's 1.5 MB again.
require("node:module").enableCompileCache?.();
// All of kvlog and its packages in one CommonJS file (npm run build, bin/build.mjs).
require("../dist/kvlog.cjs").main();

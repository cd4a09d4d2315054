// The single executable's entry (npm run build:sea bundles it with all of kvlog into one
// CommonJS script that Node's single executable applications run). What bin/kvlog.js and
// bin/kubectl_complete-kvlog do for the npm package, less two things the executable does not
// need: the Node.js version check (it carries its own Node) and enableCompileCache() (there is
// no module to load from disk: the script's compiled code is in the executable, sea-config.json
// "useCodeCache"). In an executable, process.argv is [executable, the name it was run as, ...the
// arguments], so main()'s process.argv.slice(2) is the arguments, as under node.
import { basename } from "node:path";
import { main, run } from "../src/cli.js";

if (basename(process.argv[1] ?? "") === "kubectl_complete-kvlog") {
  // Run under the name kubectl looks up to complete `kubectl kvlog ...` (a link to this file,
  // plugins/kvlog.yaml caveats): the words after `kubectl kvlog` in, the candidates out.
  void run(["__complete", ...process.argv.slice(2)], {
    stdout: process.stdout,
    stderr: process.stderr,
    env: process.env,
  }).then((code) => {
    process.exitCode = code;
  });
} else {
  void main();
}

// Runs the built kvlog CLI against an in-process SIMULATED cluster.
//
//   bin/with-node node test/fake/demo.ts                      # kvlog set scheduler 4
//   bin/with-node node test/fake/demo.ts kubelet 3            # kvlog set kubelet 3
//   bin/with-node node test/fake/demo.ts set all 2 --output json
//
// Arguments after the script are passed to `kvlog set` ("set" is added unless
// the first argument already is "set"). KUBECONFIG points at the fake cluster's
// admin kubeconfig (client certificate, system:masters); set KVLOG_FAKE_USER to
// "kvlog" (least-privilege RBAC) or "nobody" to try other identities.

import { spawn } from "node:child_process";
import * as fs from "node:fs";
import { fileURLToPath } from "node:url";
import { startFakeCluster } from "./cluster.ts";

const cli = fileURLToPath(new URL("../../bin/kvlog.js", import.meta.url));
const given = process.argv.slice(2);
const args = given.length === 0 ? ["set", "scheduler", "4"] : given[0] === "set" ? given : ["set", ...given];
const user = process.env.KVLOG_FAKE_USER ?? "admin";

const cluster = await startFakeCluster();
const kubeconfig = cluster.kubeconfig(user);
process.stderr.write(
  `kvlog demo: this is a SIMULATED Kubernetes cluster (in-process fake at ${cluster.url}, user ${user}); nothing real is changed.\n`,
);

let code: number;
if (!fs.existsSync(cli)) {
  process.stderr.write(`kvlog demo: ${cli} does not exist yet (build the CLI first)\n`);
  code = 127;
} else {
  code = await new Promise<number>((resolve) => {
    const child = spawn(process.execPath, [cli, ...args], {
      stdio: "inherit",
      env: { ...process.env, KUBECONFIG: kubeconfig },
    });
    const forward = (sig: NodeJS.Signals): void => {
      child.kill(sig);
    };
    process.on("SIGINT", forward);
    process.on("SIGTERM", forward);
    child.on("error", (e) => {
      process.stderr.write(`kvlog demo: cannot start the CLI: ${e.message}\n`);
      resolve(127);
    });
    child.on("exit", (c, signal) => {
      process.off("SIGINT", forward);
      process.off("SIGTERM", forward);
      resolve(c ?? (signal ? 128 + (signal === "SIGINT" ? 2 : 15) : 1));
    });
  });
}

await cluster.close();
process.exit(code);

// The SIMULATED cluster (test/fake) as a separate process, for executables that cannot run
// inside a vitest process: another architecture under qemu-user, a Windows executable under
// Wine (test/package/cross.sh). Prints the path of the admin kubeconfig on its first line, then
// answers one line per line read on stdin:
//   level ID   the level the fake target ID was set to ("none" when never set)
//   via ID     how the last PUT /debug/flags/v reached ID (port-forward, node-proxy, ...; "none")
//   copy DIR   writes the admin kubeconfig to DIR/.kube/config (a home folder), answers the path
// It closes the cluster and exits when stdin ends.
//   bin/with-node node test/package/fake-serve.ts
import * as fs from "node:fs";
import * as path from "node:path";
import { createInterface } from "node:readline";
import { startFakeCluster } from "../fake/cluster.ts";

const cluster = await startFakeCluster();
const kubeconfig = cluster.kubeconfig("admin");
// cross.sh's cleanup kills this process: close the cluster (its folder in the temp dir) first.
for (const signal of ["SIGTERM", "SIGINT"] as const)
  process.once(signal, () => {
    void cluster.close().finally(() => process.exit(signal === "SIGTERM" ? 143 : 130));
  });
process.stdout.write(`${kubeconfig}\n`);
for await (const line of createInterface({ input: process.stdin })) {
  const [cmd, arg = ""] = line.trim().split(/\s+/, 2);
  if (cmd === "level") process.stdout.write(`${cluster.level(arg) ?? "none"}\n`);
  else if (cmd === "via") {
    const put = cluster.requests.filter((r) => r.target === arg && r.method === "PUT" && r.path === "/debug/flags/v").pop();
    process.stdout.write(`${put?.via ?? "none"}\n`);
  } else if (cmd === "copy") {
    const file = path.join(arg, ".kube", "config");
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.copyFileSync(kubeconfig, file);
    process.stdout.write(`${file}\n`);
  } else process.stdout.write(`unknown command ${JSON.stringify(cmd)}\n`);
}
await cluster.close();

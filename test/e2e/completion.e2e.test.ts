// End-to-end: `kubectl kvlog <TAB>`. The kubectl built for the local cluster runs
// `kubectl __complete kvlog ...` (what its shell scripts run on TAB); it finds kubectl-kvlog and
// kubectl_complete-kvlog on PATH, and kvlog lists the real cluster's nodes for --node.
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, expect, it } from "vitest";

const exec = promisify(execFile);
const STATE = process.env.KVLOG_E2E_DIR ?? "/tmp/kvlog-e2e";
const made: string[] = [];
const tempDir = (prefix: string): string => {
  const d = mkdtempSync(join(tmpdir(), prefix));
  made.push(d);
  return d;
};
afterAll(() => {
  for (const d of made) rmSync(d, { recursive: true, force: true });
});

it("kubectl __complete kvlog: commands, components and the real cluster's nodes", async () => {
  const kubectl = `${/^K8S_BIN=(.*)$/m.exec(readFileSync(`${STATE}/env`, "utf8"))![1]}/kubectl`;
  const bin = tempDir("kvlog-plugin-");
  symlinkSync(fileURLToPath(new URL("../../bin/kvlog.js", import.meta.url)), join(bin, "kubectl-kvlog"));
  symlinkSync(fileURLToPath(new URL("../../bin/kubectl_complete-kvlog", import.meta.url)), join(bin, "kubectl_complete-kvlog"));
  // The plugin files start with #!/usr/bin/env node: this test's Node (>= 22) first on PATH.
  const env = { PATH: `${bin}:${dirname(process.execPath)}:${process.env.PATH}`, HOME: tempDir("kvlog-home-"), KUBECONFIG: `${STATE}/admin.kubeconfig` };
  const complete = async (...words: string[]) => (await exec(kubectl, ["__complete", "kvlog", ...words], { env })).stdout;
  expect(await complete("set", "sch")).toBe("scheduler\tkube-scheduler\n:4\n");
  expect(await complete("do")).toMatch(/^doctor\t/);
  // --node offers the cluster's nodes (here narrowed with -l to the two real ones).
  expect(await complete("set", "kubelet", "5", "-l", "!kvlog.dev/e2e-fleet", "--node", "")).toBe("kvlog-node-1\nkvlog-node-2\n:4\n");
});

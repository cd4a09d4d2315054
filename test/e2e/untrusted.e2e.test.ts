// End-to-end: what the cluster says is untrusted (docs: RBAC and security, "What kvlog trusts"),
// against the real local cluster. A record planted with kubectl, as anyone who may update
// ConfigMaps in kube-system could:
// - with terminal escapes in it: `status` and `get`, on a pseudo-terminal, show them escaped;
// - with a hostile startup level for a real kube-proxy: `reset --expired` never puts that level,
//   and the kube-proxy's own log shows no change (no -v=5 line after the reset). Before 1.36
//   kube-proxy cannot say its own startup level, so the target is unknown-startup and nothing is
//   sent; from 1.36 its /flagz says the real one, which is what kvlog puts back.
import { execFile, spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import { CLI, kvlog } from "../integration/run.ts";
import { logMark, logSince, V5_PATHRECORDER } from "./logs.ts";

const exec = promisify(execFile);
const STATE = process.env.KVLOG_E2E_DIR ?? "/tmp/kvlog-e2e";
const ADMIN = `${STATE}/admin.kubeconfig`;
const KUBECTL = `${/^K8S_BIN=(.*)$/m.exec(existsSync(`${STATE}/env`) ? readFileSync(`${STATE}/env`, "utf8") : "")?.[1] ?? ""}/kubectl`;
const NODE = "kvlog-node-1"; // its kube-proxy has enableProfiling: true (up.sh)
const PROXY_LOG = `${STATE}/logs/kube-proxy-${NODE}.log`;
const HOSTILE = "\x1b]0;pwned\x07\x1b[2J\x1b[31m\rspoofed";
const ESCAPED = "\\x1b]0;pwned\\x07\\x1b[2J\\x1b[31m\\rspoofed";

const kubectl = async (args: string[], input?: string): Promise<string> => {
  const child = exec(KUBECTL, ["--kubeconfig", ADMIN, ...args], { maxBuffer: 64 * 1024 * 1024 });
  if (input !== undefined) child.child.stdin?.end(input);
  return (await child).stdout;
};
const minor = async (): Promise<number> => Number(String(JSON.parse(await kubectl(["version", "-o", "json"])).serverVersion.minor).replace(/\D+$/, ""));

async function plant(component: string, change: object): Promise<void> {
  const cm = {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { name: `kvlog-${component}`, namespace: "kube-system", labels: { "app.kubernetes.io/managed-by": "kvlog", "kvlog.dev/component": component } },
    data: { "20260101T000000Z-e2e000": JSON.stringify(change) },
  };
  // Exactly this record: an earlier file's change for the same target (faults.e2e sets this
  // kube-proxy and records it) would otherwise stay beside it and, being newer, be the one shown.
  await kubectl(["-n", "kube-system", "delete", "configmap", `kvlog-${component}`, "--ignore-not-found"]);
  await kubectl(["create", "-f", "-"], JSON.stringify(cm));
}
async function proxyPod(): Promise<string> {
  const pods = JSON.parse(await kubectl(["-n", "kube-system", "get", "pods", "-l", "k8s-app=kube-proxy", "--field-selector", `spec.nodeName=${NODE}`, "-o", "json"])).items;
  return pods[0].metadata.name;
}
function onTerminal(args: string[]): Promise<string> {
  const q = (s: string) => `'${s.replaceAll("'", `'\\''`)}'`;
  return new Promise((resolve, reject) => {
    const child = spawn("script", ["-qfec", [process.execPath, CLI, ...args].map(q).join(" "), "/dev/null"], {
      env: { PATH: process.env.PATH, TERM: "xterm", HOME: STATE, KUBECONFIG: ADMIN },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (out += d));
    const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
    child.on("error", reject);
    child.on("close", () => {
      clearTimeout(timer);
      resolve(out.replaceAll("\r\n", "\n"));
    });
  });
}
const rawControls = (s: string): string[] =>
  [...s.replace(/\x1b\[[0-9;]*m|\r\x1b\[2K/g, "").matchAll(/[\x00-\x08\x0b-\x1f\x7f-\x9f]/g)].map((m) => JSON.stringify(m[0]));

afterAll(async () => {
  if (existsSync(ADMIN)) await kubectl(["-n", "kube-system", "delete", "configmap", "kvlog-kube-proxy", "--ignore-not-found"]).catch(() => {});
});

describe("a planted record on the real cluster", () => {
  it("escapes in the record: status and get on a terminal show them escaped", async () => {
    const id = `kube-proxy/kube-system/${await proxyPod()}`;
    await plant("kube-proxy", { level: 4, by: HOSTILE, at: new Date().toISOString(), until: new Date(Date.now() + 3_600_000).toISOString(), targets: { [id]: { before: 1, startup: 1 } } });
    for (const args of [["status", "kube-proxy"], ["get", "kube-proxy", "--node", NODE]]) {
      const out = await onTerminal(args);
      expect(out, args.join(" ")).toContain(ESCAPED);
      expect(rawControls(out), args.join(" ")).toEqual([]);
    }
  });

  it("a hostile startup level: reset --expired never puts it, and kube-proxy's own log shows no change", async () => {
    const id = `kube-proxy/kube-system/${await proxyPod()}`;
    const env = { KUBECONFIG: ADMIN };
    const low = await kvlog(["set", "kube-proxy", "1", "--node", NODE, "--no-record", "-o", "json"], env, 60_000);
    expect(low.code, low.stderr).toBe(0);
    await new Promise((r) => setTimeout(r, 1500));
    const past = new Date(Date.now() - 3_600_000).toISOString();
    await plant("kube-proxy", { level: 4, by: "mallory", at: past, until: past, targets: { [id]: { before: 1, startup: 2147483647 } } });
    const mark = logMark(PROXY_LOG);
    const r = await kvlog(["reset", "--expired", "kube-proxy", "-o", "json"], env, 60_000);
    const res = r.json().results.find((x: { id: string }) => x.id === id);
    if ((await minor()) >= 36) {
      expect(res, r.stderr).toMatchObject({ ok: true });
      expect(res.level).toBeLessThanOrEqual(10);
      expect(res.message).toMatch(/\/flagz/);
    } else {
      expect(res, r.stderr).toMatchObject({ ok: false, outcome: "unknown-startup" });
      expect(r.code).toBe(1);
    }
    // Our own GETs (/flagz) and any PUT are logged by the mux at -v=5 only: at 2147483647 they would be.
    await new Promise((r) => setTimeout(r, 3000));
    await kvlog(["get", "kube-proxy", "--node", NODE], env, 60_000);
    await new Promise((r) => setTimeout(r, 1500));
    expect(logSince(PROXY_LOG, mark).split("\n").filter((l) => V5_PATHRECORDER.test(l))).toEqual([]);
  });
});

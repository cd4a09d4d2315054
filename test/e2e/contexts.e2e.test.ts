// Several REAL clusters in one run (docs/many-clusters.md): the harness's cluster (A) and a
// second one brought up here beside it (B: its own netns, bridge, addresses, ports and state
// dir, KVLOG_E2E_INSTANCE=b) of another minor (v1.30.14 beside the default pin, or the default
// pin beside an older A), one kubeconfig holding both contexts. It proves, from each
// kube-apiserver's own log (klog's -v=5 pathrecorder lines), that
// - `set --for` across both clusters raises both and puts both back when the time is up;
// - SIGTERM during the one wait puts both back at once (exit 143);
// - a cluster stopped mid-run leaves the other's results intact: A is raised and put back,
//   B's failure is its own entry, the exit code says partial failure (1);
// and that three contexts of which one is down give two results and one line (exit 1).
// B is torn down at the end; A stays for the rest of the suite.
import { execFile, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { KubeConfig } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { kvlog, type CliRun } from "../integration/run.ts";
import { logFile, V5_PATHRECORDER } from "./logs.ts";

const exec = promisify(execFile);
const STATE = process.env.KVLOG_E2E_DIR ?? "/tmp/kvlog-e2e";
const LOCAL = !process.env.KVLOG_E2E_KUBECONFIG && existsSync(`${STATE}/cluster.json`);
const CLUSTER_SH = new URL("./cluster/", import.meta.url).pathname;
const BASE_LEVEL = 1; // the harness's --v (KVLOG_E2E_V)
const HIGH_LEVEL = 6;
const MARKER = V5_PATHRECORDER; // klog -v=5 and above

// Cluster B: nothing in common with A (names, addresses, ports, state).
const B_STATE = `${STATE}-b`;
const B_ENV = {
  KVLOG_E2E_INSTANCE: "b",
  KVLOG_E2E_DIR: B_STATE,
  KVLOG_E2E_NET_PREFIX: "10.222.1",
  KVLOG_E2E_APISERVER_PORT: "6543",
  KVLOG_E2E_ETCD_PORT: "2479",
  KVLOG_E2E_APISERVERS: "1",
  KVLOG_E2E_FLEET_NODES: "0",
};

const clusterA = (): any => JSON.parse(readFileSync(`${STATE}/cluster.json`, "utf8"));
let versionB = "";
let dir = "";
let kubeconfig = "";

const logA = () => logFile(`${STATE}/logs/kube-apiserver.log`);
const logB = () => logFile(`${B_STATE}/logs/kube-apiserver.log`);

async function markerAfter(l: ReturnType<typeof logFile>, m: number, ms: number): Promise<boolean> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (l.since(m).split("\n").some((x) => MARKER.test(x))) return true;
    await new Promise((r) => setTimeout(r, 500));
  }
  return false;
}

/** No -v=5 line in a few seconds of the apiserver's ordinary work: it is back at the base level. */
async function quiet(l: ReturnType<typeof logFile>): Promise<string[]> {
  await new Promise((r) => setTimeout(r, 1500)); // lines of requests in flight at the change
  const m = l.mark();
  await new Promise((r) => setTimeout(r, 4000));
  return l.since(m).split("\n").filter((x) => MARKER.test(x));
}

/** One kubeconfig: context e2e-a (A's admin), e2e-b (B's admin), e2e-down (nothing listens). */
function writeKubeconfig(): string {
  const entry = (file: string, name: string) => {
    const kc = new KubeConfig();
    kc.loadFromFile(file);
    const c = kc.getCurrentCluster()!;
    const u = kc.getCurrentUser()!;
    return {
      cluster: { name, cluster: { server: c.server, ...(c.caData ? { "certificate-authority-data": c.caData } : { "certificate-authority": c.caFile }) } },
      user: {
        name,
        user: {
          ...(u.certData ? { "client-certificate-data": u.certData } : { "client-certificate": u.certFile }),
          ...(u.keyData ? { "client-key-data": u.keyData } : { "client-key": u.keyFile }),
        },
      },
      context: { name, context: { cluster: name, user: name } },
    };
  };
  const a = entry(`${STATE}/admin.kubeconfig`, "e2e-a");
  const b = entry(`${B_STATE}/admin.kubeconfig`, "e2e-b");
  const down = {
    cluster: { name: "e2e-down", cluster: { server: "https://127.0.0.1:9", "insecure-skip-tls-verify": true } },
    user: { name: "e2e-down", user: { token: "unused-token-for-a-cluster-that-is-down" } },
    context: { name: "e2e-down", context: { cluster: "e2e-down", user: "e2e-down" } },
  };
  const all = [a, b, down];
  const file = join(dir, "config");
  const doc = { apiVersion: "v1", kind: "Config", clusters: all.map((x) => x.cluster), users: all.map((x) => x.user), contexts: all.map((x) => x.context), "current-context": "e2e-a" };
  writeFileSync(file, JSON.stringify(doc, null, 2), { mode: 0o600 });
  return file;
}

const downB = () => exec("bash", [`${CLUSTER_SH}down.sh`], { env: { ...process.env, ...B_ENV }, maxBuffer: 16 << 20 });

async function run(args: string[], started?: (c: ChildProcess) => void): Promise<CliRun> {
  return kvlog(args, { KUBECONFIG: kubeconfig }, 120_000, started);
}

describe.skipIf(!LOCAL)("output that scales, on the harness's cluster", () => {
  it("set kubelet: the nodes that are changed are rows, the 1,200 fleet nodes that are down one row; -o wide lists them; JSON keeps them", async () => {
    const c = clusterA();
    const env = { KUBECONFIG: `${STATE}/admin.kubeconfig` };
    const args = ["set", "kubelet", String(BASE_LEVEL), "--no-record"];
    const table = await kvlog(args, env, 120_000);
    expect(table.code, table.stderr).toBe(0);
    const rows = table.stdout.trimEnd().split("\n");
    const nodes = c.nodes.map((n: any) => n.name as string);
    expect(rows.slice(1, 1 + nodes.length).map((l) => l.split(/\s+/)[0])).toEqual(nodes.map((n: string) => `kubelet/${n}`));
    expect(rows.slice(1, 1 + nodes.length).every((l) => /\sset\s/.test(l))).toBe(true);
    const groups = rows.slice(1 + nodes.length);
    expect(groups.length).toBeGreaterThanOrEqual(1);
    expect(groups.length).toBeLessThanOrEqual(2);
    const counted = groups.map((l) => Number(/^(\d+) targets\s/.exec(l)![1]));
    expect(counted.reduce((x, y) => x + y, 0)).toBe(c.fleet.count);
    expect(groups.every((l) => /\snode-not-ready\s.*\(-o wide lists them\)$/.test(l))).toBe(true);
    const wide = await kvlog([...args, "-o", "wide"], env, 120_000);
    expect(wide.stdout.trimEnd().split("\n")).toHaveLength(1 + c.totalNodes);
    const json = await kvlog([...args, "-o", "json"], env, 120_000);
    expect(json.json().results).toHaveLength(c.totalNodes);
    expect(json.json().summary).toMatchObject({ succeeded: nodes.length, skipped: c.fleet.count });
  });
});

describe.skipIf(!LOCAL)("two real clusters at once", () => {
  beforeAll(async () => {
    const minorA = clusterA().k8sMinor as number;
    const pin = /^K8S_VERSION=(\S+)$/m.exec(readFileSync(`${CLUSTER_SH}versions.env`, "utf8"))![1]!;
    versionB = minorA > 30 ? "v1.30.14" : pin;
    dir = mkdtempSync(join(tmpdir(), "kvlog-e2e-contexts-"));
    // Inside the harness's lock (run-local.sh holds it for the whole suite).
    await exec("bash", [`${CLUSTER_SH}up.sh`], { env: { ...process.env, ...B_ENV, KVLOG_E2E_K8S_VERSION: versionB }, maxBuffer: 64 << 20 }).catch((e) => {
      throw new Error(`cluster B (${versionB}) did not come up: ${String(e.stdout).slice(-2000)}\n${String(e.stderr).slice(-2000)}`);
    });
    kubeconfig = writeKubeconfig();
  }, 600_000);

  afterAll(async () => {
    await downB().catch(() => {});
    if (existsSync(B_STATE)) rmSync(B_STATE, { recursive: true, force: true });
    if (dir) rmSync(dir, { recursive: true, force: true });
  }, 120_000);

  it("the two clusters are two minors, each with its own apiserver", async () => {
    const r = await run(["doctor", "kube-apiserver", "--context", "e2e-a,e2e-b", "-o", "json"]);
    const docs = r.json().clusters;
    expect(docs.map((c: any) => c.context)).toEqual(["e2e-a", "e2e-b"]);
    expect(docs[0].result.serverVersion).toBe(clusterA().k8sVersion);
    expect(docs[1].result.serverVersion).toBe(versionB);
    expect(docs[0].server).not.toBe(docs[1].server);
  });

  it("three contexts, one down: both real clusters answer, the down one is one line, exit 1", async () => {
    const r = await run(["get", "kube-apiserver", "--all-contexts"]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^CONTEXT e2e-a \(https:\/\/127\.0\.0\.1:\d+\)\nTARGET/);
    expect(r.stdout).toMatch(/\nCONTEXT e2e-b \(https:\/\/127\.0\.0\.1:6543\)\nTARGET/);
    const lines = r.stderr.trimEnd().split("\n");
    expect(lines[0]).toMatch(/^e2e-down: cannot reach the apiserver at https:\/\/127\.0\.0\.1:9 .*ECONNREFUSED/);
    expect(lines.at(-1)).toBe("3 cluster(s): 2 succeeded, 1 failed (e2e-down); exit 1");
    // The same for a change (to the level they run at: nothing changes, nothing is recorded).
    const set = await run(["set", "kube-apiserver", String(BASE_LEVEL), "--all-contexts", "--no-record"]);
    expect(set.code).toBe(1);
    expect(set.stdout.match(/^kube-apiserver\S*\s+-\s+direct\s+set\s/gm)?.length).toBe(clusterA().apiservers.length + 1);
    expect(set.stderr.trimEnd().split("\n").at(-1)).toBe("3 cluster(s): 2 succeeded, 1 failed (e2e-down); exit 1");
  });

  it("set --for across both clusters: both raised (each apiserver's log), both put back when the time is up", async () => {
    const [a, b] = [logA(), logB()];
    const [ma, mb] = [a.mark(), b.mark()];
    const running = run(["set", "kube-apiserver", String(HIGH_LEVEL), "--context", "e2e-a,e2e-b", "--for", "20s", "--restore-to", String(BASE_LEVEL), "-o", "json"]);
    expect(await markerAfter(a, ma, 20_000), "A's apiserver wrote no -v=5 line while raised").toBe(true);
    expect(await markerAfter(b, mb, 20_000), "B's apiserver wrote no -v=5 line while raised").toBe(true);
    const r = await running;
    expect(r.code, r.stderr).toBe(0);
    for (const c of r.json().clusters) {
      expect(c.ok).toBe(true);
      for (const t of c.result.results) expect(t).toMatchObject({ outcome: "set", restore: { ok: true, level: BASE_LEVEL } });
    }
    expect(await quiet(a), "A's apiserver still logs at -v=5").toEqual([]);
    expect(await quiet(b), "B's apiserver still logs at -v=5").toEqual([]);
  });

  it("set --for across both clusters: SIGTERM during the wait puts both back at once (exit 143)", async () => {
    const [a, b] = [logA(), logB()];
    const [ma, mb] = [a.mark(), b.mark()];
    let child: ChildProcess | undefined;
    const started = Date.now();
    const running = run(["set", "kube-apiserver", String(HIGH_LEVEL), "--context", "e2e-a,e2e-b", "--for", "10m", "--restore-to", String(BASE_LEVEL), "-o", "json"], (c) => (child = c));
    expect(await markerAfter(a, ma, 20_000)).toBe(true);
    expect(await markerAfter(b, mb, 20_000)).toBe(true);
    child!.kill("SIGTERM");
    const r = await running;
    expect(r.code).toBe(143);
    expect(Date.now() - started).toBeLessThan(60_000);
    for (const c of r.json().clusters) for (const t of c.result.results) expect(t.restore).toMatchObject({ ok: true, level: BASE_LEVEL });
    expect(await quiet(a)).toEqual([]);
    expect(await quiet(b)).toEqual([]);
  });

  it("cluster B stopped mid-run: A's results are intact (raised, put back: its own log), B's failure is its own entry, exit 1", async () => {
    const [a, b] = [logA(), logB()];
    const [ma, mb] = [a.mark(), b.mark()];
    const running = run(["set", "kube-apiserver", String(HIGH_LEVEL), "--context", "e2e-a,e2e-b", "--for", "25s", "--restore-to", String(BASE_LEVEL), "-o", "json", "--request-timeout", "5s"]);
    expect(await markerAfter(a, ma, 20_000)).toBe(true);
    expect(await markerAfter(b, mb, 20_000)).toBe(true);
    await downB(); // every process of B, its netns and bridge
    const r = await running;
    expect(r.code).toBe(1);
    const [ca, cb] = r.json().clusters;
    expect(ca).toMatchObject({ context: "e2e-a", ok: true, exitCode: 0 });
    for (const t of ca.result.results) expect(t).toMatchObject({ outcome: "set", restore: { ok: true, level: BASE_LEVEL } });
    expect(cb).toMatchObject({ context: "e2e-b", ok: false, exitCode: 1 });
    expect(cb.result.results.every((t: any) => t.outcome === "set" && t.restore.ok === false)).toBe(true);
    expect(r.stderr).toMatch(/^e2e-b: kube-apiserver: .*\n/m);
    expect(r.stderr.trimEnd().split("\n").at(-1)).toBe("2 cluster(s): 1 succeeded, 1 failed (e2e-b); exit 1");
    expect(await quiet(a), "A's apiserver still logs at -v=5").toEqual([]);
  });
});

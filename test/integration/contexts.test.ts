// Several clusters in one run: the built CLI against several SIMULATED clusters (test/fake), each
// its own apiserver, CA, users and record, named by contexts of one kubeconfig, with contexts
// that cannot work (nothing listening, a server that never answers, a token the apiserver
// refuses, an exec plugin that fails). It proves that
// - --context a,b / a glob / --all-contexts reach each cluster with that context's own
//   credentials, and the clusters that cannot work are one line each and hide nothing;
// - the exit code is 0 only when every cluster succeeded (partial failure: 1);
// - -o json is one MultiClusterResult holding each cluster's own document, with context and server;
// - an unknown context, a glob that matches nothing, or a context the --kubeconfig file does not
//   define is one line, exit 2, and nothing is sent to any cluster;
// - a KUBECONFIG list is merged as kubectl merges it (the first file's name wins);
// - set --for across clusters puts every cluster back, after the time or at SIGTERM;
// - doctor across clusters is one row per cluster and component, problems first;
// - a table collapses the targets skipped for one reason into one row; -o wide and JSON keep each.
import { createServer, type Server, type Socket } from "node:net";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fleetNodes, startFakeCluster, type FakeCluster } from "../fake/cluster.ts";
import { contextsKubeconfig, type ContextsKubeconfig } from "../fake/contexts.ts";
import { kvlog, type CliRun } from "./run.ts";

let a: FakeCluster;
let b: FakeCluster;
let mute: Server;
const held: Socket[] = [];
let kc: ContextsKubeconfig;
let dir: string;

const A_KUBELETS = ["kubelet/cp-1", "kubelet/worker-1"];

beforeAll(async () => {
  [a, b] = await Promise.all([startFakeCluster({}), startFakeCluster({})]);
  // A server that accepts connections and never answers (a black-holed load balancer).
  mute = createServer((s) => void held.push(s));
  await new Promise<void>((r) => mute.listen(0, "127.0.0.1", r));
  const port = (mute.address() as { port: number }).port;
  // A port nothing listens on: bind one, close it.
  const closed = createServer();
  await new Promise<void>((r) => closed.listen(0, "127.0.0.1", r));
  const dead = (closed.address() as { port: number }).port;
  await new Promise<void>((r) => closed.close(() => r()));
  kc = contextsKubeconfig([
    { name: "dev-a", cluster: a },
    { name: "dev-b", cluster: b, user: "kvlog" },
    { name: "down", server: `https://127.0.0.1:${dead}` },
    { name: "mute", server: `https://127.0.0.1:${port}` },
    { name: "refused", cluster: b, token: "a-token-the-apiserver-refuses" },
    { name: "plugin-fails", cluster: a, exec: { command: "false", args: [] } },
  ]);
  dir = mkdtempSync(join(tmpdir(), "kvlog-contexts-test-"));
}, 60_000);

afterAll(async () => {
  for (const s of held) s.destroy();
  await new Promise<void>((r) => mute?.close(() => r()));
  await Promise.all([a?.close(), b?.close()]);
  kc?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function run(args: string[], env: Record<string, string> = {}, timeoutMs = 60_000): Promise<CliRun> {
  const r = await kvlog(args, { KUBECONFIG: kc.file, ...env }, timeoutMs);
  for (const c of [a, b]) for (const u of ["admin", "kvlog"]) expect(r.stdout + r.stderr).not.toContain(c.tokenFor(u));
  return r;
}

const sent = (): number => a.requests.length + b.requests.length;

describe("several contexts", () => {
  it("three contexts, one down: the two healthy clusters are changed, the down one is one line, exit 1", async () => {
    const r = await run(["set", "kubelet", "3", "--context", "dev-a,dev-b", "--context", "down"]);
    expect(r.code, r.stderr).toBe(1);
    for (const c of [a, b]) for (const id of A_KUBELETS) expect(c.level(id)).toBe(3);
    // stdout: one block per cluster that reported, in the kubeconfig's order.
    expect(r.stdout).toMatch(/^CONTEXT dev-a \(https:\/\/127\.0\.0\.1:\d+\)\nTARGET\s+NODE\s+VIA\s+RESULT\s+MESSAGE\nkubelet\/cp-1\s+cp-1\s+node-proxy\s+set/);
    expect(r.stdout).toMatch(/\n\nCONTEXT dev-b \(https:\/\/127\.0\.0\.1:\d+\)\nTARGET/);
    expect(r.stdout).not.toContain("down");
    // stderr: one summary line per cluster (the failed one first), then the total.
    const lines = r.stderr.trimEnd().split("\n");
    expect(lines).toHaveLength(4);
    expect(lines[0]).toMatch(/^down: cannot reach the apiserver at https:\/\/127\.0\.0\.1:\d+ to list nodes: connect ECONNREFUSED .*\(exit 1\)$/);
    expect(lines[1]).toBe("dev-a: kubelet: 2 of 2 target(s) set to level 3");
    expect(lines[2]).toBe("dev-b: kubelet: 2 of 2 target(s) set to level 3");
    expect(lines[3]).toBe("3 cluster(s): 2 succeeded, 1 failed (down); exit 1");
  });

  it("-o json: one MultiClusterResult, each cluster's own document with its context and server; every failure its own entry", async () => {
    const started = Date.now();
    const r = await run(["set", "kubelet", "4", "--all-contexts", "-o", "json", "--request-timeout", "2s"]);
    expect(Date.now() - started, "the mute server costs one --request-timeout, not the run").toBeLessThan(20_000);
    expect(r.code, r.stderr).toBe(1);
    const doc = r.json();
    expect(doc).toMatchObject({ apiVersion: "kvlog.dev/v1", kind: "MultiClusterResult", command: "set", summary: { clusters: 6, succeeded: 2, failed: 4 } });
    expect(doc.clusters.map((c: any) => c.context)).toEqual(["dev-a", "dev-b", "down", "mute", "refused", "plugin-fails"]);
    const by = Object.fromEntries(doc.clusters.map((c: any) => [c.context, c]));
    expect(by["dev-a"]).toMatchObject({ server: a.url, exitCode: 0, ok: true, error: null, result: { kind: "SetResult", summary: { total: 2, succeeded: 2 } } });
    expect(by["dev-b"]).toMatchObject({ server: b.url, exitCode: 0, ok: true, result: { kind: "SetResult", record: { by: "kvlog", written: true } } });
    // Each cluster was reached with its own context's user: dev-a as admin (certificate), dev-b as kvlog (token).
    expect(by["dev-a"].result.results[0].request.auth).toMatch(/client certificate/);
    expect(by["dev-b"].result.results[0].request.auth).toMatch(/bearer token/);
    expect(by.down).toMatchObject({ exitCode: 1, ok: false, result: null, error: expect.stringMatching(/ECONNREFUSED/) });
    expect(by.mute).toMatchObject({ exitCode: 1, ok: false, result: null, error: expect.stringMatching(/timed out/) });
    expect(by.refused).toMatchObject({ exitCode: 1, ok: false, result: null, error: expect.stringMatching(/did not accept the credentials \(401 Unauthorized\)/) });
    expect(by["plugin-fails"]).toMatchObject({ exitCode: 2, ok: false, result: null, error: expect.stringMatching(/exec plugin false exited with code 1/) });
    expect(r.stdout).not.toContain("a-token-the-apiserver-refuses");
    for (const c of [a, b]) for (const id of A_KUBELETS) expect(c.level(id)).toBe(4);
    // stderr still has one line per cluster and the total.
    expect(r.stderr.trimEnd().split("\n")).toHaveLength(7);
  });

  it("a glob picks contexts; every cluster succeeding is exit 0; get, status and reset run per cluster too", async () => {
    const set = await run(["set", "kubelet", "2", "--context", "dev-*"]);
    expect(set.code, set.stderr).toBe(0);
    expect(set.stderr.trimEnd().split("\n").at(-1)).toBe("2 cluster(s): 2 succeeded, 0 failed; exit 0");
    const get = await run(["get", "kubelet", "--context", "dev-?", "-o", "json"]);
    expect(get.code, get.stderr).toBe(0);
    const docs = get.json().clusters.map((c: any) => [c.context, c.result.kind, c.result.results.map((x: any) => x.recorded?.level)]);
    expect(docs).toEqual([
      ["dev-a", "GetResult", [2, 2]],
      ["dev-b", "GetResult", [2, 2]],
    ]);
    const status = await run(["status", "kubelet", "--context", "dev-a,dev-b", "-o", "json"]);
    expect(status.json().clusters.map((c: any) => c.result.summary.active)).toEqual([2, 2]);
    const reset = await run(["reset", "kubelet", "--context", "dev-*"]);
    expect(reset.code, reset.stderr).toBe(0);
    for (const c of [a, b]) for (const id of A_KUBELETS) expect(c.level(id)).toBe(0);
    expect(reset.stderr).toMatch(/^dev-a: 2 of 2 target\(s\) put back$/m);
  });

  it.each([
    [["--context", "dev-x"], /^kvlog: context "dev-x" is not in the kubeconfig .*; did you mean dev-a, dev-b\? known contexts: dev-a, dev-b, down, mute, refused, plugin-fails\n$/],
    [["--context", "dev-a,dev-x"], /^kvlog: context "dev-x" is not in the kubeconfig .*; did you mean dev-a, dev-b\? \(kubectl config get-contexts lists them all\)\n$/],
    [["--context", "prod-*"], /^kvlog: --context 'prod-\*' matches no context in the kubeconfig [^;]*; /],
    [["--all-contexts", "--context", "dev-a"], /^kvlog: --all-contexts already names every context/],
    [["--context", "dev-*", "--token", "t0123456789"], /^kvlog: --token and --token-file would send one cluster's token to every cluster/],
    [["--context", "dev-a,", "-o", "json"], /^kvlog: --context "dev-a," has an empty context name/],
  ])("usage error %j: one line, exit 2, nothing sent", async (flags, message) => {
    const before = sent();
    const r = await run(["set", "kubelet", "5", ...flags]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stderr.trimEnd().split("\n")).toHaveLength(1);
    expect(r.stdout).toBe("");
    expect(sent()).toBe(before);
  });

  it("--context with a --kubeconfig file that does not define it: one line, exit 2, nothing sent", async () => {
    const only = contextsKubeconfig([{ name: "solo", cluster: a }]);
    try {
      const before = sent();
      const r = await run(["set", "kubelet", "5", "--kubeconfig", only.file, "--context", "dev-a,solo"]);
      expect(r.code).toBe(2);
      expect(r.stderr).toBe(`kvlog: context "dev-a" is not in the kubeconfig ${only.file}; known: solo\n`);
      expect(sent()).toBe(before);
    } finally {
      only.close();
    }
  });

  it("a KUBECONFIG list merges as kubectl does: a name repeated in a later file is the first file's; its current-context does not win", async () => {
    const later = contextsKubeconfig([{ name: "dev-a", server: "https://127.0.0.1:9" }, { name: "extra", cluster: b }], "extra");
    try {
      const list = `${kc.file}:${later.file}`;
      const r = await run(["set", "kubelet", "6", "--context", "dev-a,extra", "-o", "json"], { KUBECONFIG: list });
      expect(r.code, r.stderr).toBe(0);
      expect(r.json().clusters.map((c: any) => [c.context, c.server])).toEqual([
        ["dev-a", a.url],
        ["extra", b.url],
      ]);
      // One context, and none: the same merge (client-node alone throws "Duplicate cluster").
      const one = await run(["get", "kubelet", "-o", "json"], { KUBECONFIG: list });
      expect(one.code, one.stderr).toBe(0);
      expect(one.json().results[0].recorded).toMatchObject({ level: 6 });
      expect(one.json().kind).toBe("GetResult");
    } finally {
      later.close();
      await run(["reset", "kubelet", "--context", "dev-*"]);
    }
  });

  it("set --for across clusters: every cluster is put back when the time is up", async () => {
    const r = await run(["set", "kubelet", "7", "--context", "dev-a,dev-b,down", "--for", "2s"]);
    expect(r.code).toBe(1); // down failed; the others were set and put back
    for (const c of [a, b]) for (const id of A_KUBELETS) expect(c.level(id)).toBe(0);
    expect(r.stderr).toMatch(/^dev-a: kubelet: 2 of 2 target\(s\) put back$/m);
    expect(r.stderr).toMatch(/^dev-b: kubelet: 2 of 2 target\(s\) put back$/m);
    expect(r.stdout.match(/^kubelet\/\S+\s+\S+\s+node-proxy\s+set\s+to 0\s/gm)).toHaveLength(4);
  });

  it("set --for across clusters: SIGTERM during the one wait puts every cluster back at once (exit 143)", async () => {
    const started = Date.now();
    let child: import("node:child_process").ChildProcess | undefined;
    const done = kvlog(["set", "kubelet", "8", "--context", "dev-a,dev-b", "--for", "10m", "-o", "json"], { KUBECONFIG: kc.file }, 60_000, (c) => (child = c));
    // Both clusters set: both are waiting.
    while (![a, b].every((c) => A_KUBELETS.every((id) => c.level(id) === 8))) {
      if (Date.now() - started > 30_000) throw new Error("the clusters were not set");
      await new Promise((r) => setTimeout(r, 50));
    }
    child!.kill("SIGTERM");
    const r = await done;
    expect(r.code).toBe(143);
    for (const c of [a, b]) for (const id of A_KUBELETS) expect(c.level(id)).toBe(0);
    const doc = r.json();
    for (const cl of doc.clusters) expect(cl.result.results.map((x: any) => x.restore)).toMatchObject([{ ok: true, level: 0 }, { ok: true, level: 0 }]);
    expect(Date.now() - started).toBeLessThan(30_000);
  });

  it("capture across clusters: one bundle directory per context under --out, every cluster put back, the down one its own line", async () => {
    const out = join(dir, "capture");
    const SCHED = "kube-scheduler/kube-system/kube-scheduler-cp-1";
    const r = await run(["capture", "kube-scheduler", "5", "--for", "2s", "--restore-to", "0", "--context", "dev-a,dev-b,down", "--out", out, "-o", "json"]);
    expect(r.code).toBe(1);
    const doc = r.json();
    expect(doc.clusters.map((c: any) => [c.context, c.ok])).toEqual([["dev-a", true], ["dev-b", true], ["down", false]]);
    for (const c of ["dev-a", "dev-b"]) {
      const bundle = JSON.parse(readFileSync(join(out, c, "capture.json"), "utf8"));
      expect(bundle.results.map((t: any) => t.id)).toEqual([SCHED]);
    }
    for (const f of [a, b]) expect(f.level(SCHED)).toBe(0);
  });

  it("doctor across clusters: one row per cluster and component, problems first", async () => {
    const r = await run(["doctor", "--context", "dev-*,down,plugin-fails", "--request-timeout", "5s"]);
    expect(r.code).toBe(1);
    const rows = r.stdout.trimEnd().split("\n");
    expect(rows[0]).toMatch(/^CONTEXT\s+COMPONENT\s+RESULT\s+DETAIL$/);
    const cells = rows.slice(1).map((l) => l.split(/\s{3,}/));
    // The clusters that could not be checked, then each cluster's component with problems
    // (kube-proxy serves no /debug/flags/v without profiling), then the rest.
    expect(cells.slice(0, 4).map((c) => [c[0], c[1], c[2]])).toEqual([
      ["down", "-", "not-checked"],
      ["plugin-fails", "-", "not-checked"],
      ["dev-a", "kube-proxy", "2 problem(s)"],
      ["dev-b", "kube-proxy", "2 problem(s)"],
    ]);
    const rest = cells.slice(4);
    expect(rest).toHaveLength(10); // 5 components x 2 clusters
    expect(rest.every((c) => c[2] === "ok")).toBe(true);
    expect(new Set(rest.map((c) => `${c[0]}/${c[1]}`)).size).toBe(10);
  });
});

describe("output that scales", () => {
  let f: FakeCluster;
  beforeAll(async () => {
    const nodes = fleetNodes(40).map((n, i) => (i >= 5 ? { ...n, readyCondition: i % 2 ? ("Unknown" as const) : ("absent" as const) } : n));
    f = await startFakeCluster({ nodes });
  }, 60_000);
  afterAll(async () => {
    await f?.close();
  });

  it("set: the targets skipped for one reason are one row with a count; -o wide lists each; JSON keeps each", async () => {
    const env = { KUBECONFIG: f.kubeconfig("admin") };
    const r = await kvlog(["set", "kubelet", "2"], env);
    expect(r.code, r.stderr).toBe(0);
    const rows = r.stdout.trimEnd().split("\n");
    // header, 5 set, one row per reason (Ready=Unknown: 18 nodes, never reported: 17)
    expect(rows).toHaveLength(1 + 5 + 2);
    expect(rows.filter((l) => /\sset\s/.test(l))).toHaveLength(5);
    expect(rows[6]).toMatch(/^18 targets\s+node-00005, node-00007, …\s+-\s+node-not-ready\s+node is not Ready \(Ready=Unknown.*\(-o wide lists them\)$/);
    expect(rows[7]).toMatch(/^17 targets\s+node-00006, node-00008, …\s+-\s+node-not-ready\s+node has no Ready condition: its kubelet never reported;.*\(-o wide lists them\)$/);
    const wide = await kvlog(["set", "kubelet", "2", "-o", "wide"], env);
    expect(wide.stdout.trimEnd().split("\n")).toHaveLength(1 + 40);
    const json = await kvlog(["set", "kubelet", "2", "-o", "json"], env);
    expect(json.json().results).toHaveLength(40);
    expect(json.json().summary).toEqual({ total: 40, succeeded: 5, failed: 0, skipped: 35 });
    const get = await kvlog(["get", "kubelet"], env);
    expect(get.stdout.trimEnd().split("\n")).toHaveLength(1 + 5 + 2);
  });
});

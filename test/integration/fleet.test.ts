// The built CLI against a SIMULATED production-sized cluster: 5,000 real-size nodes (10–20 KB
// of JSON each) with a kube-proxy pod on each, nodes that are down, lists paged like the
// apiserver's (and continue tokens that expire), and API Priority and Fairness 429s.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fleetNodes, startFakeCluster, type FakeCluster, type FakeNodeSpec } from "../fake/cluster.ts";
import { kvlog, type CliRun } from "./run.ts";

const SIZE = 5000;
/** A test of whole fleet runs gets what its runs get (run() allows each 120 s), not vitest's 60 s: a busy 2-core machine took longer. */
const FLEET_RUN_MS = 240_000;
let fake: FakeCluster;
let nodes: FakeNodeSpec[];
const DOWN = ["Unknown", "absent"] as const;

async function run(args: string[], user = "admin", timeoutMs = 120_000): Promise<CliRun> {
  const r = await kvlog(args, { KUBECONFIG: fake.kubeconfig(user) }, timeoutMs);
  for (const u of ["admin", "kvlog"]) expect(r.stdout + r.stderr).not.toContain(fake.tokenFor(u));
  return r;
}

/** The apiserver's GETs of a path, those recorded from index `from` on (a test's own: the tests share the fake, in any order). */
const lists = (path: string, from = 0) => fake.requests.slice(from).filter((q) => q.target === "kube-apiserver" && q.method === "GET" && q.path === path);

beforeAll(async () => {
  nodes = fleetNodes(SIZE);
  // Two nodes whose kubelet is gone (Ready Unknown, and registered but never reported), one
  // whose kubelet is up but NotReady (it is tried).
  nodes[10] = { ...nodes[10]!, readyCondition: "Unknown" };
  nodes[20] = { ...nodes[20]!, readyCondition: "absent" };
  nodes[30] = { ...nodes[30]!, readyCondition: "False" };
  // A GPU node labelled by node-feature-discovery: 1,100 labels make its JSON ~100 KB.
  nodes[40] = { ...nodes[40]!, labels: Object.fromEntries(Array.from({ length: 1100 }, (_, i) => [`feature.node.kubernetes.io/cpu-cpuid.FEATURE_${String(i).padStart(4, "0")}`, "true"])) };
  fake = await startFakeCluster({ nodes, defaultBehaviour: { "kube-proxy": { profiling: true } } });
}, 60_000);
afterAll(async () => {
  await fake?.close();
});

describe(`${SIZE} real-size nodes`, () => {
  it("set kubelet: every page of the node list, every node set, the nodes that are down skipped without waiting", async () => {
    fake.resetStats();
    const mark = fake.requests.length;
    const r = await run(["set", "kubelet", "3", "-o", "json"]);
    expect(r.code, r.stderr).toBe(0);
    const doc = r.json();
    expect(doc.summary).toEqual({ total: SIZE, succeeded: SIZE - 2, failed: 0, skipped: 2 });
    expect(new Set(doc.results.map((x: any) => x.id)).size).toBe(SIZE);
    const skipped = doc.results.filter((x: any) => x.skipped);
    expect(skipped.map((x: any) => [x.node, x.outcome])).toEqual(DOWN.map((_, i) => [nodes[(i + 1) * 10]!.name, "node-not-ready"]));
    expect(doc.results.find((x: any) => x.node === nodes[30]!.name)).toMatchObject({ outcome: "set", skipped: false });
    // 5,000 nodes in pages of 500 (kubectl's chunk size): 10 requests, each with limit=500.
    const pages = lists("/api/v1/nodes", mark);
    expect(pages).toHaveLength(10);
    expect(pages.every((q) => new URLSearchParams(q.query).get("limit") === "500")).toBe(true);
    expect(pages.filter((q) => new URLSearchParams(q.query).has("continue"))).toHaveLength(9);
    // Connections to the apiserver are reused: about one per concurrent target, not one per target.
    expect(fake.stats().peakConnections).toBeLessThanOrEqual(40);
    expect(fake.level(`kubelet/${nodes[0]!.name}`)).toBe(3);
    expect(fake.level(`kubelet/${nodes[SIZE - 1]!.name}`)).toBe(3);
    // The change of 4,998 targets is recorded (a ConfigMap of ~400 KB, read and written whole),
    // and status reads it back.
    expect(doc.record).toMatchObject({ written: true, error: null });
    expect(r.stderr).not.toMatch(/not recorded/);
    const status = await run(["status", "kubelet", "-o", "json"]);
    expect(status.code, status.stderr).toBe(0);
    const active = status.json().results.filter((x: any) => x.change === doc.record.change);
    expect(active).toHaveLength(SIZE - 2);
    expect(active.every((x: any) => x.level === 3 && x.state === "active")).toBe(true);
  }, FLEET_RUN_MS); // two runs of 5,000 targets

  it("set kube-proxy: one port-forward per node, pods on nodes that are down skipped", async () => {
    const r = await run(["set", "kube-proxy", "4", "-o", "json"]);
    expect(r.code, r.stderr).toBe(0);
    const doc = r.json();
    expect(doc.summary).toEqual({ total: SIZE, succeeded: SIZE - 2, failed: 0, skipped: 2 });
    expect(doc.results.filter((x: any) => x.outcome === "set").every((x: any) => x.via === "port-forward")).toBe(true);
    expect(doc.record).toMatchObject({ written: true, error: null });
  }, FLEET_RUN_MS);

  it("--node reads a node whose JSON is larger than 64 KiB (node-feature-discovery labels) whole", async () => {
    const big = nodes[40]!.name;
    const r = await run(["set", "kubelet", "5", "--node", big, "-o", "json"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.json().results).toMatchObject([{ node: big, outcome: "set" }]);
    expect(fake.level(`kubelet/${big}`)).toBe(5);
  });

  it("--chunk-size sets the page size; --include-not-ready tries the nodes that are down (and they time out)", async () => {
    // 10 s: each step must also read a page of 2,000 real-size nodes (~30 MB), which took over 2 s on a busy machine.
    const r = await run(["set", "kubelet", "2", "-o", "json", "--chunk-size", "2000", "--include-not-ready", "--request-timeout", "10s"]);
    // Counted by their page size, not as a difference of the fake's request log: that log is
    // trimmed, and another test's run may still be adding to it.
    const pages = lists("/api/v1/nodes").filter((q) => new URLSearchParams(q.query).get("limit") === "2000");
    expect(pages.map((q) => q.status), r.stderr).toEqual([200, 200, 200]);
    const doc = r.json();
    expect(r.code).toBe(1);
    expect(doc.summary).toMatchObject({ total: SIZE, succeeded: SIZE - 2, failed: 2, skipped: 0 });
    const down = doc.results.filter((x: any) => !x.ok);
    expect(down.map((x: any) => x.node)).toEqual([nodes[10]!.name, nodes[20]!.name]);
    for (const x of down) expect(["timeout", "unreachable"]).toContain(x.outcome);
  });

  it("an expired continue token (410 after an etcd compaction) restarts the list, and nothing is lost or doubled", async () => {
    const expired = await startFakeCluster({ nodes: fleetNodes(1200), expireContinue: 1 });
    try {
      const r = await kvlog(["set", "kubelet", "1", "-o", "json", "--dry-run"], { KUBECONFIG: expired.kubeconfig("admin") }, 60_000);
      expect(r.code, r.stderr).toBe(0);
      const ids = r.json().results.map((x: any) => x.id);
      expect(ids).toHaveLength(1200);
      expect(new Set(ids).size).toBe(1200);
      const seen = expired.requests.filter((q) => q.path === "/api/v1/nodes");
      // page 1, page 2 -> 410, then again from page 1: three pages of 500.
      expect(seen.map((q) => q.status)).toEqual([200, 410, 200, 200, 200]);
    } finally {
      await expired.close();
    }
  });

  it("429 from API Priority and Fairness during discovery is waited out (Retry-After), not a failure", async () => {
    fake.throttle(3, { retryAfterSeconds: 1, match: (p) => p.startsWith("/api/v1/nodes?") });
    const started = Date.now();
    const r = await run(["set", "kubelet", "5", "-o", "json", "--dry-run"], "kvlog");
    expect(r.code, r.stderr).toBe(0);
    expect(r.json().summary.total).toBe(SIZE);
    expect(Date.now() - started).toBeGreaterThanOrEqual(3000);
    const statuses = lists("/api/v1/nodes").slice(-13).map((q) => q.status);
    expect(statuses.filter((s) => s === 429)).toHaveLength(3);
  });

  it("kube-proxy --node asks for that node's pod with a field selector, not for every pod", async () => {
    const name = nodes[123]!.name;
    const r = await run(["set", "kube-proxy", "2", "--node", name, "-o", "json"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.json().results.map((x: any) => [x.node, x.outcome])).toEqual([[name, "set"]]);
    const q = fake.requests.filter((x) => x.path === "/api/v1/namespaces/kube-system/pods").at(-1)!;
    expect(new URLSearchParams(q.query).get("fieldSelector")).toBe(`spec.nodeName=${name}`);
  });

  it("a page that fails after others were changed: those are reported, then the error, exit 1", async () => {
    // API Priority and Fairness keeps refusing the second page; the first page's nodes were already set.
    fake.throttle(1000, { retryAfterSeconds: 1, match: (p) => p.startsWith("/api/v1/nodes?") && p.includes("continue=") });
    const r = await run(["set", "kubelet", "6", "-o", "json", "--request-timeout", "2s"], "kvlog");
    fake.throttle(0);
    expect(r.code).toBe(1);
    const doc = r.json();
    expect(doc.summary.total).toBe(500);
    expect(doc.results.filter((x: any) => x.outcome === "set").length).toBeGreaterThanOrEqual(498);
    expect(r.stderr).toMatch(/^kvlog: discovery stopped after 500 target\(s\): cannot list nodes: the apiserver is overloaded \(429/m);
  });
});

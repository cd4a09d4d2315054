// "Safe on production" (README): the built CLI, as a separate process, against the simulated
// cluster with its real-size objects. It proves that
// - `kvlog get` shows each target's startup level and where it was read (pod command line,
//   kubelet /configz, /flagz from 1.36, "unknown" and why before), never the level a PUT set,
//   next to the change kvlog recorded;
// - `set` records each run in kube-system/kvlog-<component> (labels, one key per run, level, who
//   as the apiserver sees it, when, before/startup per target), moves a target to its newest
//   change, writes nothing with --no-record or --dry-run, and only warns when the identity may
//   not write the record;
// - concurrent kvlog processes lose no record, also when a write conflict (409) is forced;
// - a timed change killed with SIGKILL stays in the record with its `until`: status calls it
//   expired and `reset --expired` puts it back; status sees restarted and gone pods;
// - `set --for` puts every target back after the wait, or at once on SIGTERM/SIGINT (143/130),
//   to --restore-to when given, never changes a target whose startup level is unknown, and leaves
//   alone a target someone changed since (superseded);
// - usage errors are one stderr line and exit 2; the help lists the commands and examples;
// - no run prints any user's token, a private key or a stack trace.
import type { ChildProcess } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { defaultPods, fleetNodes, startFakeCluster, type FakeCluster, type RecordedRequest } from "../fake/cluster.ts";
import { kvlog, type CliRun } from "./run.ts";

const SCHED = "kube-scheduler/kube-system/kube-scheduler-cp-1";
const KCM = "kube-controller-manager/kube-system/kube-controller-manager-cp-1";
const CCM = "cloud-controller-manager/kube-system/cloud-controller-manager-x2v8q";
const PROXY_CP = "kube-proxy/kube-system/kube-proxy-aaaaa";
const PROXY_W = "kube-proxy/kube-system/kube-proxy-bbbbb";
const GONE_POD = "kube-scheduler/kube-system/kube-scheduler-cp-9"; // no such pod in the cluster
const USERS = ["admin", "kvlog", "recordless", "nobody"];
const COMPONENTS = ["kube-apiserver", "kube-scheduler", "kube-controller-manager", "cloud-controller-manager", "kubelet", "kube-proxy"];

let v134: FakeCluster; // the default version: no /flagz
let v136: FakeCluster; // /flagz on by default
let fleet: FakeCluster; // cp-1 + 6 virtual workers, for concurrent writers

/** Every run: as the least-privilege user unless told; no user's secret, key or stack trace in the output. */
async function run(f: FakeCluster, args: string[], o: { user?: string; started?: (c: ChildProcess) => void; timeoutMs?: number } = {}): Promise<CliRun> {
  const r = await kvlog(args, { KUBECONFIG: f.kubeconfig(o.user ?? "kvlog") }, o.timeoutMs ?? 30_000, o.started);
  const out = r.stdout + r.stderr;
  for (const u of USERS) expect(out).not.toContain(f.tokenFor(u));
  expect(out).not.toMatch(/PRIVATE KEY|    at .*\(.*:\d+:\d+\)/);
  return r;
}

const recordOf = (f: FakeCluster, component: string): any => f.configMap("kube-system", `kvlog-${component}`);
/** The record's changes, parsed: change id -> {level, by, at, until?, targets}. */
function changes(f: FakeCluster, component: string): Record<string, any> {
  return Object.fromEntries(Object.entries((recordOf(f, component)?.data ?? {}) as Record<string, string>).map(([k, v]) => [k, JSON.parse(v)]));
}
/** The change that holds `target` now, with its id. */
function changeOf(f: FakeCluster, component: string, target: string): any {
  const hit = Object.entries(changes(f, component)).find(([, c]) => target in c.targets);
  return hit && { id: hit[0], ...hit[1] };
}
/** Replaces a record's data (someone else's kvlog, or an old one), keeping the ConfigMap's labels. */
function seed(f: FakeCluster, component: string, data: Record<string, object>): void {
  const name = `kvlog-${component}`;
  const meta = recordOf(f, component)?.metadata ?? { labels: { "app.kubernetes.io/managed-by": "kvlog", "kvlog.dev/component": component } };
  const text = Object.fromEntries(Object.entries(data).map(([k, v]) => [k, JSON.stringify(v)]));
  f.putConfigMap("kube-system", { apiVersion: "v1", kind: "ConfigMap", metadata: { name, namespace: "kube-system", labels: meta.labels, annotations: meta.annotations }, data: text });
}
/** A clean slate: every existing record emptied, every process restarted (back at its startup level). */
function fresh(f: FakeCluster): void {
  for (const c of COMPONENTS) if (recordOf(f, c)) seed(f, c, {});
  for (const t of f.targets()) f.restart(t);
}
async function poll(cond: () => boolean, what: string, timeoutMs = 15_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}
/** For `started`: once `target` is in the record, calls `act` (e.g. to signal the child) once. */
function whenRecorded(f: FakeCluster, component: string, target: string, act: (c: ChildProcess) => void): (c: ChildProcess) => void {
  return (child) => {
    const t = setInterval(() => {
      if (!changeOf(f, component, target)) return;
      clearInterval(t);
      act(child);
    }, 5);
    child.on("close", () => clearInterval(t));
  };
}
/** Runs `act` synchronously when the fake apiserver receives the first request that matches (before it answers). */
function onRequest(f: FakeCluster, match: (q: RecordedRequest) => boolean, act: () => void): () => void {
  const arr = f.requests;
  const push = arr.push;
  let fired = false;
  arr.push = ((...items: RecordedRequest[]) => {
    const n = push.apply(arr, items);
    if (!fired && items.some(match)) {
      fired = true;
      act();
    }
    return n;
  }) as typeof arr.push;
  return () => void delete (arr as { push?: unknown }).push;
}
const puts = (f: FakeCluster, target: string) => f.requests.filter((q) => q.target === target && q.method === "PUT" && q.path === "/debug/flags/v");
const lines = (s: string) => s.split("\n").filter((l) => l !== "");

beforeAll(async () => {
  [v134, v136, fleet] = await Promise.all([
    startFakeCluster({
      behaviour: { [SCHED]: { startupLevel: 2 }, [CCM]: { startupLevel: 1 }, "kubelet/worker-1": { startupLevel: 3 }, [PROXY_CP]: { startupLevel: 3 } },
      defaultBehaviour: { "kube-proxy": { profiling: true } },
    }),
    startFakeCluster({
      version: "v1.36.3",
      // kube-proxy-bbbbb takes its verbosity from its configuration file: no --v on its command line.
      pods: defaultPods().map((p) => (p.name === "kube-proxy-bbbbb" ? { ...p, command: ["/usr/local/bin/kube-proxy", "--config=/var/lib/kube-proxy/config.conf"] } : p)),
      behaviour: { "kube-apiserver": { startupLevel: 2 }, [PROXY_W]: { startupLevel: 4 }, [PROXY_CP]: { startupLevel: 1 } },
      defaultBehaviour: { "kube-proxy": { profiling: true } },
    }),
    startFakeCluster({ nodes: fleetNodes(7), defaultBehaviour: { "kube-proxy": { profiling: true } } }),
  ]);
});
afterAll(async () => {
  await Promise.all([v134?.close(), v136?.close(), fleet?.close()]);
});

describe("kvlog get: the startup level and where it is written", () => {
  it.each([
    ["scheduler", SCHED, 2, "pod command line (--v)"],
    ["kcm", KCM, 0, "pod command line (no --v: klog's default)"],
    ["ccm", CCM, 1, "pod command line (--v)"],
  ])("%s on 1.34: from the pod's command line", async (name, id, level, source) => {
    const r = await run(v134, ["get", name, "-o", "json"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.json().results.map((x: any) => [x.id, x.startup])).toEqual([[id, { level, source }]]);
  });

  it("kubelet on 1.34: /configz; the apiserver and a kube-proxy without --v: unknown, /flagz not served", async () => {
    const kubelet = await run(v134, ["get", "kubelet", "-o", "json"]);
    expect(kubelet.code).toBe(0);
    expect(kubelet.json().results.map((x: any) => [x.id, x.startup])).toEqual([
      ["kubelet/cp-1", { level: 0, source: "kubelet /configz (logging.verbosity)" }],
      ["kubelet/worker-1", { level: 3, source: "kubelet /configz (logging.verbosity)" }],
    ]);
    const api = await run(v134, ["get", "apiserver", "-o", "json"]);
    expect(api.code).toBe(0);
    const [a] = api.json().results;
    expect(a.id).toMatch(/^kube-apiserver\/127\.0\.0\.1:\d+$/);
    expect(a.startup.level).toBeNull();
    expect(a.startup.source).toMatch(/^unknown: .*\/flagz not served \(404/);
    expect(api.json().summary).toEqual({ total: 1, known: 0, recorded: 0 });
    const proxy = await run(v134, ["get", "kube-proxy"]);
    expect(proxy.code).toBe(0);
    expect(proxy.stdout).toMatch(/kube-proxy-aaaaa\s+cp-1\s+3\s+pod command line \(--v\)/);
    expect(proxy.stdout).toMatch(/kube-proxy-bbbbb\s+worker-1\s+unknown\s+unknown: \/flagz not served \(404/);
  });

  it("1.36: the apiserver and a kube-proxy configured by file answer /flagz; a --v on the command line comes first", async () => {
    const api = await run(v136, ["get", "apiserver", "-o", "json"]);
    expect(api.code, api.stderr).toBe(0);
    expect(api.json().results[0].startup).toEqual({ level: 2, source: "/flagz (--v)" });
    const proxy = await run(v136, ["get", "proxy", "-o", "json"]);
    expect(proxy.code, proxy.stderr).toBe(0);
    expect(proxy.json().results.map((x: any) => [x.id, x.startup])).toEqual([
      [PROXY_CP, { level: 1, source: "pod command line (--v)" }],
      [PROXY_W, { level: 4, source: "/flagz (--v)" }],
    ]);
  });

  it("JSON shape; a PUT does not change the startup level shown, `recorded` shows kvlog's change", async () => {
    fresh(v134);
    const set = await run(v134, ["set", "scheduler", "6"]);
    expect(set.code, set.stderr).toBe(0);
    expect(v134.level(SCHED)).toBe(6);
    const r = await run(v134, ["get", "scheduler", "-o", "json"]);
    expect(r.code).toBe(0);
    const doc = r.json();
    expect(doc).toMatchObject({ apiVersion: "kvlog.dev/v1", kind: "GetResult", component: "kube-scheduler", summary: { total: 1, known: 1, recorded: 1 }, warnings: [] });
    const x = doc.results[0];
    expect(x).toMatchObject({ id: SCHED, node: "cp-1", namespace: "kube-system", pod: "kube-scheduler-cp-1", via: "port-forward", ok: true, outcome: "ok" });
    expect(x.startup).toEqual({ level: 2, source: "pod command line (--v)" });
    expect(x.recorded).toMatchObject({ level: 6, by: "kvlog", until: null, expired: false, restarted: false, change: changeOf(v134, "kube-scheduler", SCHED).id });
    const table = await run(v134, ["get", "scheduler"]);
    expect(table.stdout).toMatch(/^TARGET\s+NODE\s+STARTUP\s+SOURCE\s+KVLOG CHANGE\n/);
    expect(table.stdout).toMatch(/kube-scheduler-cp-1\s+cp-1\s+2\s+pod command line \(--v\)\s+6 by kvlog at \S+\n/);
  });
});

describe("the record: kube-system/kvlog-<component>", () => {
  it("set writes one change per run with who, when and each target's before/startup; a newer change moves the target", async () => {
    expect(recordOf(v134, "kube-controller-manager")).toBeUndefined();
    const one = await run(v134, ["set", "kcm", "5", "-o", "json"]);
    expect(one.code, one.stderr).toBe(0);
    expect(one.stderr).toContain("recorded in kube-system/kvlog-kube-controller-manager as kvlog");
    const cm = recordOf(v134, "kube-controller-manager");
    expect(cm.metadata.labels).toEqual({ "app.kubernetes.io/managed-by": "kvlog", "kvlog.dev/component": "kube-controller-manager" });
    const first = one.json().record;
    expect(first).toMatchObject({ name: "kube-system/kvlog-kube-controller-manager", written: true, by: "kvlog", error: null });
    expect(Object.keys(cm.data)).toEqual([first.change]);
    const c1 = JSON.parse(cm.data[first.change]);
    expect(c1).toMatchObject({ level: 5, by: "kvlog", targets: { [KCM]: { before: 0, startup: 0 } } });
    expect(c1.until).toBeUndefined();
    expect(Math.abs(Date.parse(c1.at) - Date.now())).toBeLessThan(30_000);
    expect(c1.targets[KCM].incarnation).toMatch(/^[0-9a-f-]{36}\/\d+\/\S+$/);

    const two = await run(v134, ["set", "kcm", "7", "-o", "json"]);
    expect(two.code, two.stderr).toBe(0);
    const data = recordOf(v134, "kube-controller-manager").data;
    expect(Object.keys(data)).toEqual([two.json().record.change]);
    expect(two.json().record.change).not.toBe(first.change);
    expect(JSON.parse(data[two.json().record.change])).toMatchObject({ level: 7, targets: { [KCM]: { before: 5, startup: 0 } } });
    expect(two.json().results[0].before).toBe(5);
  });

  it("kubelet: one key per run, a target in at most one change (the newest); before is the level kvlog recorded", async () => {
    fresh(v134);
    for (const [node, level] of [["cp-1", 4], ["worker-1", 5]] as const) {
      const r = await run(v134, ["set", "kubelet", String(level), "--node", node]);
      expect(r.code, r.stderr).toBe(0);
    }
    expect(Object.values(changes(v134, "kubelet")).map((c) => [c.level, Object.keys(c.targets)])).toEqual([
      [4, ["kubelet/cp-1"]],
      [5, ["kubelet/worker-1"]],
    ]);
    const both = await run(v134, ["set", "kubelet", "6", "-o", "json"]);
    expect(both.code).toBe(0);
    expect(both.json().results.map((x: any) => [x.id, x.before])).toEqual([["kubelet/cp-1", 4], ["kubelet/worker-1", 5]]);
    const all = changes(v134, "kubelet");
    expect(Object.keys(all)).toEqual([both.json().record.change]);
    expect(Object.keys(Object.values(all)[0].targets)).toEqual(["kubelet/cp-1", "kubelet/worker-1"]);
  });

  it("--no-record and --dry-run write nothing", async () => {
    fresh(v134);
    await run(v134, ["set", "scheduler", "4"]);
    const before = recordOf(v134, "kube-scheduler");
    const nr = await run(v134, ["set", "scheduler", "8", "--no-record", "-o", "json"]);
    expect(nr.code).toBe(0);
    expect(nr.json().record).toBeNull();
    expect(v134.level(SCHED)).toBe(8);
    const dry = await run(v134, ["set", "scheduler", "9", "--dry-run", "-o", "json"]);
    expect(dry.code).toBe(0);
    expect(dry.json().record).toBeNull();
    expect(v134.level(SCHED)).toBe(8);
    expect(recordOf(v134, "kube-scheduler")).toEqual(before); // same data, same resourceVersion
    expect(changeOf(v134, "kube-scheduler", SCHED).level).toBe(4);
  });

  it("an identity that may not write the record: the level changes, one warning line, exit 0, record.written false", async () => {
    fresh(v134);
    const before = recordOf(v134, "kubelet");
    const r = await run(v134, ["set", "kubelet", "6", "--node", "worker-1", "-o", "json"], { user: "recordless" });
    expect(r.code, r.stderr).toBe(0);
    expect(v134.level("kubelet/worker-1")).toBe(6);
    expect(r.json().record).toMatchObject({ name: "kube-system/kvlog-kubelet", written: false, change: null, by: "recordless" });
    expect(r.json().record.error).toContain('User "recordless" cannot get resource "configmaps"');
    expect(lines(r.stderr).filter((l) => l.startsWith("warning:"))).toHaveLength(1);
    expect(lines(r.stderr).filter((l) => l.startsWith("warning: the change is not recorded in kube-system/kvlog-kubelet"))).toHaveLength(1);
    expect(recordOf(v134, "kubelet")).toEqual(before);
  });
});

describe("concurrent writers lose no record", () => {
  const NODES = ["node-00001", "node-00002", "node-00003", "node-00004", "node-00005", "node-00006"];
  const CM_PATH = "/api/v1/namespaces/kube-system/configmaps";
  const foreign = { level: 9, by: "alice", at: "2026-01-01T00:00:00.000Z", targets: { "kubelet/cp-1": { startup: 0 } } };

  it("a create race (409 AlreadyExists) and an update race (409 Conflict), forced: both changes are kept", async () => {
    expect(recordOf(fleet, "kubelet")).toBeUndefined();
    // Someone creates the record between kvlog's read and its create.
    let undo = onRequest(fleet, (q) => q.method === "POST" && q.path === CM_PATH, () => seed(fleet, "kubelet", { "alice-1": foreign }));
    const created = await run(fleet, ["set", "kubelet", "3", "--node", NODES[0]!, "-o", "json"]).finally(undo);
    expect(created.code, created.stderr).toBe(0);
    expect(created.json().record.written).toBe(true);
    const posts = fleet.requests.filter((q) => q.method === "POST" && q.path === CM_PATH);
    expect(posts.map((q) => q.status)).toEqual([409]);
    expect(Object.keys(changes(fleet, "kubelet")).sort()).toEqual(["alice-1", created.json().record.change].sort());

    // Someone writes between kvlog's read and its update.
    const cmPut = (q: RecordedRequest) => q.method === "PUT" && q.path === `${CM_PATH}/kvlog-kubelet`;
    const seen = fleet.requests.filter(cmPut).length;
    undo = onRequest(fleet, cmPut, () => seed(fleet, "kubelet", { ...changes(fleet, "kubelet"), "alice-2": { ...foreign, level: 8, targets: { "kubelet/node-00006": {} } } }));
    const updated = await run(fleet, ["set", "kubelet", "4", "--node", NODES[1]!, "-o", "json"]).finally(undo);
    expect(updated.code, updated.stderr).toBe(0);
    expect(fleet.requests.filter(cmPut).slice(seen).map((q) => q.status)).toEqual([409, 200]);
    const all = changes(fleet, "kubelet");
    expect(Object.keys(all).sort()).toEqual(["alice-1", "alice-2", created.json().record.change, updated.json().record.change].sort());
    expect(changeOf(fleet, "kubelet", `kubelet/${NODES[0]}`).level).toBe(3);
    expect(changeOf(fleet, "kubelet", `kubelet/${NODES[1]}`).level).toBe(4);
    expect(changeOf(fleet, "kubelet", "kubelet/node-00006").by).toBe("alice");
  });

  it("6 kvlog processes creating a record at once: all 6 targets are in it", async () => {
    expect(recordOf(fleet, "kube-proxy")).toBeUndefined();
    const runs = await Promise.all(NODES.map((n, i) => run(fleet, ["set", "kube-proxy", String(i + 1), "--node", n, "-o", "json"], { timeoutMs: 45_000 })));
    for (const r of runs) expect([r.code, r.json().record.written], r.stderr).toEqual([0, true]);
    const ids = runs.map((r) => r.json().results[0].id as string);
    expect(new Set(ids).size).toBe(6);
    ids.forEach((id, i) => expect(changeOf(fleet, "kube-proxy", id)).toMatchObject({ id: runs[i]!.json().record.change, level: i + 1 }));
    expect(Object.keys(changes(fleet, "kube-proxy"))).toHaveLength(6);
  });

  it("6 kvlog processes at once on 6 nodes, 3 rounds: every target is in the record with its own level", async () => {
    fresh(fleet);
    for (let round = 1; round <= 3; round++) {
      const runs = await Promise.all(NODES.map((n, i) => run(fleet, ["set", "kubelet", String(round + i), "--node", n, "-o", "json"], { timeoutMs: 45_000 })));
      for (const r of runs) {
        expect(r.code, r.stderr).toBe(0);
        expect(r.json().record.written, r.json().record.error).toBe(true);
      }
      const all = changes(fleet, "kubelet");
      expect(Object.keys(all).sort()).toEqual(runs.map((r) => r.json().record.change).sort());
      NODES.forEach((n, i) => {
        const c = changeOf(fleet, "kubelet", `kubelet/${n}`);
        expect(c, `round ${round}: ${n}`).toMatchObject({ id: runs[i]!.json().record.change, level: round + i, by: "kvlog" });
        expect(Object.keys(c.targets)).toEqual([`kubelet/${n}`]);
        if (round > 1) expect(c.targets[`kubelet/${n}`].before).toBe(round - 1 + i);
        expect(fleet.level(`kubelet/${n}`)).toBe(round + i);
      });
    }
  });
});

describe("expiry, reset and status", () => {
  it("set --for killed with SIGKILL: level raised, change recorded with until; status expired; reset --expired puts it back", async () => {
    fresh(v134);
    const killed = await run(v134, ["set", "kubelet", "7", "--node", "worker-1", "--for", "1s"], {
      started: whenRecorded(v134, "kubelet", "kubelet/worker-1", (c) => c.kill("SIGKILL")),
    });
    expect(killed.code).toBeNull();
    expect(v134.level("kubelet/worker-1")).toBe(7);
    const c = changeOf(v134, "kubelet", "kubelet/worker-1");
    expect(c).toMatchObject({ level: 7, by: "kvlog", targets: { "kubelet/worker-1": { before: 3, startup: 3 } } });
    expect(Date.parse(c.until) - Date.parse(c.at)).toBe(1000);
    await poll(() => Date.now() > Date.parse(c.until) + 50, "the change to expire");

    const status = await run(v134, ["status", "-o", "json"]);
    expect(status.code).toBe(0);
    expect(status.json()).toMatchObject({ kind: "StatusResult", summary: { total: 1, active: 0, expired: 1, restarted: 0, gone: 0 } });
    expect(status.json().results[0]).toMatchObject({ component: "kubelet", target: "kubelet/worker-1", level: 7, before: 3, startup: 3, until: c.until, state: "expired" });
    expect(status.stderr).toContain("1 expired (kvlog reset --expired puts them back)");
    const get = await run(v134, ["get", "kubelet", "--node", "worker-1", "-o", "json"]);
    expect(get.json().results[0].recorded).toMatchObject({ level: 7, expired: true, until: c.until });

    const reset = await run(v134, ["reset", "--expired", "-o", "json"]);
    expect(reset.code, reset.stderr).toBe(0);
    expect(reset.json()).toMatchObject({ kind: "ResetResult", expired: true, summary: { total: 1, succeeded: 1, failed: 0, skipped: 0 } });
    expect(reset.json().results[0]).toMatchObject({ id: "kubelet/worker-1", ok: true, level: 3, before: 7 });
    expect(v134.level("kubelet/worker-1")).toBe(3);
    expect(changes(v134, "kubelet")).toEqual({});

    const again = await run(v134, ["reset", "--expired"]);
    expect(again.code).toBe(0);
    expect(again.stdout).toBe("");
    expect(again.stderr).toBe("nothing is overdue in the record\n");
  });

  it("reset --expired: an overdue target that no longer exists leaves the record with a warning", async () => {
    fresh(v134);
    await run(v134, ["set", "scheduler", "6", "--no-record"]);
    const past = new Date(Date.now() - 60_000).toISOString();
    seed(v134, "kube-scheduler", {
      "20260101T000000Z-aaaaaa": { level: 6, by: "bob", at: past, until: past, targets: { [SCHED]: { before: 2, startup: 2 }, [GONE_POD]: { before: 2, startup: 2 } } },
    });
    const r = await run(v134, ["reset", "--expired", "-o", "json"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.json().results.map((x: any) => [x.id, x.ok, x.level])).toEqual([[SCHED, true, 2]]);
    expect(r.json().warnings).toEqual([`kube-scheduler: 1 overdue target(s) no longer exist (${GONE_POD}); removed from the record`]);
    expect(lines(r.stderr).filter((l) => l.startsWith("warning: kube-scheduler: 1 overdue target(s) no longer exist"))).toHaveLength(1);
    expect(v134.level(SCHED)).toBe(2);
    expect(changes(v134, "kube-scheduler")).toEqual({});
  });

  // --expired names the overdue nodes (--node semantics) when there are at most 100 of them; a
  // deleted node is then a `missing` target, which must not fail the run (a CronJob would fail
  // once per deleted node for no action it could take), as for a pod that no longer exists.
  it("reset --expired: an overdue kubelet whose node was deleted leaves the record without failing the run", async () => {
    fresh(v134);
    const past = new Date(Date.now() - 60_000).toISOString();
    seed(v134, "kubelet", { "20260101T000000Z-dddddd": { level: 5, by: "bob", at: past, until: past, targets: { "kubelet/node-deleted": { startup: 0 } } } });
    const r = await run(v134, ["reset", "--expired", "-o", "json"]);
    expect(r.json().warnings).toEqual(["kubelet: 1 overdue target(s) no longer exist (kubelet/node-deleted); removed from the record"]);
    expect(changes(v134, "kubelet")).toEqual({});
    expect([r.code, r.json().summary]).toEqual([0, { total: 1, succeeded: 0, failed: 0, skipped: 1 }]);
    expect(r.json().results[0]).toMatchObject({ id: "kubelet/node-deleted", outcome: "missing", skipped: true });
  });

  it("status: restarted after the pod's container restarted, gone when the pod no longer exists", async () => {
    fresh(v134);
    const set = await run(v134, ["set", "scheduler", "5"]);
    expect(set.code).toBe(0);
    const active = await run(v134, ["status", "kube-scheduler", "-o", "json"]);
    expect(active.json().results.map((x: any) => [x.target, x.state])).toEqual([[SCHED, "active"]]);
    v134.restart(SCHED);
    expect(v134.level(SCHED)).toBe(2);
    const c = changeOf(v134, "kube-scheduler", SCHED);
    seed(v134, "kube-scheduler", { ...changes(v134, "kube-scheduler"), "20260101T000000Z-bbbbbb": { level: 4, by: "bob", at: c.at, targets: { [GONE_POD]: { incarnation: c.targets[SCHED].incarnation } } } });
    const r = await run(v134, ["status", "-o", "json"]);
    expect(r.code).toBe(0);
    expect(r.json().summary).toEqual({ total: 2, active: 0, expired: 0, restarted: 1, gone: 1 });
    expect(r.json().results.map((x: any) => [x.target, x.state])).toEqual([[SCHED, "restarted"], [GONE_POD, "gone"]]);
    expect(r.stderr).toContain("1 undone by a restart; 1 on pods that are gone");
    const get = await run(v134, ["get", "scheduler", "-o", "json"]);
    expect(get.json().results[0].recorded).toMatchObject({ level: 5, restarted: true });
  });
});

describe("set --for: the way back is part of the change", () => {
  it("puts the level back after the duration; JSON restore per target", async () => {
    fresh(v134);
    let during: number | undefined;
    const t0 = Date.now();
    const r = await run(v134, ["set", "scheduler", "6", "--for", "1s", "-o", "json"], { started: whenRecorded(v134, "kube-scheduler", SCHED, () => (during = v134.level(SCHED))) });
    expect(r.code, r.stderr).toBe(0);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(1000);
    expect(during).toBe(6);
    expect(v134.level(SCHED)).toBe(2);
    const doc = r.json();
    expect(doc).toMatchObject({ forSeconds: 1, record: { written: true } });
    expect(Date.parse(doc.until)).toBeGreaterThan(t0);
    expect(doc.results[0]).toMatchObject({ id: SCHED, outcome: "set", level: 6, restore: { ok: true, level: 2, outcome: "set" } });
    expect(puts(v134, SCHED).slice(-2).map((q) => q.body)).toEqual(["6", "2"]);
    expect(changes(v134, "kube-scheduler")).toEqual({});
  });

  it.each([
    ["SIGTERM", 143],
    ["SIGINT", 130],
  ] as const)("%s during the wait puts every target back at once, exit %i", async (signal, code) => {
    fresh(v134);
    const t0 = Date.now();
    const r = await run(v134, ["set", "kubelet", "8", "--for", "10m", "-o", "json"], { started: whenRecorded(v134, "kubelet", "kubelet/worker-1", (c) => c.kill(signal)) });
    expect(r.code, r.stderr).toBe(code);
    expect(Date.now() - t0).toBeLessThan(20_000);
    expect(r.stderr).toContain(`interrupted (${signal})`);
    expect(r.json().results.map((x: any) => [x.id, x.outcome, x.restore.ok, x.restore.level])).toEqual([
      ["kubelet/cp-1", "set", true, 0],
      ["kubelet/worker-1", "set", true, 3],
    ]);
    expect(v134.level("kubelet/cp-1")).toBe(0);
    expect(v134.level("kubelet/worker-1")).toBe(3);
    expect(changes(v134, "kubelet")).toEqual({});
  });

  it("a second and third signal while the levels are being put back do not stop it", async () => {
    fresh(v134);
    for (const n of ["cp-1", "worker-1"]) await v134.setBehaviour(`kubelet/${n}`, { delayMs: 600 }); // a slow restore
    try {
      const r = await run(v134, ["set", "kubelet", "8", "--for", "10m", "-o", "json"], {
        started: whenRecorded(v134, "kubelet", "kubelet/worker-1", (c) => {
          c.kill("SIGTERM");
          setTimeout(() => c.kill("SIGTERM"), 200);
          setTimeout(() => c.kill("SIGINT"), 400);
        }),
      });
      expect(r.code).toBe(143);
      expect(r.stderr.match(/putting the levels back first/g)).toHaveLength(2);
      expect(r.json().results.map((x: any) => x.restore.ok)).toEqual([true, true]);
      expect([v134.level("kubelet/cp-1"), v134.level("kubelet/worker-1")]).toEqual([0, 3]);
    } finally {
      for (const n of ["cp-1", "worker-1"]) await v134.setBehaviour(`kubelet/${n}`, { delayMs: 0 });
    }
  });

  it("--restore-to N puts back N", async () => {
    fresh(v134);
    const r = await run(v134, ["set", "kcm", "7", "--for", "1s", "--restore-to", "4", "-o", "json"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.json().results[0].restore).toMatchObject({ ok: true, level: 4, outcome: "set" });
    expect(v134.level(KCM)).toBe(4);
  });

  it("a target whose startup level is unknown is not changed at all; the others are, and are put back", async () => {
    fresh(v134);
    const before = puts(v134, PROXY_W).length;
    let recorded: any;
    const r = await run(v134, ["set", "kube-proxy", "5", "--for", "1s", "-o", "json"], { started: whenRecorded(v134, "kube-proxy", PROXY_CP, () => (recorded = changeOf(v134, "kube-proxy", PROXY_CP))) });
    expect(r.code).toBe(1);
    const [cp, w] = r.json().results;
    expect(cp).toMatchObject({ id: PROXY_CP, outcome: "set", restore: { ok: true, level: 3 } });
    expect(w).toMatchObject({ id: PROXY_W, ok: false, outcome: "unknown-startup", restore: null });
    expect(w.message).toContain("/flagz not served (404");
    expect(w.hint).toContain("--restore-to");
    expect(Object.keys(recorded.targets)).toEqual([PROXY_CP]);
    expect(puts(v134, PROXY_W)).toHaveLength(before);
    expect(v134.level(PROXY_W)).toBeUndefined();
    expect(v134.level(PROXY_CP)).toBe(3);

    const api = await run(v134, ["set", "apiserver", "3", "--for", "1s", "-o", "json"]);
    expect(api.code).toBe(1);
    expect(api.json().results[0]).toMatchObject({ outcome: "unknown-startup", restore: null });
    expect(api.json().results[0].hint).toContain("--restore-to");
    expect(api.json().record).toBeNull();
    expect(v134.level("kube-apiserver")).toBeUndefined();
  });

  it("a target moved to a newer change during the wait is left alone (superseded)", async () => {
    fresh(v134);
    let newer: Record<string, any> = {};
    const r = await run(v134, ["set", "kubelet", "6", "--node", "worker-1", "--for", "2s", "-o", "json"], {
      started: whenRecorded(v134, "kubelet", "kubelet/worker-1", () => {
        newer = { "20260101T000000Z-cccccc": { level: 9, by: "alice", at: new Date().toISOString(), targets: { "kubelet/worker-1": { before: 6, startup: 3 } } } };
        seed(v134, "kubelet", newer); // kvlog's change lost its only target
      }),
    });
    expect(r.code, r.stderr).toBe(0);
    expect(r.json().results[0].restore).toMatchObject({ ok: false, level: null, outcome: "superseded" });
    expect(r.json().results[0].restore.message).toMatch(/^not put back: alice set it to 9 at /);
    expect(v134.level("kubelet/worker-1")).toBe(6);
    expect(changes(v134, "kubelet")).toEqual(newer);
  });

  it("another kvlog set on the target during the wait supersedes the timed change", async () => {
    fresh(v134);
    let other: Promise<CliRun> | undefined;
    // Once the other change is recorded, SIGTERM ends the wait: the restore then reads the record.
    const r = await run(v134, ["set", "kubelet", "6", "--node", "worker-1", "--for", "10m", "-o", "json"], {
      started: whenRecorded(v134, "kubelet", "kubelet/worker-1", (c) => {
        other = run(v134, ["set", "kubelet", "9", "--node", "worker-1"], { user: "admin" });
        void other.finally(() => c.kill("SIGTERM"));
      }),
    });
    expect((await other!).code).toBe(0);
    expect(r.code, r.stderr).toBe(143);
    expect(r.json().results[0].restore).toMatchObject({ ok: false, level: null, outcome: "superseded" });
    expect(r.json().results[0].restore.message).toMatch(/^not put back: admin set it to 9 at /);
    expect(v134.level("kubelet/worker-1")).toBe(9);
    expect(changeOf(v134, "kubelet", "kubelet/worker-1")).toMatchObject({ level: 9, by: "admin", targets: { "kubelet/worker-1": { before: 6 } } });
  });
});

describe("usage and help", () => {
  it.each([
    [["set", "kubelet", "5", "--for", "0"], "--for must be more than 0"],
    [["set", "kubelet", "5", "--for", "banana"], '--for must be a duration like 10m, 1h or 90s, got "banana"'],
    [["set", "kubelet", "5", "--for", "1000h"], '--for must be at most 24h, got "1000h"'],
    [["set", "kubelet", "5", "--restore-to", "3"], "--restore-to applies with --for only"],
    [["reset"], "missing component"],
    [["reset", "--expired", "--node", "x"], "--expired puts back what the record says is overdue"],
    [["get"], "missing component"],
  ])("kvlog %j: one line on stderr, exit 2, nothing on stdout", async (args, message) => {
    const n = v134.requests.length;
    const r = await run(v134, args);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe("");
    expect(lines(r.stderr)).toHaveLength(1);
    expect(r.stderr).toContain(message);
    expect(v134.requests.length).toBe(n); // nothing sent
  });

  it("--help lists the commands; get, reset and status --help show their examples", async () => {
    const top = await run(v134, ["--help"]);
    expect(top.code).toBe(0);
    for (const c of ["set", "get", "reset", "status", "rbac"]) expect(top.stdout).toMatch(new RegExp(`^  ${c} \\[options\\]`, "m"));
    const examples: Record<string, string[]> = {
      get: ["kvlog get kubelet --node worker-1"],
      reset: ["kvlog reset kubelet --node worker-1", "kvlog reset --expired"],
      status: ["kvlog status kubelet -o json"],
    };
    for (const [cmd, want] of Object.entries(examples)) {
      const r = await run(v134, [cmd, "--help"]);
      expect(r.code).toBe(0);
      expect(r.stdout).toContain(`Usage: kvlog ${cmd}`);
      expect(r.stdout).toContain("Examples:");
      for (const w of want) expect(r.stdout).toContain(w);
    }
  });
});

// kvlog capture (issue 17): the built CLI, as a separate process, against the simulated cluster,
// whose components log 2 + 10·level lines per second, each tagged with its verbosity (`v=N`).
// It proves, one promise per test:
// - usage errors (no --for, --for 0, a non-empty --out, an unknown component, --for over 1h
//   without --max-bytes) are one line, exit 2, and send nothing;
// - a capture raises every target, writes each one's log (with the source's timestamps) and
//   capture.json, puts the level back, and -o json prints the same document; lines logged only
//   at the raised level are in the window and not before it; the rate before and during shows it;
// - the kubelet: the node log query, else /var/log/kubelet.log, else logs-unavailable naming the
//   configuration, and the level still changes and comes back;
// - an apiserver replica without a static pod: logs-unavailable (the cloud's logging service),
//   while the replica with one is read through pods/log;
// - Ctrl-C mid-capture puts the level back at once and still writes the bundle (exit 130);
// - --max-bytes cuts the file, marks it truncated, and every line is still counted;
// - a stream cut by the apiserver is read again from its last line (no line twice); a container
//   restart is followed onto the new container and marked; a node gone mid-window ends in a
//   per-target outcome, with the other target captured;
// - more targets than --max-log-requests: one clear line, the rest read from their history;
// - nothing is written to stderr on a pipe during the window (no progress line).
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KVLOG_RULES, startFakeCluster, type FakeCluster } from "../fake/cluster.ts";
import { kvlog, type CliRun } from "./run.ts";

const SCHED = "kube-scheduler/kube-system/kube-scheduler-cp-1";
const PROXY_CP = "kube-proxy/kube-system/kube-proxy-aaaaa";
const PROXY_W = "kube-proxy/kube-system/kube-proxy-bbbbb";
const SCHED_FILE = "kube-scheduler_kube-system_kube-scheduler-cp-1.log";

const dir = mkdtempSync(join(tmpdir(), "kvlog-capture-test-"));
let n = 0;
const outDir = (): string => join(dir, `bundle-${++n}`);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function capture(f: FakeCluster, args: string[], o: { out?: string; started?: Parameters<typeof kvlog>[3]; timeoutMs?: number; user?: string } = {}): Promise<CliRun & { out: string }> {
  const out = o.out ?? outDir();
  const r = await kvlog(["capture", ...args, "--out", out], { KUBECONFIG: f.kubeconfig(o.user ?? "kvlog") }, o.timeoutMs ?? 60_000, o.started);
  expect(r.stdout + r.stderr).not.toContain(f.tokenFor("kvlog"));
  expect(r.stdout + r.stderr).not.toMatch(/    at .*\(.*:\d+:\d+\)/);
  return { ...r, out };
}
const doc = (out: string): any => JSON.parse(readFileSync(join(out, "capture.json"), "utf8"));
const puts = (f: FakeCluster, id: string): string[] => f.requests.filter((q) => q.target === id && q.method === "PUT" && q.path === "/debug/flags/v").map((q) => q.body);
/** [time ms, verbosity, seq] of each log line of a pods/log file (RFC3339Nano prefix). */
function parsed(text: string): { ms: number; v: number; seq: number }[] {
  return text
    .split("\n")
    .filter((l) => /^\d{4}-/.test(l))
    .map((l) => ({ ms: Date.parse(l.slice(0, 23) + "Z"), v: Number(/ v=(\d+)/.exec(l)?.[1]), seq: Number(/ seq=(\d+)/.exec(l)?.[1]) }));
}

describe("usage errors: one line, exit 2, nothing sent", () => {
  let f: FakeCluster;
  beforeAll(async () => {
    f = await startFakeCluster();
  });
  afterAll(() => f.close());

  const cases: [string, string[], RegExp][] = [
    ["no --for", ["kubelet", "6"], /^kvlog: capture needs --for: how long to keep level 6 and collect logs \(e\.g\. kvlog capture kubelet 6 --for 2m\)\n$/],
    ["--for 0", ["kubelet", "6", "--for", "0"], /^kvlog: --for must be more than 0\n$/],
    ["an unknown component", ["kubeletx", "6", "--for", "1m"], /^kvlog: unknown component "kubeletx"; did you mean kubelet\?/],
    ["--for over 1h without --max-bytes", ["kubelet", "6", "--for", "2h"], /^kvlog: --for over 1h needs an explicit --max-bytes/],
    ["a bad --max-bytes", ["kubelet", "6", "--for", "1m", "--max-bytes", "lots"], /^kvlog: --max-bytes must be a size like 100Mi/],
    ["--max-log-requests 0", ["kubelet", "6", "--for", "1m", "--max-log-requests", "0"], /^kvlog: --max-log-requests must be a whole number from 1 to 1000/],
  ];
  for (const [name, args, want] of cases) {
    it(name, async () => {
      const before = f.requests.length;
      const r = await capture(f, args);
      expect(r.code).toBe(2);
      expect(r.stdout).toBe("");
      expect(r.stderr).toMatch(want);
      expect(r.stderr.trim().split("\n")).toHaveLength(1);
      expect(f.requests.length).toBe(before);
    });
  }

  it("an --out that exists and is not empty", async () => {
    const out = outDir();
    mkdirSync(out);
    writeFileSync(join(out, "keep.txt"), "mine");
    const before = f.requests.length;
    const r = await capture(f, ["scheduler", "4", "--for", "1s"], { out });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^kvlog: --out .* is not empty \(1 entry\); give a new or empty directory/);
    expect(readdirSync(out)).toEqual(["keep.txt"]);
    expect(f.requests.length).toBe(before);
  });

  it("--help reads well: the synopsis, --for, the bundle, the RBAC it needs", async () => {
    const r = await kvlog(["capture", "--help"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Usage: kvlog capture \[options\] <component> <level>/);
    for (const s of ["--for <duration>", "--out <dir>", "--max-log-requests <n>", "--max-bytes <size>", "capture.json", "pods/log", "nodes/proxy"]) expect(r.stdout).toContain(s);
  });
});

describe("a capture of the scheduler", () => {
  let f: FakeCluster;
  let r: CliRun & { out: string };
  let json: CliRun;
  beforeAll(async () => {
    f = await startFakeCluster();
    r = await capture(f, ["scheduler", "4", "--for", "2s"]);
    json = await capture(f, ["scheduler", "3", "--for", "1s", "-o", "json"]);
  }, 60_000);
  afterAll(() => f.close());

  it("raises, writes the log and capture.json, puts the level back; exit 0", () => {
    expect(r.code, r.stderr).toBe(0);
    expect(readdirSync(r.out).sort()).toEqual(["capture.json", SCHED_FILE]);
    expect(puts(f, SCHED).slice(0, 2)).toEqual(["4", "0"]);
    expect(f.level(SCHED)).toBe(0);
    const d = doc(r.out);
    expect(d).toMatchObject({ apiVersion: "kvlog.dev/v1", kind: "CaptureResult", component: "kube-scheduler", level: 4, window: { forSeconds: 2, stoppedBy: null } });
    const t = d.results[0];
    expect(t).toMatchObject({ id: SCHED, source: "pods/log", file: SCHED_FILE, ok: true, set: { ok: true, outcome: "set" }, restore: { ok: true, level: 0 }, log: { outcome: "captured" }, truncated: false });
    expect(t.bytes).toBe(statSync(join(r.out, SCHED_FILE)).size);
    expect(t.lines).toBe(readFileSync(join(r.out, SCHED_FILE), "utf8").trim().split("\n").length);
    expect(t.lines).toBe(t.linesBefore + t.linesDuring + t.linesAfter);
  });

  it("lines logged only at the raised level are in the window, none before the raise", () => {
    const t = doc(r.out).results[0];
    const lines = parsed(readFileSync(join(r.out, SCHED_FILE), "utf8"));
    const raised = Date.parse(t.raisedAt);
    const restored = Date.parse(t.restoredAt);
    expect(lines.filter((l) => l.ms < raised).length).toBeGreaterThan(5); // the baseline
    expect(lines.filter((l) => l.ms < raised && l.v > 0)).toEqual([]);
    expect(lines.filter((l) => l.ms >= raised && l.ms < restored && l.v === 4).length).toBeGreaterThan(10);
    expect(lines.filter((l) => l.ms > restored + 200 && l.v > 0)).toEqual([]);
    // The file holds what the component logged in that span, each line once, in order.
    const want = f.logLines(SCHED, lines[0]!.ms, lines.at(-1)!.ms + 1);
    expect(lines.map((l) => l.seq)).toEqual(want.map((l) => Number(/ seq=(\d+)/.exec(l)![1])));
  });

  it("the rate before and during shows the raise: table, sparkline, JSON", () => {
    const t = doc(r.out).results[0];
    expect(t.linesPerSecond.before).toBeGreaterThan(1);
    expect(t.linesPerSecond.before).toBeLessThan(4);
    expect(t.linesPerSecond.during).toBeGreaterThan(30);
    expect(t.slices.length).toBe(2);
    expect(r.stdout).toMatch(/^TARGET\s+SET\s+RESTORED\s+LOG\s+LINES\s+BYTES\s+BEFORE -> DURING\s+WINDOW\n/);
    expect(r.stdout).toMatch(new RegExp(`${SCHED}\\s+set\\s+to 0\\s+${SCHED_FILE.replace(/\./g, "\\.")}\\s+\\d+\\s+\\S+\\s+[\\d.]+/s -> \\d+/s\\s+[▁▂▃▄▅▆▇█ ]+\\n`));
    expect(r.stderr).toMatch(/kube-scheduler: 1 of 1 target\(s\) at level 4 for 2s, 1 put back; logs of 1 in /);
    expect(r.stderr).not.toMatch(/may not have taken effect/);
  });

  it("nothing on stderr during the window on a pipe (no progress line)", () => {
    expect(r.stderr).not.toContain("\r");
    expect(r.stderr).not.toContain("\x1b");
  });

  it("-o json prints exactly capture.json", () => {
    expect(json.code, json.stderr).toBe(0);
    expect(json.json()).toEqual(doc((json as CliRun & { out: string }).out));
    expect(json.json().results[0].level).toBe(3);
  });

  it("the change was recorded, and the record is empty once the level is back", () => {
    const cm = f.configMap("kube-system", "kvlog-kube-scheduler") as { data?: Record<string, string> } | undefined;
    expect(Object.keys(cm?.data ?? {})).toEqual([]);
    expect(doc(r.out).record).toMatchObject({ written: true, by: "kvlog" });
  });
});

describe("the kubelet's log", () => {
  let f: FakeCluster;
  let r: CliRun & { out: string };
  beforeAll(async () => {
    f = await startFakeCluster({
      nodes: [{ name: "cp-1", controlPlane: true }, { name: "worker-1" }, { name: "worker-2" }],
      behaviour: {
        "kubelet/cp-1": { systemLogQuery: true, nodeLogQueryGate: true }, // journald + the node log query
        "kubelet/worker-1": { logs: { to: "file" } }, // /var/log/kubelet.log, no query
        // worker-2: journald, no query (kubeadm's default before 1.36): nothing to read
      },
    });
    r = await capture(f, ["kubelet", "5", "--for", "2s"]);
  }, 60_000);
  afterAll(() => f.close());

  it("the node log query, the file under /var/log/, or logs-unavailable with the configuration that would make it available", () => {
    const byId = Object.fromEntries(doc(r.out).results.map((t: any) => [t.id, t]));
    expect(byId["kubelet/cp-1"]).toMatchObject({ source: "node-log-query", where: "/api/v1/nodes/cp-1/proxy/logs/", file: "kubelet_cp-1.log", log: { outcome: "captured" } });
    expect(byId["kubelet/worker-1"]).toMatchObject({ source: "node-log-file", where: "/api/v1/nodes/worker-1/proxy/logs/kubelet.log", file: "kubelet_worker-1.log", log: { outcome: "captured" } });
    expect(byId["kubelet/worker-2"]).toMatchObject({ source: "none", file: null, log: { outcome: "logs-unavailable" } });
    expect(byId["kubelet/worker-2"].log.message).toMatch(/enableSystemLogQuery: true .*NodeLogQuery feature gate/);
    for (const id of ["kubelet/cp-1", "kubelet/worker-1"]) {
      expect(byId[id].linesPerSecond.during).toBeGreaterThan(byId[id].linesPerSecond.before * 5);
      expect(readFileSync(join(r.out, byId[id].file), "utf8")).toMatch(/ v=5 /);
    }
    expect(readFileSync(join(r.out, "kubelet_cp-1.log"), "utf8")).toMatch(/^[A-Z][a-z]{2} \d\d \d\d:\d\d:\d\d\.\d{6} cp-1 kubelet\[\d+\]: [IW]/); // journalctl's short-precise
    expect(readdirSync(r.out).sort()).toEqual(["capture.json", "kubelet_cp-1.log", "kubelet_worker-1.log"]);
  });

  it("the level still changes and comes back where the log cannot be read; the run says so and exits 1", () => {
    for (const id of ["kubelet/cp-1", "kubelet/worker-1", "kubelet/worker-2"]) {
      expect(puts(f, id)).toEqual(["5", "0"]);
      expect(f.level(id)).toBe(0);
    }
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/kubelet\/worker-2: logs-unavailable: .*enableSystemLogQuery/);
  });

  it("the file is read with Range requests from where it ended, not whole each time", () => {
    const reads = f.requests.filter((q) => q.target === "kubelet/worker-1" && q.path === "/logs/kubelet.log");
    expect(reads.length).toBeGreaterThanOrEqual(2);
  });
});

describe("an apiserver replica without a static pod", () => {
  it("is logs-unavailable (the cloud's logging service); the replica with a static pod is read through pods/log", async () => {
    const f = await startFakeCluster({ apiserverReplicas: 2, version: "v1.36.0" }); // /flagz: the startup level is known
    try {
      const r = await capture(f, ["apiserver", "3", "--for", "1s"]);
      const byId = Object.fromEntries(doc(r.out).results.map((t: any) => [t.id, t]));
      const [one, two] = f.apiserverReplicas.map((x) => x.id);
      expect(byId[one!]).toMatchObject({ source: "pods/log", where: "/api/v1/namespaces/kube-system/pods/kube-apiserver-cp-1/log", log: { outcome: "captured" }, restore: { ok: true } });
      expect(byId[two!]).toMatchObject({ source: "none", log: { outcome: "logs-unavailable" }, restore: { ok: true } });
      expect(byId[two!].log.message).toMatch(/no kube-apiserver static pod .* runs at 127\.0\.0\.2.*cloud's logging service/);
      expect(r.code).toBe(1);
    } finally {
      await f.close();
    }
  }, 60_000);
});

describe("Ctrl-C mid-capture", () => {
  it("puts the level back at once, still writes the bundle, exit 130", async () => {
    const f = await startFakeCluster();
    try {
      const t0 = Date.now();
      const r = await capture(f, ["scheduler", "4", "--for", "60s"], {
        started: (child) => {
          const poll = setInterval(() => {
            if (puts(f, SCHED).length === 1) {
              clearInterval(poll);
              setTimeout(() => child.kill("SIGINT"), 1500);
            }
          }, 50);
        },
      });
      expect(r.code, r.stderr).toBe(130);
      expect(Date.now() - t0).toBeLessThan(30_000);
      expect(puts(f, SCHED)).toEqual(["4", "0"]);
      const d = doc(r.out);
      expect(d.window.stoppedBy).toBe("SIGINT");
      expect(d.results[0]).toMatchObject({ restore: { ok: true }, log: { outcome: "captured" } });
      expect(d.results[0].linesDuring).toBeGreaterThan(10);
      expect(readFileSync(join(r.out, SCHED_FILE), "utf8")).toMatch(/ v=4 /);
    } finally {
      await f.close();
    }
  }, 60_000);
});

describe("without get on pods/log", () => {
  it("the level still changes and comes back; the log is forbidden, naming the rule; exit 1", async () => {
    const f = await startFakeCluster({ users: [{ name: "nolog", rules: KVLOG_RULES.filter((r) => !(r.resources ?? []).includes("pods/log")) }] });
    try {
      const r = await capture(f, ["scheduler", "4", "--for", "1s"], { user: "nolog" });
      const t = doc(r.out).results[0];
      expect(t).toMatchObject({ ok: true, restore: { ok: true }, log: { outcome: "forbidden" }, file: null });
      expect(t.log.message).toMatch(/cannot get resource "pods\/log" .*grant get on pods\/log \(kvlog rbac --capture prints it\)/);
      expect(puts(f, SCHED)).toEqual(["4", "0"]);
      expect(r.code).toBe(1);
      expect(readdirSync(r.out)).toEqual(["capture.json"]);
    } finally {
      await f.close();
    }
  }, 60_000);
});

describe("a raise that changes nothing in the log", () => {
  it("is called out: the rate before and during, and what that may mean", async () => {
    const f = await startFakeCluster({ behaviour: { [SCHED]: { logs: { perLevel: 0, linesPerSecond: 5 } } } });
    try {
      const r = await capture(f, ["scheduler", "4", "--for", "2s"]);
      const t = doc(r.out).results[0];
      expect(t.linesPerSecond.during).toBeLessThan(t.linesPerSecond.before * 1.25 + 0.5);
      expect(r.stderr).toMatch(new RegExp(`${SCHED}: [\\d.]+/s before and [\\d.]+/s during: the raise may not have taken effect \\(another tool or a restart put the level back, the component logs through a logger that ignores -v`));
      expect(f.level(SCHED)).toBe(0);
    } finally {
      await f.close();
    }
  }, 60_000);
});

describe("a component that logs nothing where kvlog reads (e.g. to a file, not stdout)", () => {
  it("is captured (an empty file) and called out: no line in the window, and why that may be", async () => {
    const f = await startFakeCluster({ behaviour: { [SCHED]: { logs: { perLevel: 0, linesPerSecond: 0 } } } });
    try {
      const r = await capture(f, ["scheduler", "4", "--for", "1s"]);
      const t = doc(r.out).results[0];
      expect(t).toMatchObject({ lines: 0, bytes: 0, file: SCHED_FILE, log: { outcome: "captured" }, sparkline: "▁" });
      expect(statSync(join(r.out, SCHED_FILE)).size).toBe(0);
      expect(r.stderr).toContain(`${SCHED}: no line in its log during the window: the component may write its log to a file rather than stdout`);
    } finally {
      await f.close();
    }
  }, 60_000);
});

describe("a component that writes its log to a file on its node (kube-up style)", () => {
  it("its pod log is empty, so its /var/log/<component>.log is read through the kubelet's /logs/", async () => {
    const f = await startFakeCluster({ behaviour: { [SCHED]: { logs: { to: "file" } } } });
    try {
      const r = await capture(f, ["scheduler", "4", "--for", "2s"]);
      const t = doc(r.out).results[0];
      expect(t).toMatchObject({ source: "node-log-file", where: "/api/v1/nodes/cp-1/proxy/logs/kube-scheduler.log", log: { outcome: "captured" } });
      expect(t.linesPerSecond.during).toBeGreaterThan(t.linesPerSecond.before * 5);
      const text = readFileSync(join(r.out, SCHED_FILE), "utf8");
      expect(text).toMatch(/^[IW]\d{4} \d\d:\d\d:\d\d\.\d{6} /);
      expect(text).toMatch(/ v=4 /);
      expect(r.code, r.stderr).toBe(0);
    } finally {
      await f.close();
    }
  }, 60_000);
});

describe("bounds and faults", () => {
  it("--max-bytes: the file is cut at a line and marked, every line is still counted", async () => {
    const f = await startFakeCluster();
    try {
      const r = await capture(f, ["scheduler", "6", "--for", "2s", "--max-bytes", "4Ki"]);
      const t = doc(r.out).results[0];
      const text = readFileSync(join(r.out, SCHED_FILE), "utf8");
      expect(t.truncated).toBe(true);
      expect(statSync(join(r.out, SCHED_FILE)).size).toBe(t.bytes);
      expect(t.bytes).toBeLessThanOrEqual(4096 + 120);
      expect(text).toMatch(/\n# kvlog: truncated at --max-bytes 4096: later lines were counted, not kept\n$/);
      const kept = text.split("\n").filter((l) => /^\d{4}-/.test(l)).length;
      expect(t.lines).toBeGreaterThan(kept * 2);
      expect(t.linesPerSecond.during).toBeGreaterThan(40);
      expect(f.level(SCHED)).toBe(0);
      expect(r.stdout).toContain("(truncated)");
    } finally {
      await f.close();
    }
  }, 60_000);

  it("a stream cut by the apiserver is read again from its last line: no line lost or twice", async () => {
    const f = await startFakeCluster();
    try {
      const r = await capture(f, ["scheduler", "4", "--for", "3s"], {
        started: () => {
          const poll = setInterval(() => {
            if (puts(f, SCHED).length === 1 && f.cutLogStreams(SCHED) > 0) clearInterval(poll);
          }, 300);
          setTimeout(() => clearInterval(poll), 20_000);
        },
      });
      expect(r.code, r.stderr).toBe(0);
      const t = doc(r.out).results[0];
      expect(t).toMatchObject({ log: { outcome: "captured" }, reconnects: 1 });
      const text = readFileSync(join(r.out, SCHED_FILE), "utf8");
      expect(text).toMatch(/# kvlog: stream cut \(.*\); reading again from the last line\n/);
      const lines = parsed(text);
      const want = f.logLines(SCHED, lines[0]!.ms, lines.at(-1)!.ms + 1).map((l) => Number(/ seq=(\d+)/.exec(l)![1]));
      expect(lines.map((l) => l.seq)).toEqual(want);
    } finally {
      await f.close();
    }
  }, 60_000);

  it("a container restart mid-window is followed onto the new container and marked", async () => {
    const f = await startFakeCluster();
    try {
      const r = await capture(f, ["scheduler", "4", "--for", "3s"], {
        started: () => {
          const poll = setInterval(() => {
            if (puts(f, SCHED).length === 1) {
              clearInterval(poll);
              setTimeout(() => f.restart(SCHED), 800);
            }
          }, 50);
        },
      });
      const t = doc(r.out).results[0];
      expect(t).toMatchObject({ restarts: 1, log: { outcome: "captured" }, restore: { ok: true } });
      const text = readFileSync(join(r.out, SCHED_FILE), "utf8");
      const at = text.indexOf("# kvlog: container restarted (restart count 0 -> 1); following the new container");
      expect(at).toBeGreaterThan(0);
      // After the mark: the new container's lines (it started again at level 0, then was put back).
      expect(parsed(text.slice(at)).length).toBeGreaterThan(3);
      expect(r.stdout).toContain("(1 restart)");
    } finally {
      await f.close();
    }
  }, 60_000);

  it("a node gone mid-window: that target ends in an outcome, the other is captured, the restore is tried for both", async () => {
    const f = await startFakeCluster({ kubeletDialTimeoutMs: 300, defaultBehaviour: { "kube-proxy": { profiling: true, startupLevel: 0 } } });
    try {
      const r = await capture(f, ["kube-proxy", "3", "--for", "3s", "--request-timeout", "5s"], {
        started: () => {
          const poll = setInterval(() => {
            if (puts(f, PROXY_W).length === 1 && puts(f, PROXY_CP).length === 1) {
              clearInterval(poll);
              setTimeout(() => {
                void f.setBehaviour("kubelet/worker-1", { mode: "unreachable" }).then(() => f.cutLogStreams(PROXY_W));
              }, 500);
            }
          }, 50);
        },
      });
      const byId = Object.fromEntries(doc(r.out).results.map((t: any) => [t.id, t]));
      expect(byId[PROXY_CP]).toMatchObject({ log: { outcome: "captured" }, restore: { ok: true } });
      expect(byId[PROXY_W].log.outcome).toBe("stream-cut");
      expect(byId[PROXY_W].restore.ok).toBe(false);
      expect(byId[PROXY_W].linesDuring).toBeGreaterThan(0);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/kube-proxy-bbbbb: stream-cut: /);
    } finally {
      await f.close();
    }
  }, 60_000);

  it("more targets than --max-log-requests: one clear line, the others read from their history, every target accounted for", async () => {
    const f = await startFakeCluster({ defaultBehaviour: { "kube-proxy": { profiling: true, startupLevel: 0 } } });
    try {
      const r = await capture(f, ["kube-proxy", "3", "--for", "2s", "--max-log-requests", "1"]);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).toMatch(/kube-proxy: more targets than --max-log-requests 1: the first 1 are followed live, the others are read from their log history/);
      const rows = doc(r.out).results;
      expect(rows.map((t: any) => t.log.outcome)).toEqual(["captured", "captured"]);
      expect(rows.filter((t: any) => t.queued)).toHaveLength(1);
      for (const t of rows) {
        expect(t.linesPerSecond.during).toBeGreaterThan(20);
        expect(t.linesBefore).toBeGreaterThan(5);
      }
    } finally {
      await f.close();
    }
  }, 60_000);
});

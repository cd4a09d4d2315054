// logs.ts and capture's pure parts: file names from cluster ids, the timestamps of each source,
// the line writer (phases, slices, resume without duplicates, --max-bytes, secrets), sizes.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { parseBytes, stamp } from "../../src/commands/capture.js";
import { UsageError } from "../../src/errors.js";
import { journalMs, klogMs, LogWriter, rfc3339Ms, safeFileName, sourceFor, type Phases } from "../../src/logs.js";
import type { Target } from "../../src/target.js";
import { sparkline } from "../../src/run/capture-result.js";

const dir = mkdtempSync(join(tmpdir(), "kvlog-logs-unit-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let files = 0;

describe("safeFileName", () => {
  it("no path separators, no .., no control characters; collisions get a suffix", () => {
    const taken = new Set<string>();
    expect(safeFileName("kube-scheduler/kube-system/kube-scheduler-cp-1", taken)).toBe("kube-scheduler_kube-system_kube-scheduler-cp-1.log");
    expect(safeFileName("kube-apiserver/[fd00::1]:6443", taken)).toBe("kube-apiserver__fd00__1__6443.log");
    const evil = safeFileName("kubelet/../../etc/passwd\n\x1b[2J", taken);
    expect(evil).not.toMatch(/\/|\\|\.\.|[\x00-\x1f]/);
    expect(safeFileName("..", taken)).toMatch(/^_/);
    const a = safeFileName("kubelet/a:b", taken);
    const b = safeFileName("kubelet/a_b", taken);
    expect(a).toBe("kubelet_a_b.log");
    expect(b).toBe("kubelet_a_b-2.log");
    expect(safeFileName("x".repeat(500), taken).length).toBeLessThanOrEqual(190);
  });
});

describe("timestamps", () => {
  const now = Date.UTC(2026, 11, 6, 20, 0, 0);
  it("pods/log's RFC 3339 with nanoseconds, and offsets", () => {
    expect(rfc3339Ms("2026-12-06T20:11:46.123456789Z msg")).toBe(Date.UTC(2026, 11, 6, 20, 11, 46, 123));
    expect(rfc3339Ms("2026-12-06T21:11:46+01:00 msg")).toBe(Date.UTC(2026, 11, 6, 20, 11, 46));
    expect(rfc3339Ms("I1206 20:11:46.1 x")).toBeUndefined();
  });
  it("journalctl short-precise and klog headers, in the year nearest to now", () => {
    expect(journalMs("Dec 06 20:11:46.123456 cp-1 kubelet[1]: I1206 ...", now)).toBe(Date.UTC(2026, 11, 6, 20, 11, 46, 123));
    expect(klogMs("I1206 20:11:46.123456    1234 kubelet.go:1] x", now)).toBe(Date.UTC(2026, 11, 6, 20, 11, 46, 123));
    // A line from the last days of December read on the 1st of January is last year's.
    expect(klogMs("E1231 23:59:59.000000 1 x.go:1] x", Date.UTC(2027, 0, 1, 0, 0, 5))).toBe(Date.UTC(2026, 11, 31, 23, 59, 59));
    expect(journalMs("-- No entries --", now)).toBeUndefined();
  });
});

describe("LogWriter", () => {
  const phases = (): Phases => ({ fromMs: 1000, raisedAt: 5000, restoredAt: 9000, windowStart: 5000, windowMs: 4000 });
  const line = (ms: number, text: string): string => `${new Date(ms).toISOString()} ${text}\n`;
  const writer = (max = 1 << 20, secrets: Buffer[] = []): { w: LogWriter; path: string } => {
    const path = join(dir, `w-${++files}.log`);
    return { w: new LogWriter(path, { kind: "pods/log", where: "/x" }, phases(), max, rfc3339Ms, secrets), path };
  };

  it("counts lines per phase and slice, drops those before the baseline, keeps a line split across chunks whole", async () => {
    const { w, path } = writer();
    const text = [line(500, "too early"), line(2000, "before"), line(6000, "during a"), line(6500, "during b"), line(9500, "after")].join("");
    const cut = text.indexOf("during b") + 3;
    await w.push(Buffer.from(text.slice(0, cut)));
    await w.push(Buffer.from(text.slice(cut)));
    await w.close();
    expect(w.stats).toMatchObject({ lines: 4, linesBefore: 1, linesDuring: 2, linesAfter: 1, outcome: "captured" });
    expect(w.stats.slices).toEqual([0, 2, 0, 0]);
    expect(readFileSync(path, "utf8")).toBe(text.slice(text.indexOf("\n") + 1));
    expect(w.stats.bytes).toBe(readFileSync(path).length);
  });

  it("after resume(), lines already written (the apiserver cuts sinceTime to whole seconds) are not written twice", async () => {
    const { w, path } = writer();
    await w.push(Buffer.from(line(2000, "a") + line(2400, "b")));
    w.resume();
    await w.push(Buffer.from(line(2000, "a") + line(2400, "b") + line(2600, "c")));
    await w.close();
    expect(readFileSync(path, "utf8")).toBe(line(2000, "a") + line(2400, "b") + line(2600, "c"));
    expect(w.stats.lines).toBe(3);
  });

  it("--max-bytes: cut at a line, marked, later lines counted", async () => {
    const { w, path } = writer(4096);
    const many = Array.from({ length: 200 }, (_, i) => line(6000 + i, `line ${i} ${"x".repeat(40)}`)).join("");
    await w.push(Buffer.from(many));
    await w.close();
    const text = readFileSync(path, "utf8");
    expect(w.stats.truncated).toBe(true);
    expect(w.stats.lines).toBe(200);
    expect(text).toMatch(/Z line \d+ x+\n# kvlog: truncated at --max-bytes 4096: later lines were counted, not kept\n$/);
    expect(text.length - text.split("\n").at(-2)!.length - 1).toBeLessThanOrEqual(4096);
  });

  it("a file that cannot be written ends in write-failed, with the path and the error", async () => {
    const path = join(dir, "no-such-dir", "x.log");
    const w = new LogWriter(path, { kind: "pods/log", where: "/x" }, phases(), 1 << 20, rfc3339Ms);
    await w.push(Buffer.from(line(6000, "a") + line(6100, "b")));
    await w.close();
    expect(w.stats.outcome).toBe("write-failed");
    expect(w.stats.message).toMatch(/^writing .*no-such-dir\/x\.log failed: ENOENT/);
    expect(w.stats.lines).toBe(2);
  });

  it("kvlog's own credentials are masked in what a component logged", async () => {
    const token = "s3cr3t-t0ken-value-0123456789";
    const { w, path } = writer(1 << 20, [Buffer.from(token)]);
    await w.push(Buffer.from(line(6000, `GET /x Authorization: Bearer ${token}`)));
    await w.close();
    expect(readFileSync(path, "utf8")).toContain("Bearer <redacted>");
    expect(readFileSync(path, "utf8")).not.toContain(token);
  });
});

describe("where a target's log is", () => {
  const base = { authenticates: true, scheme: "https" as const, port: 1 };
  it("pods/log for pods, the kubelet's /logs/, an apiserver by its static pod, else unavailable with where the logs are", () => {
    const pod: Target = { ...base, id: "kube-proxy/kube-system/kube-proxy-a", component: "kube-proxy", via: "port-forward", namespace: "kube-system", pod: "kube-proxy-a" };
    expect(sourceFor(pod, true, new Map())).toEqual({ kind: "pods/log", where: "/api/v1/namespaces/kube-system/pods/kube-proxy-a/log" });
    const kubelet: Target = { ...base, id: "kubelet/n/1", component: "kubelet", via: "node-proxy", node: "n/1" };
    expect(sourceFor(kubelet, true, new Map()).where).toBe("/api/v1/nodes/n%2F1/proxy/logs/");
    const api: Target = { ...base, id: "kube-apiserver/10.0.0.5:6443", component: "kube-apiserver", via: "direct", url: "https://10.0.0.5:6443" };
    expect(sourceFor(api, true, new Map([["10.0.0.5", { namespace: "kube-system", pod: "kube-apiserver-cp" }]])).where).toBe("/api/v1/namespaces/kube-system/pods/kube-apiserver-cp/log");
    expect(sourceFor(api, true, new Map()).unavailable).toMatch(/cloud's logging service/);
    expect(sourceFor(pod, false, new Map())).toMatchObject({ kind: "none" });
  });
});

describe("sizes, names, sparklines", () => {
  it("parseBytes", () => {
    expect(parseBytes("100Mi")).toBe(100 * 1024 * 1024);
    expect(parseBytes("2G")).toBe(2e9);
    expect(parseBytes("8192")).toBe(8192);
    expect(() => parseBytes("1Ki")).toThrow(UsageError);
    expect(() => parseBytes("ten")).toThrow(/--max-bytes must be a size like 100Mi/);
  });
  it("stamp has no colons", () => {
    expect(stamp(new Date(Date.UTC(2026, 11, 6, 20, 11, 46, 500)))).toBe("20261206T201146Z");
  });
  it("sparkline: at most 20 characters, the largest slice the tallest bar", () => {
    expect(sparkline([1, 1, 10, 10])).toBe("▁▁██");
    expect(sparkline(new Array(60).fill(3)).length).toBe(20);
    expect(sparkline([0, 0])).toBe("▁▁");
    expect(sparkline([])).toBe("");
  });
});

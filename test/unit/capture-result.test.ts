import { describe, expect, it } from "vitest";
import { renderCaptureTable, type CaptureResult, type CaptureTarget } from "../../src/run/capture-result.js";

function row(id: string, node: string, over: Partial<CaptureTarget> = {}): CaptureTarget {
  return {
    id, component: "kubelet", node, namespace: null, pod: null, via: "node-proxy", endpoint: `/api/v1/nodes/${node}/proxy`, level: 6,
    ok: true, skipped: false, outcome: "set", httpStatus: 200, attempts: 1, message: "level set to 6", hint: null, durationMs: 5, errorCode: null,
    request: { method: "PUT", url: "u", body: "6", auth: "token" }, before: 2, restore: { ok: true, outcome: "set", level: 2, message: "level set to 2", httpStatus: 200, hint: null, at: null },
    set: { ok: true, outcome: "set", message: "level set to 6" }, source: "node-log-query", where: `/api/v1/nodes/${node}/proxy/logs/`, file: `${node}.log`,
    log: { outcome: "captured", message: "" }, bytes: 2048, lines: 40, linesBefore: 4, linesDuring: 30, linesAfter: 6,
    linesPerSecond: { before: 0.4, during: 3, after: 2 }, restarts: 0, reconnects: 0, truncated: false, queued: false, slices: [1, 2, 3], sparkline: "▁▄█",
    raisedAt: null, restoredAt: null, ...over,
  };
}
const down = (node: string): CaptureTarget =>
  row(`kubelet/${node}`, node, { ok: false, skipped: true, outcome: "node-not-ready", message: "node is NotReady", restore: null, log: { outcome: "not-followed", message: "" }, file: null, source: "none" });

const doc = (results: CaptureTarget[]): CaptureResult => ({
  apiVersion: "kvlog.dev/v1", kind: "CaptureResult", component: "kubelet", level: 6,
  window: { start: "", until: "", forSeconds: 30, stoppedBy: null, baselineSeconds: 10, afterSeconds: 3, sliceSeconds: 1 },
  out: "b", record: null, summary: { total: results.length, raised: 1, restored: 1, captured: 1, logsUnavailable: 0, failed: 0 }, warnings: [], results,
});

describe("capture's table", () => {
  const results = [row("kubelet/up-1", "up-1"), down("down-1"), down("down-2"), down("down-3")];
  it("collapses the targets skipped for one reason into one row, as set does", () => {
    const out = renderCaptureTable(doc(results), false);
    const lines = out.trim().split("\n");
    expect(lines).toHaveLength(3); // header, the captured target, one row for the three nodes that are down
    expect(out).toContain("kubelet/up-1");
    expect(out).toContain("0.4/s -> 3/s");
    expect(lines[2]).toMatch(/^3 targets: down-1, down-2, … \(-o wide lists them\)\s+node-not-ready/);
    expect(out).not.toContain("kubelet/down-2");
  });
  it("-o wide lists every target", () => {
    const out = renderCaptureTable(doc(results), false, true);
    expect(out.trim().split("\n")).toHaveLength(5);
    for (const n of ["down-1", "down-2", "down-3"]) expect(out).toContain(`kubelet/${n}`);
  });
});

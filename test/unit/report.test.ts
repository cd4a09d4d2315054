import { describe, expect, it } from "vitest";
import { cutShortInFlight, mayHaveChanged, type Result } from "../../src/outcomes.js";
import { buildReport, exitCode, jsonParts, renderJson, renderSummary, renderTable } from "../../src/report.js";

const r = (id: string, ok: boolean, extra: Partial<Result> = {}): Result => ({
  id, component: "kubelet", node: id.split("/")[1]!, namespace: null, pod: null, via: "node-proxy",
  endpoint: `https://127.0.0.1:6443/api/v1/nodes/${id.split("/")[1]}/proxy/debug/flags/v`, level: 4, ok, skipped: false, attempts: 1,
  outcome: ok ? "set" : "forbidden", httpStatus: ok ? 200 : 403, message: ok ? "level set to 4" : "forbidden (403)",
  hint: ok ? null : 'grant apiGroups [""] resources ["nodes/proxy"] verbs ["update"]', durationMs: 12, errorCode: null,
  request: { method: "PUT", url: "u", body: "4", auth: "client certificate (kubeconfig)" }, before: null, restore: null, ...extra,
});

describe("report", () => {
  const report = buildReport("kubelet", 4, false, [r("kubelet/a", true), r("kubelet/b", false), r("kubelet/c", false)]);

  it("summarises", () => {
    expect(report.summary).toEqual({ total: 3, succeeded: 1, failed: 2, skipped: 0 });
  });

  it("JSON is one document with the documented top-level fields", () => {
    const doc = JSON.parse(renderJson(report));
    expect(Object.keys(doc)).toEqual(["apiVersion", "kind", "component", "level", "dryRun", "forSeconds", "until", "record", "summary", "warnings", "results"]);
    expect(doc.apiVersion).toBe("kvlog.dev/v1");
    expect(Object.keys(doc.results[0]).sort()).toEqual(
      ["attempts", "before", "component", "durationMs", "endpoint", "errorCode", "hint", "httpStatus", "id", "level", "message", "namespace", "node", "ok", "outcome", "pod", "request", "restore", "skipped", "via"].sort(),
    );
  });

  it("JSON in pieces is byte for byte JSON.stringify's document, whatever the number of results", () => {
    for (const n of [0, 1, 2, 3, 450]) {
      const rep = buildReport("kubelet", 4, false, Array.from({ length: n }, (_, i) => r(`kubelet/n${i}`, i % 3 !== 0)));
      const whole = `${JSON.stringify(rep, null, 2)}\n`;
      expect([...jsonParts(rep, 2)].join("")).toBe(whole);
      expect(renderJson(rep)).toBe(whole);
    }
    expect([...jsonParts(buildReport("kubelet", 4, false, Array.from({ length: 450 }, (_, i) => r(`kubelet/n${i}`, true))))].length).toBe(5);
  });

  it("table: uppercase headers, one row per target, no colour codes when off", () => {
    const t = renderTable(report, false);
    const lines = t.trimEnd().split("\n");
    expect(lines[0]).toMatch(/^TARGET\s+NODE\s+VIA\s+RESULT\s+MESSAGE$/);
    expect(lines).toHaveLength(4);
    expect(lines[2]).toMatch(/^kubelet\/b\s+b\s+node-proxy\s+forbidden\s+forbidden \(403\)$/);
    expect(t).not.toMatch(/\x1b\[/);
  });

  it("table colours the result column when on", () => {
    expect(renderTable(report, true)).toMatch(/\x1b\[32mset/);
  });

  it("summary prints each hint once", () => {
    const s = renderSummary(report, false);
    expect(s).toMatch(/^kubelet: 2 of 3 target\(s\) failed, 1 set to level 4\n/);
    expect(s.match(/hint:/g)).toHaveLength(1);
  });

  it("dry-run table shows the request", () => {
    const dry = buildReport("kubelet", 4, true, [r("kubelet/a", true, { outcome: "dry-run", httpStatus: null })]);
    expect(renderTable(dry, false)).toContain('PUT "4" u (auth: client certificate (kubeconfig))');
    expect(renderSummary(dry, false)).toMatch(/^dry run: 1 of 1 target\(s\) would be set to level 4; nothing was sent/);
  });

  it("skipped targets (kubelet down) are counted apart: not failures, but a run that set nothing is not a success", () => {
    const down = r("kubelet/d", false, { outcome: "node-not-ready", skipped: true, httpStatus: null, attempts: 0, hint: null, message: "node is not Ready" });
    const mixed = buildReport("kubelet", 4, false, [r("kubelet/a", true), down]);
    expect(mixed.summary).toEqual({ total: 2, succeeded: 1, failed: 0, skipped: 1 });
    expect(exitCode(mixed)).toBe(0);
    expect(renderSummary(mixed, false)).toBe("kubelet: 1 of 2 target(s) set to level 4; 1 skipped, their node is not ready (--include-not-ready tries them)\n");
    const none = buildReport("kubelet", 4, false, [down]);
    expect(exitCode(none)).toBe(1);
    expect(renderSummary(none, false)).toMatch(/^kubelet: no target set to level 4; 1 skipped/);
    expect(exitCode(report)).toBe(1);
  });

  it("interrupted targets: the summary says which were not changed and which may have been (--timeout cut them after the PUT was sent)", () => {
    const cut = (id: string, sent: boolean): Result => ({ ...r(id, false), ...cutShortInFlight("--timeout 3s passed", sent), hint: null, httpStatus: null });
    const notReached = r("kubelet/e", false, { outcome: "interrupted", httpStatus: null, attempts: 0, hint: null, message: "not attempted: --timeout 3s passed before kvlog reached it (its level is unchanged)" });
    const rep = buildReport("kubelet", 4, false, [r("kubelet/a", true), cut("kubelet/b", true), cut("kubelet/c", false), notReached]);
    const s = renderSummary(rep, false);
    expect(s).toContain("interrupted: 2 target(s) not attempted, their level is unchanged\n");
    expect(s).toContain("interrupted: 1 target(s) sent the change but got no answer in time: it may have been applied\n");
    expect(exitCode(rep)).toBe(1);
    expect(rep.results.map(mayHaveChanged)).toEqual([true, true, false, false]);
  });

  it("a warning (replicas kvlog could not see) is printed and makes the run incomplete", () => {
    const rep = buildReport("kube-apiserver", 4, false, [r("kube-apiserver/a", true)], ["could not read the endpoints"]);
    expect(exitCode(rep)).toBe(1);
    expect(renderSummary(rep, false)).toContain("warning: could not read the endpoints\n");
    expect(JSON.parse(renderJson(rep)).warnings).toEqual(["could not read the endpoints"]);
  });
});

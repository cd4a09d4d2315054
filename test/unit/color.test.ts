// Colour: one rule (colorOn) and chalk only; a table paints only when colour is on.
import { describe, expect, it } from "vitest";
import { colorOn, table } from "../../src/report.js";
import { doctorTable, type ClusterResult } from "../../src/run/contexts.js";

describe("colour: only on a terminal, never with --no-color / NO_COLOR", () => {
  it("colorOn: wanted and a terminal, or FORCE_COLOR", () => {
    expect(colorOn(true, {}, { isTTY: true })).toBe(true);
    expect(colorOn(true, {}, { isTTY: false })).toBe(false);
    expect(colorOn(true, {}, {})).toBe(false);
    expect(colorOn(false, {}, { isTTY: true })).toBe(false); // --no-color or NO_COLOR
    expect(colorOn(true, { FORCE_COLOR: "1" }, { isTTY: false })).toBe(true);
    expect(colorOn(true, { FORCE_COLOR: "0" }, { isTTY: true })).toBe(false);
    expect(colorOn(false, { FORCE_COLOR: "1" }, { isTTY: true })).toBe(false);
  });

  it("a table's paint gets chalk, and is not called without colour", () => {
    let calls = 0;
    const paint = (s: string, _k: number, i: number, c: { yellow(s: string): string }): string => (calls++, i === 1 ? c.yellow(s) : s);
    expect(table(["A", "B"], [["x", "warn"]], true, paint)).toContain("\x1b[33mwarn\x1b[39m");
    const plain = table(["A", "B"], [["x", "warn"]], false, paint);
    expect(plain).not.toContain("\x1b[");
    expect(calls).toBe(2); // the coloured table's two cells only
  });

  it("doctor across clusters: red problems, yellow warnings, green ok; none without colour", () => {
    const finding = (ok: boolean, severity: "required" | "optional") => ({ component: "kubelet", check: "c", severity, ok, verdict: ok ? "ok" : "fail", message: "m", hint: null, target: null });
    const results: ClusterResult[] = [
      { context: "a", server: null, exitCode: 1, ok: false, error: null, result: { results: [finding(false, "required")] } },
      { context: "b", server: null, exitCode: 0, ok: true, error: null, result: { results: [finding(false, "optional")] } },
      { context: "c", server: null, exitCode: 0, ok: true, error: null, result: { results: [finding(true, "required")] } },
    ];
    const coloured = doctorTable(results, false, true);
    expect(coloured).toMatch(/\x1b\[31m1 problem\(s\) *\x1b\[39m/);
    expect(coloured).toMatch(/\x1b\[33m1 warning\(s\) *\x1b\[39m/);
    expect(coloured).toMatch(/\x1b\[32mok *\x1b\[39m/);
    expect(doctorTable(results, false, false)).not.toContain("\x1b[");
  });
});

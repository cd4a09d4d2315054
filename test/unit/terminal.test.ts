// escapeTerminal: the one place outside text is made safe to show (src/terminal.ts).
import { describe, expect, it } from "vitest";
import { table } from "../../src/report.js";
import { escapeTerminal, notes } from "../../src/terminal.js";

describe("escapeTerminal", () => {
  it("shows every C0 and C1 control, DEL and the bidi overrides as visible escapes, and leaves other text alone", () => {
    expect(escapeTerminal("\x1b]0;pwned\x07\x1b[2J\x1b[31mred")).toBe("\\x1b]0;pwned\\x07\\x1b[2J\\x1b[31mred");
    expect(escapeTerminal("a\rb\nc\td\x00e\x7ff\x9bg")).toBe("a\\rb\\nc\\td\\x00e\\x7ff\\x9bg");
    expect(escapeTerminal("user\u202egnp.exe\u2066x\u2069")).toBe("user\\u202egnp.exe\\u2066x\\u2069");
    const plain = "kube-proxy/kube-system/kube-proxy-aaaaa: level 3 — ünïcode ✓ 日本";
    expect(escapeTerminal(plain)).toBe(plain);
  });

  it("table cells are escaped before they are padded, so the columns line up; kvlog's own colours stay", () => {
    const out = table(["A", "B"], [["\x1b[2J", "x"], ["ok", "y"]], true, (s) => `\x1b[32m${s}\x1b[39m`);
    const [, first, second] = out.split("\n");
    expect(first).toContain("\\x1b[2J");
    expect(first!.indexOf("x\x1b")).toBe(second!.indexOf("y\x1b"));
    expect(out).toContain("\x1b[32m");
  });

  it("notes: one line per text, each escaped", () => {
    expect(notes("warning", ["a\x1b[31m", "b\nc"])).toBe("warning: a\\x1b[31m\nwarning: b\\nc\n");
  });
});

// The shape of src/ as its imports draw it: no import circle (type-only and dynamic imports
// included), the command definitions independent of the session that runs them, and the
// credentials code free of undici (so a kubeconfig can be read while undici loads).
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { describe, expect, it } from "vitest";

const SRC = resolve(import.meta.dirname, "../../src");

interface Edge {
  to: string;
  /** `import type` / `export type`: erased at run time. */
  typeOnly: boolean;
  dynamic: boolean;
}

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return sources(p);
    return p.endsWith(".ts") && !p.endsWith(".d.ts") ? [p] : [];
  });
}

/** Every import of a file: static (`import`/`export ... from`, type-only or not) and dynamic (`import("...")`). Packages keep their name. */
function importsOf(file: string, text: string): Edge[] {
  const edges: Edge[] = [];
  const target = (spec: string): string => (spec.startsWith(".") ? relative(SRC, resolve(dirname(file), spec.replace(/\.js$/, ".ts"))) : spec);
  for (const m of text.matchAll(/^\s*(import|export)\s+(type\s+)?[^;]*?\sfrom\s+"([^"]+)"/gm)) edges.push({ to: target(m[3]!), typeOnly: m[2] !== undefined, dynamic: false });
  for (const m of text.matchAll(/^\s*import\s+"([^"]+)"/gm)) edges.push({ to: target(m[1]!), typeOnly: false, dynamic: false });
  for (const m of text.matchAll(/\bimport\(\s*"([^"]+)"\s*\)/g)) edges.push({ to: target(m[1]!), typeOnly: false, dynamic: true });
  return edges;
}

function graph(): Map<string, Edge[]> {
  return new Map(sources(SRC).map((f) => [relative(SRC, f), importsOf(f, readFileSync(f, "utf8"))]));
}

/** Every circle in a graph of files, each as the path that closes it (`a.ts -> b.ts -> a.ts`). */
function cycles(g: Map<string, { to: string }[]>): string[] {
  const state = new Map<string, "open" | "done">();
  const path: string[] = [];
  const found: string[] = [];
  const visit = (n: string): void => {
    state.set(n, "open");
    path.push(n);
    for (const { to } of g.get(n) ?? []) {
      if (!g.has(to)) continue; // a package or a built-in
      if (state.get(to) === "open") found.push([...path.slice(path.indexOf(to)), to].join(" -> "));
      else if (!state.has(to)) visit(to);
    }
    path.pop();
    state.set(n, "done");
  };
  for (const n of [...g.keys()].sort()) if (!state.has(n)) visit(n);
  return found;
}

/** The modules a file loads when it is evaluated: its value imports, and theirs (dynamic and type-only ones left out). */
function loadedBy(g: Map<string, Edge[]>, file: string): Set<string> {
  const seen = new Set<string>();
  const walk = (n: string): void => {
    for (const e of g.get(n) ?? []) {
      if (e.typeOnly || e.dynamic || seen.has(e.to)) continue;
      seen.add(e.to);
      walk(e.to);
    }
  };
  walk(file);
  return seen;
}

describe("src/ imports", () => {
  const g = graph();

  it("are read: static, type-only and dynamic imports are all seen", () => {
    expect(g.get("api.ts")?.map((e) => e.to)).toContain("http.ts");
    expect(g.get("transport.ts")?.find((e) => e.to === "target.ts")?.typeOnly).toBe(true);
    expect(g.get("credentials.ts")?.find((e) => e.to === "kubeconfig.ts")?.dynamic).toBe(true);
  });

  it("the cycle finder finds a circle, a type-only one included", () => {
    const edge = (to: string) => ({ to });
    expect(cycles(new Map([["a.ts", [edge("b.ts")]], ["b.ts", [edge("c.ts"), edge("undici")]], ["c.ts", [edge("a.ts")]]]))).toEqual(["a.ts -> b.ts -> c.ts -> a.ts"]);
    expect(cycles(new Map([["a.ts", [edge("b.ts")]], ["b.ts", []]]))).toEqual([]);
  });

  it("draw no circle, not even through a type-only or a dynamic import", () => {
    expect(cycles(g)).toEqual([]);
  });

  it("http.ts, the bottom floor, imports nothing (its header says so)", () => {
    expect(g.get("http.ts")).toEqual([]);
  });

  it("the command definitions (src/commands/*) take nothing from the session or the runs", () => {
    const wrong = [...g].filter(([f]) => f.startsWith("commands/")).flatMap(([f, edges]) => edges.filter((e) => e.to === "session.ts" || e.to.startsWith("run/")).map((e) => `${f} -> ${e.to}`));
    expect(wrong).toEqual([]);
  });

  it("the credentials code loads no undici, nor any module that does", () => {
    for (const file of ["credentials.ts", "access.ts"]) {
      const loaded = [...loadedBy(g, file)];
      expect(loaded.filter((m) => m.startsWith("undici")), file).toEqual([]);
      expect(loaded, file).not.toContain("dispatch.ts");
    }
    // The check can fail: the API client does load undici.
    expect([...loadedBy(g, "api.ts")].some((m) => m.startsWith("undici"))).toBe(true);
  });
});

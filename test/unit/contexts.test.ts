// Choosing contexts (names, globs, --all-contexts), kubectl's merge of KUBECONFIG lists, the exit
// code of a run over several clusters, and the runner itself with a stand-in for a command's run:
// the bound on clusters at once, one wait for `set --for` (slots given back while waiting, one
// countdown), and an interrupt that ends every wait.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { chooseContexts, contextDirName, globToRegExp, readContexts } from "../../src/contexts.js";
import { closest } from "../../src/suggest.js";
import { mergeKubeconfig } from "../../src/kubeconfig.js";
import { collapseSkipped, isGroup } from "../../src/report.js";
import { combinedExitCode, doctorTable, runOnContexts } from "../../src/run/contexts.js";
import { parseArgs, type Io } from "../../src/cli.js";
import type { SetRequest } from "../../src/commands/set.js";
import { UsageError } from "../../src/errors.js";

const dir = mkdtempSync(join(tmpdir(), "kvlog-contexts-unit-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function kubeconfig(name: string, contexts: string[], current = ""): string {
  const file = join(dir, name);
  const doc = {
    apiVersion: "v1",
    kind: "Config",
    clusters: contexts.map((c) => ({ name: c, cluster: { server: `https://user:pw@${c}.example:6443` } })),
    users: contexts.map((c) => ({ name: c, user: { token: `token-${c}` } })),
    contexts: contexts.map((c) => ({ name: c, context: { cluster: c, user: c } })),
    "current-context": current,
  };
  writeFileSync(file, JSON.stringify(doc));
  return file;
}

const KNOWN = ["prod-eu", "prod-us", "staging-eu", "staging-us", "dev"];

describe("choosing contexts", () => {
  it("names, globs and --all-contexts, in the kubeconfig's order, each once", () => {
    expect(chooseContexts("all", KNOWN, "kubeconfig k")).toEqual(KNOWN);
    expect(chooseContexts(["staging-us", "prod-*"], KNOWN, "kubeconfig k")).toEqual(["prod-eu", "prod-us", "staging-us"]);
    expect(chooseContexts(["*-eu", "prod-eu"], KNOWN, "kubeconfig k")).toEqual(["prod-eu", "staging-eu"]);
    expect(chooseContexts(["staging-[!e]*"], KNOWN, "kubeconfig k")).toEqual(["staging-us"]);
    expect(chooseContexts(["de?"], KNOWN, "kubeconfig k")).toEqual(["dev"]);
  });

  it("an unknown name or a glob that matches nothing is a usage error naming the closest contexts", () => {
    expect(() => chooseContexts(["prod-e"], KNOWN, "kubeconfig k")).toThrow(new UsageError('context "prod-e" is not in the kubeconfig k; did you mean prod-eu, prod-us? (kubectl config get-contexts lists them all)'));
    expect(() => chooseContexts(["qa-*"], KNOWN, "kubeconfig k")).toThrow(/^--context 'qa-\*' matches no context in the kubeconfig k; known: prod-eu, prod-us, staging-eu, staging-us, dev$/);
    expect(() => chooseContexts("all", [], "kubeconfig k")).toThrow(/has no contexts/);
  });

  it("globs: * ? [..] [!..], every other character literal (a dot is a dot)", () => {
    expect(globToRegExp("a.b*").test("a.bc")).toBe(true);
    expect(globToRegExp("a.b*").test("axbc")).toBe(false);
    expect(globToRegExp("arn:aws:eks:*:cluster/prod").test("arn:aws:eks:eu-west-1:1:cluster/prod")).toBe(true);
    expect(globToRegExp("x[").test("x[")).toBe(true);
    expect(globToRegExp("(a)+").test("(a)+")).toBe(true);
  });

  it("a context's directory name (capture --out DIR/<context>): no separators, no dot-only names, each once", () => {
    const taken = new Set<string>();
    expect(contextDirName("arn:aws:eks:eu-west-1:1:cluster/prod", taken)).toBe("arn_aws_eks_eu-west-1_1_cluster_prod");
    expect(contextDirName("arn:aws:eks:eu-west-1:1:cluster_prod", taken)).toBe("arn_aws_eks_eu-west-1_1_cluster_prod-2");
    expect(contextDirName("..", taken)).toBe("_..");
    expect(contextDirName("../../etc", taken)).toBe(".._.._etc");
    expect(contextDirName("a\u001b[2Jb", taken)).toBe("a__2Jb");
  });

  it("contexts whose names differ only in case get directories of their own (one directory on a case-insensitive disk: macOS, Windows)", () => {
    const taken = new Set<string>();
    expect(contextDirName("Prod", taken)).toBe("Prod");
    expect(contextDirName("prod", taken)).toBe("prod-2");
    expect(contextDirName("PROD", taken)).toBe("PROD-3");
    expect(contextDirName("prod-2", taken)).toBe("prod-2-2");
  });

  it("closest: near names first, far ones never", () => {
    expect(closest("stagng-eu", KNOWN)).toEqual(["staging-eu", "staging-us"]);
    expect(closest("zzzzzz", KNOWN)).toEqual([]);
  });
});

describe("KUBECONFIG lists, merged as kubectl merges them", () => {
  it("a name in a later file is the first file's; the first current-context wins; new names are added", () => {
    const into = { clusters: [{ name: "a", v: 1 }], users: [{ name: "a", v: 1 }], contexts: [{ name: "a", v: 1 }], currentContext: "" };
    mergeKubeconfig(into, { clusters: [{ name: "a", v: 2 }, { name: "b", v: 2 }], users: [{ name: "a", v: 2 }], contexts: [{ name: "b", v: 2 }, { name: "b", v: 3 }], currentContext: "b" } as never);
    expect(into).toEqual({
      clusters: [{ name: "a", v: 1 }, { name: "b", v: 2 }],
      users: [{ name: "a", v: 1 }],
      contexts: [{ name: "a", v: 1 }, { name: "b", v: 2 }],
      currentContext: "b",
    });
    mergeKubeconfig(into, { clusters: [], users: [], contexts: [], currentContext: "c" });
    expect(into.currentContext).toBe("b");
  });

  it("readContexts: every file of KUBECONFIG, servers without user:password", async () => {
    const one = kubeconfig("one", ["x", "y"]);
    const two = kubeconfig("two", ["y", "z"]);
    const { contexts, source } = await readContexts(undefined, { KUBECONFIG: `${one}:${two}` });
    expect(contexts).toEqual([
      { name: "x", server: "https://x.example:6443" },
      { name: "y", server: "https://y.example:6443" },
      { name: "z", server: "https://z.example:6443" },
    ]);
    expect(source).toBe(`kubeconfig ${one}:${two}`);
    await expect(readContexts(join(dir, "missing"), {})).rejects.toThrow(/cannot read kubeconfig .*missing: file not found/);
  });
});

describe("the exit code of several clusters", () => {
  it.each([
    [[0, 0, 0], undefined, 0],
    [[0, 1, 0], undefined, 1],
    [[0, 2], undefined, 1], // partial failure is 1, whatever the failed cluster's own code
    [[0, 3], undefined, 1],
    [[2, 2], undefined, 2], // every cluster failed the same way: that way's code
    [[3, 3, 3], undefined, 3],
    [[2, 3], undefined, 1],
    [[0, 0], "SIGINT", 130],
    [[130, 143], "SIGTERM", 143],
    [[0, 1], "SIGTERM", 1], // a cluster that failed (a level not put back, say) wins over the interrupt, as for one cluster
  ])("%j %s -> %i", (codes, signal, code) => expect(combinedExitCode(codes, signal)).toBe(code));
});

describe("collapsing skipped targets", () => {
  const r = (id: string, skipped: boolean, message = "m") => ({ id, node: id, skipped, outcome: skipped ? "node-not-ready" : "set", message });
  it("one row per reason with two or more targets, after the others; a lone skipped target stays a row; wide keeps all", () => {
    const rows = [r("a", false), r("b", true, "down"), r("c", true, "down"), r("d", true, "never"), r("e", false)];
    const out = collapseSkipped(rows, false);
    expect(out.map((x) => (isGroup(x) ? x.skipped.map((s) => s.id).join("+") : x.id))).toEqual(["a", "d", "e", "b+c"]);
    expect(collapseSkipped(rows, true)).toEqual(rows);
  });
});

describe("doctor across clusters", () => {
  it("one row per cluster and component, problems first, then warnings, then ok", () => {
    const f = (component: string, ok: boolean, severity: "required" | "optional", message = "") => ({ component, check: "c", severity, ok, verdict: ok ? "ok" : "x", message, hint: null, target: null });
    const out = doctorTable(
      [
        { context: "a", server: null, exitCode: 0, ok: true, error: null, result: { results: [f("kubelet", true, "required"), f("kube-proxy", false, "optional", "warn")] } },
        { context: "b", server: null, exitCode: 1, ok: false, error: null, result: { results: [f("kubelet", false, "required", "broken"), f("kube-proxy", true, "required")] } },
        { context: "c", server: null, exitCode: 1, ok: false, error: "unreachable", result: null },
      ],
      false,
      false,
    );
    expect(out.trimEnd().split("\n").map((l) => l.split(/\s{3,}/).slice(0, 3))).toEqual([
      ["CONTEXT", "COMPONENT", "RESULT"],
      ["c", "-", "not-checked"],
      ["b", "kubelet", "1 problem(s)"],
      ["a", "kube-proxy", "1 warning(s)"],
      ["a", "kubelet", "ok"],
      ["b", "kube-proxy", "ok"],
    ]);
  });
});

describe("the runner", () => {
  const io = (tty = false): Io & { out: string[]; err: string[] } => {
    const out: string[] = [];
    const err: string[] = [];
    return { out, err, stdout: { write: (s: string) => out.push(s), isTTY: tty }, stderr: { write: (s: string) => err.push(s), isTTY: tty }, env: {} };
  };
  const file = kubeconfig("ten", Array.from({ length: 10 }, (_, i) => `c${i}`));
  const parse = (...args: string[]) => parseArgs(["set", "kubelet", "3", "--kubeconfig", file, ...args], io()) as SetRequest;

  it("at most --context-concurrency clusters at once; each run gets its own context and the command's own output", async () => {
    let now = 0;
    let peak = 0;
    const seen: string[] = [];
    const sink = io();
    const code = await runOnContexts(parse("--all-contexts", "--context-concurrency", "3", "-o", "json"), sink, async (req, child) => {
      peak = Math.max(peak, ++now);
      seen.push(req.context!);
      expect(req.contexts).toBeUndefined();
      await new Promise((r) => setTimeout(r, 20));
      now--;
      child.stdout.write(JSON.stringify({ kind: "SetResult", context: req.context }));
      child.stderr.write(`kubelet: set in ${req.context}\n`);
      if (req.context === "c4") throw new UsageError("no such thing");
      return 0;
    });
    expect(peak).toBe(3);
    expect(seen.sort()).toEqual(Array.from({ length: 10 }, (_, i) => `c${i}`).sort());
    expect(code).toBe(1);
    const doc = JSON.parse(sink.out.join(""));
    expect(doc.clusters.map((c: any) => [c.context, c.exitCode, c.result?.context ?? null])).toEqual(
      Array.from({ length: 10 }, (_, i) => [`c${i}`, i === 4 ? 2 : 0, `c${i}`]),
    );
    expect(doc.clusters[4]).toMatchObject({ error: "no such thing", ok: false });
    expect(doc.clusters[0].server).toBe("https://c0.example:6443");
  });

  it("set --for: a waiting cluster gives its slot back, one countdown on a terminal, and an interrupt ends every wait", async () => {
    const ctl = new AbortController();
    const sink = { ...io(true), signal: ctl.signal };
    let waiting = 0;
    const restored: string[] = [];
    const run = runOnContexts(parse("--all-contexts", "--context-concurrency", "2"), sink, async (req, child) => {
      waiting++;
      const why = await child.waitTogether!(new Date(Date.now() + 600_000), 2, "kubelet at level 3");
      restored.push(req.context!);
      return why === "SIGTERM" ? 143 : 0;
    });
    // The interrupt comes once ten clusters wait, or after 10 s: it does not depend on the count it checks.
    for (const end = Date.now() + 10_000; waiting < 10 && Date.now() < end; ) await new Promise((r) => setTimeout(r, 10));
    ctl.abort("SIGTERM");
    const code = await run;
    // With a bound of 2, ten clusters reached the wait only because each gave its slot back.
    expect(waiting).toBe(10);
    expect(restored).toHaveLength(10);
    expect(code).toBe(143);
    const countdown = sink.err.filter((s) => s.includes("back in"));
    expect(countdown.length).toBeGreaterThan(0);
    expect(countdown.at(-1)).toMatch(/kubelet at level 3: \d+ target\(s\) in \d+ cluster\(s\); back in (9m5\ds|10m) \(Ctrl-C puts every cluster back now\)/);
  });

  it("an interrupt before a cluster's turn: it is not started, and says so", async () => {
    const ctl = new AbortController();
    const sink = { ...io(), signal: ctl.signal };
    const started: string[] = [];
    const code = await runOnContexts(parse("--all-contexts", "--context-concurrency", "1", "-o", "json"), sink, async (req, child) => {
      started.push(req.context!);
      ctl.abort("SIGINT");
      child.stdout.write("{}");
      return 130;
    });
    expect(started).toEqual(["c0"]);
    expect(code).toBe(130);
    const doc = JSON.parse(sink.out.join(""));
    expect(doc.clusters[1]).toMatchObject({ context: "c1", exitCode: 130, error: expect.stringMatching(/^not started: interrupted/), result: null });
  });
});

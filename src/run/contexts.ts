// A run over several clusters (--context a,b / 'prod-*' / --all-contexts): one session per
// context, each with its own kubeconfig user (credentials, exec plugin), proxy, TLS settings,
// record and fan-out, --context-concurrency of them at once. Each cluster runs the command's own
// run unchanged (src/run/X.ts, given that cluster's context and an Io that collects its output);
// this module only bounds them, lets `set --for` wait once for all of them, and prints one
// report: the table grouped by cluster with one summary line each and a total, or one JSON
// document (MultiClusterResult) that holds each cluster's own document. A cluster that cannot be
// reached, refuses the credentials or times out is one line of its own; it never stops the others.

import { Chalk } from "chalk";
import { join } from "node:path";
import { chooseContexts, contextDirName, readContexts } from "../contexts.js";
import { KvlogError, UsageError } from "../errors.js";
import { formatDuration, type AccessRequest } from "../options.js";
import { colorOn, JSON_API_VERSION, table } from "../report.js";
import { escapeTerminal } from "../terminal.js";
import type { Io } from "../io.js";
import { Slots } from "../slots.js";
import type { Finding } from "./doctor.js";
import { signalName, waitUntil } from "./timed.js";

/** One cluster's part of `-o json` (`clusters[]` of MultiClusterResult). */
export interface ClusterResult {
  context: string;
  /** The cluster's server URL from the kubeconfig (user:password removed). */
  server: string | null;
  /** The exit code this cluster's run alone would have had. */
  exitCode: number;
  ok: boolean;
  /** Why the run ended before a report (unreachable, credentials refused, usage): one line; null when it reported. */
  error: string | null;
  /** The document `kvlog <command> -o json --context <context>` prints (SetResult, GetResult, ...), null when there is none. */
  result: unknown;
}

interface Finished extends ClusterResult {
  /** What the cluster's run wrote to stdout (its table or JSON document; emptied once printed) and stderr (its summary lines). */
  out: string;
  err: string[];
}

type Runnable = AccessRequest & { command: string; endpoint?: URL | undefined; forMs?: number | undefined; out?: string | undefined };

/** Exit code of a run over several clusters: 0 when every cluster's is 0; see docs/many-clusters.md. */
export function combinedExitCode(codes: number[], interrupted: string | undefined): number {
  // As for one cluster, a failure (a level not put back, say) wins over the interrupt.
  if (interrupted) return codes.some((c) => c !== 0 && c !== 130 && c !== 143) ? 1 : interrupted === "SIGTERM" ? 143 : 130;
  const failed = codes.filter((c) => c !== 0);
  if (failed.length === 0) return 0;
  // Every cluster failed the same way: that way's code (2 usage/configuration, 3 nothing matched);
  // any other mix, a partial failure included, is 1.
  return failed.length === codes.length && failed.every((c) => c === failed[0]) ? failed[0]! : 1;
}

/** A stream that keeps what a cluster's run writes. */
function collector(isTTY: boolean | undefined): { write(s: string): boolean; isTTY?: boolean; text(): string } {
  const parts: string[] = [];
  return { write: (s: string) => (parts.push(s), true), isTTY, text: () => parts.join("") };
}

export async function runOnContexts<R extends Runnable>(req: R, io: Io, one: (req: R, io: Io) => Promise<number>): Promise<number> {
  if (req.endpoint !== undefined) throw new UsageError("--endpoint names one target: it cannot be combined with several contexts; drop --endpoint or name one --context");
  // Nothing is sent before every context is known to exist.
  const { source, contexts } = await readContexts(req.kubeconfig, io.env);
  const names = chooseContexts(req.contexts!, contexts.map((c) => c.name), source);
  const servers = new Map(contexts.map((c) => [c.name, c.server]));
  // A command that writes files (capture --out DIR): each cluster in a directory of its own under DIR.
  const taken = new Set<string>();
  const outs = new Map(names.map((n) => [n, typeof req.out === "string" ? join(req.out, contextDirName(n, taken)) : undefined]));
  const now = (): number => io.now?.() ?? Date.now();
  const json = req.output === "json";
  // doctor's table across clusters is one row per cluster and component, built from its JSON.
  const childOutput = json || req.command === "doctor" ? "json" : "table";
  // At most --context-concurrency clusters hold a slot (discovery and changes); a waiting `set --for` gives its slot back.
  const slots = new Slots(req.contextConcurrency);
  const tty = io.stderr.isTTY === true;
  const chalk = new Chalk({ level: colorOn(req.color, io.env, io.stderr) ? 1 : 0 });
  const chalkOut = new Chalk({ level: colorOn(req.color, io.env, io.stdout) ? 1 : 0 });

  // Progress (a terminal only): clusters done, and during `set --for` one countdown for all.
  let done = 0;
  const waiting = new Map<string, { until: number; count: number | undefined; what: string }>();
  let ticker: NodeJS.Timeout | undefined;
  const status = (): void => {
    if (!tty) return;
    if (waiting.size > 0) {
      const last = Math.max(...[...waiting.values()].map((w) => w.until));
      const counts = [...waiting.values()].map((w) => w.count);
      const targets = counts.every((c) => c !== undefined) ? `${counts.reduce((n, c) => n + c!, 0)} target(s) in ` : "";
      const what = [...new Set([...waiting.values()].map((w) => w.what))].join(", ");
      io.stderr.write(`\r\x1b[2K${escapeTerminal(what)}: ${targets}${waiting.size} cluster(s); back in ${formatDuration(last - now())} (Ctrl-C puts every cluster back now)`);
    } else if (!json) io.stderr.write(`\r\x1b[2K${req.command}: ${done}/${names.length} cluster(s) done…`);
  };
  let restoring = 0;
  // Clusters that changed levels with --for and have not finished (their restore may still be
  // queued for a slot). Ctrl-C while any is pending holds main() in "restoring" until every run
  // is done, so a second Ctrl-C cannot quit with a cluster still raised.
  const timed = new Set<string>();
  let holding = false;
  const onInterrupt = (): void => {
    if (timed.size === 0 && restoring === 0) return;
    holding = true;
    io.restoring?.(true);
  };
  io.signal?.addEventListener("abort", onInterrupt, { once: true });

  const runOne = async (context: string): Promise<Finished> => {
    const base = { context, server: servers.get(context) ?? null };
    let release: (() => void) | undefined = await slots.acquire();
    try {
      if (io.signal?.aborted) {
        return { ...base, exitCode: 130, ok: false, error: "not started: interrupted before this cluster's turn; nothing was sent to it", result: null, out: "", err: [] };
      }
      const stdout = collector(io.stdout.isTTY);
      const stderr = collector(false);
      const childIo: Io = {
        stdout,
        stderr,
        env: io.env,
        signal: io.signal,
        collectGarbage: io.collectGarbage,
        now: io.now,
        restoring: (on) => {
          restoring += on ? 1 : -1;
          if (holding) return;
          if ((on && restoring === 1) || (!on && restoring === 0)) io.restoring?.(on);
        },
        waitTogether: async (until, count, what) => {
          timed.add(context);
          release?.();
          release = undefined;
          waiting.set(context, { until: until.getTime(), count, what: what ?? req.command });
          if (tty && !ticker) ticker = setInterval(status, 1000);
          status();
          const why = await waitUntil(until.getTime() - now(), io.signal);
          waiting.delete(context);
          release = await slots.acquire(); // putting back is bounded like changing
          return why;
        },
      };
      let exitCode: number;
      let error: string | null = null;
      try {
        const child = { ...req, context, contexts: undefined, output: childOutput, wide: req.wide };
        if (typeof req.out === "string") child.out = outs.get(context);
        exitCode = await one(child, childIo);
      } catch (e) {
        exitCode = e instanceof KvlogError ? e.exitCode : 1;
        error = e instanceof KvlogError ? e.message : `unexpected error: ${(e as Error).message ?? String(e)}`;
      }
      let out = stdout.text();
      if (childOutput === "json" && out) {
        try {
          JSON.parse(out); // one whole document, embedded as it is when printed
        } catch {
          error ??= "its report could not be read back";
          out = "";
        }
      }
      const err = stderr.text().split("\n").filter((l) => l.trim() !== "" && !l.startsWith("\r"));
      // doctor's table needs every cluster's findings at the end; the rest is printed as soon as it can be.
      const result = req.command === "doctor" && !json && out ? (JSON.parse(out) as unknown) : null;
      return { ...base, exitCode, ok: exitCode === 0, error, result, out, err };
    } finally {
      timed.delete(context);
      release?.();
      done++;
      if (waiting.size === 0) status();
    }
  };

  // Each cluster is printed once it and every cluster before it (kubeconfig order) are done,
  // then its output is let go: memory holds the clusters finished out of order, not the run.
  const finished: (Finished | undefined)[] = new Array(names.length);
  let next = 0;
  let blocks = 0;
  const print = (r: Finished): void => {
    if (json) {
      if (next === 0) io.stdout.write(`{\n  "apiVersion": ${JSON.stringify(JSON_API_VERSION)},\n  "kind": "MultiClusterResult",\n  "command": ${JSON.stringify(req.command)},\n  "clusters": [\n`);
      io.stdout.write(`${next > 0 ? ",\n" : ""}${clusterJson(r)}`);
    } else if (req.command !== "doctor" && r.out) {
      if (tty) io.stderr.write("\r\x1b[2K");
      io.stdout.write(`${blocks++ > 0 ? "\n" : ""}${chalkOut.bold(`CONTEXT ${escapeTerminal(r.context)}`)} (${escapeTerminal(r.server ?? "no server")})\n${r.out}`);
      status();
    }
    r.out = "";
  };
  const results: Finished[] = [];
  try {
    status();
    await Promise.all(
      names.map(async (name, i) => {
        finished[i] = await runOne(name);
        for (; next < names.length && finished[next]; next++) print(finished[next]!);
      }),
    );
    results.push(...(finished as Finished[]));
  } finally {
    clearInterval(ticker);
    if (tty) io.stderr.write("\r\x1b[2K");
    io.signal?.removeEventListener("abort", onInterrupt);
    if (holding) io.restoring?.(false);
  }

  const failed = results.filter((r) => !r.ok);
  const summary = { clusters: results.length, succeeded: results.length - failed.length, failed: failed.length };
  if (json) io.stdout.write(`\n  ],\n  "summary": ${JSON.stringify(summary, null, 2).replaceAll("\n", "\n  ")}\n}\n`);
  else if (req.command === "doctor") io.stdout.write(doctorTable(results, req.wide, chalkOut.level > 0));

  // stderr: one summary line per cluster (problems first), the lines each added, each hint once, the total.
  const hints = new Set<string>();
  const order = [...failed, ...results.filter((r) => r.ok)];
  for (const r of order) {
    const name = escapeTerminal(r.context);
    // "recorded in ..." is the same news for every cluster; the record's name is in -o json.
    const lines = r.err.filter((l) => !l.startsWith("hint: ") && !l.startsWith("warning: level ") && !l.startsWith("recorded in "));
    for (const l of r.err) if (l.startsWith("hint: ")) hints.add(l);
    const first = r.error !== null ? `${escapeTerminal(r.error)} (exit ${r.exitCode})` : (lines.shift() ?? (r.ok ? "done" : `exit ${r.exitCode}`));
    io.stderr.write(`${r.ok ? chalk.green(name) : chalk.red(name)}: ${first}\n`);
    if (!json) for (const l of lines) io.stderr.write(`${name}: ${l}\n`);
  }
  const noisy = results.flatMap((r) => r.err).find((l) => l.startsWith("warning: level "));
  if (noisy) io.stderr.write(`${noisy}\n`);
  for (const h of hints) io.stderr.write(`${h}\n`);
  const interrupted = io.signal?.aborted ? signalName(io.signal) : undefined;
  const code = combinedExitCode(
    results.map((r) => r.exitCode),
    interrupted,
  );
  const total = `${summary.clusters} cluster(s): ${summary.succeeded} succeeded, ${summary.failed} failed${failed.length ? ` (${failed.map((r) => escapeTerminal(r.context)).slice(0, 5).join(", ")}${failed.length > 5 ? ", …" : ""})` : ""}; exit ${code}`;
  io.stderr.write(`${failed.length ? chalk.red(total) : chalk.green(total)}\n`);
  return code;
}

/** One entry of MultiClusterResult's clusters[], with the cluster's own document (printed by its run) as `result`. */
function clusterJson(r: Finished): string {
  const meta = JSON.stringify({ context: r.context, server: r.server, exitCode: r.exitCode, ok: r.ok, error: r.error, result: null } satisfies ClusterResult, null, 2);
  const result = r.out ? r.out.trim().replaceAll("\n", "\n  ") : "null";
  // A function, not a string, as the replacement: a "$&" or "$'" in a cluster's document is text.
  return `    ${meta.replace(/"result": null\n}$/, () => `"result": ${result}\n}`).replaceAll("\n", "\n    ")}`;
}

/**
 * doctor across clusters: one row per cluster and component (every finding with -o wide),
 * problems first (a cluster that could not be checked at all, as one row, before any), then
 * warnings, then what is fine.
 */
export function doctorTable(results: ClusterResult[], wide: boolean, color: boolean): string {
  const rows: { rank: number; cells: string[] }[] = [];
  for (const r of results) {
    const doc = r.result as { results?: Finding[] } | null;
    if (!doc?.results) {
      rows.push({ rank: -1, cells: [r.context, "-", "not-checked", r.error ?? `exit ${r.exitCode}`] });
      continue;
    }
    const byComponent = new Map<string, Finding[]>();
    for (const f of doc.results) byComponent.set(f.component, [...(byComponent.get(f.component) ?? []), f]);
    for (const [component, findings] of byComponent) {
      if (wide) {
        for (const f of findings) {
          const rank = f.ok ? 2 : f.severity === "required" ? 0 : 1;
          rows.push({ rank, cells: [r.context, component, f.verdict, `${f.target ? f.target.id.slice(component.length + 1) : f.check}${f.message ? `: ${f.message}` : ""}${f.hint ? `; ${f.hint}` : ""}`] });
        }
        continue;
      }
      const problems = findings.filter((f) => !f.ok && f.severity === "required");
      const warnings = findings.filter((f) => !f.ok && f.severity === "optional");
      const first = problems[0] ?? warnings[0];
      const detail = first
        ? `${first.target ? first.target.id.slice(component.length + 1) : first.check}: ${first.message}${first.hint ? `; ${first.hint}` : ""}${problems.length + warnings.length > 1 ? ` (+${problems.length + warnings.length - 1} more: -o wide)` : ""}`
        : `${findings.length} check(s) ok`;
      rows.push({ rank: problems.length ? 0 : warnings.length ? 1 : 2, cells: [r.context, component, problems.length ? `${problems.length} problem(s)` : warnings.length ? `${warnings.length} warning(s)` : "ok", detail] });
    }
  }
  const sorted = rows.map((row, i) => ({ ...row, i })).sort((a, b) => a.rank - b.rank || a.i - b.i);
  return table(["CONTEXT", "COMPONENT", "RESULT", "DETAIL"], sorted.map((r) => r.cells), color, (s, k, i, c) => {
    if (i !== 2) return s;
    const rank = sorted[k]!.rank;
    return rank <= 0 ? c.red(s) : rank === 1 ? c.yellow(s) : c.green(s);
  });
}

// report: results -> a table (terminal) or one JSON document (pipes, scripts).
// Both render the same Result objects; the JSON shape is a public API (README "JSON output").

import { Chalk, type ChalkInstance } from "chalk";
import { mayHaveChanged, type Result } from "./outcomes.js";
import { escapeTerminal } from "./terminal.js";

export const JSON_API_VERSION = "kvlog.dev/v1";

/** Where the change was recorded (README "The record"). */
export interface RecordNote {
  /** namespace/name of the ConfigMap. */
  name: string;
  written: boolean;
  /** The change's key in the record. */
  change: string | null;
  /** The user as the apiserver sees it. */
  by: string | null;
  error: string | null;
}

export interface Report {
  apiVersion: typeof JSON_API_VERSION;
  kind: "SetResult";
  component: string;
  level: number;
  dryRun: boolean;
  /** --for in seconds, and when the levels were due back (null without --for). */
  forSeconds: number | null;
  until: string | null;
  /** The record written (null with --no-record, --dry-run, or when nothing was set). */
  record: RecordNote | null;
  summary: { total: number; succeeded: number; failed: number; skipped: number };
  /** What discovery could not see (e.g. the apiserver replicas); the run is then not a full success. */
  warnings: string[];
  results: Result[];
}

/** The exit code of a finished run: 0 when every target that was tried is set (and at least one was). */
export function exitCode(report: Report): number {
  return report.summary.failed === 0 && report.warnings.length === 0 && (report.summary.succeeded > 0 || report.summary.total === 0) ? 0 : 1;
}

export function buildReport(
  component: string,
  level: number,
  dryRun: boolean,
  results: Result[],
  warnings: string[] = [],
  extra: { forSeconds: number | null; until: string | null; record: RecordNote | null } = { forSeconds: null, until: null, record: null },
): Report {
  const succeeded = results.filter((r) => r.ok).length;
  const skipped = results.filter((r) => r.skipped).length;
  return {
    apiVersion: JSON_API_VERSION,
    kind: "SetResult",
    component,
    level,
    dryRun,
    ...extra,
    summary: { total: results.length, succeeded, failed: results.length - succeeded - skipped, skipped },
    warnings,
    results,
  };
}

export function renderJson(report: Report): string {
  return [...jsonParts(report)].join("");
}

/**
 * The JSON document in pieces of a few hundred results, exactly as renderJson prints it, so a
 * 5,000-target report is never one string of several MB in memory.
 */
export function* jsonParts(report: { results: unknown[] }, perPart = 200): Generator<string> {
  if (report.results.length === 0) {
    yield `${JSON.stringify(report, null, 2)}\n`;
    return;
  }
  const head = JSON.stringify({ ...report, results: [] }, null, 2);
  yield `${head.slice(0, head.lastIndexOf("[]"))}[\n`;
  for (let i = 0; i < report.results.length; i += perPart) {
    yield report.results
      .slice(i, i + perPart)
      .map((r, k) => `    ${JSON.stringify(r, null, 2).replaceAll("\n", "\n    ")}${i + k < report.results.length - 1 ? "," : ""}\n`)
      .join("");
  }
  yield "  ]\n}\n";
}

/**
 * Whether what goes to `stream` is coloured: the one rule. `wanted` is false with --no-color or
 * NO_COLOR (options.ts); then only a terminal, unless FORCE_COLOR says otherwise.
 */
export function colorOn(wanted: boolean, env: NodeJS.ProcessEnv, stream: { isTTY?: boolean }): boolean {
  return wanted && (env.FORCE_COLOR ? env.FORCE_COLOR !== "0" : stream.isTTY === true);
}

/**
 * Columns padded to their widest cell, UPPERCASE headers in bold; `paint` colours a cell with the
 * chalk it is given (called only when `color`). Every cell is made safe for a terminal first
 * (cells hold what the cluster says), so widths are right.
 */
export function table(headers: string[], cells: string[][], color: boolean, paint?: (cell: string, row: number, col: number, chalk: ChalkInstance) => string): string {
  const chalk = new Chalk({ level: color ? 1 : 0 });
  const rows = cells.map((row) => row.map(escapeTerminal));
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[], p?: (s: string, i: number) => string): string =>
    cells
      .map((cell, i) => {
        const padded = i === cells.length - 1 ? cell : cell.padEnd(widths[i]!);
        return p ? p(padded, i) : padded;
      })
      .join("   ")
      .trimEnd();
  const out = [line(headers, (s) => chalk.bold(s))];
  rows.forEach((row, k) => out.push(line(row, paint ? (s, i) => (color ? paint(s, k, i, chalk) : s) : undefined)));
  return `${out.join("\n")}\n`;
}

/** What a target row shows about targets skipped for one reason: how many, and a few of them. */
export interface SkippedGroup<T> {
  skipped: T[];
}

/**
 * The rows of a table: every target that was changed, failed or tried, and the targets skipped
 * for the same reason (outcome and message: nodes that are down) as one row with a count, after
 * them, unless `wide` (-o wide lists every target). A reason with one target stays its own row.
 * JSON always keeps every target.
 */
export function collapseSkipped<T extends { skipped: boolean; outcome: string; message: string }>(results: T[], wide: boolean): (T | SkippedGroup<T>)[] {
  if (wide) return results;
  const groups = new Map<string, T[]>();
  for (const r of results) if (r.skipped) groups.set(`${r.outcome}\n${r.message}`, [...(groups.get(`${r.outcome}\n${r.message}`) ?? []), r]);
  const many = new Set([...groups.values()].filter((g) => g.length > 1).flat());
  return [...results.filter((r) => !many.has(r)), ...[...groups.values()].filter((g) => g.length > 1).map((skipped) => ({ skipped }))];
}

export const isGroup = <T>(row: T | SkippedGroup<T>): row is SkippedGroup<T> => typeof row === "object" && row !== null && Array.isArray((row as SkippedGroup<T>).skipped);

/** The TARGET and NODE cells of a group: "1200 targets", "node-a, node-b, …". */
export function groupCells<T extends { node: string | null }>(g: SkippedGroup<T>): [string, string] {
  const nodes = g.skipped.map((r) => r.node ?? "-");
  return [`${g.skipped.length} targets`, `${nodes.slice(0, 2).join(", ")}${nodes.length > 2 ? ", …" : ""}`];
}

export function renderTable(report: Report, color: boolean, wide = false): string {
  const chalk = new Chalk({ level: color ? 1 : 0 });
  const dry = report.dryRun;
  const timed = report.forSeconds !== null && !dry;
  const headers = dry ? ["TARGET", "NODE", "VIA", "REQUEST"] : timed ? ["TARGET", "NODE", "VIA", "RESULT", "RESTORED", "MESSAGE"] : ["TARGET", "NODE", "VIA", "RESULT", "MESSAGE"];
  const restored = (r: Result): string => (r.restore ? (r.restore.ok ? `to ${r.restore.level}` : r.restore.outcome) : "-");
  const shown = collapseSkipped(report.results, wide);
  const rows = shown.map((r) => {
    if (isGroup(r)) {
      const [target, node] = groupCells(r);
      const first = r.skipped[0]!;
      const why = `${first.message} (-o wide lists them)`;
      return dry ? [target, node, "-", `${first.outcome}: ${why}`] : timed ? [target, node, "-", first.outcome, "-", why] : [target, node, "-", first.outcome, why];
    }
    return dry
      ? [r.id, r.node ?? "-", r.via, r.outcome === "dry-run" ? `PUT "${r.request.body}" ${r.request.url} (auth: ${r.request.auth})` : `${r.outcome}: ${r.message}`]
      : timed
        ? [r.id, r.node ?? "-", r.via, r.outcome, restored(r), r.restore && !r.restore.ok ? r.restore.message : r.message]
        : [r.id, r.node ?? "-", r.via, r.outcome, r.message];
  });
  return table(headers, rows, color, (s, k, i) => {
    const row = shown[k]!;
    if (dry) return s;
    if (isGroup(row)) return i === 3 ? chalk.red(s) : s;
    const r = row;
    if (i === 3) return r.ok ? chalk.green(s) : chalk.red(s);
    if (i === 4 && timed && r.restore) return r.restore.ok ? chalk.green(s) : chalk.red(s);
    return s;
  });
}

/** The closing lines for stderr: a one-line summary, then each distinct hint once. */
export function renderSummary(report: Report, color: boolean): string {
  const chalk = new Chalk({ level: color ? 1 : 0 });
  const { total, succeeded, failed, skipped } = report.summary;
  const lines: string[] = [];
  const skips = skipped > 0 ? `; ${skipped} skipped, their node is not ready (--include-not-ready tries them)` : "";
  if (report.dryRun) {
    lines.push(`dry run: ${succeeded} of ${total} target(s) would be set to level ${report.level}${skips}; nothing was sent`);
  } else if (failed === 0 && succeeded > 0) {
    lines.push(chalk.green(`${report.component}: ${succeeded} of ${total} target(s) set to level ${report.level}`) + skips);
  } else if (failed === 0) {
    lines.push(chalk.red(`${report.component}: no target set to level ${report.level}`) + skips);
  } else {
    lines.push(chalk.red(`${report.component}: ${failed} of ${total} target(s) failed, ${succeeded} set to level ${report.level}`) + skips);
  }
  if (report.forSeconds !== null && !report.dryRun) {
    const back = report.results.filter((r) => r.restore?.ok).length;
    const tried = report.results.filter((r) => r.restore).length;
    if (tried > 0) {
      const text = `${report.component}: ${back} of ${tried} target(s) put back${back === tried ? "" : `, ${tried - back} not`}`;
      lines.push(back === tried ? chalk.green(text) : chalk.red(text));
    }
  }
  if (report.record?.written && report.forSeconds === null) lines.push(`recorded in ${report.record.name} as ${escapeTerminal(report.record.by ?? "")}`);
  if (report.record && !report.record.written) {
    lines.push(`warning: the change is not recorded in ${report.record.name}: ${escapeTerminal(report.record.error ?? "")} (kvlog status will not show it; --no-record skips the record)`);
  }
  for (const w of report.warnings) lines.push(`warning: ${escapeTerminal(w)}`);
  const cut = report.results.filter((r) => r.outcome === "interrupted");
  const maybe = cut.filter(mayHaveChanged).length;
  if (cut.length > maybe) lines.push(`interrupted: ${cut.length - maybe} target(s) not attempted, their level is unchanged`);
  if (maybe > 0) lines.push(`interrupted: ${maybe} target(s) sent the change but got no answer in time: it may have been applied`);
  const hints = [
    ...new Set([
      ...report.results.filter((r) => !r.ok && !r.skipped && r.hint).map((r) => r.hint!),
      ...report.results.filter((r) => r.restore && !r.restore.ok && r.restore.hint).map((r) => r.restore!.hint!),
    ]),
  ];
  for (const h of hints) lines.push(`hint: ${escapeTerminal(h)}`);
  return `${lines.join("\n")}\n`;
}

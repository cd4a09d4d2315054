// capture's document and how it is shown: capture.json's CaptureResult (also `-o json`), the table
// on stdout (rate before -> during and a sparkline per target, skipped targets collapsed as `set`
// does) and the closing lines on stderr. Pure: src/run/capture.ts builds the document.

import { Chalk } from "chalk";
import type { LogOutcome, LogStats } from "../logs.js";
import { formatDuration } from "../options.js";
import type { Result } from "../outcomes.js";
import { collapseSkipped, groupCells, isGroup, table, type JSON_API_VERSION, type RecordNote } from "../report.js";
import { escapeTerminal } from "../terminal.js";

/** One target in capture.json: its set/restore result, and its log. */
export interface CaptureTarget extends Result {
  /** How the level change went (the same as `outcome`/`ok`/`message`, grouped). */
  set: { ok: boolean; outcome: string; message: string };
  /** Where the log was read, and the file in the bundle (relative to it; null when nothing was written). */
  source: LogStats["source"];
  where: string;
  file: string | null;
  log: { outcome: LogOutcome; message: string };
  bytes: number;
  lines: number;
  linesBefore: number;
  linesDuring: number;
  linesAfter: number;
  /** Lines per second before the raise (the baseline), during the window, after the restore (null when not measured). */
  linesPerSecond: { before: number | null; during: number | null; after: number | null };
  restarts: number;
  reconnects: number;
  truncated: boolean;
  queued: boolean;
  /** Lines per slice of the window (`window.sliceSeconds` each), and as a sparkline. */
  slices: number[];
  sparkline: string;
  raisedAt: string | null;
  restoredAt: string | null;
}

export interface CaptureResult {
  apiVersion: typeof JSON_API_VERSION;
  kind: "CaptureResult";
  component: string;
  level: number;
  window: {
    start: string;
    /** When the levels were due back; `stoppedBy` when Ctrl-C / SIGTERM came first. */
    until: string;
    forSeconds: number;
    stoppedBy: string | null;
    baselineSeconds: number;
    afterSeconds: number;
    sliceSeconds: number;
  };
  /** The bundle directory. */
  out: string;
  record: RecordNote | null;
  summary: { total: number; raised: number; restored: number; captured: number; logsUnavailable: number; failed: number };
  warnings: string[];
  results: CaptureTarget[];
}

const BARS = "▁▂▃▄▅▆▇█";

/** A few characters for the lines per slice (each character: the sum of a group of slices). */
export function sparkline(slices: number[], width = 20): string {
  if (slices.length === 0) return "";
  const group = Math.ceil(slices.length / width);
  const sums: number[] = [];
  for (let i = 0; i < slices.length; i += group) sums.push(slices.slice(i, i + group).reduce((a, b) => a + b, 0));
  const max = Math.max(...sums);
  if (max === 0) return BARS[0]!.repeat(sums.length);
  return sums.map((v) => (v === 0 ? " " : BARS[Math.min(BARS.length - 1, Math.floor((v / max) * (BARS.length - 1)))])).join("");
}

function rateText(v: number | null): string {
  return v === null ? "?" : `${v}/s`;
}

/** A raise that took effect makes a component log more: less than this much more is called out. */
export function rateUnchanged(r: CaptureTarget): boolean {
  const { before, during } = r.linesPerSecond;
  if (r.log.outcome !== "captured" || before === null || during === null) return false;
  return r.linesDuring === 0 || during < before * 1.25 + 0.5;
}

export function renderCaptureTable(doc: CaptureResult, color: boolean, wide = false): string {
  const chalk = new Chalk({ level: color ? 1 : 0 });
  const headers = ["TARGET", "SET", "RESTORED", "LOG", "LINES", "BYTES", "BEFORE -> DURING", "WINDOW"];
  const shown = collapseSkipped(doc.results, wide);
  const rows = shown.map((r) => isGroup(r) ? [`${groupCells(r).join(": ")} (-o wide lists them)`, r.skipped[0]!.outcome, "-", "not-followed", "0", "0B", "-", "-"] : [
    r.id,
    r.outcome,
    r.restore ? (r.restore.ok ? `to ${r.restore.level}` : r.restore.outcome) : "-",
    r.log.outcome === "captured" ? (r.file ?? "-") + (r.truncated ? " (truncated)" : "") + (r.restarts ? ` (${r.restarts} restart${r.restarts > 1 ? "s" : ""})` : "") : r.log.outcome,
    String(r.lines),
    humanBytes(r.bytes),
    r.log.outcome === "captured" ? `${rateText(r.linesPerSecond.before)} -> ${rateText(r.linesPerSecond.during)}` : "-",
    r.sparkline || "-",
  ]);
  return table(headers, rows, color, (s, k, i) => {
    const r = shown[k]!;
    if (isGroup(r)) return i === 1 ? chalk.red(s) : s;
    if (i === 1) return r.ok ? chalk.green(s) : chalk.red(s);
    if (i === 2 && r.restore) return r.restore.ok ? chalk.green(s) : chalk.red(s);
    if (i === 3) return r.log.outcome === "captured" ? s : chalk.yellow(s);
    if (i === 6 && rateUnchanged(r)) return chalk.yellow(s);
    return s;
  });
}

function humanBytes(n: number): string {
  if (n < 1024) return `${n}B`;
  if (n < 1024 ** 2) return `${(n / 1024).toFixed(1)}Ki`;
  if (n < 1024 ** 3) return `${(n / 1024 ** 2).toFixed(1)}Mi`;
  return `${(n / 1024 ** 3).toFixed(2)}Gi`;
}

/** The closing lines (stderr): what was done, where the bundle is, and what to look at. */
export function renderCaptureSummary(doc: CaptureResult, color: boolean): string {
  const chalk = new Chalk({ level: color ? 1 : 0 });
  const s = doc.summary;
  const lines: string[] = [];
  const head = `${doc.component}: ${s.raised} of ${s.total} target(s) at level ${doc.level} for ${formatDuration(doc.window.forSeconds * 1000)}${doc.window.stoppedBy ? ` (stopped early by ${doc.window.stoppedBy})` : ""}, ${s.restored} put back; logs of ${s.captured} in ${escapeTerminal(doc.out)}`;
  lines.push(s.failed === 0 && s.restored === s.raised && s.captured === s.total ? chalk.green(head) : chalk.red(head));
  if (doc.record && !doc.record.written) lines.push(`warning: the change is not recorded in ${doc.record.name}: ${escapeTerminal(doc.record.error ?? "")} (kvlog status will not show it)`);
  for (const w of doc.warnings) lines.push(`warning: ${escapeTerminal(w)}`);
  for (const r of doc.results) {
    if (r.ok && r.log.outcome !== "captured") lines.push(`${escapeTerminal(r.id)}: ${r.log.outcome}: ${escapeTerminal(r.log.message)}`);
    if (r.restore && !r.restore.ok) lines.push(chalk.red(`${escapeTerminal(r.id)}: not put back (${r.restore.outcome}): ${escapeTerminal(r.restore.message)}`));
    if (!r.ok && !r.skipped) lines.push(`${escapeTerminal(r.id)}: ${r.outcome}: ${escapeTerminal(r.message)}`);
  }
  const flat = doc.results.filter(rateUnchanged);
  for (const r of flat.slice(0, 10)) {
    if (r.linesDuring === 0) {
      lines.push(
        chalk.yellow(
          `${escapeTerminal(r.id)}: no line in its log during the window: the component may write its log to a file rather than stdout (kube-up style manifests: /var/log/<component>.log on the node), or nothing it did logs at ${doc.level}`,
        ),
      );
      continue;
    }
    lines.push(
      chalk.yellow(
        `${escapeTerminal(r.id)}: ${rateText(r.linesPerSecond.before)} before and ${rateText(r.linesPerSecond.during)} during: the raise may not have taken effect (another tool or a restart put the level back, the component logs through a logger that ignores -v, or it had nothing to do that logs at ${doc.level}); check its log in the bundle`,
      ),
    );
  }
  if (flat.length > 10) lines.push(chalk.yellow(`... and ${flat.length - 10} more target(s) whose rate did not change (capture.json: linesPerSecond)`));
  const hints = [...new Set(doc.results.filter((r) => !r.ok && !r.skipped && r.hint).map((r) => r.hint!))];
  for (const h of hints) lines.push(`hint: ${escapeTerminal(h)}`);
  return `${lines.join("\n")}\n`;
}


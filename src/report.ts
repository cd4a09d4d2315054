// report: results -> a table (terminal) or one JSON document (pipes, scripts).
// Both render the same Result objects; the JSON shape is a public API (README "JSON output").

import { Chalk } from "chalk";
import type { Result } from "./apply.js";

export const JSON_API_VERSION = "kvlog.dev/v1";

export interface Report {
  apiVersion: typeof JSON_API_VERSION;
  kind: "SetResult";
  component: string;
  level: number;
  dryRun: boolean;
  summary: { total: number; succeeded: number; failed: number; skipped: number };
  /** What discovery could not see (e.g. the apiserver replicas); the run is then not a full success. */
  warnings: string[];
  results: Result[];
}

/** The exit code of a finished run: 0 when every target that was tried is set (and at least one was). */
export function exitCode(report: Report): number {
  return report.summary.failed === 0 && report.warnings.length === 0 && (report.summary.succeeded > 0 || report.summary.total === 0) ? 0 : 1;
}

export function buildReport(component: string, level: number, dryRun: boolean, results: Result[], warnings: string[] = []): Report {
  const succeeded = results.filter((r) => r.ok).length;
  const skipped = results.filter((r) => r.skipped).length;
  return {
    apiVersion: JSON_API_VERSION,
    kind: "SetResult",
    component,
    level,
    dryRun,
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
export function* jsonParts(report: Report, perPart = 200): Generator<string> {
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

export function renderTable(report: Report, color: boolean): string {
  const chalk = new Chalk({ level: color ? 1 : 0 });
  const dry = report.dryRun;
  const headers = dry ? ["TARGET", "NODE", "VIA", "REQUEST"] : ["TARGET", "NODE", "VIA", "RESULT", "MESSAGE"];
  const rows = report.results.map((r) =>
    dry
      ? [r.id, r.node ?? "-", r.via, r.outcome === "dry-run" ? `PUT "${r.request.body}" ${r.request.url} (auth: ${r.request.auth})` : `${r.outcome}: ${r.message}`]
      : [r.id, r.node ?? "-", r.via, r.outcome, r.message],
  );
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[], paint?: (s: string, i: number) => string): string =>
    cells
      .map((cell, i) => {
        const padded = i === cells.length - 1 ? cell : cell.padEnd(widths[i]!);
        return paint ? paint(padded, i) : padded;
      })
      .join("   ")
      .trimEnd();
  const out = [line(headers, (s) => chalk.bold(s))];
  report.results.forEach((r, k) => {
    out.push(line(rows[k]!, (s, i) => (i === 3 && !dry ? (r.ok ? chalk.green(s) : chalk.red(s)) : s)));
  });
  return `${out.join("\n")}\n`;
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
  for (const w of report.warnings) lines.push(`warning: ${w}`);
  const notAttempted = report.results.filter((r) => r.outcome === "interrupted").length;
  if (notAttempted > 0) lines.push(`interrupted: ${notAttempted} target(s) not attempted, their level is unchanged`);
  const hints = [...new Set(report.results.filter((r) => !r.ok && !r.skipped && r.hint).map((r) => r.hint!))];
  for (const h of hints) lines.push(`hint: ${h}`);
  return `${lines.join("\n")}\n`;
}

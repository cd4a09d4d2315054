// kvlog set, the run: change every target, record the change, and with --for put each back.
// src/commands/set.ts has the flags and validation; the raise, wait and restore are timed.ts's
// (shared with capture). src/cli.ts imports this module only when the command runs, so that
// --help and usage errors load none of the network code.

import { formatDuration } from "../options.js";
import { buildReport, exitCode, jsonParts, renderSummary, renderTable } from "../report.js";
import type { Io } from "../io.js";
import { refuseIgnoredImpersonation, Session } from "../session.js";
import type { SetRequest } from "../commands/set.js";
import { raise, redacted, restoreAll, signalName, waitFor } from "./timed.js";

const NOISY_LEVEL = 10;

/** The warning printed before a level that makes components log bodies. */
export function noisyWarning(level: number): string | undefined {
  return level > NOISY_LEVEL ? `warning: level ${level} is above ${NOISY_LEVEL}: components then log request and response bodies, which can flood disks and expose data\n` : undefined;
}

export async function runSet(req: SetRequest, io: Io): Promise<number> {
  const noisy = noisyWarning(req.level);
  if (noisy) io.stderr.write(noisy);
  return Session.with(req, io, async (session) => {
    await session.open(req.endpoint, !req.dryRun);
    refuseIgnoredImpersonation(req, req.serviceAccount ? undefined : session.access);
    const raised = await raise(session, req);
    const { results, warnings, discoveryError, changed, until, record } = raised;
    // Discovery failed before anything was tried: one error line, as for any run-ending error.
    if (discoveryError !== undefined && results.length === 0) throw discoveryError;

    let stoppedBy: string | undefined = io.signal?.aborted ? signalName(io.signal) : undefined;
    if (req.forMs !== undefined && changed.length > 0) {
      const line = (): string =>
        `${req.component.name}: ${changed.length} target(s) at level ${req.level}; back to ${req.restoreTo ?? "their startup level"} in ${formatDuration(until!.getTime() - session.now())} (Ctrl-C puts them back now)`;
      if (!io.signal?.aborted) stoppedBy = await waitFor(session, until!, line, { count: changed.length, what: `${req.component.name} at level ${req.level}` });
      await restoreAll(session, req, raised);
    }

    const report = buildReport(req.component.name, req.level, req.dryRun, redacted(session, results), warnings, {
      forSeconds: req.forMs !== undefined ? Math.round(req.forMs / 1000) : null,
      until: until?.toISOString() ?? null,
      record: record && { ...record, error: record.error === null ? null : session.redact(record.error) },
    });
    if (req.output === "json") for (const part of jsonParts(report)) io.stdout.write(part);
    else io.stdout.write(renderTable(report, session.colorOn(io.stdout), req.wide));
    io.stderr.write(renderSummary(report, session.colorOn(io.stderr)));
    if (discoveryError !== undefined) return session.discoveryStopped(results.length, discoveryError);
    if (results.some((r) => r.restore && !r.restore.ok && r.restore.outcome !== "superseded")) return 1;
    if (stoppedBy) return stoppedBy === "SIGTERM" ? 143 : 130;
    return exitCode(report);
  });
}

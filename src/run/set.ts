// kvlog set, the run: change every target, record the change, and with --for put each back.
// src/commands/set.ts has the flags and validation. src/cli.ts imports this module only when the
// command runs, so that --help and usage errors load none of the network code.

import { applyOne, type Result } from "../apply.js";
import { probeStartup, type Startup } from "../levels.js";
import { formatDuration } from "../options.js";
import type { Target } from "../plan.js";
import type { ConfigMap } from "../kube.js";
import {
  editRecord,
  newChangeId,
  overridesIn,
  readRecord,
  readRecordMap,
  recordName,
  RECORD_NAMESPACE,
  updateRecord,
  type Change,
  type Override,
} from "../record.js";
import { buildReport, exitCode, jsonParts, renderSummary, renderTable, type RecordNote } from "../report.js";
import { refuseIgnoredImpersonation, Session, type Io } from "../session.js";
import type { SetRequest } from "../commands/set.js";

const NOISY_LEVEL = 10;

/** What a target was changed from: the startup level, and the level before this change. */
interface Prior {
  startup: Startup | undefined;
  before: number | null;
}

export async function runSet(req: SetRequest, io: Io): Promise<number> {
  if (req.level > NOISY_LEVEL) {
    io.stderr.write(`warning: level ${req.level} is above ${NOISY_LEVEL}: components then log request and response bodies, which can flood disks and expose data\n`);
  }
  return Session.with(req, io, async (session) => {
    await session.open(req.endpoint, !req.dryRun);
    refuseIgnoredImpersonation(req, req.serviceAccount ? undefined : session.access);
    const access = session.access;
    const api = session.api;
    const recording = req.record && !req.dryRun && api !== undefined;
    const started = new Date(session.now());
    const changeId = newChangeId(started);

    // What the record says now (each target's level before this change), and who I am: asked
    // while the targets are found and changed, awaited only when a result needs them.
    let who: Promise<string> | undefined;
    let recordRead: Promise<{ cm: ConfigMap | undefined } | { problem: string }> | undefined;
    if (recording) {
      who = api.whoami().catch((e: unknown) => `unknown (${(e as Error).message})`);
      recordRead = readRecordMap(api, req.component.name).then(
        (cm) => ({ cm }),
        (e: unknown) => ({ problem: (e as Error).message }),
      );
    }
    let overrides: Promise<Map<string, Override>> | undefined;
    const current = (): Promise<Map<string, Override>> =>
      (overrides ??= recordRead
        ? recordRead.then((r) => new Map("cm" in r ? overridesIn(req.component.name, r.cm?.data).map((o) => [o.target, o]) : []))
        : Promise.resolve(new Map()));

    const priors = new Map<string, Prior>();
    const opts = { level: req.level, access, timeoutMs: req.timeoutMs, concurrency: req.concurrency, dryRun: req.dryRun };
    const work = async (t: Target): Promise<Result> => {
      let startup = t.startup;
      if (req.forMs !== undefined && req.restoreTo === undefined && !t.unavailable && !req.dryRun) {
        // A timed change is only made where kvlog knows what to put back.
        startup = await probeStartup(t, access, req.timeoutMs);
        if (startup.level === null) {
          const message = `not changed: the level it started with is ${startup.source}, so kvlog could not put it back`;
          return applyOne({ ...t, unavailable: { outcome: "unknown-startup", message, hint: "pass --restore-to N to say which level to put back" } }, opts);
        }
      }
      const result = await applyOne(t, opts);
      const earlier = (await current()).get(t.id);
      const before = earlier?.level ?? startup?.level ?? null;
      if (!startup && earlier?.startup != null) startup = { level: earlier.startup, source: "the record" };
      priors.set(t.id, { startup, before });
      return { ...result, before };
    };
    const byId = new Map<string, Target>();
    const { results, warnings, discoveryError } = await session.onTargets(
      req,
      req.dryRun ? "resolving" : "setting",
      (t) => {
        byId.set(t.id, t);
        return work(t);
      },
      (t) => applyOne(session.notAttempted(t), opts),
    );
    // Discovery failed before anything was tried: one error line, as for any run-ending error.
    if (discoveryError !== undefined && results.length === 0) throw discoveryError;

    const changed = results.filter((r) => r.ok && !req.dryRun);
    const until = req.forMs !== undefined ? new Date(started.getTime() + req.forMs) : undefined;
    let record: RecordNote | null = null;
    if (recording && changed.length > 0) {
      record = await writeChange(session, req, changeId, (await recordRead)!, {
        level: req.level,
        by: await who!,
        at: started.toISOString(),
        until: until?.toISOString(),
        targets: Object.fromEntries(
          changed.map((r) => {
            const p = priors.get(r.id);
            return [r.id, { before: p?.before ?? undefined, startup: p?.startup?.level ?? undefined, incarnation: byId.get(r.id)?.incarnation }];
          }),
        ),
      });
    }

    let stoppedBy: string | undefined = io.signal?.aborted ? signalName(io.signal) : undefined;
    if (req.forMs !== undefined && changed.length > 0) {
      if (!io.signal?.aborted) {
        stoppedBy = await (io.waitTogether?.(until!, changed.length, `${req.component.name} at level ${req.level}`) ?? waitFor(session, req, until!, changed.length));
      }
      await restoreAll(session, req, results, byId, priors, recording ? changeId : undefined, record?.written === true);
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

async function writeChange(session: Session, req: SetRequest, id: string, read: { cm: ConfigMap | undefined } | { problem: string }, change: Change): Promise<RecordNote> {
  const name = `${RECORD_NAMESPACE}/${recordName(req.component.name)}`;
  if ("problem" in read) return { name, written: false, change: null, by: change.by, error: read.problem };
  try {
    await updateRecord(session.api!, req.component.name, (data) => editRecord(data, { add: { id, change } }), read);
    return { name, written: true, change: id, by: change.by, error: null };
  } catch (e) {
    return { name, written: false, change: null, by: change.by, error: (e as Error).message };
  }
}

/** Waits until `until`, or until Ctrl-C / SIGTERM; a countdown on a terminal, nothing on a pipe. */
async function waitFor(session: Session, req: SetRequest, until: Date, count: number): Promise<string | undefined> {
  const io = session.io;
  const tty = io.stderr.isTTY === true;
  const line = (): string =>
    `\r\x1b[2K${req.component.name}: ${count} target(s) at level ${req.level}; back to ${req.restoreTo ?? "their startup level"} in ${formatDuration(until.getTime() - session.now())} (Ctrl-C puts them back now)`;
  return new Promise((resolve) => {
    let ticker: NodeJS.Timeout | undefined;
    const done = (why: string | undefined): void => {
      clearTimeout(timer);
      clearInterval(ticker);
      io.signal?.removeEventListener("abort", onAbort);
      if (tty) io.stderr.write("\r\x1b[2K");
      resolve(why);
    };
    const onAbort = (): void => done(signalName(io.signal!));
    const timer = setTimeout(() => done(undefined), Math.max(0, until.getTime() - session.now()));
    if (tty) {
      io.stderr.write(line());
      ticker = setInterval(() => io.stderr.write(line()), 1000);
    }
    if (io.signal?.aborted) onAbort();
    else io.signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/**
 * Puts every target that was changed back to its startup level (or --restore-to), with fresh
 * credentials (a minted or exec-plugin token may have expired during the wait), even after an
 * interrupt. A target someone else changed since (a newer change in the record) is left alone.
 */
async function restoreAll(
  session: Session,
  req: SetRequest,
  results: Result[],
  byId: Map<string, Target>,
  priors: Map<string, Prior>,
  changeId: string | undefined,
  recorded: boolean,
): Promise<void> {
  session.io.restoring?.(true);
  try {
    await session.refresh().catch(() => {}); // a failure shows on the requests themselves
    let now = new Map<string, Override>();
    if (recorded && changeId) {
      try {
        now = new Map((await readRecord(session.api!, req.component.name)).map((o) => [o.target, o]));
      } catch {
        // The record cannot be read back: every target is put back.
      }
    }
    const changed = results.filter((r) => r.ok);
    const levelOf = (t: Target): number => req.restoreTo ?? priors.get(t.id)?.startup?.level ?? 0;
    const opts = { level: levelOf, access: session.access, timeoutMs: req.timeoutMs, concurrency: req.concurrency, dryRun: false };
    const targets = changed.map((r) => {
      const t = byId.get(r.id)!;
      const o = now.get(r.id);
      if (recorded && o && o.change !== changeId) {
        const message = `not put back: ${o.by} set it to ${o.level} at ${o.at}, after this change`;
        return { ...t, unavailable: { outcome: "superseded" as const, message } };
      }
      return t;
    });
    const restored = await session.fanOut(targets, "restoring", (t) => applyOne(t, opts), (t) => applyOne(t, opts), false);
    const done = new Set<string>();
    restored.forEach((r, i) => {
      const res = changed[i]!;
      res.restore = {
        level: r.outcome === "superseded" ? null : r.level,
        ok: r.ok,
        outcome: r.outcome,
        httpStatus: r.httpStatus,
        message: r.ok ? `level put back to ${r.level}` : r.message,
        hint: r.hint,
        at: new Date(session.now()).toISOString(),
      };
      if (r.ok) done.add(r.id);
    });
    if (recorded && changeId && done.size > 0) {
      await updateRecord(session.api!, req.component.name, (data) => editRecord(data, { remove: done, removeFrom: changeId })).catch((e: unknown) => {
        session.io.stderr.write(`warning: the levels are back, but the record still lists them: ${session.redact((e as Error).message)}\n`);
      });
    }
  } finally {
    session.io.restoring?.(false);
  }
}

function redacted(session: Session, results: Result[]): Result[] {
  return results.map((r) => ({
    ...r,
    message: session.redact(r.message),
    hint: r.hint === null ? null : session.redact(r.hint),
    restore: r.restore ? { ...r.restore, message: session.redact(r.restore.message), hint: r.restore.hint === null ? null : session.redact(r.restore.hint) } : null,
  }));
}

export function signalName(signal: AbortSignal): string {
  return typeof signal.reason === "string" && /^SIG[A-Z]+$/.test(signal.reason) ? signal.reason : "SIGINT";
}

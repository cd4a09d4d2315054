// timed: the raise-and-restore that `set --for` and `capture` share. Every selected target is
// changed (startup level probed first, so kvlog knows what to put back), the change is written to
// the record, the run waits for the window (or Ctrl-C / SIGTERM), and every changed target is put
// back. Only the wait's status line and what happens per changed target differ between commands.

import { applyOne } from "../apply.js";
import { mayHaveChanged, type Result } from "../outcomes.js";
import type { SetRequest } from "../commands/set.js";
import type { ConfigMap } from "../objects.js";
import { probeStartup } from "../levels.js";
import type { Startup, Target } from "../target.js";
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
import type { RecordNote } from "../report.js";
import type { Session } from "../session.js";
import { notes } from "../terminal.js";

/** What a raise needs from a request: `set`'s fields (capture's request has them too). */
export type RaiseRequest = Omit<SetRequest, "command">;

/** What a target was changed from: the startup level, and the level before this change. */
export interface Prior {
  startup: Startup | undefined;
  before: number | null;
}

/** Everything a raise did, for the wait, the restore and the report. */
export interface Raised {
  results: Result[];
  warnings: string[];
  discoveryError: unknown;
  byId: Map<string, Target>;
  priors: Map<string, Prior>;
  /** The results that changed a level (none on a dry run). */
  changed: Result[];
  started: Date;
  until: Date | undefined;
  changeId: string;
  recording: boolean;
  record: RecordNote | null;
}

/**
 * Changes every selected target and records the change. `onChanged` is told of each target as
 * soon as its level changed, with when the change was sent (capture starts following its log then).
 */
export async function raise(session: Session, req: RaiseRequest, onChanged?: (t: Target, r: Result, sentAt: number) => void): Promise<Raised> {
  const access = session.access;
  const api = session.recordApi; // the record's bookkeeping: not cut by --timeout
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
  // --timeout cuts the changes in flight short (the restore below gets no such signal).
  const opts = { level: req.level, access, timeoutMs: req.timeoutMs, concurrency: req.concurrency, dryRun: req.dryRun, cancel: session.deadline };
  // If the raise throws part-way (a bug, the process out of file descriptors...), a timed change
  // still puts back what it already changed: the targets sent so far, and no new one is started.
  let broken = false;
  const sent = new Map<string, Result>();
  const inFlight = new Set<Promise<Result>>();
  const work = async (t: Target): Promise<Result> => {
    if (broken) return applyOne(session.notAttempted(t), opts);
    let startup = t.startup;
    if (req.forMs !== undefined && req.restoreTo === undefined && !t.unavailable && !req.dryRun) {
      // A timed change is only made where kvlog knows what to put back.
      startup = await probeStartup(t, access, req.timeoutMs, undefined, session.deadline);
      // Cut short by --timeout: applyOne reports it (interrupted, level unchanged).
      if (startup.level === null && !session.deadline?.aborted) {
        const message = `not changed: the level it started with is ${startup.source}, so kvlog could not put it back`;
        return applyOne({ ...t, unavailable: { outcome: "unknown-startup", message, hint: "pass --restore-to N to say which level to put back" } }, opts);
      }
    }
    const sentAt = session.now();
    const result = await applyOne(t, opts);
    if (mayHaveChanged(result) && !req.dryRun) {
      sent.set(t.id, result);
      priors.set(t.id, { startup, before: null });
    }
    const earlier = (await current()).get(t.id);
    const before = earlier?.level ?? startup?.level ?? null;
    if (!startup && earlier?.startup != null) startup = { level: earlier.startup, source: "the record" };
    priors.set(t.id, { startup, before });
    const done = { ...result, before };
    if (done.ok && !req.dryRun) onChanged?.(t, done, sentAt);
    return done;
  };
  const byId = new Map<string, Target>();
  let found: Awaited<ReturnType<typeof session.onTargets<Result>>>;
  try {
    found = await session.onTargets(
      req,
      req.dryRun ? "resolving" : "setting",
      (t) => {
        byId.set(t.id, t);
        const p = work(t);
        inFlight.add(p);
        const settle = (): void => void inFlight.delete(p);
        p.then(settle, () => {
          broken = true;
          settle();
        });
        return p;
      },
      (t) => applyOne(session.notAttempted(t), opts),
    );
  } catch (e) {
    broken = true;
    await putBackPartial(session, req, { byId, priors, sent, inFlight, started, changeId });
    throw e;
  }
  const { results, warnings, discoveryError } = found;

  // A PUT that --timeout cut short after it was sent may have been applied: recorded, and put back with --for.
  const changed = results.filter((r) => mayHaveChanged(r) && !req.dryRun);
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
  return { results, warnings, discoveryError, byId, priors, changed, started, until, changeId, recording, record };
}

/**
 * After a raise that threw part-way: waits for the changes still in flight, then puts back (a
 * timed change only) every target already changed, and says so on stderr. The record was not
 * written yet, so it is left as it is.
 */
async function putBackPartial(
  session: Session,
  req: RaiseRequest,
  p: { byId: Map<string, Target>; priors: Map<string, Prior>; sent: Map<string, Result>; inFlight: Set<Promise<Result>>; started: Date; changeId: string },
): Promise<void> {
  await Promise.allSettled([...p.inFlight]);
  if (req.forMs === undefined || req.dryRun || p.sent.size === 0) return;
  const changed = [...p.sent.values()];
  const raised: Raised = { results: changed, warnings: [], discoveryError: undefined, byId: p.byId, priors: p.priors, changed, started: p.started, until: undefined, changeId: p.changeId, recording: false, record: null };
  try {
    await restoreAll(session, req, raised);
  } catch {
    // Reported per target below.
  }
  const back = changed.filter((r) => r.restore?.ok);
  const notBack = changed.filter((r) => !r.restore?.ok).map((r) => `${r.id} (${session.redact(r.restore?.message ?? "not attempted")})`);
  session.io.stderr.write(
    notes("warning", [
      `the run stopped on an error after changing ${changed.length} target(s): ${back.length} put back${notBack.length > 0 ? `; NOT put back: ${notBack.join(", ")}` : ""}`,
    ]),
  );
}

async function writeChange(session: Session, req: RaiseRequest, id: string, read: { cm: ConfigMap | undefined } | { problem: string }, change: Change): Promise<RecordNote> {
  const name = `${RECORD_NAMESPACE}/${recordName(req.component.name)}`;
  if ("problem" in read) return { name, written: false, change: null, by: change.by, error: read.problem };
  try {
    await updateRecord(session.recordApi!, req.component.name, (data) => editRecord(data, { add: { id, change } }), read);
    return { name, written: true, change: id, by: change.by, error: null };
  } catch (e) {
    return { name, written: false, change: null, by: change.by, error: (e as Error).message };
  }
}

/**
 * Waits until `until`, or until Ctrl-C / SIGTERM (resolving to the signal's name); `line` is
 * shown on a terminal, refreshed every second, and nothing on a pipe. `together`: what the
 * several-cluster countdown says of this cluster (how many targets, at what).
 */
export async function waitFor(session: Session, until: Date, line: () => string, together?: { count: number; what: string }): Promise<string | undefined> {
  const io = session.io;
  // One cluster of several (src/run/contexts.ts): wait with the others, under one countdown.
  if (io.waitTogether) return io.waitTogether(until, together?.count, together?.what);
  const tty = io.stderr.isTTY === true;
  const show = (): void => void io.stderr.write(`\r\x1b[2K${line()}`);
  let ticker: NodeJS.Timeout | undefined;
  if (tty) {
    show();
    ticker = setInterval(show, 1000);
  }
  try {
    return await waitUntil(until.getTime() - session.now(), io.signal);
  } finally {
    clearInterval(ticker);
    if (tty) io.stderr.write("\r\x1b[2K");
  }
}

/** Waits `ms`, or until the signal; the signal's name when it came first. The one wait of `set --for` and `capture`, one cluster or several. */
export function waitUntil(ms: number, signal: AbortSignal | undefined): Promise<string | undefined> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve(signalName(signal));
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve(undefined);
    }, Math.max(0, ms));
    const onAbort = (): void => {
      clearTimeout(timer);
      resolve(signalName(signal!));
    };
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/**
 * Puts every target that was changed back to its startup level (or --restore-to), with fresh
 * credentials (a minted or exec-plugin token may have expired during the wait), even after an
 * interrupt. A target someone else changed since (a newer change in the record) is left alone.
 * Each changed result gets its `restore`; `onRestored` is told of each as it comes back.
 */
export async function restoreAll(session: Session, req: RaiseRequest, raised: Raised, onRestored?: (r: Result) => void): Promise<void> {
  const { byId, priors } = raised;
  const changeId = raised.recording ? raised.changeId : undefined;
  const recorded = raised.record?.written === true;
  session.io.restoring?.(true);
  try {
    await session.refresh().catch(() => {}); // a failure shows on the requests themselves
    let now = new Map<string, Override>();
    if (recorded && changeId) {
      try {
        now = new Map((await readRecord(session.recordApi!, req.component.name)).map((o) => [o.target, o]));
      } catch {
        // The record cannot be read back: every target is put back.
      }
    }
    const changed = raised.results.filter(mayHaveChanged);
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
    const byResult = new Map(changed.map((r) => [r.id, r]));
    const put = async (t: Target): Promise<Result> => {
      const r = await applyOne(t, opts);
      const res = byResult.get(t.id);
      if (res) {
        res.restore = {
          level: r.outcome === "superseded" ? null : r.level,
          ok: r.ok,
          outcome: r.outcome,
          httpStatus: r.httpStatus,
          message: r.ok ? `level put back to ${r.level}` : r.message,
          hint: r.hint,
          at: new Date(session.now()).toISOString(),
        };
        onRestored?.(res);
      }
      return r;
    };
    const restored = await session.fanOut(targets, "restoring", put, put, false);
    const done = new Set<string>(restored.filter((r) => r.ok).map((r) => r.id));
    if (recorded && changeId && done.size > 0) {
      await updateRecord(session.recordApi!, req.component.name, (data) => editRecord(data, { remove: done, removeFrom: changeId })).catch((e: unknown) => {
        session.io.stderr.write(notes("warning", [`the levels are back, but the record still lists them: ${session.redact((e as Error).message)}`]));
      });
    }
  } finally {
    session.io.restoring?.(false);
  }
}

/** Results with every message and hint masked (a component or the apiserver may echo a credential). */
export function redacted(session: Session, results: Result[]): Result[] {
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

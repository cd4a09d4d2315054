// kvlog capture, the run: `set --for`'s raise and restore (timed.ts), plus one log follower per
// changed target writing its log to the bundle as it arrives (logs.ts), and a summary per target
// computed from what was written. src/commands/capture.ts has the flags and validation.

import { existsSync, mkdirSync, rmdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Result } from "../outcomes.js";
import type { CaptureRequest } from "../commands/capture.js";
import {
  apiserverPodsByHost,
  BASELINE_MS,
  closeLogDispatcher,
  LogWriter,
  nodeLineTime,
  readKubeletLog,
  readPodLog,
  rfc3339Ms,
  safeFileName,
  Slots,
  sourceFor,
  type LogContext,
  type LogSource,
  type Phases,
} from "../logs.js";
import { formatDuration } from "../options.js";
import type { Target } from "../target.js";
import { JSON_API_VERSION, jsonParts, type RecordNote } from "../report.js";
import type { Io } from "../io.js";
import { refuseIgnoredImpersonation, Session } from "../session.js";
import { escapeTerminal } from "../terminal.js";
import { renderCaptureSummary, renderCaptureTable, sparkline, type CaptureResult, type CaptureTarget } from "./capture-result.js";
import { noisyWarning } from "./set.js";
import { raise, redacted, restoreAll, signalName, waitFor } from "./timed.js";

/** A full garbage collection after this many logs are done, and this often while they are read. */
const GC_EVERY = 32;
const GC_INTERVAL_MS = 2_000;

/** How long logs are still read after the restore, for the rate after it. */
export const AFTER_MS = 3_000;

interface Follow {
  target: Target;
  source: LogSource;
  file: string | null;
  writer: LogWriter | null;
  phases: Phases;
  done: Promise<void>;
  unavailable?: string;
}

export async function runCapture(req: CaptureRequest, io: Io): Promise<number> {
  const noisy = noisyWarning(req.level);
  if (noisy) io.stderr.write(noisy);
  // A run that ends before anything is written (nothing matched, an error) leaves no empty
  // bundle directory behind, if it made it (an empty --out the user made is left as it was).
  const made = !existsSync(req.out);
  try {
    return await captureRun(req, io);
  } finally {
    if (made) {
      try {
        rmdirSync(req.out); // only when empty
      } catch {
        // Not empty (the bundle), or already gone: left as it is.
      }
    }
  }
}

function captureRun(req: CaptureRequest, io: Io): Promise<number> {
  return Session.with(req, io, async (session) => {
    await session.open(req.endpoint, true);
    refuseIgnoredImpersonation(req, req.serviceAccount ? undefined : session.access);
    const access = session.access!;
    // The window's logs are read to its end and after the restore: --timeout (session.api's deadline) does not cut them.
    const api = session.recordApi;
    const apiserverPods = req.component.name === "kube-apiserver" && api && !req.endpoint ? await apiserverPodsByHost(api).catch(() => new Map()) : new Map<string, { namespace: string; pod: string }>();
    mkdirSync(req.out, { recursive: true, mode: 0o700 });

    const windowStart = session.now();
    const stop = new AbortController();
    const slots = new Slots(req.maxLogRequests);
    const ctx: LogContext | undefined = api
      ? { access, api, timeoutMs: req.timeoutMs, maxBytes: req.maxBytes, slots, now: () => session.now(), stop: stop.signal, maxLogRequests: req.maxLogRequests, interrupted: io.signal }
      : undefined;
    // kvlog's credentials as they are now (renewed during the window too), as bytes, made again only when they change.
    let known = "";
    let secretBytes: Buffer[] = [];
    const secrets = (): Buffer[] => {
      const now = session.secrets();
      if (now.join("\0") !== known) [known, secretBytes] = [now.join("\0"), now.map((s) => Buffer.from(s))];
      return secretBytes;
    };
    const follows = new Map<string, Follow>();
    const taken = new Set(["capture.json"]);
    let following = 0;
    let finished = 0;
    const collector = setInterval(() => io.collectGarbage?.(), GC_INTERVAL_MS);
    collector.unref();
    let toldQueue = false;

    const onChanged = (t: Target, _r: Result, sentAt: number): void => {
      const source = sourceFor(t, ctx !== undefined, apiserverPods);
      const phases: Phases = { fromMs: windowStart - BASELINE_MS, raisedAt: sentAt, restoredAt: undefined, windowStart, windowMs: req.forMs };
      if (source.kind === "none" || !ctx) {
        follows.set(t.id, { target: t, source, file: null, writer: null, phases, done: Promise.resolve(), unavailable: source.unavailable });
        return;
      }
      const file = safeFileName(t.id, taken);
      const timeOf = source.kind === "pods/log" ? rfc3339Ms : nodeLineTime(ctx.now);
      const writer = new LogWriter(join(req.out, file), source, phases, req.maxBytes, timeOf, secrets);
      if (source.kind === "pods/log" && ++following > req.maxLogRequests && !toldQueue) {
        toldQueue = true;
        io.stderr.write(
          `${req.component.name}: more targets than --max-log-requests ${req.maxLogRequests}: the first ${req.maxLogRequests} are followed live, the others are read from their log history (pods/log sinceTime) as streams free up, at the latest after the window; raise --max-log-requests to follow more at once\n`,
        );
      }
      const work =
        source.kind === "pods/log"
          ? readPodLog(ctx, t, source, writer, { namespace: podOf(source).namespace, name: podOf(source).name, restarts: restartsOf(t) })
          : readKubeletLog(ctx, t, source, writer);
      const done = work
        .catch((e: unknown) => {
          writer.stats.outcome = "error";
          writer.stats.message = (e as Error).message ?? String(e);
        })
        .then(() => writer.close())
        .then(() => {
          // Streams leave their buffers to the collector: a full collection now and then keeps a fleet's memory flat.
          if (++finished % GC_EVERY === 0) io.collectGarbage?.();
        });
      follows.set(t.id, { target: t, source, file, writer, phases, done });
    };

    let raised;
    try {
      raised = await raise(session, req, onChanged);
    } catch (e) {
      clearInterval(collector);
      stop.abort();
      await Promise.all([...follows.values()].map((f) => f.done));
      await closeLogDispatcher(ctx);
      throw e;
    }
    const { results, warnings, discoveryError, changed, until, record } = raised;
    if (discoveryError !== undefined && results.length === 0) {
      clearInterval(collector);
      stop.abort();
      await closeLogDispatcher(ctx);
      throw discoveryError;
    }

    let stoppedBy: string | undefined = io.signal?.aborted ? signalName(io.signal) : undefined;
    if (changed.length > 0) {
      if (!io.signal?.aborted) stoppedBy = await waitFor(session, until!, () => progressLine(req, follows, until!.getTime() - session.now()));
      await restoreAll(session, req, raised, (r) => {
        const f = follows.get(r.id);
        if (f && r.restore?.at) f.phases.restoredAt = Date.parse(r.restore.at);
      });
      // The rate after the restore: a few more seconds of log (not after an interrupt: the user wants out).
      if (!stoppedBy && !io.signal?.aborted) {
        const tailUntil = new Date(session.now() + AFTER_MS);
        stoppedBy = await waitFor(session, tailUntil, () => `${req.component.name}: levels are back; reading ${Math.ceil((tailUntil.getTime() - session.now()) / 1000)}s more of log for the rate after`);
      }
    }
    if (ctx) ctx.stoppedAt = session.now();
    stop.abort();
    const pending = [...follows.values()].filter((f) => f.writer?.stats.queued);
    if (pending.length > 0 && io.stderr.isTTY) io.stderr.write(`reading the log history of ${pending.length} target(s) that waited for a stream…`);
    await Promise.all([...follows.values()].map((f) => f.done));
    if (pending.length > 0 && io.stderr.isTTY) io.stderr.write("\r\x1b[2K");
    await closeLogDispatcher(ctx);
    clearInterval(collector);
    const stoppedAt = ctx?.stoppedAt ?? session.now();
    // A log that could not be read leaves no empty file behind.
    for (const f of follows.values()) {
      const s = f.writer?.stats;
      if (!s || s.bytes > 0 || s.outcome === "captured" || !f.file) continue;
      rmSync(join(req.out, f.file), { force: true });
      f.file = null;
      if (s.outcome === "logs-unavailable") {
        s.source = "none";
        f.source = { kind: "none", where: "-" };
      }
    }

    const doc = buildCapture(req, session, redacted(session, results), warnings, record, follows, { windowStart, until: until ?? new Date(windowStart + req.forMs), stoppedBy, stoppedAt });
    const parts = [...jsonParts(doc)];
    let wrote: string | undefined;
    try {
      writeFileSync(join(req.out, "capture.json"), parts.join(""), { mode: 0o600 });
    } catch (e) {
      wrote = `could not write ${join(req.out, "capture.json")}: ${(e as Error).message}`;
    }
    if (req.output === "json") for (const part of parts) io.stdout.write(part);
    else io.stdout.write(renderCaptureTable(doc, session.colorOn(io.stdout), req.wide));
    io.stderr.write(renderCaptureSummary(doc, session.colorOn(io.stderr)));
    if (wrote) io.stderr.write(`kvlog: ${escapeTerminal(wrote)}\n`);
    if (discoveryError !== undefined) return session.discoveryStopped(results.length, discoveryError);
    if (doc.results.some((r) => r.restore && !r.restore.ok && r.restore.outcome !== "superseded")) return 1;
    if (stoppedBy) return stoppedBy === "SIGTERM" ? 143 : 130;
    const s = doc.summary;
    return s.failed === 0 && s.captured === s.total && warnings.length === 0 && !wrote && s.total > 0 ? 0 : 1;
  });
}

function podOf(src: LogSource): { namespace: string; name: string } {
  const m = /^\/api\/v1\/namespaces\/([^/]+)\/pods\/([^/]+)\/log$/.exec(src.where)!;
  return { namespace: decodeURIComponent(m[1]!), name: decodeURIComponent(m[2]!) };
}

/** The restart count discovery saw (the middle of a pod's incarnation `uid/restarts/startedAt`). */
function restartsOf(t: Target): number | undefined {
  const n = t.incarnation?.split("/")[1];
  return n !== undefined && /^\d+$/.test(n) ? Number(n) : undefined;
}

/** The line shown on a terminal during the window: per target when there are a few, else totals. */
function progressLine(req: CaptureRequest, follows: Map<string, Follow>, leftMs: number): string {
  const all = [...follows.values()].filter((f) => f.writer);
  const rate = (f: Follow): number => {
    const s = f.writer!.stats;
    const secs = Math.max(1, (Date.now() - f.phases.raisedAt) / 1000);
    return Math.round(s.linesDuring / secs);
  };
  const left = `${formatDuration(leftMs)} left (Ctrl-C puts the level back now)`;
  if (all.length <= 4) {
    const each = all.map((f) => `${escapeTerminal(shortId(f.target))} ${f.writer!.stats.lines} lines (${rate(f)}/s)`).join(", ");
    return `${req.component.name} at ${req.level}: ${each || "no log followed"}; ${left}`;
  }
  const lines = all.reduce((n, f) => n + f.writer!.stats.lines, 0);
  const queued = all.filter((f) => f.writer!.stats.queued).length;
  const busiest = all.reduce((a, b) => (rate(b) > rate(a) ? b : a));
  return `${req.component.name} at ${req.level}: ${all.length} logs (${queued} waiting for a stream), ${lines} lines; busiest ${escapeTerminal(shortId(busiest.target))} ${rate(busiest)}/s; ${left}`;
}

function shortId(t: Target): string {
  return t.id.slice(t.component.length + 1);
}

function perSecond(lines: number, ms: number): number | null {
  if (!(ms > 0)) return null;
  const r = lines / (ms / 1000);
  return r >= 10 ? Math.round(r) : Math.round(r * 10) / 10;
}

function buildCapture(
  req: CaptureRequest,
  session: Session,
  results: Result[],
  warnings: string[],
  record: RecordNote | null,
  follows: Map<string, Follow>,
  w: { windowStart: number; until: Date; stoppedBy: string | undefined; stoppedAt: number },
): CaptureResult {
  const sliceSeconds = Math.max(1, Math.ceil(req.forMs / 60 / 1000));
  const rows: CaptureTarget[] = results.map((r) => {
    const f = follows.get(r.id);
    const s = f?.writer?.stats;
    const p = f?.phases;
    const restoredAt = p?.restoredAt;
    const log: CaptureTarget["log"] = s
      ? { outcome: s.outcome, message: session.redact(s.message || (s.truncated ? `kept the first ${req.maxBytes} bytes (--max-bytes); every line was counted` : "")) }
      : f
        ? { outcome: "logs-unavailable", message: session.redact(f.unavailable ?? "no source") }
        : { outcome: "not-followed", message: r.ok ? "not followed" : "the level was not raised, so no log was collected" };
    const rates = s && p
      ? {
          before: perSecond(s.linesBefore, p.raisedAt - p.fromMs),
          during: perSecond(s.linesDuring, (restoredAt ?? w.stoppedAt) - p.raisedAt),
          after: restoredAt !== undefined ? perSecond(s.linesAfter, w.stoppedAt - restoredAt) : null,
        }
      : { before: null, during: null, after: null };
    return {
      ...r,
      set: { ok: r.ok, outcome: r.outcome, message: r.message },
      source: f?.source.kind ?? "none",
      where: f?.source.where ?? "-",
      file: f?.file ?? null,
      log,
      bytes: s?.bytes ?? 0,
      lines: s?.lines ?? 0,
      linesBefore: s?.linesBefore ?? 0,
      linesDuring: s?.linesDuring ?? 0,
      linesAfter: s?.linesAfter ?? 0,
      linesPerSecond: rates,
      restarts: s?.restarts ?? 0,
      reconnects: s?.reconnects ?? 0,
      truncated: s?.truncated ?? false,
      queued: s?.queued ?? false,
      slices: s?.slices ?? [],
      sparkline: log.outcome === "captured" ? sparkline(s?.slices ?? []) : "",
      raisedAt: p ? new Date(p.raisedAt).toISOString() : null,
      restoredAt: restoredAt !== undefined ? new Date(restoredAt).toISOString() : null,
    };
  });
  const captured = rows.filter((r) => r.log.outcome === "captured").length;
  const unavailable = rows.filter((r) => r.log.outcome === "logs-unavailable").length;
  return {
    apiVersion: JSON_API_VERSION,
    kind: "CaptureResult",
    component: req.component.name,
    level: req.level,
    window: {
      start: new Date(w.windowStart).toISOString(),
      until: w.until.toISOString(),
      forSeconds: Math.round(req.forMs / 1000),
      stoppedBy: w.stoppedBy ?? null,
      baselineSeconds: BASELINE_MS / 1000,
      afterSeconds: w.stoppedBy ? 0 : AFTER_MS / 1000,
      sliceSeconds,
    },
    out: req.out,
    record: record && { ...record, error: record.error === null ? null : session.redact(record.error) },
    summary: {
      total: rows.length,
      raised: rows.filter((r) => r.ok).length,
      restored: rows.filter((r) => r.restore?.ok).length,
      captured,
      logsUnavailable: unavailable,
      failed: rows.filter((r) => !r.ok && !r.skipped).length + rows.filter((r) => r.ok && r.log.outcome !== "captured" && r.log.outcome !== "logs-unavailable").length,
    },
    warnings,
    results: rows,
  };
}

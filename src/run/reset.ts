// kvlog reset, the run: put targets back to their startup level (or --to N), or every overdue timed change.
// src/commands/reset.ts has the flags and validation. src/cli.ts imports this module only when the
// command runs, so that --help and usage errors load none of the network code.

import { applyOne } from "../apply.js";
import { reasonText } from "../http.js";
import { cutShortInFlight, type Result } from "../outcomes.js";
import type { ComponentName } from "../components.js";
import { NothingMatchedError, UsageError } from "../errors.js";
import { probeStartup } from "../levels.js";
import type { TargetRequest } from "../options.js";
import type { Reachable, Target } from "../target.js";
import { editRecord, readRecordChecked, updateRecord, type Override } from "../record.js";
import { collapseSkipped, groupCells, isGroup, JSON_API_VERSION, jsonParts, table } from "../report.js";
import type { Io } from "../io.js";
import { refuseIgnoredImpersonation, Session } from "../session.js";
import { notes } from "../terminal.js";
import { Chalk } from "chalk";
import type { ResetRequest } from "../commands/reset.js";

/** Above this many overdue kubelets, every node is listed once instead of fetched one by one. */
const NAMED_NODES_MAX = 100;

/** Where the level put back came from. */
interface Back {
  level: number | null;
  source: string;
}

export async function runReset(req: ResetRequest, io: Io): Promise<number> {
  return Session.with(req, io, async (session) => {
    await session.open(req.targets?.endpoint, !req.dryRun);
    if (req.targets) refuseIgnoredImpersonation(req.targets, req.serviceAccount ? undefined : session.access);
    const results: Result[] = [];
    const warnings: string[] = [];
    let failure: unknown;
    if (req.targets) {
      const overrides = await readOverrides(session, req.targets.component.name, warnings);
      const out = await resetTargets(session, req, req.targets, overrides, undefined);
      results.push(...out.results);
      warnings.push(...out.warnings);
      failure = out.discoveryError;
      if (failure !== undefined && results.length === 0) throw failure;
    } else {
      if (!session.api) throw new UsageError("--expired reads the record through the apiserver: it needs a kubeconfig or the in-cluster ServiceAccount");
      const now = session.now();
      for (const c of req.expired!) {
        const overrides = await readOverrides(session, c.name, warnings);
        const overdue = new Map([...overrides].filter(([, o]) => o.until !== null && Date.parse(o.until) <= now));
        if (overdue.size === 0) continue;
        const names = [...overdue.keys()].map((id) => id.slice(c.name.length + 1));
        const sel: TargetRequest = {
          component: c,
          nodes: c.name === "kubelet" && names.length <= NAMED_NODES_MAX ? names : [],
          pods: [],
          direct: false,
          sendTokenToNodes: false,
          includeNotReady: false,
        };
        const out = await resetTargets(session, req, sel, overdue, (t) => overdue.has(t.id));
        warnings.push(...out.warnings);
        // A target that no longer exists (a deleted node) has nothing to put back: it leaves the record below.
        results.push(...out.results.map((r) => (r.outcome === "missing" ? { ...r, skipped: true, message: `${r.message}: nothing to put back, it leaves the record` } : r)));
        if (out.discoveryError !== undefined && !(out.discoveryError instanceof NothingMatchedError)) {
          warnings.push(`${c.name}: ${(out.discoveryError as Error).message}`);
          continue;
        }
        // Overdue targets that no longer exist (node deleted, pod replaced: a new process starts at
        // its startup level) leave the record.
        const seen = new Set(out.results.filter((r) => r.outcome !== "missing").map((r) => r.id));
        const gone = new Set([...overdue.keys()].filter((id) => !seen.has(id)));
        if (gone.size > 0 && !req.dryRun) {
          await updateRecord(session.recordApi!, c.name, (data) => editRecord(data, { remove: gone })).then(
            () => warnings.push(`${c.name}: ${gone.size} overdue target(s) no longer exist (${[...gone].slice(0, 3).join(", ")}${gone.size > 3 ? ", …" : ""}); removed from the record`),
            (e: unknown) => warnings.push(`${c.name}: cannot update the record: ${(e as Error).message}`),
          );
        }
      }
    }

    const shown = results.map((r) => ({ ...r, message: session.redact(r.message), hint: r.hint === null ? null : session.redact(r.hint) }));
    const all = warnings.map((w) => session.redact(w));
    const succeeded = shown.filter((r) => r.ok).length;
    const skipped = shown.filter((r) => r.skipped).length;
    const doc = {
      apiVersion: JSON_API_VERSION,
      kind: "ResetResult",
      expired: req.expired !== undefined,
      dryRun: req.dryRun,
      summary: { total: shown.length, succeeded, failed: shown.length - succeeded - skipped, skipped },
      warnings: all,
      results: shown,
    };
    const color = session.colorOn(io.stderr);
    if (req.output === "json") for (const part of jsonParts(doc)) io.stdout.write(part);
    else if (shown.length > 0) {
      const rows = collapseSkipped(shown, req.wide).map((r) =>
        isGroup(r) ? [...groupCells(r), "-", r.skipped[0]!.outcome, `${r.skipped[0]!.message} (-o wide lists them)`] : [r.id, r.node ?? "-", r.via, r.outcome, r.message],
      );
      io.stdout.write(table(["TARGET", "NODE", "VIA", "RESULT", "MESSAGE"], rows, session.colorOn(io.stdout)));
    }
    const chalk = new Chalk({ level: color ? 1 : 0 });
    const { failed } = doc.summary;
    if (req.expired && shown.length === 0) io.stderr.write("nothing is overdue in the record\n");
    else if (req.dryRun) io.stderr.write(`dry run: ${succeeded} of ${shown.length} target(s) would be put back; nothing was sent\n`);
    else io.stderr.write(`${failed === 0 ? chalk.green(`${succeeded} of ${shown.length} target(s) put back`) : chalk.red(`${failed} of ${shown.length} target(s) not put back, ${succeeded} put back`)}\n`);
    io.stderr.write(notes("warning", all));
    io.stderr.write(notes("hint", new Set(shown.filter((r) => !r.ok && !r.skipped && r.hint).map((r) => r.hint!))));
    if (failure !== undefined) return session.discoveryStopped(results.length, failure);
    if (io.signal?.aborted) return 130;
    // --expired works from the record: one it could not read is a failure (a CronJob whose token
    // was revoked must not keep passing), as for kvlog status.
    const unread = req.expired !== undefined && warnings.some((w) => w.startsWith("the record of "));
    return failed === 0 && !unread ? 0 : 1;
  });
}

async function readOverrides(session: Session, component: ComponentName, warnings: string[]): Promise<Map<string, Override>> {
  if (!session.api) return new Map();
  try {
    const { overrides, rejected } = await readRecordChecked(session.api, component);
    warnings.push(...rejected);
    return new Map(overrides.map((o) => [o.target, o]));
  } catch (e) {
    warnings.push(`the record of ${component} cannot be read: ${(e as Error).message}`);
    return new Map();
  }
}

/** Puts each target back to its startup level (or --to), then takes the ones put back out of the record. */
async function resetTargets(
  session: Session,
  req: ResetRequest,
  sel: TargetRequest,
  overrides: Map<string, Override>,
  filter: ((t: Target) => boolean) | undefined,
): Promise<{ results: Result[]; warnings: string[]; discoveryError: unknown }> {
  const base = { access: session.access, timeoutMs: req.timeoutMs, concurrency: req.concurrency, dryRun: req.dryRun, cancel: session.deadline };
  const backTo = async (t: Reachable): Promise<Back> => {
    if (req.to !== undefined) return { level: req.to, source: "--to" };
    const s = await probeStartup(t, session.access, req.timeoutMs, undefined, session.deadline);
    if (s.level !== null) return s;
    // The record is input (record.ts): its startup level is used only within 0-10 (parseRecord) and
    // never to raise a target above the level the recorded change set.
    const o = overrides.get(t.id);
    if (o?.startup != null && o.startup <= o.level) return { level: o.startup, source: "the record: the startup level when kvlog changed it" };
    if (o?.startup != null) return { level: null, source: `${s.source}, and the record's ${o.startup} is above the level that change set (${o.level}): kvlog does not raise a level on the record's word` };
    return { level: null, source: s.source };
  };
  const work = async (t: Target): Promise<Result> => {
    if (t.unavailable) return applyOne(t, { ...base, level: 0 });
    const back = await backTo(t);
    if (session.deadline?.aborted) {
      // --timeout passed while its startup level was read: interrupted, level unchanged. Said here,
      // not left to applyOne, whose dry run would answer "would PUT 0" for a level never learnt.
      return applyOne({ ...t, unavailable: { outcome: "interrupted", message: cutShortInFlight(reasonText(session.deadline), false).message } }, { ...base, level: 0 });
    }
    if (back.level === null) {
      const message = `not changed: the level it started with is ${back.source}`;
      return applyOne({ ...t, unavailable: { outcome: "unknown-startup", message, hint: "pass --to N to say which level to put back" } }, { ...base, level: 0 });
    }
    const r = await applyOne(t, { ...base, level: back.level });
    return { ...r, before: overrides.get(t.id)?.level ?? null, message: r.ok && !req.dryRun ? `level put back to ${back.level} (${back.source})` : r.message };
  };
  const out = await session.onTargets(sel, req.dryRun ? "resolving" : "resetting", work, (t) => applyOne(session.notAttempted(t), { ...base, level: 0 }), filter);
  const done = new Set(out.results.filter((r) => r.ok && overrides.has(r.id)).map((r) => r.id));
  if (done.size > 0 && !req.dryRun && session.api) {
    await updateRecord(session.recordApi!, sel.component.name, (data) => editRecord(data, { remove: done })).catch((e: unknown) =>
      out.warnings.push(`the levels are back, but the record of ${sel.component.name} still lists them: ${(e as Error).message}`),
    );
  }
  return out;
}

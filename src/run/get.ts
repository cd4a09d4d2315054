// kvlog get, the run: per target, the startup level and where it is written, and the recorded change.
// src/commands/get.ts has the flags and validation. src/cli.ts imports this module only when the
// command runs, so that --help and usage errors load none of the network code.

import { reasonText } from "../http.js";
import { probeStartup } from "../levels.js";
import type { Startup, Target } from "../target.js";
import { readRecordChecked, type Override } from "../record.js";
import { collapseSkipped, groupCells, isGroup, JSON_API_VERSION, jsonParts, table } from "../report.js";
import type { Io } from "../io.js";
import { refuseIgnoredImpersonation, Session } from "../session.js";
import { notes } from "../terminal.js";
import type { GetRequest } from "../commands/get.js";

/** One target's levels: the JSON `results[]` of `kvlog get -o json`. */
export interface LevelView {
  id: string;
  component: string;
  node: string | null;
  namespace: string | null;
  pod: string | null;
  via: Target["via"];
  /** Reached and asked (or read from its pod); false when the target could not be used. */
  ok: boolean;
  skipped: boolean;
  /** "ok", or why the target was not asked (node-not-ready, untrusted, missing, ...). */
  outcome: string;
  message: string;
  startup: Startup;
  /** kvlog's change in force according to the record, null when there is none (or it cannot be read). */
  recorded: RecordedView | null;
}

export interface RecordedView {
  level: number;
  by: string;
  at: string;
  until: string | null;
  expired: boolean;
  /** The process restarted since the change (so it runs at its startup level again); null when kvlog cannot tell. */
  restarted: boolean | null;
  change: string;
}

export async function runGet(req: GetRequest, io: Io): Promise<number> {
  return Session.with(req, io, async (session) => {
    await session.open(req.endpoint, true);
    refuseIgnoredImpersonation(req, req.serviceAccount ? undefined : session.access);
    const warnings: string[] = [];
    let overrides = new Map<string, Override>();
    if (session.api) {
      try {
        const { overrides: found, rejected } = await readRecordChecked(session.api, req.component.name);
        overrides = new Map(found.map((o) => [o.target, o]));
        warnings.push(...rejected);
      } catch (e) {
        warnings.push(`the record cannot be read, so changes kvlog made are not shown: ${(e as Error).message}`);
      }
    }
    const now = session.now();
    const view = async (t: Target): Promise<LevelView> => {
      const o = overrides.get(t.id);
      const recorded: RecordedView | null = o
        ? {
            level: o.level,
            by: o.by,
            at: o.at,
            until: o.until,
            expired: o.until !== null && Date.parse(o.until) <= now,
            restarted: o.incarnation && t.incarnation ? o.incarnation !== t.incarnation : null,
            change: o.change,
          }
        : null;
      const base = { id: t.id, component: t.component, node: t.node ?? null, namespace: t.namespace ?? null, pod: t.pod ?? null, via: t.via, recorded };
      if (t.unavailable) {
        return { ...base, ok: false, skipped: t.unavailable.skipped === true, outcome: t.unavailable.outcome, message: t.unavailable.message, startup: t.startup ?? { level: null, source: "unknown: not asked" } };
      }
      const startup = await probeStartup(t, session.access, req.timeoutMs, undefined, session.deadline);
      if (startup.level === null && session.deadline?.aborted) {
        return { ...base, ok: false, skipped: false, outcome: "interrupted", message: `${reasonText(session.deadline)} before kvlog had its answer`, startup };
      }
      return { ...base, ok: true, skipped: false, outcome: "ok", message: "", startup };
    };
    const { results, warnings: found, discoveryError } = await session.onTargets(req, "reading", view, (t) => view(session.notAttempted(t)));
    if (discoveryError !== undefined && results.length === 0) throw discoveryError;
    const shown = results.map((r) => ({ ...r, message: session.redact(r.message), startup: { ...r.startup, source: session.redact(r.startup.source) } }));
    const all = [...found, ...warnings].map((w) => session.redact(w));
    const doc = {
      apiVersion: JSON_API_VERSION,
      kind: "GetResult",
      component: req.component.name,
      summary: { total: shown.length, known: shown.filter((r) => r.startup.level !== null).length, recorded: shown.filter((r) => r.recorded).length },
      warnings: all,
      results: shown,
    };
    if (req.output === "json") for (const part of jsonParts(doc)) io.stdout.write(part);
    else {
      const rows = collapseSkipped(shown, req.wide).map((r) =>
        isGroup(r)
          ? [...groupCells(r), r.skipped[0]!.outcome, `${r.skipped[0]!.message} (-o wide lists them)`, "-"]
          : [r.id, r.node ?? "-", r.ok ? (r.startup.level === null ? "unknown" : String(r.startup.level)) : r.outcome, r.ok ? r.startup.source : r.message, recordedText(r.recorded)],
      );
      io.stdout.write(table(["TARGET", "NODE", "STARTUP", "SOURCE", "KVLOG CHANGE"], rows, session.colorOn(io.stdout)));
    }
    io.stderr.write(notes("warning", all));
    if (discoveryError !== undefined) return session.discoveryStopped(results.length, discoveryError);
    return shown.some((r) => !r.ok && !r.skipped) ? 1 : 0;
  });
}

function recordedText(r: RecordedView | null): string {
  if (!r) return "-";
  const state = r.restarted ? " (undone: restarted since)" : r.expired ? " (expired: kvlog reset --expired)" : "";
  return `${r.level} by ${r.by} at ${r.at}${r.until ? ` until ${r.until}` : ""}${state}`;
}

// kvlog status, the run: every recorded change across the components, with its state.
// src/commands/status.ts has the flags and validation. src/cli.ts imports this module only when the
// command runs, so that --help and usage errors load none of the network code.

import { RECORD_NAMESPACE, readRecordChecked, recordName, type Override } from "../record.js";
import { JSON_API_VERSION, jsonParts, table } from "../report.js";
import { mapLimit } from "../fanout.js";
import type { Io } from "../io.js";
import { Session } from "../session.js";
import { notes } from "../terminal.js";
import type { StatusRequest } from "../commands/status.js";

/** One override: the JSON `results[]` of `kvlog status -o json`. */
export interface StatusView extends Override {
  /**
   * active: in force; expired: its --for is over and nobody put it back (kvlog reset --expired);
   * restarted: the process restarted since, so it runs at its startup level again; gone: the pod
   * no longer exists.
   */
  state: "active" | "expired" | "restarted" | "gone";
}

export async function runStatus(req: StatusRequest, io: Io): Promise<number> {
  return Session.with(req, io, async (session) => {
    await session.open(undefined, true);
    const api = session.api!;
    const warnings: string[] = [];
    const overrides: Override[] = [];
    for (const c of req.components) {
      try {
        const { overrides: found, rejected } = await readRecordChecked(api, c.name);
        overrides.push(...found);
        warnings.push(...rejected);
      } catch (e) {
        warnings.push(`cannot read ${RECORD_NAMESPACE}/${recordName(c.name)}: ${(e as Error).message}`);
      }
    }
    const now = session.now();
    // A pod's incarnation (uid, restarts, start time) when kvlog changed it, against its pod now.
    const views = await mapLimit(overrides, 16, async (o): Promise<StatusView> => {
      const expired = o.until !== null && Date.parse(o.until) <= now;
      const state = expired ? "expired" : "active";
      const [, ns, pod] = o.target.split("/");
      if (!o.incarnation || !ns || !pod) return { ...o, state };
      try {
        const p = await api.getPod(ns, pod);
        if (!p) return { ...o, state: "gone" };
        const s = p.status?.containerStatuses?.[0];
        const incarnation = `${p.metadata.uid}/${s?.restartCount ?? 0}/${s?.state?.running?.startedAt ?? ""}`;
        return { ...o, state: incarnation !== o.incarnation ? "restarted" : state };
      } catch {
        return { ...o, state }; // cannot tell: shown as the record says
      }
    });
    const count = (s: StatusView["state"]): number => views.filter((v) => v.state === s).length;
    const shown = views.map((v) => ({ ...v, by: session.redact(v.by) }));
    const all = warnings.map((w) => session.redact(w));
    const doc = {
      apiVersion: JSON_API_VERSION,
      kind: "StatusResult",
      summary: { total: views.length, active: count("active"), expired: count("expired"), restarted: count("restarted"), gone: count("gone") },
      warnings: all,
      results: shown,
    };
    if (req.output === "json") for (const part of jsonParts(doc)) io.stdout.write(part);
    else if (shown.length > 0) {
      const rows = shown.map((v) => [v.target, String(v.level), v.before === null ? "?" : String(v.before), v.by, v.at, v.until ?? "-", v.state]);
      io.stdout.write(
        table(["TARGET", "LEVEL", "BEFORE", "BY", "SINCE", "UNTIL", "STATE"], rows, session.colorOn(io.stdout), (s, _k, i, c) =>
          i === 6 && s.trim() !== "active" ? c.yellow(s) : s,
        ),
      );
    }
    const { total, expired, restarted, gone } = doc.summary;
    io.stderr.write(
      total === 0
        ? "no level changes recorded\n"
        : `${total} recorded change(s) in force${expired ? `; ${expired} expired (kvlog reset --expired puts them back)` : ""}${restarted ? `; ${restarted} undone by a restart` : ""}${gone ? `; ${gone} on pods that are gone` : ""}\n`,
    );
    io.stderr.write(notes("warning", all));
    return warnings.length > 0 ? 1 : 0;
  });
}

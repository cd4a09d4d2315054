// record: what kvlog changed, kept in the cluster so that anyone can see it (kvlog status) and
// undo it (kvlog reset --expired). One ConfigMap per component in kube-system, kvlog-<component>;
// each data key is one change (one `kvlog set` run): its level, who, when, until when, and its
// targets with the level each had before. A target is in at most one change: the latest.
// Written with optimistic concurrency (a stale resourceVersion gets 409, then read again and
// redo), so two people running kvlog at once lose neither change.

import { setTimeout as sleep } from "node:timers/promises";
import { COMPONENTS, type ComponentName } from "./components.js";
import { RunError } from "./errors.js";
import type { ConfigMap, RecordApi } from "./objects.js";
import { MAX_FOR_MS, MAX_LEVEL } from "./options.js";

export const RECORD_NAMESPACE = "kube-system";
export const RECORD_LABEL = "app.kubernetes.io/managed-by";
const FORMAT_ANNOTATION = "kvlog.dev/record-format";
/** A ConfigMap holds at most 1 MiB; stop short of it (about 10,000 targets in one record). */
export const MAX_RECORD_BYTES = 900_000;
const MAX_WRITE_ATTEMPTS = 8;

export function recordName(component: ComponentName): string {
  return `kvlog-${component}`;
}
export const RECORD_NAMES = COMPONENTS.map((c) => recordName(c.name));

/** What the record keeps of one target in a change. */
export interface Mark {
  /** The level before this change (the previous override's, else the startup level), when known. */
  before?: number | undefined;
  /** The level the process started with, when known: what a reset goes back to. */
  startup?: number | undefined;
  /** The pod's uid/restarts/start time when changed: a restart since then undid the change. */
  incarnation?: string | undefined;
}

/** One `kvlog set`: stored as JSON under its id. */
export interface Change {
  level: number;
  by: string;
  at: string;
  /** When a timed change (--for) is due back; absent: until someone resets it. */
  until?: string | undefined;
  targets: Record<string, Mark>;
}

/** One target's current override, as `kvlog status` and `kvlog get` show it. */
export interface Override {
  component: ComponentName;
  target: string;
  change: string;
  level: number;
  before: number | null;
  startup: number | null;
  by: string;
  at: string;
  until: string | null;
  incarnation: string | null;
}

export type RecordData = Record<string, string>;

/**
 * The highest startup (or before) level kvlog takes from the record. The record is input, not
 * authority: anyone who may update the kvlog-* ConfigMaps can write it, and `reset` acts on the
 * startup level it holds when a component cannot say its own (kube-proxy before 1.36). Operators run
 * components at 0 to 10; a level above that is taken as unknown (and `reset` further refuses one
 * above the level the change itself set: see run/reset.ts).
 */
export const RECORD_LEVEL_MAX = 10;
/** Longest `by` and `incarnation` kept from the record (both are shown, never acted on). */
const MAX_TEXT = 256;

/**
 * The names kvlog gives targets: `<component>/<node>`, `<component>/<namespace>/<pod>` (DNS names,
 * as the apiserver validates them) or `<component>/<host>:<port>` (an address, `[v6]:port`). A record
 * naming anything else is not kvlog's: such a target is left out, never turned into a request.
 */
const DNS = "[a-z0-9](?:[-a-z0-9]*[a-z0-9])?(?:\\.[a-z0-9](?:[-a-z0-9]*[a-z0-9])?)*";
const TARGET_NAME = new RegExp(`^(?:${DNS}|${DNS}/${DNS}|(?:${DNS}|\\[[0-9a-f:.]+\\]):[0-9]{1,5})$`);

export function isTargetId(component: ComponentName, id: string): boolean {
  const name = id.startsWith(`${component}/`) ? id.slice(component.length + 1) : undefined;
  return name !== undefined && name.length <= 253 + 1 + 63 && TARGET_NAME.test(name) && !name.split(/[/:]/).some((p) => p === "..");
}

/** A level kvlog could have recorded: a whole number from 0 to `max`, else null. */
function levelUpTo(v: unknown, max: number): number | null {
  return typeof v === "number" && Number.isInteger(v) && v >= 0 && v <= max ? v : null;
}

/** How far ahead of this machine's clock a change's time may be (clock skew) before it is not believed. */
const MAX_SKEW_MS = 3_600_000;

export function newChangeId(now: Date): string {
  const stamp = now.toISOString().replace(/[-:]/g, "").replace(/\.\d+Z$/, "Z");
  return `${stamp}-${Math.random().toString(16).slice(2, 8)}`;
}

function parseChange(text: string): Change | undefined {
  try {
    const c = JSON.parse(text) as Change;
    if (typeof c?.level !== "number" || typeof c.by !== "string" || typeof c.at !== "string" || typeof c.targets !== "object" || c.targets === null) return undefined;
    return c;
  } catch {
    return undefined;
  }
}

/** Every override in one component's record; entries kvlog cannot read are skipped. */
export function overridesIn(component: ComponentName, data: RecordData | undefined): Override[] {
  return parseRecord(component, data).overrides;
}

/**
 * One component's record, checked as input: every value is one kvlog itself could have written, or
 * it is not used. A change whose level or time is not valid is left out; a target name that is not
 * one kvlog gives is left out; a startup or prior level out of range (0 to RECORD_LEVEL_MAX) becomes
 * unknown; an `until` later than the longest --for after the change
 * is taken as that. `rejected` says what was left out or not believed, a line per change.
 */
export function parseRecord(component: ComponentName, data: RecordData | undefined, now = Date.now()): { overrides: Override[]; rejected: string[] } {
  const out: Override[] = [];
  const rejected: string[] = [];
  const name = recordName(component);
  for (const [id, text] of Object.entries(data ?? {})) {
    const c = parseChange(text);
    if (!c) continue; // not a change at all: kept in the record as it is, not shown
    const at = Date.parse(c.at);
    // A time in the future (past clock skew) would keep a planted change from ever being overdue.
    if (!Number.isInteger(c.level) || c.level < 0 || c.level > MAX_LEVEL || Number.isNaN(at) || at > now + MAX_SKEW_MS) {
      rejected.push(`${name}: change ${id} is not one kvlog writes (level ${JSON.stringify(c.level)}, at ${JSON.stringify(c.at)}); left out`);
      continue;
    }
    const doubts: string[] = [];
    let until: string | null = null;
    if (c.until !== undefined) {
      // kvlog writes an until between the change's time and 24h after it: one outside is taken as
      // the nearest end (unreadable: the latest), so a planted record never keeps a change past 24h.
      const u = Date.parse(String(c.until));
      const kept = Number.isNaN(u) ? at + MAX_FOR_MS : Math.min(Math.max(u, at), at + MAX_FOR_MS);
      until = kept === u && typeof c.until === "string" ? c.until : new Date(kept).toISOString();
      if (kept !== u) doubts.push(`until ${JSON.stringify(c.until)} taken as ${until} (a timed change lasts at most 24h after it was made)`);
    }
    const bad = { names: 0, startup: 0, before: 0 };
    for (const [target, m] of Object.entries(c.targets)) {
      if (!isTargetId(component, target)) {
        bad.names++;
        continue;
      }
      const mark = (typeof m === "object" && m !== null ? m : {}) as Mark;
      // The startup level is what reset may put back: 0-10. The prior level is only shown, and can be
      // any level a user set before (set 12, then set 3): the whole range.
      const startup = levelUpTo(mark.startup, RECORD_LEVEL_MAX);
      const before = levelUpTo(mark.before, MAX_LEVEL);
      if (mark.startup !== undefined && startup === null) bad.startup++;
      if (mark.before !== undefined && before === null) bad.before++;
      out.push({
        component,
        target,
        change: id,
        level: c.level,
        before,
        startup,
        by: c.by.slice(0, MAX_TEXT),
        at: c.at,
        until,
        incarnation: typeof mark.incarnation === "string" ? mark.incarnation.slice(0, MAX_TEXT) : null,
      });
    }
    if (bad.names > 0) doubts.push(`${bad.names} target name(s) that are not kvlog's left out`);
    if (bad.startup > 0) doubts.push(`the startup level of ${bad.startup} target(s) is not one kvlog records (0 to ${RECORD_LEVEL_MAX}): taken as unknown`);
    if (bad.before > 0) doubts.push(`the prior level of ${bad.before} target(s) is not a level (0 to ${MAX_LEVEL}): taken as unknown`);
    if (doubts.length > 0) rejected.push(`${name}: change ${id}: ${doubts.join("; ")}`);
  }
  return { overrides: out.sort((a, b) => a.target.localeCompare(b.target)), rejected };
}

/**
 * The record after an edit: `remove` takes targets out (of every change, or only of
 * `removeFrom`), `add` records a change (its targets leave any older change). Pure.
 */
export function editRecord(data: RecordData, edit: { add?: { id: string; change: Change }; remove?: Set<string>; removeFrom?: string }): RecordData {
  const gone = new Set(edit.remove ?? []);
  const moved = new Set(Object.keys(edit.add?.change.targets ?? {}));
  const out: RecordData = {};
  for (const [id, text] of Object.entries(data)) {
    const c = parseChange(text);
    if (!c) {
      out[id] = text; // not ours to judge: kept as it is
      continue;
    }
    const targets = Object.fromEntries(
      Object.entries(c.targets).filter(([t]) => !moved.has(t) && !(gone.has(t) && (edit.removeFrom === undefined || edit.removeFrom === id))),
    );
    const n = Object.keys(targets).length;
    if (n === Object.keys(c.targets).length) out[id] = text;
    else if (n > 0) out[id] = JSON.stringify({ ...c, targets });
  }
  if (edit.add && moved.size > 0) out[edit.add.id] = JSON.stringify(edit.add.change);
  return out;
}

function sameData(a: RecordData, b: RecordData): boolean {
  const ka = Object.keys(a);
  return ka.length === Object.keys(b).length && ka.every((k) => a[k] === b[k]);
}

export async function readRecord(api: RecordApi, component: ComponentName): Promise<Override[]> {
  return overridesIn(component, (await readRecordMap(api, component))?.data);
}

/** readRecord, and what in the record kvlog did not believe (parseRecord): for the commands that show it. */
export async function readRecordChecked(api: RecordApi, component: ComponentName): Promise<{ overrides: Override[]; rejected: string[] }> {
  return parseRecord(component, (await readRecordMap(api, component))?.data);
}

/** The record's ConfigMap as it is now (undefined when there is none): for updateRecord's `known`. */
export function readRecordMap(api: RecordApi, component: ComponentName): Promise<ConfigMap | undefined> {
  return api.getConfigMap(RECORD_NAMESPACE, recordName(component));
}

/**
 * Applies `edit` to a component's record: read, edit, write with the resourceVersion read; a
 * conflict (someone wrote in between) reads again and redoes the edit on what is there now.
 * `known`: the record as read earlier in this run (readRecordMap), edited and written without
 * reading it again; if it changed since, the write is a conflict and the loop reads it anew.
 */
export async function updateRecord(api: RecordApi, component: ComponentName, edit: (data: RecordData) => RecordData, known?: { cm: ConfigMap | undefined }): Promise<void> {
  const name = recordName(component);
  for (let attempt = 1; ; attempt++) {
    const cm = attempt === 1 && known ? known.cm : await api.getConfigMap(RECORD_NAMESPACE, name);
    const before = cm?.data ?? {};
    const data = edit(before);
    if (sameData(before, data)) return;
    const bytes = Object.entries(data).reduce((n, [k, v]) => n + Buffer.byteLength(k) + Buffer.byteLength(v), 0);
    if (bytes > MAX_RECORD_BYTES) {
      throw new RunError(`the record ${RECORD_NAMESPACE}/${name} would hold ${bytes} bytes, more than a ConfigMap can (1 MiB); the change is not recorded`);
    }
    const next: ConfigMap = cm
      ? { ...cm, data }
      : {
          apiVersion: "v1",
          kind: "ConfigMap",
          metadata: { name, namespace: RECORD_NAMESPACE, labels: { [RECORD_LABEL]: "kvlog", "kvlog.dev/component": component }, annotations: { [FORMAT_ANNOTATION]: "1" } },
          data,
        };
    if ((await api.writeConfigMap(next)) !== "conflict") return;
    if (attempt >= MAX_WRITE_ATTEMPTS) {
      throw new RunError(`the record ${RECORD_NAMESPACE}/${name} kept changing while kvlog wrote it (${attempt} conflicts); the change is not recorded`);
    }
    await sleep(20 + Math.floor(Math.random() * 80 * attempt));
  }
}

/** The ConfigMaps `kvlog rbac` prints so that kvlog needs no create permission in kube-system. */
export function emptyRecord(component: ComponentName): ConfigMap {
  return {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { name: recordName(component), namespace: RECORD_NAMESPACE, labels: { [RECORD_LABEL]: "kvlog", "kvlog.dev/component": component }, annotations: { [FORMAT_ANNOTATION]: "1" } },
  };
}

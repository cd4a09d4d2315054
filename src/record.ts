// record: what kvlog changed, kept in the cluster so that anyone can see it (kvlog status) and
// undo it (kvlog reset --expired). One ConfigMap per component in kube-system, kvlog-<component>;
// each data key is one change (one `kvlog set` run): its level, who, when, until when, and its
// targets with the level each had before. A target is in at most one change: the latest.
// Written with optimistic concurrency (a stale resourceVersion gets 409, then read again and
// redo), so two people running kvlog at once lose neither change.

import { setTimeout as sleep } from "node:timers/promises";
import { COMPONENTS, type ComponentName } from "./components.js";
import { RunError } from "./errors.js";
import type { ConfigMap, RecordApi } from "./kube.js";

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
  const out: Override[] = [];
  for (const [id, text] of Object.entries(data ?? {})) {
    const c = parseChange(text);
    if (!c) continue;
    for (const [target, m] of Object.entries(c.targets)) {
      out.push({
        component,
        target,
        change: id,
        level: c.level,
        before: m.before ?? null,
        startup: m.startup ?? null,
        by: c.by,
        at: c.at,
        until: c.until ?? null,
        incarnation: m.incarnation ?? null,
      });
    }
  }
  return out.sort((a, b) => a.target.localeCompare(b.target));
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

// logs/writer: what one target's log is (its source, phases and stats, as capture.json reports
// them) and the LogWriter that writes its lines to one file of the bundle as they arrive, counting
// them by phase and by slice of the window, masking kvlog's own credentials, at most --max-bytes.
// Also the bundle's file name for a target (ids come from the cluster).

import { once } from "node:events";
import { createWriteStream, type WriteStream } from "node:fs";
import { MAX_LINE_HEAD } from "./time.js";

/** How far back before the raise the log is read, to know its rate before. */
export const BASELINE_MS = 10_000;
/** Slices of the window counted per target (the sparkline); one per second for windows up to this many seconds. */
export const SLICES = 60;

export type SourceKind = "pods/log" | "node-log-query" | "node-log-file" | "none";

/** Where a target's log is read. */
export interface LogSource {
  kind: SourceKind;
  /** What the table and JSON show: the API path read (no credentials, no query). */
  where: string;
  /** Why there is none, and what would make one (kind "none" only). */
  unavailable?: string | undefined;
}

export type LogOutcome = "captured" | "logs-unavailable" | "not-followed" | "forbidden" | "stream-cut" | "write-failed" | "error";

/** One target's log over the run, as capture.json reports it. */
export interface LogStats {
  source: SourceKind;
  where: string;
  outcome: LogOutcome;
  message: string;
  /** Bytes written to the file, and lines seen (lines past --max-bytes are counted, not written). */
  bytes: number;
  lines: number;
  linesBefore: number;
  linesDuring: number;
  linesAfter: number;
  /** The container restarted during the window (pods/log): followed onto the new one each time. */
  restarts: number;
  /** The stream ended early and was asked for again from the last line seen. */
  reconnects: number;
  truncated: boolean;
  /** Read after the window from the source's history, because --max-log-requests streams were busy. */
  queued: boolean;
  /** Lines per slice of the window (capture.json's `slices`). */
  slices: number[];
  firstLineAt: string | null;
  lastLineAt: string | null;
}

/** The phases of one target: from when its log is read, when it was raised, restored, and when reading stops. */
export interface Phases {
  fromMs: number;
  raisedAt: number;
  restoredAt: number | undefined;
  /** The window's start and length, for the slices. */
  windowStart: number;
  windowMs: number;
}

/**
 * A file name for a target's log: its id made safe (ids come from the cluster). Path separators,
 * `..`, control characters and anything unusual become `_`; names that collide get `-2`, `-3`.
 */
export function safeFileName(id: string, taken: Set<string>): string {
  let base = id
    .replace(/[^A-Za-z0-9._-]/g, "_")
    .replace(/\.{2,}/g, "_")
    .replace(/^[.-]+/, "_")
    .slice(0, 180);
  if (!base) base = "target";
  let name = `${base}.log`;
  for (let i = 2; taken.has(name.toLowerCase()); i++) name = `${base}-${i}.log`;
  taken.add(name.toLowerCase());
  return name;
}

/** Writes lines to one file, counting them by phase and slice; at most maxBytes are written. */
export class LogWriter {
  readonly stats: LogStats;
  /** Opened at the first write: a target waiting for a stream holds no file descriptor. */
  private outStream: WriteStream | undefined;
  private readonly path: string;
  private carry: Buffer | undefined;
  /** After a reconnect: lines at or before this time were written already. */
  private resumeAfter: number | undefined;
  private lastMs: number | undefined;
  private failed: Error | undefined;
  private readonly sliceMs: number;

  readonly phases: Phases;
  private readonly maxBytes: number;
  private timeOf: (line: string) => number | undefined;
  /** kvlog's own credentials: a component at a high level may log a request's headers. */
  private readonly secrets: () => Buffer[];

  constructor(path: string, source: LogSource, phases: Phases, maxBytes: number, timeOf: (line: string) => number | undefined, secrets: Buffer[] | (() => Buffer[]) = []) {
    this.phases = phases;
    this.maxBytes = maxBytes;
    this.timeOf = timeOf;
    // A getter: an exec plugin's or a minted token renewed during a long window is masked too.
    this.secrets = typeof secrets === "function" ? secrets : () => secrets;
    this.sliceMs = Math.max(1000, Math.ceil(phases.windowMs / SLICES / 1000) * 1000);
    this.stats = {
      source: source.kind,
      where: source.where,
      outcome: "captured",
      message: "",
      bytes: 0,
      lines: 0,
      linesBefore: 0,
      linesDuring: 0,
      linesAfter: 0,
      restarts: 0,
      reconnects: 0,
      truncated: false,
      queued: false,
      slices: new Array<number>(Math.min(SLICES, Math.ceil(phases.windowMs / this.sliceMs))).fill(0),
      firstLineAt: null,
      lastLineAt: null,
    };
    this.path = path;
  }

  private get out(): WriteStream {
    if (!this.outStream) {
      this.outStream = createWriteStream(this.path, { flags: "wx", mode: 0o600 });
      this.outStream.on("error", (e) => {
        this.failed ??= e;
      });
    }
    return this.outStream;
  }

  get writeError(): Error | undefined {
    return this.failed;
  }

  get lastLineMs(): number | undefined {
    return this.lastMs;
  }

  /** Lines from another source from now on (a component's file under /var/log/ instead of its pod log). */
  readFrom(source: LogSource, timeOf: (line: string) => number | undefined): void {
    this.timeOf = timeOf;
    this.stats.source = source.kind;
    this.stats.where = source.where;
  }

  /** The next read starts again from the last line seen: lines up to it are not written twice. */
  resume(): void {
    this.resumeAfter = this.lastMs;
  }

  /** A line of kvlog's own in the file (a restart, a cut): `# kvlog: ...`. */
  async mark(text: string): Promise<void> {
    await this.write(Buffer.from(`# kvlog: ${text}\n`), true);
  }

  /**
   * Takes a chunk of the log; returns false once reading should stop (a line past the end of
   * reading, `untilMs`, was seen: a read of history after the window).
   */
  async push(chunk: Buffer, untilMs?: number): Promise<boolean> {
    const data = this.carry ? Buffer.concat([this.carry, chunk]) : chunk;
    this.carry = undefined;
    let start = 0;
    let keepFrom = 0;
    const keep: Buffer[] = [];
    let more = true;
    for (;;) {
      const nl = data.indexOf(10, start);
      if (nl < 0) break;
      const head = data.toString("utf8", start, Math.min(nl, start + MAX_LINE_HEAD));
      const at = this.timeOf(head);
      let skip = false;
      if (at !== undefined) {
        if (this.resumeAfter !== undefined && at <= this.resumeAfter) skip = true;
        else this.resumeAfter = undefined;
        if (at < this.phases.fromMs) skip = true;
        if (untilMs !== undefined && at > untilMs) {
          skip = true;
          more = false;
        }
      } else if (this.resumeAfter !== undefined) skip = true;
      if (skip) {
        if (start > keepFrom) keep.push(data.subarray(keepFrom, start));
        keepFrom = nl + 1;
      } else this.count(at ?? this.lastMs ?? this.phases.fromMs);
      start = nl + 1;
      if (!more) break;
    }
    if (start > keepFrom) keep.push(data.subarray(keepFrom, start));
    if (more && start < data.length) {
      // A line not ended yet: kept for the next chunk (a line longer than a chunk is written as it comes).
      const rest = data.subarray(start);
      if (rest.length <= 1 << 20) this.carry = Buffer.from(rest);
      else keep.push(rest);
    }
    for (const b of keep) await this.write(b, false);
    return more;
  }

  private count(at: number): void {
    const s = this.stats;
    s.lines++;
    this.lastMs = Math.max(this.lastMs ?? at, at);
    if (s.firstLineAt === null) s.firstLineAt = new Date(at).toISOString();
    s.lastLineAt = new Date(this.lastMs).toISOString();
    const p = this.phases;
    if (at < p.raisedAt) s.linesBefore++;
    else if (p.restoredAt === undefined || at < p.restoredAt) s.linesDuring++;
    else s.linesAfter++;
    const slice = Math.floor((at - p.windowStart) / this.sliceMs);
    if (slice >= 0 && slice < s.slices.length) s.slices[slice]!++;
  }

  private async write(b: Buffer, own: boolean): Promise<void> {
    if (this.failed || b.length === 0) return;
    for (const secret of this.secrets()) {
      if (b.includes(secret)) b = Buffer.from(b.toString("latin1").split(secret.toString("latin1")).join("<redacted>"), "latin1");
    }
    const s = this.stats;
    if (s.truncated) return;
    if (s.bytes + b.length > this.maxBytes) {
      const room = own ? 0 : this.maxBytes - s.bytes;
      const cut = room > 0 ? b.subarray(0, b.lastIndexOf(10, room - 1) + 1) : Buffer.alloc(0);
      s.truncated = true;
      s.bytes += cut.length;
      if (cut.length > 0 && !this.out.write(cut)) await this.drain();
      const note = Buffer.from(`# kvlog: truncated at --max-bytes ${this.maxBytes}: later lines were counted, not kept\n`);
      s.bytes += note.length;
      if (!this.out.write(note)) await this.drain();
      return;
    }
    s.bytes += b.length;
    if (!this.out.write(b)) await this.drain();
  }

  private async drain(): Promise<void> {
    if (this.failed) return;
    await Promise.race([once(this.out, "drain"), once(this.out, "error").catch(() => {})]).catch(() => {});
  }

  /** Writes what is left of a last line, closes the file; the outcome says if writing failed. */
  async close(): Promise<void> {
    if (this.carry) {
      const rest = this.carry;
      this.carry = undefined;
      await this.push(Buffer.concat([rest, Buffer.from("\n")]));
    }
    const out = this.outStream ?? (this.failed ? undefined : this.out); // a quiet log is an empty file
    if (out) await new Promise<void>((resolve) => out.end(() => resolve()));
    if (this.failed) {
      this.stats.outcome = "write-failed";
      this.stats.message = `writing ${this.path} failed: ${(this.failed as NodeJS.ErrnoException).code ?? ""} ${this.failed.message}`.trim();
    }
  }
}

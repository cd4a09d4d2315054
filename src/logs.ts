// logs: where a target's log can be read through the API, and one follower per target that
// writes it to a file as the bytes arrive (never a whole log in memory), counting lines per phase
// (before the raise, during, after the restore) and per slice of the window as it writes.
//
// Sources (kubernetes-facts.md, "Reading a component's logs through the API"):
// - pods/log (follow, timestamps, sinceTime): pod-backed targets and apiserver static pods.
// - the kubelet's /logs/ through the node proxy: the node log query (?query=kubelet&sinceTime=),
//   else the file it writes under /var/log/ (read with Range requests once the level is back).
// - none: a target reached only by its address, or a kubelet whose log is in journald without the
//   node log query: `logs-unavailable`, with what would make it available.

import { once } from "node:events";
import { createWriteStream, type WriteStream } from "node:fs";
import type { Dispatcher } from "undici";
import dispatchRequest from "undici/lib/api/api-request.js";
import { freshCredentials, type Access } from "./access.js";
import { newDispatcher } from "./dispatch.js";
import { errorCode, joinUrl, networkReason, readBody, sleep, statusMessage } from "./http.js";
import type { KubeApi } from "./objects.js";
import type { Target } from "./target.js";

/** How far back before the raise the log is read, to know its rate before. */
export const BASELINE_MS = 10_000;
/** How often a source without follow (the kubelet's /logs/) is read again during the window. */
export const POLL_MS = 10_000;
/** Slices of the window counted per target (the sparkline); one per second for windows up to this many seconds. */
export const SLICES = 60;
/** A read of a pod's log history (after the window, for a target that waited for a stream) takes at most this long. */
const HISTORY_READ_MS = 120_000;
/** A line longer than this is written, but its start is not searched for a timestamp again. */
const MAX_LINE_HEAD = 64;

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

// ---- timestamps -----------------------------------------------------------------------------

const MONTHS: Record<string, number> = { Jan: 0, Feb: 1, Mar: 2, Apr: 3, May: 4, Jun: 5, Jul: 6, Aug: 7, Sep: 8, Oct: 9, Nov: 10, Dec: 11 };

/** RFC 3339 with any fraction (pods/log timestamps=true: `2026-12-06T20:11:46.123456789Z msg`). */
export function rfc3339Ms(s: string): number | undefined {
  const m = /^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)/.exec(s);
  if (!m) return undefined;
  const ms = Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!, m[7] ? Number(m[7].slice(0, 3).padEnd(3, "0")) : 0);
  if (m[8] === "Z") return ms;
  const sign = m[8]!.startsWith("-") ? -1 : 1;
  return ms - sign * (Number(m[8]!.slice(1, 3)) * 60 + Number(m[8]!.slice(4, 6))) * 60_000;
}

/** A time without a year (journald's short-precise, klog's header) in the year that puts it nearest to `now`. */
function nearYear(month: number, day: number, h: number, mi: number, s: number, ms: number, now: number): number {
  const y = new Date(now).getUTCFullYear();
  const t = Date.UTC(y, month, day, h, mi, s, ms);
  if (t - now > 180 * 86_400_000) return Date.UTC(y - 1, month, day, h, mi, s, ms);
  if (now - t > 180 * 86_400_000) return Date.UTC(y + 1, month, day, h, mi, s, ms);
  return t;
}

/** journalctl --utc --output=short-precise: `Dec 06 20:11:46.123456 host unit[pid]: msg`. */
export function journalMs(s: string, now: number): number | undefined {
  const m = /^([A-Z][a-z]{2}) (\d\d) (\d\d):(\d\d):(\d\d)(?:\.(\d+))?/.exec(s);
  const month = m ? MONTHS[m[1]!] : undefined;
  if (!m || month === undefined) return undefined;
  return nearYear(month, +m[2]!, +m[3]!, +m[4]!, +m[5]!, m[6] ? Number(m[6].slice(0, 3).padEnd(3, "0")) : 0, now);
}

/** klog's header: `I1206 20:11:46.123456    1234 file.go:12] msg` (UTC on the nodes kvlog has seen). */
export function klogMs(s: string, now: number): number | undefined {
  const m = /^[IWEF](\d\d)(\d\d) (\d\d):(\d\d):(\d\d)(?:\.(\d+))?/.exec(s);
  if (!m) return undefined;
  return nearYear(+m[1]! - 1, +m[2]!, +m[3]!, +m[4]!, +m[5]!, m[6] ? Number(m[6].slice(0, 3).padEnd(3, "0")) : 0, now);
}

// ---- where a target's log is ---------------------------------------------------------------

const API_POD_LOG = (ns: string, pod: string): string => `/api/v1/namespaces/${encodeURIComponent(ns)}/pods/${encodeURIComponent(pod)}/log`;
const NODE_LOGS = (node: string): string => `/api/v1/nodes/${encodeURIComponent(node)}/proxy/logs/`;

/** The kubelet configuration that makes its log readable through the API. */
export const KUBELET_LOG_CONFIG =
  "set enableSystemLogQuery: true in the kubelet's KubeletConfiguration (with the NodeLogQuery feature gate on 1.30-1.35; it is GA from 1.36) and restart the kubelet, or have it write /var/log/kubelet.log; enableDebuggingHandlers and enableSystemLogHandler must stay true (the defaults)";

/**
 * Where a target's log is read. `apiserverPods` maps a kube-apiserver replica's address to its
 * static pod (namespace/name), when one was found.
 */
export function sourceFor(t: Target, hasApi: boolean, apiserverPods: Map<string, { namespace: string; pod: string }>): LogSource {
  if (!hasApi) {
    return { kind: "none", where: "-", unavailable: `${t.component} is reached only by its address (--endpoint, no kubeconfig): its log is on that host (journalctl -u ${t.component}, or /var/log/${t.component}.log), or in the cloud's logging service on a managed control plane` };
  }
  if (t.namespace && t.pod) return { kind: "pods/log", where: API_POD_LOG(t.namespace, t.pod) };
  if (t.component === "kubelet" && t.node) return { kind: "node-log-query", where: NODE_LOGS(t.node) };
  if (t.component === "kube-apiserver") {
    const host = hostOf(t);
    const pod = host ? apiserverPods.get(host) : undefined;
    if (pod) return { kind: "pods/log", where: API_POD_LOG(pod.namespace, pod.pod) };
    return {
      kind: "none",
      where: "-",
      unavailable: `no kube-apiserver static pod (kube-system, component=kube-apiserver) runs at ${host ?? "this address"}, so its log cannot be read through the API: on a managed control plane (EKS, GKE, AKS) it is in the cloud's logging service (e.g. CloudWatch control-plane logging, Cloud Logging); on your own hosts, journalctl -u kube-apiserver or /var/log/kube-apiserver.log`,
    };
  }
  return { kind: "none", where: "-", unavailable: `${t.component} is reached only by its address: its log is on that host, or in the cloud's logging service on a managed control plane` };
}

/** The host part of a direct target's id (`kube-apiserver/10.0.0.1:6443` -> `10.0.0.1`). */
function hostOf(t: Target): string | undefined {
  const addr = t.id.slice(t.component.length + 1);
  const m = /^\[([^\]]+)\](?::\d+)?$/.exec(addr) ?? /^([^:]+)(?::\d+)?$/.exec(addr);
  return m?.[1];
}

/** kube-apiserver static pods by host IP (the address default/kubernetes lists for that replica). */
export async function apiserverPodsByHost(api: KubeApi): Promise<Map<string, { namespace: string; pod: string }>> {
  const out = new Map<string, { namespace: string; pod: string }>();
  const pods = await api.listPods("kube-system", { labelSelector: "component=kube-apiserver" });
  for (const p of pods) {
    const ip = p.status?.hostIP;
    if (ip && p.status?.phase === "Running" && !out.has(ip)) out.set(ip, { namespace: p.metadata.namespace ?? "kube-system", pod: p.metadata.name });
  }
  return out;
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

// ---- reading ---------------------------------------------------------------------------------

/** Streams that may be open at once (--max-log-requests); the others wait their turn. */
export class Slots {
  private free: number;
  private readonly waiting: (() => void)[] = [];
  constructor(n: number) {
    this.free = n;
  }
  tryAcquire(): (() => void) | undefined {
    if (this.free <= 0) return undefined;
    this.free--;
    return this.releaser();
  }
  async acquire(): Promise<() => void> {
    const now = this.tryAcquire();
    if (now) return now;
    await new Promise<void>((resolve) => this.waiting.push(resolve));
    return this.releaser();
  }
  private releaser(): () => void {
    let done = false;
    return () => {
      if (done) return;
      done = true;
      const next = this.waiting.shift();
      if (next) next();
      else this.free++;
    };
  }
}

/** What every follower shares: the apiserver, a dispatcher for long reads, the bounds. */
export interface LogContext {
  access: Access;
  api: KubeApi;
  timeoutMs: number;
  maxBytes: number;
  slots: Slots;
  now: () => number;
  /** Aborted when reading stops (the window, the restore and the short tail after it are over). */
  stop: AbortSignal;
  /** When reading stopped: a read of history after it keeps only the lines up to then. */
  stoppedAt?: number | undefined;
  /** Ctrl-C / SIGTERM: a target still waiting for a stream is not read (the user wants out). */
  interrupted?: AbortSignal | undefined;
  maxLogRequests: number;
  /** This run's connections for long reads (dispatcherFor): one per session, so clusters captured at once never share them. */
  dispatcher?: { creds: object; dispatcher: Dispatcher } | undefined;
}

/**
 * Long reads get their own connections: on HTTP/1.1 a follow holds its connection for the whole
 * window, and the restore must not wait behind it. Made again when the client certificate changes.
 */
function dispatcherFor(ctx: LogContext): Dispatcher {
  const c = ctx.access.credentials;
  if (!ctx.dispatcher || ctx.dispatcher.creds !== c) {
    const old = ctx.dispatcher?.dispatcher;
    ctx.dispatcher = { creds: c, dispatcher: newDispatcher(ctx.access.tls, c, { timeoutMs: ctx.timeoutMs, connections: ctx.maxLogRequests + 2, proxy: ctx.access.pool.proxy }) };
    if (old) void old.close().catch(() => {});
  }
  return ctx.dispatcher.dispatcher;
}

export async function closeLogDispatcher(ctx: LogContext | undefined): Promise<void> {
  const d = ctx?.dispatcher?.dispatcher;
  if (ctx) ctx.dispatcher = undefined;
  if (d) await d.destroy().catch(() => {});
}

/** Thrown for an answer that is not 2xx (or 416): status and the apiserver's / kubelet's message. */
class LogAnswerError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

/**
 * One GET to the apiserver whose body is handed on as it arrives. The connection and the headers
 * must come within --request-timeout; the body may be quiet for as long as the window lasts
 * (`signal` ends it). A 401 renews the credentials once.
 */
async function openRead(ctx: LogContext, path: string, headers: Record<string, string>, signal: AbortSignal): Promise<Dispatcher.ResponseData> {
  const url = joinUrl(ctx.access.server, path);
  for (let attempt = 0; ; attempt++) {
    const creds = await freshCredentials(ctx.access);
    const res = await dispatchRequest.call(dispatcherFor(ctx), {
      origin: url.origin,
      path: url.pathname + url.search,
      method: "GET",
      headers: { "user-agent": "kvlog", ...headers, ...creds.headers },
      headersTimeout: ctx.timeoutMs,
      bodyTimeout: 0,
      signal,
    });
    if (res.statusCode === 401 && attempt === 0 && ctx.access.renew && (await ctx.access.renew())) {
      res.body.destroy();
      continue;
    }
    return res;
  }
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

/** Reads a body into the writer until it ends, the reading stops, or a line past `untilMs` comes. */
async function pump(body: AsyncIterable<unknown> & { destroy(): void }, w: LogWriter, untilMs?: number): Promise<"ended" | "stopped"> {
  try {
    for await (const chunk of body) {
      const more = await w.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as Uint8Array), untilMs);
      if (!more || w.writeError) return "stopped";
    }
    return "ended";
  } finally {
    body.destroy();
  }
}

const sinceParam = (ms: number): string => new Date(Math.floor(ms / 1000) * 1000).toISOString().replace(/\.000Z$/, "Z");

/** What an error answer means for capture. */
function answerOutcome(e: LogAnswerError, what: string): { outcome: LogOutcome; message: string } {
  if (e.status === 403) return { outcome: "forbidden", message: `${what}: ${e.message}; grant get on ${what.includes("/nodes/") ? "nodes/proxy" : "pods/log"} (kvlog rbac --capture prints it)` };
  return { outcome: "error", message: `${what}: ${e.status} ${e.message}` };
}

async function failText(res: Dispatcher.ResponseData): Promise<string> {
  return statusMessage(await readBody(res.body, 4096)) ?? `HTTP ${res.statusCode}`;
}

/**
 * A pod's log (pods/log): followed from `fromMs` while a stream is free, else read from its
 * history once one is (queued). A stream that ends before reading stops is asked for again from
 * its last line; if the container restarted meanwhile, that is marked in the file and counted.
 */
export async function readPodLog(ctx: LogContext, t: Target, src: LogSource, w: LogWriter, pod: { namespace: string; name: string; restarts: number | undefined }): Promise<void> {
  await followPodLog(ctx, src, w, pod);
  // Nothing in the pod log at all: the component may write to a file on its node instead
  // (kube-up style manifests redirect to /var/log/<component>.log), which the kubelet serves.
  if (w.stats.outcome === "captured" && w.stats.lines === 0 && t.node) await componentFile(ctx, t, src, w);
}

/** The component's file under the node's /var/log/ (the kubelet's /logs/), read once, its lines of the run kept. */
async function componentFile(ctx: LogContext, t: Target, src: LogSource, w: LogWriter): Promise<void> {
  const where = `${NODE_LOGS(t.node!)}${encodeURIComponent(t.component)}.log`;
  const r = await withSlot(ctx, () => getText(ctx, where, { range: `bytes=-${NODE_READ_MAX}` }));
  if ("error" in r || (r.status !== 206 && r.status !== 200)) return; // not there (or not allowed): the summary says what an empty log may mean
  src.kind = "node-log-file";
  src.where = where;
  w.readFrom(src, nodeLineTime(ctx.now));
  const whole = r.status === 200 || /^bytes 0-/.test(r.contentRange);
  await w.push(whole ? r.buffer : r.buffer.subarray(r.buffer.indexOf(10) + 1), ctx.stoppedAt);
}

async function followPodLog(ctx: LogContext, src: LogSource, w: LogWriter, pod: { namespace: string; name: string; restarts: number | undefined }): Promise<void> {
  let release = ctx.slots.tryAcquire();
  if (!release) {
    w.stats.queued = true;
    release = await ctx.slots.acquire();
    if (ctx.interrupted?.aborted) {
      release();
      w.stats.outcome = "not-followed";
      w.stats.message = `interrupted while it waited for a log stream; its log is still in the pod: kubectl logs -n ${pod.namespace} ${pod.name} --timestamps --since-time=${sinceParam(w.phases.fromMs)}`;
      return;
    }
  }
  let restarts = pod.restarts;
  let failures = 0;
  try {
    for (;;) {
      const follow = !ctx.stop.aborted;
      const from = w.lastLineMs !== undefined ? w.lastLineMs : w.phases.fromMs;
      const q = new URLSearchParams({ timestamps: "true", sinceTime: sinceParam(from) });
      if (follow) q.set("follow", "true");
      let res: Dispatcher.ResponseData;
      // A follow ends with the reading; a read of history (queued, or the last one) has its own bound.
      const signal = follow ? ctx.stop : AbortSignal.timeout(Math.max(ctx.timeoutMs, HISTORY_READ_MS));
      try {
        res = await openRead(ctx, `${src.where}?${q}`, {}, signal);
      } catch (e) {
        if (ctx.stop.aborted && follow) continue; // stopped while connecting: one last read of history
        if (++failures > 2) return cut(w, `${src.where}: ${networkReason(e)}`);
        w.resume();
        await sleep(500 * failures);
        continue;
      }
      if (res.statusCode !== 200) {
        const e = new LogAnswerError(res.statusCode, await failText(res));
        // Asked again after a cut or an early end, and refused: the node or the pod may be gone.
        if (w.stats.reconnects > 0 || w.stats.restarts > 0) return cut(w, `the stream ended and could not be read again: ${e.status} ${e.message}`);
        const o = answerOutcome(e, `GET ${src.where}`);
        w.stats.outcome = o.outcome;
        w.stats.message = o.message;
        return;
      }
      let how: "ended" | "stopped";
      try {
        how = await pump(res.body, w, follow ? undefined : ctx.stoppedAt);
      } catch (e) {
        if (follow && ctx.stop.aborted) return;
        if (!follow && isAbort(e)) return cut(w, `reading its history after the window took longer than ${Math.round(Math.max(ctx.timeoutMs, HISTORY_READ_MS) / 1000)}s`);
        // Cut by the apiserver or the network mid-stream: ask again from the last line.
        w.stats.reconnects++;
        if (++failures > 2) return cut(w, `the stream was cut ${failures} times (${networkReason(e)})`);
        await w.mark(`stream cut (${networkReason(e)}); reading again from the last line`);
        w.resume();
        continue;
      }
      if (!follow || how === "stopped" || ctx.stop.aborted) return;
      // A follow ended by itself: the container stopped. Did it restart?
      const now = await ctx.api.getPod(pod.namespace, pod.name).catch(() => undefined);
      const count = now?.status?.containerStatuses?.[0]?.restartCount;
      if (now === undefined) return cut(w, `pod ${pod.namespace}/${pod.name} is gone`);
      if (count !== undefined && restarts !== undefined && count > restarts) {
        w.stats.restarts += count - restarts;
        await w.mark(`container restarted (restart count ${restarts} -> ${count}); following the new container`);
        restarts = count;
      } else {
        w.stats.reconnects++;
        if (++failures > 2) return cut(w, "the stream kept ending before the window did");
        await sleep(1000, ctx.stop);
      }
      w.resume();
    }
  } finally {
    release();
  }
}

function cut(w: LogWriter, message: string): void {
  w.stats.outcome = "stream-cut";
  w.stats.message = message;
}

function isAbort(e: unknown): boolean {
  const code = errorCode(e);
  return (e as Error)?.name === "AbortError" || code === "UND_ERR_ABORTED" || code === "ABORT_ERR";
}

/** journalctl's short-precise lines, else a klog header at the line's start (a log file). */
export function nodeLineTime(now: () => number): (line: string) => number | undefined {
  return (line) => journalMs(line, now()) ?? klogMs(line, now());
}

const FILE_FALLBACK = /options present and query resolved to log files/;
const JOURNAL_MISSING = /error: journal output not available|log not found for /;

/** Each Range read of a kubelet's log file: bounded, so a large window never sits in memory whole. */
const FILE_CHUNK = 4 << 20;

/**
 * The kubelet's log through the node proxy's /logs/: the node log query where the kubelet serves
 * it (read every POLL_MS during the window and once more when reading stops), else
 * /var/log/kubelet.log, read once when reading stops (after the restore).
 *
 * Why not during the window: the real kubelet logs the body of every answer whose status is not
 * in its short list (httplog.StatusIsNot: 200, 400, 404, ...), 206 Partial Content included, at
 * -v=3 and above. Read with Range requests while it is raised, its log file would be written into
 * itself, growing with every read (found on the real e2e cluster). After the restore it runs at its
 * startup level again; the window's lines are found by their klog time (bisection on small reads).
 */
export async function readKubeletLog(ctx: LogContext, t: Target, src: LogSource, w: LogWriter): Promise<void> {
  const base = src.where;
  const unavailable = (why: string): void => {
    w.stats.outcome = "logs-unavailable";
    w.stats.message = `${why}; to make it available: ${KUBELET_LOG_CONFIG}`;
  };
  // 1. The node log query (one read also tells whether the kubelet serves it).
  const first = await withSlot(ctx, () => getText(ctx, `${base}?${new URLSearchParams({ query: "kubelet", sinceTime: sinceParam(w.phases.fromMs) })}`, {}));
  if ("error" in first) return failWith(w, first.error, `GET ${base}?query=kubelet`);
  if (first.status === 405) return unavailable(`the kubelet on ${t.node} answered 405 (${first.text.trim()})`);
  const queryServed = first.status === 200 && !/text\/html/.test(first.contentType) && !FILE_FALLBACK.test(first.body.slice(0, 4096)) && !JOURNAL_MISSING.test(first.body.slice(0, 4096));
  if (queryServed) {
    src.kind = "node-log-query";
    w.stats.source = "node-log-query";
    await w.push(first.buffer);
  } else if (first.status >= 400 && first.status !== 404 && first.status !== 406) {
    return failWith(w, new LogAnswerError(first.status, first.text.trim()), `GET ${base}?query=kubelet`);
  } else {
    // 2. The file under /var/log/, if the directory listing (a 200, which the kubelet does not log) has it.
    const fileWhere = `${base}kubelet.log`;
    const listing = first.status === 200 && /text\/html/.test(first.contentType) ? first : await withSlot(ctx, () => getText(ctx, base, {}));
    if ("error" in listing) return failWith(w, listing.error, `GET ${base}`);
    if (listing.status !== 200 || !/href="kubelet\.log"/.test(listing.buffer.toString("utf8"))) {
      return unavailable(`the kubelet on ${t.node} does not serve its log through the API: the node log query is ${first.status === 200 && /text\/html/.test(first.contentType) ? "off" : "not answered"} and there is no /var/log/kubelet.log`);
    }
    src.kind = "node-log-file";
    src.where = fileWhere;
    w.stats.source = "node-log-file";
    w.stats.where = fileWhere;
    if (!ctx.stop.aborted) await new Promise((r) => ctx.stop.addEventListener("abort", r, { once: true }));
    if (w.writeError) return;
    // The file's size (one byte read), then where the window's first line is.
    const probe = await withSlot(ctx, () => getText(ctx, fileWhere, { range: "bytes=-1" }));
    if ("error" in probe) return failWith(w, probe.error, `GET ${fileWhere}`);
    if (probe.status === 404) return unavailable(`/var/log/kubelet.log on ${t.node} went away during the window`);
    if (probe.status !== 206 && probe.status !== 200 && probe.status !== 416) return failWith(w, new LogAnswerError(probe.status, probe.text.trim()), `GET ${fileWhere}`);
    const size = Number(/\/(\d+)/.exec(probe.contentRange)?.[1] ?? probe.buffer.length);
    let offset = await offsetOf(ctx, fileWhere, size, w.phases.fromMs, nodeLineTime(ctx.now));
    for (let skipPartial = offset > 0; ; ) {
      const r = await withSlot(ctx, () => getText(ctx, fileWhere, { range: `bytes=${offset}-${offset + FILE_CHUNK - 1}` }));
      if ("error" in r) return cut(w, `the read after the window failed: ${networkReason(r.error)}`);
      if (r.status === 416) return;
      if (r.status !== 206 && r.status !== 200) return cut(w, `the read after the window answered ${r.status} ${r.text.trim()}`);
      let buf = r.buffer;
      if (skipPartial) buf = buf.subarray(buf.indexOf(10) + 1); // started mid-line
      skipPartial = false;
      offset += r.buffer.length;
      await w.push(buf);
      if (r.status === 200 || r.buffer.length < FILE_CHUNK || w.writeError) return;
    }
  }
  // 3. The node log query again every POLL_MS while the window lasts, and once when reading stops.
  for (;;) {
    const last = ctx.stop.aborted;
    if (!last) await sleep(POLL_MS, ctx.stop);
    if (w.writeError) return;
    w.resume();
    const from = w.lastLineMs ?? w.phases.fromMs;
    const r = await withSlot(ctx, () => getText(ctx, `${base}?${new URLSearchParams({ query: "kubelet", sinceTime: sinceParam(from) })}`, {}));
    if ("error" in r || r.status !== 200) {
      w.stats.reconnects++;
      if (last) return cut(w, `the last read failed: ${"error" in r ? networkReason(r.error) : `${r.status} ${r.text.trim()}`}`);
    } else await w.push(r.buffer);
    if (last) return;
  }
}

/**
 * Where in a log file of `size` bytes the lines from `fromMs` on begin, to within 64 KiB before
 * them: bisection on 4 KiB reads, each judged by the time of its first whole line.
 */
async function offsetOf(ctx: LogContext, where: string, size: number, fromMs: number, timeOf: (line: string) => number | undefined): Promise<number> {
  let lo = 0;
  let hi = size;
  while (hi - lo > 64 * 1024) {
    const mid = Math.floor((lo + hi) / 2);
    const r = await withSlot(ctx, () => getText(ctx, where, { range: `bytes=${mid}-${mid + 4095}` }));
    if ("error" in r || r.status !== 206) break;
    const nl = r.buffer.indexOf(10);
    const at = nl < 0 ? undefined : timeOf(r.buffer.toString("utf8", nl + 1, Math.min(r.buffer.length, nl + 1 + MAX_LINE_HEAD)));
    if (at === undefined) break;
    if (at < fromMs) lo = mid;
    else hi = mid;
  }
  return lo;
}

async function withSlot<T>(ctx: LogContext, fn: () => Promise<T>): Promise<T> {
  const release = await ctx.slots.acquire();
  try {
    return await fn();
  } finally {
    release();
  }
}

function failWith(w: LogWriter, e: unknown, what: string): void {
  if (e instanceof LogAnswerError) {
    const o = answerOutcome(e, what);
    w.stats.outcome = o.outcome;
    w.stats.message = o.message;
  } else {
    w.stats.outcome = "error";
    w.stats.message = `${what}: ${networkReason(e)}`;
  }
}

/** The node log query answers within 30 s (its journalctl deadline): a read is bounded by that and --request-timeout. */
const NODE_READ_MS = 35_000;
/** At most this much of one read of the kubelet's log is held (the rest of a larger answer comes with the next read). */
const NODE_READ_MAX = 16 * 1024 * 1024;

/** One whole (bounded) GET; the body is held, so only for the kubelet's /logs/ reads. */
async function getText(ctx: LogContext, path: string, headers: Record<string, string>): Promise<{ status: number; contentType: string; contentRange: string; buffer: Buffer; body: string; text: string } | { error: unknown }> {
  const ac = AbortSignal.timeout(Math.max(ctx.timeoutMs, NODE_READ_MS));
  try {
    const res = await openRead(ctx, path, headers, ac);
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const c of res.body) {
      const b = Buffer.isBuffer(c) ? c : Buffer.from(c as Uint8Array);
      if (size + b.length > NODE_READ_MAX) {
        chunks.push(b.subarray(0, NODE_READ_MAX - size));
        size = NODE_READ_MAX;
        res.body.destroy();
        break;
      }
      chunks.push(b);
      size += b.length;
    }
    let buffer = Buffer.concat(chunks);
    if (size >= NODE_READ_MAX) buffer = buffer.subarray(0, buffer.lastIndexOf(10) + 1);
    const h = (k: string): string => {
      const v = res.headers[k];
      return Array.isArray(v) ? (v[0] ?? "") : (v ?? "");
    };
    const body = res.statusCode >= 300 ? buffer.toString("utf8", 0, Math.min(buffer.length, 4096)) : "";
    return { status: res.statusCode, contentType: h("content-type"), contentRange: h("content-range"), buffer, body: res.statusCode === 200 ? buffer.toString("utf8", 0, Math.min(buffer.length, 4096)) : body, text: statusMessage(body) ?? body };
  } catch (error) {
    return { error };
  }
}

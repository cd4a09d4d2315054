// logs/read: what every follower shares (LogContext) and the reads themselves: one GET whose
// body is handed on as it arrives (its own connections, renewing credentials on a 401), one whole
// bounded GET for the kubelet's /logs/, and how a failed read is told in a target's stats.

import type { Dispatcher } from "undici";
import dispatchRequest from "undici/lib/api/api-request.js";
import type { Access } from "../access.js";
import { newDispatcher } from "../dispatch.js";
import { errorCode, header, joinUrl, networkReason, readBody, retryAfterSeconds, statusMessage } from "../http.js";
import type { KubeApi } from "../objects.js";
import { renewingThrottled } from "../retry.js";
import type { Slots } from "../slots.js";
import type { LogOutcome, LogWriter } from "./writer.js";

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
export class LogAnswerError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

/**
 * One GET to the apiserver whose body is handed on as it arrives. The connection and the headers
 * must come within --request-timeout; the body may be quiet for as long as the window lasts
 * (`signal` ends it). Tried as every apiserver request is (retry.ts): a 401 renews the credentials
 * once (or takes what a parallel request renewed), a 429 is waited out.
 */
export async function openRead(ctx: LogContext, path: string, headers: Record<string, string>, signal: AbortSignal): Promise<Dispatcher.ResponseData> {
  const url = joinUrl(ctx.access.server, path);
  const { value } = await renewingThrottled(
    ctx.access,
    Date.now() + ctx.timeoutMs,
    signal,
    (creds) =>
      dispatchRequest.call(dispatcherFor(ctx), {
        origin: url.origin,
        path: url.pathname + url.search,
        method: "GET",
        headers: { "user-agent": "kvlog", ...headers, ...creds.headers },
        headersTimeout: ctx.timeoutMs,
        bodyTimeout: 0,
        signal,
      }),
    (res) => (res.statusCode === 401 || res.statusCode === 429 ? { status: res.statusCode, retryAfter: retryAfterSeconds(header(res.headers["retry-after"])) } : undefined),
    (res) => void res.body.dump().catch(() => {}),
  );
  return value;
}

/** Reads a body into the writer until it ends, the reading stops, or a line past `untilMs` comes. */
export async function pump(body: AsyncIterable<unknown> & { destroy(): void }, w: LogWriter, untilMs?: number): Promise<"ended" | "stopped"> {
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

/** What an error answer means for capture. */
export function answerOutcome(e: LogAnswerError, what: string): { outcome: LogOutcome; message: string } {
  if (e.status === 403) return { outcome: "forbidden", message: `${what}: ${e.message}; grant get on ${what.includes("/nodes/") ? "nodes/proxy" : "pods/log"} (kvlog rbac --capture prints it)` };
  return { outcome: "error", message: `${what}: ${e.status} ${e.message}` };
}

export async function failText(res: Dispatcher.ResponseData): Promise<string> {
  return statusMessage(await readBody(res.body, 4096)) ?? `HTTP ${res.statusCode}`;
}

export function cut(w: LogWriter, message: string): void {
  w.stats.outcome = "stream-cut";
  w.stats.message = message;
}

export function isAbort(e: unknown): boolean {
  const code = errorCode(e);
  return (e as Error)?.name === "AbortError" || code === "UND_ERR_ABORTED" || code === "ABORT_ERR";
}

export async function withSlot<T>(ctx: LogContext, fn: () => Promise<T>): Promise<T> {
  const release = await ctx.slots.acquire();
  try {
    return await fn();
  } finally {
    release();
  }
}

export function failWith(w: LogWriter, e: unknown, what: string): void {
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
export const NODE_READ_MS = 35_000;
/** At most this much of one read of the kubelet's log is held (the rest of a larger answer comes with the next read). */
export const NODE_READ_MAX = 16 * 1024 * 1024;

/** One whole (bounded) GET; the body is held, so only for the kubelet's /logs/ reads. */
export async function getText(ctx: LogContext, path: string, headers: Record<string, string>): Promise<{ status: number; contentType: string; contentRange: string; buffer: Buffer; body: string; text: string } | { error: unknown }> {
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
    const body = res.statusCode >= 300 ? buffer.toString("utf8", 0, Math.min(buffer.length, 4096)) : "";
    return { status: res.statusCode, contentType: header(res.headers["content-type"]), contentRange: header(res.headers["content-range"]), buffer, body: res.statusCode === 200 ? buffer.toString("utf8", 0, Math.min(buffer.length, 4096)) : body, text: statusMessage(body) ?? body };
  } catch (error) {
    return { error };
  }
}

// The bottom layer: what every other module uses to talk HTTP. Types for the
// apiserver's access (URL, TLS, credentials), one request with a bounded read,
// URL joining, and one place that decides what counts as a timeout and how a
// network failure is described. Imports nothing of kvlog's own.

import tls from "node:tls";
import type { Dispatcher } from "undici";
import Agent from "undici/lib/dispatcher/agent.js";
import buildConnector from "undici/lib/core/connect.js";
import dispatchRequest from "undici/lib/api/api-request.js";
import { withPreconnected, type Connector } from "./preconnect.js";
import { ProxyError, proxyConnect, proxyFor, type Proxies } from "./proxy.js";

/** The path every component serves. */
export const FLAGS_PATH = "/debug/flags/v";

/** A component's answer (or an error body) is one line: read at most this much of it. */
export const MAX_ANSWER = 64 * 1024;

export interface ApiTls {
  ca?: Buffer | undefined;
  rejectUnauthorized: boolean;
  servername?: string | undefined;
}

/** How kvlog authenticates. Never printed: only `kind` is shown to users. */
export interface Credentials {
  kind: string;
  headers: Record<string, string>;
  cert?: Buffer | undefined;
  key?: Buffer | undefined;
  /** A short-lived token minted for this run (--service-account): may go where others may not. */
  minted?: boolean | undefined;
}

/** Everything needed to talk to the apiserver: its URL, TLS, credentials and a pooled dispatcher. */
export interface Access {
  server: URL;
  /** The apiserver's TLS settings (CA, tls-server-name, insecure): for the apiserver only. */
  tls: ApiTls;
  /** For any other host (--direct kubelets, --endpoint): the cluster CA, verified unless --insecure-skip-tls-verify. */
  otherTls: ApiTls;
  /** The credentials in force; replaced (with the dispatcher when a client certificate changes) by `renew`. */
  credentials: Credentials;
  dispatcher: Dispatcher;
  /** Where the settings came from, for messages: `kubeconfig ~/.kube/config, context kind-kind`. */
  source: string;
  /** How the dispatcher was made (a renewed client certificate needs a new one, made the same way). */
  pool: Pool;
  /**
   * For credentials that expire (exec plugins, auth providers, token files, minted
   * ServiceAccount tokens): gets them again. Resolves true when they changed.
   */
  renew?: (() => Promise<boolean>) | undefined;
  /** When `renew` is next due (ms since the epoch), like client-go's credential refresh. */
  renewAt?: number | undefined;
  /** The TLS session of the last port-forward tunnel, resumed by the next (cleared when the client certificate changes). */
  tlsSession?: Buffer | undefined;
}

export interface HttpAnswer {
  status: number;
  contentType: string;
  body: string;
  /** Seconds from a Retry-After header (API Priority and Fairness sends it with 429). */
  retryAfter?: number | undefined;
  /** How many HTTP attempts it took (more than 1 after a 429 or a credential refresh). */
  attempts?: number | undefined;
  /** What `SendOptions.readOk` made of a 2xx body (then `body` is empty). */
  value?: unknown;
}

export interface SendOptions {
  method: string;
  path: string;
  body?: string;
  /** Extra request headers (e.g. accept); credentials are the channel's business. */
  headers?: Record<string, string>;
  timeoutMs: number;
  /**
   * Reads a 2xx body itself (an API list, streamed item by item) into `HttpAnswer.value`.
   * Any other answer is read the usual way: at most MAX_ANSWER bytes.
   */
  readOk?: (body: AsyncIterable<unknown>) => Promise<unknown>;
  /** Read at most this much of an answer that readOk does not take (default MAX_ANSWER). */
  maxBytes?: number | undefined;
  /** Cuts the request short (--timeout passed): it then fails with the signal's reason. */
  signal?: AbortSignal | undefined;
  /** Called once the whole request (headers and body) has been written: from then on the far end may act on it. */
  onSent?: (() => void) | undefined;
}

const NONE = {};
const contexts = new WeakMap<object, WeakMap<object, tls.SecureContext>>();

/**
 * One TLS context per identity (client certificate) and trust (CA), made once: parsing a CA and
 * a key for every connection cost ~0.6 ms each, 3 s of a 5,000-tunnel run.
 */
export function secureContextFor(credentials: Credentials | undefined, ca: Buffer | undefined): tls.SecureContext {
  const byCa = contexts.get(credentials ?? NONE) ?? new WeakMap<object, tls.SecureContext>();
  contexts.set(credentials ?? NONE, byCa);
  let ctx = byCa.get(ca ?? NONE);
  if (!ctx) {
    ctx = tls.createSecureContext({ ca, cert: credentials?.cert, key: credentials?.key });
    byCa.set(ca ?? NONE, ctx);
  }
  return ctx;
}

/** A dispatcher's limits: the timeout of each step, and how many connections it may open to one host. */
export interface Pool {
  timeoutMs: number;
  /**
   * At most this many connections per host (kvlog's --concurrency). Without a cap, undici opens a
   * new connection when a request starts in the same tick another one finished, and a fleet run
   * ends up holding about twice as many connections to the apiserver as it has requests in flight.
   */
  connections?: number | undefined;
  /** Through a proxy (kubeconfig proxy-url, HTTPS_PROXY): the apiserver, replicas, kubelets reached directly. */
  proxy?: Proxies | undefined;
}

/** An undici Agent with kvlog's TLS settings; client certificate only when credentials are given. */
export function newDispatcher(tlsConf: ApiTls, credentials: Credentials | undefined, pool: Pool): Dispatcher {
  const timeoutMs = pool.timeoutMs;
  const tlsOptions = {
    ca: tlsConf.ca,
    rejectUnauthorized: tlsConf.rejectUnauthorized,
    servername: tlsConf.servername,
    cert: credentials?.cert,
    key: credentials?.key,
    timeout: timeoutMs,
    keepAlive: false, // turned on once connected: keepAliveOnceConnected
  };
  return new Agent({
    ...(pool.connections ? { connections: pool.connections } : {}),
    connect: keepAliveOnceConnected(pool.proxy ? proxiedConnector(tlsOptions, pool.proxy, timeoutMs) : (withPreconnected(buildConnector(tlsOptions) as Connector, tlsOptions) as buildConnector.connector)),
    headersTimeout: timeoutMs,
    bodyTimeout: timeoutMs,
  });
}

/** TCP keep-alive after this long idle: undici's own default. */
const KEEP_ALIVE_MS = 60_000;

/**
 * TCP keep-alive, turned on once the socket is connected. undici's connector turns it on before
 * the connect, so libuv sets it while creating the socket and fails the connect when the system
 * refuses one of its options: Wine 8 does not know Windows' TCP_KEEPALIVE (IPPROTO_TCP option 3)
 * and every connection failed with "connect UNKNOWN" (docs/install.md). On a connected socket
 * Node ignores such a refusal; on Linux, macOS and Windows the socket ends up the same.
 */
function keepAliveOnceConnected(connector: buildConnector.connector): buildConnector.connector {
  return (opts, callback) =>
    connector(opts, (...args) => {
      if (args[1]) args[1].setKeepAlive(true, KEEP_ALIVE_MS);
      callback(...args);
    });
}

/**
 * undici's own connector (TLS, sessions), on a socket the proxy opened when `proxies` says the
 * host goes through one; directly otherwise.
 */
function proxiedConnector(tlsOptions: buildConnector.BuildOptions, proxies: Proxies, timeoutMs: number): buildConnector.connector {
  const connector = buildConnector(tlsOptions);
  return (opts, callback) => {
    const target = new URL(`${opts.protocol}//${opts.host}`);
    const proxy = proxyFor(proxies, target);
    if (!proxy) return connector(opts, callback);
    const port = Number(opts.port) || (opts.protocol === "http:" ? 80 : 443);
    proxyConnect(proxy, opts.hostname, port, timeoutMs).then(
      (socket) => {
        if (opts.protocol !== "https:") {
          socket.resume();
          callback(null, socket);
        } else connector({ ...opts, httpSocket: socket }, callback);
      },
      (e: Error) => callback(e, null),
    );
  };
}

/** Sends one request through a dispatcher and reads its answer, bounded by `opts.maxBytes`. */
export async function request(dispatcher: Dispatcher, url: URL, headers: Record<string, string>, opts: SendOptions): Promise<HttpAnswer> {
  const timeout = AbortSignal.timeout(opts.timeoutMs);
  const res = await dispatchRequest.call(opts.onSent ? watchSent(dispatcher, opts.onSent) : dispatcher, {
    origin: url.origin,
    path: url.pathname + url.search,
    method: opts.method as Dispatcher.HttpMethod,
    headers: {
      "user-agent": "kvlog",
      ...(opts.body !== undefined ? { "content-type": "text/plain" } : {}),
      ...opts.headers,
      ...headers,
    },
    body: opts.body,
    headersTimeout: opts.timeoutMs,
    bodyTimeout: opts.timeoutMs,
    signal: opts.signal ? AbortSignal.any([timeout, opts.signal]) : timeout,
  });
  const ok = res.statusCode >= 200 && res.statusCode < 300;
  let value: unknown;
  let body = "";
  if (ok && opts.readOk) {
    try {
      value = await opts.readOk(res.body);
    } finally {
      res.body.destroy(); // stop reading whatever is left after a failure
    }
  } else body = await readBody(res.body, opts.maxBytes);
  return {
    status: res.statusCode,
    contentType: header(res.headers["content-type"]),
    body,
    retryAfter: retryAfterSeconds(header(res.headers["retry-after"])),
    ...(value !== undefined ? { value } : {}),
  };
}

/** The dispatcher, with `onSent` told when a request has been written whole (undici's onRequestSent). */
function watchSent(dispatcher: Dispatcher, onSent: () => void): Dispatcher {
  const dispatch = (o: Dispatcher.DispatchOptions, h: Dispatcher.DispatchHandler): boolean => dispatcher.dispatch(o, new SentWatch(h, onSent));
  return { dispatch } as unknown as Dispatcher;
}

/** Passes every event on to the request's own handler, and tells `onSent` when the request is written. */
class SentWatch implements Dispatcher.DispatchHandler {
  private readonly h: Dispatcher.DispatchHandler;
  private readonly sent: () => void;
  constructor(h: Dispatcher.DispatchHandler, sent: () => void) {
    this.h = h;
    this.sent = sent;
  }
  onRequestStart(c: Dispatcher.DispatchController, context: unknown): void {
    this.h.onRequestStart?.(c, context);
  }
  onRequestUpgrade(c: Dispatcher.DispatchController, status: number, headers: Parameters<NonNullable<Dispatcher.DispatchHandler["onRequestUpgrade"]>>[2], socket: Parameters<NonNullable<Dispatcher.DispatchHandler["onRequestUpgrade"]>>[3]): void {
    this.h.onRequestUpgrade?.(c, status, headers, socket);
  }
  onResponseStart(c: Dispatcher.DispatchController, status: number, headers: Parameters<NonNullable<Dispatcher.DispatchHandler["onResponseStart"]>>[2], message?: string): void {
    this.h.onResponseStart?.(c, status, headers, message);
  }
  onResponseData(c: Dispatcher.DispatchController, chunk: Buffer): void {
    this.h.onResponseData?.(c, chunk);
  }
  onResponseEnd(c: Dispatcher.DispatchController, trailers: Parameters<NonNullable<Dispatcher.DispatchHandler["onResponseEnd"]>>[1]): void {
    this.h.onResponseEnd?.(c, trailers);
  }
  onResponseError(c: Dispatcher.DispatchController, e: Error): void {
    this.h.onResponseError?.(c, e);
  }
  onBodySent(chunk: Buffer): void {
    this.h.onBodySent?.(chunk);
  }
  onRequestSent(): void {
    this.sent();
    this.h.onRequestSent?.();
  }
}

function header(v: string | string[] | undefined): string {
  return Array.isArray(v) ? (v[0] ?? "") : (v ?? "");
}

/** Retry-After in seconds (the delta-seconds form the apiserver sends); undefined otherwise. */
export function retryAfterSeconds(v: string): number | undefined {
  return /^\s*\d+\s*$/.test(v) ? Number(v) : undefined;
}

/** Reads a body, keeping at most `max` bytes of it; the rest is drained and dropped. */
export async function readBody(body: AsyncIterable<unknown>, max = MAX_ANSWER): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    const b = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as Uint8Array);
    if (size < max) chunks.push(b.subarray(0, max - size));
    size += b.length;
  }
  return Buffer.concat(chunks).toString("utf8");
}

/** The message of a Kubernetes Status body, or the trimmed text; undefined when empty. */
export function statusMessage(body: string): string | undefined {
  const s = statusOf(body);
  if (s && typeof s.message === "string") return s.message;
  const t = body.trim();
  return t ? t.slice(0, 500) : undefined;
}

/** A Kubernetes Status body, parsed; undefined when the body is not one. */
export function statusOf(body: string): { message?: string; reason?: string; code?: number } | undefined {
  if (!body.trimStart().startsWith("{")) return undefined;
  try {
    const s = JSON.parse(body) as { kind?: string; message?: string; reason?: string; code?: number };
    return s && s.kind === "Status" ? s : undefined;
  } catch {
    return undefined;
  }
}

/** The OS / TLS / undici error code of an error or its cause. */
export function errorCode(e: unknown): string | null {
  const err = e as { code?: unknown; cause?: { code?: unknown } } | undefined;
  const code = err?.code ?? err?.cause?.code;
  if (code === "UND_ERR_INFO" && /"GOAWAY" frame/.test((e as Error).message ?? "")) return GOAWAY;
  return typeof code === "string" ? code : null;
}

/**
 * An HTTP/2 server said GOAWAY while the request had no answer: the apiserver does so after
 * answering 401 to an unauthenticated request (its HTTP/2 DoS mitigation, 1.29+) and now and
 * then with --goaway-chance; undici then fails the requests still in flight on that connection.
 * Nothing was answered, so it is tried again on a new connection, like a closed one.
 */
export const GOAWAY = "HTTP2_GOAWAY";

/** Failures before any answer that a new connection may not have: the request can be sent again. */
export const CLOSED_BEFORE_ANSWER = new Set(["ECONNRESET", "EPIPE", "UND_ERR_SOCKET", "UND_ERR_CLOSED", GOAWAY]);

/**
 * Refused, or closed before any answer: the request did not happen (or happened once, which is
 * the same for a PUT of a level), so it may be sent again. Never a timeout: its time is spent.
 */
export function failedBeforeAnswer(e: unknown): boolean {
  if (isTimeout(e)) return false;
  const code = errorCode(e);
  return code === "ECONNREFUSED" || (code !== null && CLOSED_BEFORE_ANSWER.has(code));
}

const TIMEOUT_CODES = new Set(["ETIMEDOUT", "UND_ERR_CONNECT_TIMEOUT", "UND_ERR_HEADERS_TIMEOUT", "UND_ERR_BODY_TIMEOUT", "UND_ERR_ABORTED"]);

export function isTimeout(e: unknown): boolean {
  const name = (e as { name?: string } | undefined)?.name;
  const code = errorCode(e);
  return name === "TimeoutError" || (code !== null && TIMEOUT_CODES.has(code));
}

/** A short reason for a network failure: the code and message, or "timed out". */
export function networkReason(e: unknown): string {
  if (e instanceof ProxyError) return e.message; // names the proxy, and the step that failed
  if (isTimeout(e)) return "timed out (raise --request-timeout if the network is slow)";
  const err = e as { message?: string; cause?: { message?: string } };
  const code = errorCode(e);
  const msg = err.cause?.message ?? err.message ?? String(e);
  return code && !msg.includes(code) ? `${code} ${msg}` : msg;
}

/**
 * Rejects with a TimeoutError after `ms`. A guard above undici's own timeouts, which do not
 * cover a custom connector or a credential plugin.
 */
export function withDeadline<T>(p: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(Object.assign(new Error(message), { name: "TimeoutError" })), ms);
  });
  return Promise.race([p, deadline]).finally(() => clearTimeout(timer));
}

/**
 * The reason a run was cut short, as an Error: `--timeout 3s passed`. What kvlog sends is given
 * the session's deadline signal, whose reason is one of these.
 */
export function cutShort(message: string): Error {
  return Object.assign(new Error(message), { name: "AbortError", code: "ABORT_ERR" });
}

/** `p`, or a rejection with the signal's reason as soon as it is aborted. */
export function untilAborted<T>(p: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return p;
  let onAbort: (() => void) | undefined;
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(signal.reason);
    if (signal.aborted) onAbort();
    else signal.addEventListener("abort", onAbort, { once: true });
  });
  return Promise.race([p, aborted]).finally(() => signal.removeEventListener("abort", onAbort!));
}

/** Resolves after `ms` (or at once when the signal is aborted). */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    }
    signal?.addEventListener("abort", done, { once: true });
  });
}

/** Appends a path to a base URL, keeping any path prefix of the base (e.g. a Rancher proxy URL). */
export function joinUrl(base: URL, path: string): URL {
  const u = new URL(base.href);
  const [p, q] = path.split("?", 2) as [string, string | undefined];
  u.pathname = u.pathname.replace(/\/+$/, "") + p;
  u.search = q ? `?${q}` : "";
  return u;
}

/** A URL as it may be shown: never with user:password in it. */
export function displayUrl(u: URL): string {
  if (!u.username && !u.password) return u.href;
  const c = new URL(u.href);
  c.username = "";
  c.password = "";
  return c.href;
}

// The bottom floor: the vocabulary every other module uses to talk HTTP, opening no connection
// of its own. What an answer and a request are, Kubernetes Status bodies, the one place that decides
// what counts as a timeout or a failure before any answer and how a network failure is described,
// deadlines, and URLs (joining, showing, IPv6 brackets). Imports nothing: not even kvlog's own
// modules, nor undici (dispatch.ts sends requests).

/** The path every component serves. */
export const FLAGS_PATH = "/debug/flags/v";

/** A component's answer (or an error body) is one line: read at most this much of it. */
export const MAX_ANSWER = 64 * 1024;

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

/** A response header's value as one string: the first of a repeated header, "" when absent. */
export function header(v: string | string[] | undefined): string {
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

/** The text of an abort reason (--timeout's is an Error). */
export function reasonText(signal: AbortSignal): string {
  const r = signal.reason as unknown;
  return r instanceof Error ? r.message : String(r);
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

/** A kubeconfig's server as shown: no user:password, no trailing "/"; as given when it is not a URL (that context's own run says so). */
export function displayServer(server: string): string {
  let u: URL;
  try {
    u = new URL(server);
  } catch {
    return server;
  }
  return displayUrl(u).replace(/\/$/, "");
}

/** A failure of the proxy itself (refused CONNECT, SOCKS error), kept apart from the target's. */
export class ProxyError extends Error {
  code: string;
  constructor(message: string, code = "EPROXY") {
    super(message);
    this.code = code;
  }
}

/** A host as it goes into a URL or an authority: an IPv6 address in brackets (`[::1]`), anything else as it is. */
export function bracketHost(host: string): string {
  return host.includes(":") && !host.startsWith("[") ? `[${host}]` : host;
}

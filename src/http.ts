// Small helpers shared by every layer that reads answers or network errors:
// the Kubernetes Status message, a bounded body reader, and one place that
// decides what counts as a timeout and how a network failure is described.

/** The path every component serves. */
export const FLAGS_PATH = "/debug/flags/v";

/** Answers are small; read at most this much of any body. */
export const MAX_BODY = 64 * 1024;

export async function readLimited(body: AsyncIterable<unknown>): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    const b = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as Uint8Array);
    if (size < MAX_BODY) chunks.push(b.subarray(0, MAX_BODY - size));
    size += b.length;
  }
  return Buffer.concat(chunks).toString("utf8");
}

/** The message of a Kubernetes Status body, or the trimmed text; undefined when empty. */
export function statusMessage(body: string): string | undefined {
  try {
    const s = JSON.parse(body) as { kind?: string; message?: string };
    if (s && s.kind === "Status" && typeof s.message === "string") return s.message;
  } catch {
    // not JSON
  }
  const t = body.trim();
  return t ? t.slice(0, 500) : undefined;
}

/** The OS / TLS / undici error code of an error or its cause. */
export function errorCode(e: unknown): string | null {
  const err = e as { code?: unknown; cause?: { code?: unknown } } | undefined;
  const code = err?.code ?? err?.cause?.code;
  return typeof code === "string" ? code : null;
}

const TIMEOUT_CODES = new Set(["ETIMEDOUT", "UND_ERR_CONNECT_TIMEOUT", "UND_ERR_HEADERS_TIMEOUT", "UND_ERR_BODY_TIMEOUT", "UND_ERR_ABORTED"]);

export function isTimeout(e: unknown): boolean {
  const name = (e as { name?: string } | undefined)?.name;
  const code = errorCode(e);
  return name === "TimeoutError" || (code !== null && TIMEOUT_CODES.has(code));
}

/** A short reason for a network failure: the code and message, or "timed out". */
export function networkReason(e: unknown): string {
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

/** A URL as it may be shown: never with user:password in it. */
export function displayUrl(u: URL): string {
  if (!u.username && !u.password) return u.href;
  const c = new URL(u.href);
  c.username = "";
  c.password = "";
  return c.href;
}

// LIST paging as the apiserver does it (SIMULATED, test-only).
//
// Continue tokens: k8s.io/apiserver/pkg/storage/continue.go — base64.RawURLEncoding of
// the JSON {"v":"meta.k8s.io/v1","rv":N,"start":"<key after the prefix>\u0000"}, decoded
// with the same checks and error texts (DecodeContinue, wrapped by ValidateListOptions as
// "invalid continue token: ..."). Page selection follows the watch cache
// (pkg/storage/cacher/cacher.go GetList): with no selector the page is the first `limit`
// keys from the start key and remainingItemCount = keys left - limit; with a selector
// the page holds up to `limit` matches, the token restarts after the last match, and
// remainingItemCount is absent.

export interface DecodedContinue {
  start: string;
  rv: number;
}

/** storage.EncodeContinue: `start` is the key after the prefix, already ending in "\u0000". */
export function encodeContinue(start: string, rv: number): string {
  // Go's encoding/json escapes <, >, & as \u003c...; JSON.stringify escapes \u0000 like Go.
  const json = JSON.stringify({ v: "meta.k8s.io/v1", rv, start }).replace(/[<>&\u2028\u2029]/g, (c) => "\\u" + c.charCodeAt(0).toString(16).padStart(4, "0"));
  return Buffer.from(json).toString("base64url");
}

/**
 * base64.RawURLEncoding.DecodeString: the bytes, or Go's CorruptInputError text (the offset of
 * the first byte outside the alphabet, or of a lone last character).
 */
function rawURLDecode(s: string): { ok: true; bytes: Buffer } | { ok: false; message: string } {
  const bad = /[^A-Za-z0-9_-]/.exec(s);
  if (bad) return { ok: false, message: `illegal base64 data at input byte ${bad.index}` };
  if (s.length % 4 === 1) return { ok: false, message: `illegal base64 data at input byte ${s.length - 1}` };
  return { ok: true, bytes: Buffer.from(s, "base64url") };
}

const GENERIC = "continue key is not valid";

/**
 * storage.DecodeContinue (keyPrefix-relative): the start key, or the error text. Only tokens the
 * apiserver gave are ever sent back by kvlog: the checks DecodeContinue makes itself (version,
 * rv, start key) answer Go's texts; a token that is not JSON of the right shape answers one
 * generic text (Go's encoding/json wording is not reproduced).
 */
export function decodeContinue(token: string): { ok: true; value: DecodedContinue } | { ok: false; message: string } {
  const d = rawURLDecode(token);
  if (!d.ok) return { ok: false, message: `${GENERIC}: ${d.message}` };
  let parsed: unknown;
  try {
    parsed = JSON.parse(d.bytes.toString("utf8"));
  } catch {
    parsed = undefined;
  }
  const obj = (typeof parsed === "object" && parsed !== null && !Array.isArray(parsed) ? parsed : undefined) as Record<string, unknown> | undefined;
  const { v = "", rv = 0, start = "" } = obj ?? {};
  if (!obj || typeof v !== "string" || typeof rv !== "number" || !Number.isInteger(rv) || typeof start !== "string")
    return { ok: false, message: `${GENERIC}: not a continue token (fake: JSON {"v","rv","start"} expected)` };
  if (v !== "meta.k8s.io/v1") return { ok: false, message: `${GENERIC}: server does not recognize this encoded version ${v}` };
  if (rv === 0) return { ok: false, message: `${GENERIC}: incorrect encoded start resourceVersion (version meta.k8s.io/v1)` };
  if (start.length === 0) return { ok: false, message: `${GENERIC}: encoded start key empty (version meta.k8s.io/v1)` };
  const key = start.startsWith("/") ? start : "/" + start;
  if (goPathClean(key) !== key) return { ok: false, message: `${GENERIC}: ${start}` };
  return { ok: true, value: { start: key.slice(1), rv } };
}

/** Go's path.Clean for rooted paths. */
function goPathClean(p: string): string {
  const out: string[] = [];
  for (const seg of p.split("/")) {
    if (seg === "" || seg === ".") continue;
    if (seg === "..") out.pop();
    else out.push(seg);
  }
  return "/" + out.join("/");
}

/** First index whose key is >= start (keys sorted by byte order; ASCII keys here). */
export function lowerBound<T>(items: readonly T[], keyOf: (t: T) => string, start: string): number {
  let lo = 0;
  let hi = items.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (keyOf(items[mid] as T) < start) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

export interface Page<T> {
  items: T[];
  /** Key of the last returned item (continue after it) when there is more. */
  continueAfter?: string;
  remainingItemCount?: number;
}

/**
 * One page, as the watch cache cuts it (cacher.GetList): `candidates` are sorted by key;
 * `match` is the label/field predicate (undefined: empty predicate).
 */
export function cutPage<T>(candidates: readonly T[], keyOf: (t: T) => string, start: string | undefined, limit: number, match?: (t: T) => boolean): Page<T> {
  const from = start === undefined ? 0 : lowerBound(candidates, keyOf, start);
  const total = candidates.length - from;
  if (!match) {
    if (limit > 0 && total > limit) {
      const items = candidates.slice(from, from + limit);
      return { items, continueAfter: keyOf(items[items.length - 1] as T), remainingItemCount: total - limit };
    }
    return { items: candidates.slice(from) };
  }
  const items: T[] = [];
  for (let i = from; i < candidates.length; i++) {
    const c = candidates[i] as T;
    if (!match(c)) continue;
    items.push(c);
    if (limit > 0 && items.length >= limit) {
      if (i < candidates.length - 1) return { items, continueAfter: keyOf(c) };
      break;
    }
  }
  return { items };
}

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

const B64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/** base64.RawURLEncoding.DecodeString, with Go's CorruptInputError offsets. */
export function goRawURLDecode(s: string): { ok: true; bytes: Buffer } | { ok: false; message: string } {
  const src = Buffer.from(s, "latin1");
  const out: number[] = [];
  let si = 0;
  for (;;) {
    const q: number[] = [];
    let j = 0;
    while (j < 4) {
      if (si === src.length) {
        if (j === 0) return { ok: true, bytes: Buffer.from(out) };
        if (j === 1) return { ok: false, message: `illegal base64 data at input byte ${si - j}` };
        break;
      }
      const c = src[si] ?? 0;
      si++;
      const v = B64URL.indexOf(String.fromCharCode(c));
      if (v >= 0 && c < 128) {
        q.push(v);
        j++;
        continue;
      }
      if (c === 0x0a || c === 0x0d) continue;
      return { ok: false, message: `illegal base64 data at input byte ${si - 1}` };
    }
    const val = ((q[0] ?? 0) << 18) | ((q[1] ?? 0) << 12) | ((q[2] ?? 0) << 6) | (q[3] ?? 0);
    const b = [(val >> 16) & 0xff, (val >> 8) & 0xff, val & 0xff];
    out.push(...b.slice(0, q.length - 1));
    if (q.length < 4) return { ok: true, bytes: Buffer.from(out) };
  }
}

/** encoding/json's quoteChar. */
function quoteChar(c: number): string {
  if (c === 0x27) return "'\\''";
  if (c === 0x22) return "'\"'";
  const s = JSON.stringify(String.fromCharCode(c)).slice(1, -1);
  // strconv.Quote prints non-printable runes as \x.. / \u....; JSON.stringify only escapes < 0x20.
  if (c < 0x20 || (c >= 0x7f && c < 0xa0)) {
    const named: Record<number, string> = { 7: "\\a", 8: "\\b", 9: "\\t", 10: "\\n", 11: "\\v", 12: "\\f", 13: "\\r" };
    return "'" + (named[c] ?? (c < 0x80 ? "\\x" + c.toString(16).padStart(2, "0") : "\\u" + c.toString(16).padStart(4, "0"))) + "'";
  }
  return "'" + s + "'";
}

/**
 * The syntax check encoding/json runs before decoding (scanner.go), returning Go's
 * SyntaxError text, or undefined when the input is valid JSON.
 */
export function goJSONSyntaxError(b: Buffer): string | undefined {
  let i = 0;
  const EOF = "unexpected end of JSON input";
  const bad = (ctx: string): string => `invalid character ${quoteChar(b[i] ?? 0)} ${ctx}`;
  const space = (): void => {
    while (i < b.length && (b[i] === 0x20 || b[i] === 0x09 || b[i] === 0x0a || b[i] === 0x0d)) i++;
  };
  const isDigit = (c: number | undefined): boolean => c !== undefined && c >= 0x30 && c <= 0x39;
  const literal = (word: string): string | undefined => {
    for (let k = 1; k < word.length; k++) {
      i++;
      if (i >= b.length) return EOF;
      if (b[i] !== word.charCodeAt(k)) return bad(`in literal ${word} (expecting ${quoteChar(word.charCodeAt(k))})`);
    }
    i++;
    return undefined;
  };
  const string = (): string | undefined => {
    i++; // opening quote
    for (;;) {
      if (i >= b.length) return EOF;
      const c = b[i] ?? 0;
      if (c === 0x22) {
        i++;
        return undefined;
      }
      if (c === 0x5c) {
        i++;
        if (i >= b.length) return EOF;
        const e = b[i] ?? 0;
        if (e === 0x75) {
          for (let k = 0; k < 4; k++) {
            i++;
            if (i >= b.length) return EOF;
            if (!/[0-9a-fA-F]/.test(String.fromCharCode(b[i] ?? 0))) return bad("in \\u hexadecimal character escape");
          }
        } else if (!'"\\/bfnrt'.includes(String.fromCharCode(e))) return bad("in string escape code");
        i++;
        continue;
      }
      if (c < 0x20) return bad("in string literal");
      i++;
    }
  };
  const number = (): string | undefined => {
    if (b[i] === 0x2d) {
      i++;
      if (i >= b.length) return EOF;
      if (!isDigit(b[i])) return bad("in numeric literal");
    }
    if (b[i] === 0x30) i++;
    else while (isDigit(b[i])) i++;
    if (b[i] === 0x2e) {
      i++;
      if (i >= b.length) return EOF;
      if (!isDigit(b[i])) return bad("after decimal point in numeric literal");
      while (isDigit(b[i])) i++;
    }
    if (b[i] === 0x65 || b[i] === 0x45) {
      i++;
      if (b[i] === 0x2b || b[i] === 0x2d) i++;
      if (i >= b.length) return EOF;
      if (!isDigit(b[i])) return bad("in exponent of numeric literal");
      while (isDigit(b[i])) i++;
    }
    return undefined;
  };
  const value = (depth: number): string | undefined => {
    space();
    if (i >= b.length) return EOF;
    const c = b[i];
    if (c === 0x7b) {
      i++;
      space();
      if (i >= b.length) return EOF;
      if (b[i] === 0x7d) {
        i++;
        return undefined;
      }
      for (;;) {
        space();
        if (i >= b.length) return EOF;
        if (b[i] !== 0x22) return bad("looking for beginning of object key string");
        const e = string();
        if (e) return e;
        space();
        if (i >= b.length) return EOF;
        if (b[i] !== 0x3a) return bad("after object key");
        i++;
        const ev = value(depth + 1);
        if (ev) return ev;
        space();
        if (i >= b.length) return EOF;
        if (b[i] === 0x2c) {
          i++;
          continue;
        }
        if (b[i] === 0x7d) {
          i++;
          return undefined;
        }
        return bad("after object key:value pair");
      }
    }
    if (c === 0x5b) {
      i++;
      space();
      if (i >= b.length) return EOF;
      if (b[i] === 0x5d) {
        i++;
        return undefined;
      }
      for (;;) {
        const ev = value(depth + 1);
        if (ev) return ev;
        space();
        if (i >= b.length) return EOF;
        if (b[i] === 0x2c) {
          i++;
          continue;
        }
        if (b[i] === 0x5d) {
          i++;
          return undefined;
        }
        return bad("after array element");
      }
    }
    if (c === 0x22) return string();
    if (c === 0x2d || isDigit(c)) return number();
    if (c === 0x74) return literal("true");
    if (c === 0x66) return literal("false");
    if (c === 0x6e) return literal("null");
    return bad("looking for beginning of value");
  };
  const e = value(0);
  if (e) return e;
  space();
  if (i < b.length) return bad("after top-level value");
  return undefined;
}

const GENERIC = "continue key is not valid";

/** storage.DecodeContinue (keyPrefix-relative): the start key, or the error text. */
export function decodeContinue(token: string): { ok: true; value: DecodedContinue } | { ok: false; message: string } {
  const d = goRawURLDecode(token);
  if (!d.ok) return { ok: false, message: `${GENERIC}: ${d.message}` };
  const syntax = goJSONSyntaxError(d.bytes);
  if (syntax) return { ok: false, message: `${GENERIC}: ${syntax}` };
  const parsed: unknown = JSON.parse(d.bytes.toString("utf8"));
  const typeName = (x: unknown): string => (Array.isArray(x) ? "array" : x === null ? "null" : typeof x === "boolean" ? "bool" : typeof x);
  let v = "";
  let rv = 0;
  let start = "";
  if (parsed !== null) {
    if (typeof parsed !== "object" || Array.isArray(parsed))
      return { ok: false, message: `${GENERIC}: json: cannot unmarshal ${typeName(parsed)} into Go value of type storage.continueToken` };
    // encoding/json: exact key first, then a case-insensitive match.
    const obj = parsed as Record<string, unknown>;
    const field = (name: string): unknown => {
      if (name in obj) return obj[name];
      const k = Object.keys(obj).find((x) => x.toLowerCase() === name);
      return k === undefined ? undefined : obj[k];
    };
    const fv = field("v");
    const frv = field("rv");
    const fs = field("start");
    const typeErr = (f: string, goType: string, x: unknown): string => {
      const what = typeof x === "number" ? `number ${String(x)}` : typeName(x);
      return `${GENERIC}: json: cannot unmarshal ${what} into Go struct field continueToken.${f} of type ${goType}`;
    };
    if (fv !== undefined && fv !== null) {
      if (typeof fv !== "string") return { ok: false, message: typeErr("v", "string", fv).replace(/number \S+/, "number") };
      v = fv;
    }
    if (frv !== undefined && frv !== null) {
      if (typeof frv !== "number" || !Number.isInteger(frv)) return { ok: false, message: typeErr("rv", "int64", frv) };
      rv = frv;
    }
    if (fs !== undefined && fs !== null) {
      if (typeof fs !== "string") return { ok: false, message: typeErr("start", "string", fs).replace(/number \S+/, "number") };
      start = fs;
    }
  }
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

// Byte-exact re-implementations of the Go code paths the fake components run
// when they parse a verbosity: strconv.ParseUint / strconv.ParseInt (and their
// error texts, which use strconv.Quote), klog's Level.Set and
// component-base's logs.GlogSetter in its two historical forms.
//
// Upstream references:
//   - k8s.io/apiserver/pkg/server/routes/flags.go  StringFlagPutHandler, writePlainText
//   - k8s.io/component-base/logs                    GlogSetter
//   - k8s.io/klog/v2                                Level.Set -> strconv.ParseInt(value, 10, 32)
//   - Go strconv/atoi.go                            ParseUint, ParseInt, syntaxError, rangeError

export type LevelSyntax = "1.27+" | "pre-1.27";

/** Go's strconv.Quote applied to raw bytes (a Go string holds bytes, not UTF-16). */
export function goQuote(input: Buffer | string): string {
  const b = typeof input === "string" ? Buffer.from(input, "utf8") : input;
  let out = '"';
  let i = 0;
  while (i < b.length) {
    const c = b[i] ?? 0;
    if (c < 0x80) {
      out += quoteRune(c);
      i++;
      continue;
    }
    const { rune, size } = decodeRune(b, i);
    if (rune < 0) {
      out += "\\x" + c.toString(16).padStart(2, "0");
      i++;
      continue;
    }
    out += quoteRune(rune);
    i += size;
  }
  return out + '"';
}

function quoteRune(r: number): string {
  if (r === 0x22) return '\\"';
  if (r === 0x5c) return "\\\\";
  if (isPrint(r)) return String.fromCodePoint(r);
  switch (r) {
    case 0x07:
      return "\\a";
    case 0x08:
      return "\\b";
    case 0x0c:
      return "\\f";
    case 0x0a:
      return "\\n";
    case 0x0d:
      return "\\r";
    case 0x09:
      return "\\t";
    case 0x0b:
      return "\\v";
  }
  if (r < 0x20 || r === 0x7f) return "\\x" + r.toString(16).padStart(2, "0");
  if (r < 0x10000) return "\\u" + r.toString(16).padStart(4, "0");
  return "\\U" + r.toString(16).padStart(8, "0");
}

const printable = /^[\p{L}\p{M}\p{N}\p{P}\p{S} ]$/u;
function isPrint(r: number): boolean {
  if (r < 0x20 || r === 0x7f) return false;
  if (r < 0x7f) return true;
  return printable.test(String.fromCodePoint(r));
}

function decodeRune(b: Buffer, i: number): { rune: number; size: number } {
  const c0 = b[i] ?? 0;
  const cont = (k: number): number => {
    const c = b[i + k];
    return c !== undefined && (c & 0xc0) === 0x80 ? c & 0x3f : -1;
  };
  if (c0 >= 0xc2 && c0 <= 0xdf) {
    const c1 = cont(1);
    if (c1 >= 0) return { rune: ((c0 & 0x1f) << 6) | c1, size: 2 };
  } else if (c0 >= 0xe0 && c0 <= 0xef) {
    const c1 = cont(1);
    const c2 = cont(2);
    if (c1 >= 0 && c2 >= 0) {
      const r = ((c0 & 0x0f) << 12) | (c1 << 6) | c2;
      if (r >= 0x800 && (r < 0xd800 || r > 0xdfff)) return { rune: r, size: 3 };
    }
  } else if (c0 >= 0xf0 && c0 <= 0xf4) {
    const c1 = cont(1);
    const c2 = cont(2);
    const c3 = cont(3);
    if (c1 >= 0 && c2 >= 0 && c3 >= 0) {
      const r = ((c0 & 0x07) << 18) | (c1 << 12) | (c2 << 6) | c3;
      if (r >= 0x10000 && r <= 0x10ffff) return { rune: r, size: 4 };
    }
  }
  return { rune: -1, size: 1 };
}

export type GoParseResult = { ok: true; value: bigint } | { ok: false; message: string; range: boolean };

function numError(fn: string, s: Buffer, range: boolean): GoParseResult {
  return { ok: false, range, message: `strconv.${fn}: parsing ${goQuote(s)}: ${range ? "value out of range" : "invalid syntax"}` };
}

/** strconv.ParseUint(s, 10, bitSize). */
export function parseUint(s: Buffer, bitSize: number, fn = "ParseUint"): GoParseResult {
  if (s.length === 0) return numError(fn, s, false);
  const maxVal = (1n << BigInt(bitSize)) - 1n;
  let n = 0n;
  for (const c of s) {
    let d: number;
    const lower = c | 0x20;
    if (c >= 0x30 && c <= 0x39) d = c - 0x30;
    else if (lower >= 0x61 && lower <= 0x7a) d = lower - 0x61 + 10;
    else return numError(fn, s, false);
    if (d >= 10) return numError(fn, s, false);
    n = n * 10n + BigInt(d);
    if (n > maxVal) return numError(fn, s, true);
  }
  return { ok: true, value: n };
}

/** strconv.ParseInt(s, 10, bitSize). */
export function parseInt64(s0: Buffer, bitSize: number): GoParseResult {
  if (s0.length === 0) return numError("ParseInt", s0, false);
  let s = s0;
  let neg = false;
  if (s[0] === 0x2b) s = s.subarray(1);
  else if (s[0] === 0x2d) {
    neg = true;
    s = s.subarray(1);
  }
  const u = parseUint(s, bitSize);
  let un: bigint;
  if (!u.ok) {
    if (!u.range) return numError("ParseInt", s0, false);
    un = (1n << BigInt(bitSize)) - 1n;
  } else un = u.value;
  const cutoff = 1n << BigInt(bitSize - 1);
  if (!neg && un >= cutoff) return numError("ParseInt", s0, true);
  if (neg && un > cutoff) return numError("ParseInt", s0, true);
  return { ok: true, value: neg ? -un : un };
}

export type SetterResult = { ok: true; level: number; message: Buffer } | { ok: false; message: Buffer };

/**
 * logs.GlogSetter. From 1.27 it first runs strconv.ParseUint(val, 10, 32) and
 * returns that error as is; then (all versions) klog's Level.Set, whose error
 * is wrapped as "failed set klog.logging.verbosity <val>: <err>".
 */
export function glogSetter(val: Buffer, syntax: LevelSyntax): SetterResult {
  if (syntax === "1.27+") {
    const u = parseUint(val, 32);
    if (!u.ok) return { ok: false, message: Buffer.from(u.message) };
  }
  const k = parseInt64(val, 32);
  if (!k.ok) {
    return {
      ok: false,
      message: Buffer.concat([Buffer.from("failed set klog.logging.verbosity "), val, Buffer.from(": " + k.message)]),
    };
  }
  return {
    ok: true,
    level: Number(k.value),
    message: Buffer.concat([Buffer.from("successfully set klog.logging.verbosity to "), val]),
  };
}

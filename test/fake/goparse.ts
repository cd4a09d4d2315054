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

/**
 * Go's strconv.Quote applied to raw bytes, for the ASCII that reaches it here (a level body, a
 * node, pod or user name): printable ASCII as is, `"` and `\\` escaped, control characters as Go
 * writes them. Other bytes are written as \xNN, which Go does only for invalid UTF-8: kvlog
 * never sends them (a level is digits, Kubernetes names are ASCII).
 */
export function goQuote(input: Buffer | string): string {
  const b = typeof input === "string" ? Buffer.from(input, "utf8") : input;
  const named: Record<number, string> = { 0x07: "\\a", 0x08: "\\b", 0x0c: "\\f", 0x0a: "\\n", 0x0d: "\\r", 0x09: "\\t", 0x0b: "\\v", 0x22: '\\"', 0x5c: "\\\\" };
  let out = '"';
  for (const c of b) out += named[c] ?? (c >= 0x20 && c < 0x7f ? String.fromCharCode(c) : "\\x" + c.toString(16).padStart(2, "0"));
  return out + '"';
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

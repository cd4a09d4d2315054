// logs/time: the time at the start of a log line, for the three formats capture reads (pods/log's
// RFC 3339 prefix, journalctl's short-precise, klog's header), and the sinceTime parameter the
// API takes. Pure functions, no I/O.

/** A line longer than this is written, but its start is not searched for a timestamp again. */
export const MAX_LINE_HEAD = 64;

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

/** journalctl's short-precise lines, else a klog header at the line's start (a log file). */
export function nodeLineTime(now: () => number): (line: string) => number | undefined {
  return (line) => journalMs(line, now()) ?? klogMs(line, now());
}

/** The API's sinceTime: whole seconds (it takes RFC 3339 without a fraction). */
export const sinceParam = (ms: number): string => new Date(Math.floor(ms / 1000) * 1000).toISOString().replace(/\.000Z$/, "Z");

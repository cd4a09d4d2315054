// The e2e suite's one reader of a component's log file (the local cluster writes each component's
// log to $KVLOG_E2E_DIR/logs/): a mark is the file's size, `logSince` what was written after it,
// and the lines klog writes only at -v=5 and above, the suite's proof of a raised level.
import { closeSync, openSync, readSync, statSync } from "node:fs";

/** Where `path` ends now: what is written after it is read by logSince. */
export function logMark(path: string): number {
  return statSync(path).size;
}

/** What was written to `path` after `mark` (a logMark), as text; "" when nothing was. */
export function logSince(path: string, mark: number): string {
  const size = statSync(path).size;
  if (size <= mark) return "";
  const fd = openSync(path, "r");
  try {
    const buf = Buffer.alloc(size - mark);
    readSync(fd, buf, 0, buf.length, mark);
    return buf.toString("utf8");
  } finally {
    closeSync(fd);
  }
}

/** One log file, read from a mark on. */
export function logFile(path: string): { mark(): number; since(mark: number): string } {
  return { mark: () => logMark(path), since: (mark) => logSince(path, mark) };
}

/** The apiserver library's mux at -v=5: every component but the kubelet serves its endpoints through it. */
export const V5_PATHRECORDER = /pathrecorder\.go:\d+\] .*satisfied by (exact match|prefix)/;
/** The kubelet's PLEG relist, logged at -v=5 (its mux logs nothing). */
export const V5_KUBELET = /"GenericPLEG: Relisting"/;

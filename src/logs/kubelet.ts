// logs/kubelet: the kubelet's log through the node proxy's /logs/: the node log query where the
// kubelet serves it (polled during the window), else /var/log/kubelet.log read after the restore.

import { networkReason, sleep } from "../http.js";
import type { Target } from "../target.js";
import { cut, failWith, getText, LogAnswerError, withSlot, type LogContext } from "./read.js";
import { KUBELET_LOG_CONFIG } from "./sources.js";
import { MAX_LINE_HEAD, nodeLineTime, sinceParam } from "./time.js";
import type { LogSource, LogWriter } from "./writer.js";

/** How often a source without follow (the kubelet's /logs/) is read again during the window. */
export const POLL_MS = 10_000;

const FILE_FALLBACK = /options present and query resolved to log files/;
const JOURNAL_MISSING = /error: journal output not available|log not found for /;

/** Each Range read of a kubelet's log file: bounded, so a large window never sits in memory whole. */
const FILE_CHUNK = 4 << 20;

/**
 * The kubelet's log through the node proxy's /logs/: the node log query where the kubelet serves
 * it (read every POLL_MS during the window and once more when reading stops), else
 * /var/log/kubelet.log, read once when reading stops (after the restore).
 *
 * Why not during the window: the real kubelet logs the body of every answer whose status is not
 * in its short list (httplog.StatusIsNot: 200, 400, 404, ...), 206 Partial Content included, at
 * -v=3 and above. Read with Range requests while it is raised, its log file would be written into
 * itself, growing with every read (found on the real e2e cluster). After the restore it runs at its
 * startup level again; the window's lines are found by their klog time (bisection on small reads).
 */
export async function readKubeletLog(ctx: LogContext, t: Target, src: LogSource, w: LogWriter): Promise<void> {
  const base = src.where;
  const unavailable = (why: string): void => {
    w.stats.outcome = "logs-unavailable";
    w.stats.message = `${why}; to make it available: ${KUBELET_LOG_CONFIG}`;
  };
  // 1. The node log query (one read also tells whether the kubelet serves it).
  const first = await withSlot(ctx, () => getText(ctx, `${base}?${new URLSearchParams({ query: "kubelet", sinceTime: sinceParam(w.phases.fromMs) })}`, {}));
  if ("error" in first) return failWith(w, first.error, `GET ${base}?query=kubelet`);
  if (first.status === 405) return unavailable(`the kubelet on ${t.node} answered 405 (${first.text.trim()})`);
  const queryServed = first.status === 200 && !/text\/html/.test(first.contentType) && !FILE_FALLBACK.test(first.body.slice(0, 4096)) && !JOURNAL_MISSING.test(first.body.slice(0, 4096));
  if (queryServed) {
    src.kind = "node-log-query";
    w.stats.source = "node-log-query";
    await w.push(first.buffer);
  } else if (first.status >= 400 && first.status !== 404 && first.status !== 406) {
    return failWith(w, new LogAnswerError(first.status, first.text.trim()), `GET ${base}?query=kubelet`);
  } else {
    // 2. The file under /var/log/, if the directory listing (a 200, which the kubelet does not log) has it.
    const fileWhere = `${base}kubelet.log`;
    const listing = first.status === 200 && /text\/html/.test(first.contentType) ? first : await withSlot(ctx, () => getText(ctx, base, {}));
    if ("error" in listing) return failWith(w, listing.error, `GET ${base}`);
    if (listing.status !== 200 || !/href="kubelet\.log"/.test(listing.buffer.toString("utf8"))) {
      return unavailable(`the kubelet on ${t.node} does not serve its log through the API: the node log query is ${first.status === 200 && /text\/html/.test(first.contentType) ? "off" : "not answered"} and there is no /var/log/kubelet.log`);
    }
    src.kind = "node-log-file";
    src.where = fileWhere;
    w.stats.source = "node-log-file";
    w.stats.where = fileWhere;
    if (!ctx.stop.aborted) await new Promise((r) => ctx.stop.addEventListener("abort", r, { once: true }));
    if (w.writeError) return;
    // The file's size (one byte read), then where the window's first line is.
    const probe = await withSlot(ctx, () => getText(ctx, fileWhere, { range: "bytes=-1" }));
    if ("error" in probe) return failWith(w, probe.error, `GET ${fileWhere}`);
    if (probe.status === 404) return unavailable(`/var/log/kubelet.log on ${t.node} went away during the window`);
    if (probe.status !== 206 && probe.status !== 200 && probe.status !== 416) return failWith(w, new LogAnswerError(probe.status, probe.text.trim()), `GET ${fileWhere}`);
    const size = Number(/\/(\d+)/.exec(probe.contentRange)?.[1] ?? probe.buffer.length);
    let offset = await offsetOf(ctx, fileWhere, size, w.phases.fromMs, nodeLineTime(ctx.now));
    for (let skipPartial = offset > 0; ; ) {
      const r = await withSlot(ctx, () => getText(ctx, fileWhere, { range: `bytes=${offset}-${offset + FILE_CHUNK - 1}` }));
      if ("error" in r) return cut(w, `the read after the window failed: ${networkReason(r.error)}`);
      if (r.status === 416) return;
      if (r.status !== 206 && r.status !== 200) return cut(w, `the read after the window answered ${r.status} ${r.text.trim()}`);
      let buf = r.buffer;
      if (skipPartial) buf = buf.subarray(buf.indexOf(10) + 1); // started mid-line
      skipPartial = false;
      offset += r.buffer.length;
      await w.push(buf);
      if (r.status === 200 || r.buffer.length < FILE_CHUNK || w.writeError) return;
    }
  }
  // 3. The node log query again every POLL_MS while the window lasts, and once when reading stops.
  for (;;) {
    const last = ctx.stop.aborted;
    if (!last) await sleep(POLL_MS, ctx.stop);
    if (w.writeError) return;
    w.resume();
    const from = w.lastLineMs ?? w.phases.fromMs;
    const r = await withSlot(ctx, () => getText(ctx, `${base}?${new URLSearchParams({ query: "kubelet", sinceTime: sinceParam(from) })}`, {}));
    if ("error" in r || r.status !== 200) {
      w.stats.reconnects++;
      if (last) return cut(w, `the last read failed: ${"error" in r ? networkReason(r.error) : `${r.status} ${r.text.trim()}`}`);
    } else await w.push(r.buffer);
    if (last) return;
  }
}

/**
 * Where in a log file of `size` bytes the lines from `fromMs` on begin, to within 64 KiB before
 * them: bisection on 4 KiB reads, each judged by the time of its first whole line.
 */
async function offsetOf(ctx: LogContext, where: string, size: number, fromMs: number, timeOf: (line: string) => number | undefined): Promise<number> {
  let lo = 0;
  let hi = size;
  while (hi - lo > 64 * 1024) {
    const mid = Math.floor((lo + hi) / 2);
    const r = await withSlot(ctx, () => getText(ctx, where, { range: `bytes=${mid}-${mid + 4095}` }));
    if ("error" in r || r.status !== 206) break;
    const nl = r.buffer.indexOf(10);
    const at = nl < 0 ? undefined : timeOf(r.buffer.toString("utf8", nl + 1, Math.min(r.buffer.length, nl + 1 + MAX_LINE_HEAD)));
    if (at === undefined) break;
    if (at < fromMs) lo = mid;
    else hi = mid;
  }
  return lo;
}

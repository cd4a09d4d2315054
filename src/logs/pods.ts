// logs/pods: a pod's log (pods/log), followed from before the raise while a stream is free, else
// read from its history once one is; an early end is asked for again from its last line, and a
// container restart is followed onto the new container. An empty pod log falls back to the
// component's file under the node's /var/log/.

import type { Dispatcher } from "undici";
import { networkReason, sleep } from "../http.js";
import type { Target } from "../target.js";
import { answerOutcome, cut, failText, getText, isAbort, LogAnswerError, NODE_READ_MAX, openRead, pump, withSlot, type LogContext } from "./read.js";
import { NODE_LOGS } from "./sources.js";
import { nodeLineTime, sinceParam } from "./time.js";
import type { LogSource, LogWriter } from "./writer.js";

/** A read of a pod's log history (after the window, for a target that waited for a stream) takes at most this long. */
const HISTORY_READ_MS = 120_000;

/**
 * A pod's log (pods/log): followed from `fromMs` while a stream is free, else read from its
 * history once one is (queued). A stream that ends before reading stops is asked for again from
 * its last line; if the container restarted meanwhile, that is marked in the file and counted.
 */
export async function readPodLog(ctx: LogContext, t: Target, src: LogSource, w: LogWriter, pod: { namespace: string; name: string; restarts: number | undefined }): Promise<void> {
  await followPodLog(ctx, src, w, pod);
  // Nothing in the pod log at all: the component may write to a file on its node instead
  // (kube-up style manifests redirect to /var/log/<component>.log), which the kubelet serves.
  if (w.stats.outcome === "captured" && w.stats.lines === 0 && t.node) await componentFile(ctx, t, src, w);
}

/** The component's file under the node's /var/log/ (the kubelet's /logs/), read once, its lines of the run kept. */
async function componentFile(ctx: LogContext, t: Target, src: LogSource, w: LogWriter): Promise<void> {
  const where = `${NODE_LOGS(t.node!)}${encodeURIComponent(t.component)}.log`;
  const r = await withSlot(ctx, () => getText(ctx, where, { range: `bytes=-${NODE_READ_MAX}` }));
  if ("error" in r || (r.status !== 206 && r.status !== 200)) return; // not there (or not allowed): the summary says what an empty log may mean
  src.kind = "node-log-file";
  src.where = where;
  w.readFrom(src, nodeLineTime(ctx.now));
  const whole = r.status === 200 || /^bytes 0-/.test(r.contentRange);
  await w.push(whole ? r.buffer : r.buffer.subarray(r.buffer.indexOf(10) + 1), ctx.stoppedAt);
}

async function followPodLog(ctx: LogContext, src: LogSource, w: LogWriter, pod: { namespace: string; name: string; restarts: number | undefined }): Promise<void> {
  let release = ctx.slots.tryAcquire();
  if (!release) {
    w.stats.queued = true;
    release = await ctx.slots.acquire();
    if (ctx.interrupted?.aborted) {
      release();
      w.stats.outcome = "not-followed";
      w.stats.message = `interrupted while it waited for a log stream; its log is still in the pod: kubectl logs -n ${pod.namespace} ${pod.name} --timestamps --since-time=${sinceParam(w.phases.fromMs)}`;
      return;
    }
  }
  let restarts = pod.restarts;
  let failures = 0;
  try {
    for (;;) {
      const follow = !ctx.stop.aborted;
      const from = w.lastLineMs !== undefined ? w.lastLineMs : w.phases.fromMs;
      const q = new URLSearchParams({ timestamps: "true", sinceTime: sinceParam(from) });
      if (follow) q.set("follow", "true");
      let res: Dispatcher.ResponseData;
      // A follow ends with the reading; a read of history (queued, or the last one) has its own bound.
      const signal = follow ? ctx.stop : AbortSignal.timeout(Math.max(ctx.timeoutMs, HISTORY_READ_MS));
      try {
        res = await openRead(ctx, `${src.where}?${q}`, {}, signal);
      } catch (e) {
        if (ctx.stop.aborted && follow) continue; // stopped while connecting: one last read of history
        if (++failures > 2) return cut(w, `${src.where}: ${networkReason(e)}`);
        w.resume();
        await sleep(500 * failures);
        continue;
      }
      if (res.statusCode !== 200) {
        const e = new LogAnswerError(res.statusCode, await failText(res));
        // Asked again after a cut or an early end, and refused: the node or the pod may be gone.
        if (w.stats.reconnects > 0 || w.stats.restarts > 0) return cut(w, `the stream ended and could not be read again: ${e.status} ${e.message}`);
        const o = answerOutcome(e, `GET ${src.where}`);
        w.stats.outcome = o.outcome;
        w.stats.message = o.message;
        return;
      }
      let how: "ended" | "stopped";
      try {
        how = await pump(res.body, w, follow ? undefined : ctx.stoppedAt);
      } catch (e) {
        if (follow && ctx.stop.aborted) return;
        if (!follow && isAbort(e)) return cut(w, `reading its history after the window took longer than ${Math.round(Math.max(ctx.timeoutMs, HISTORY_READ_MS) / 1000)}s`);
        // Cut by the apiserver or the network mid-stream: ask again from the last line.
        w.stats.reconnects++;
        if (++failures > 2) return cut(w, `the stream was cut ${failures} times (${networkReason(e)})`);
        await w.mark(`stream cut (${networkReason(e)}); reading again from the last line`);
        w.resume();
        continue;
      }
      if (!follow || how === "stopped" || ctx.stop.aborted) return;
      // A follow ended by itself: the container stopped. Did it restart?
      const now = await ctx.api.getPod(pod.namespace, pod.name).catch(() => undefined);
      const count = now?.status?.containerStatuses?.[0]?.restartCount;
      if (now === undefined) return cut(w, `pod ${pod.namespace}/${pod.name} is gone`);
      if (count !== undefined && restarts !== undefined && count > restarts) {
        w.stats.restarts += count - restarts;
        await w.mark(`container restarted (restart count ${restarts} -> ${count}); following the new container`);
        restarts = count;
      } else {
        w.stats.reconnects++;
        if (++failures > 2) return cut(w, "the stream kept ending before the window did");
        await sleep(1000, ctx.stop);
      }
      w.resume();
    }
  } finally {
    release();
  }
}

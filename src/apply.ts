// apply: PUT /debug/flags/v on every target, through the fan-out (fanout.ts), each PUT within
// its --request-timeout and tried again by the retry policy (retry.ts), each answer or failure
// turned into a Result by the outcome catalogue (outcomes.ts).

import type { Access } from "./access.js";
import { fanOut, TargetFeed } from "./fanout.js";
import { errorCode, FLAGS_PATH, reasonText, sleep, untilAborted, withDeadline } from "./http.js";
import { classifyAnswer, classifyError, cutShortInFlight, type Classified, type Result } from "./outcomes.js";
import { TunnelRefusedError } from "./portforward.js";
import { retryAnswer, retryError } from "./retry.js";
import { interrupted, type Reachable, type Target } from "./target.js";
import { directCredentials, openChannel, type Channel } from "./transport.js";

export interface ApplyOptions {
  /** The level to set: one for all, or each target's own (a reset goes back to each one's startup level). */
  level: number | ((t: Target) => number);
  access: Access | undefined;
  timeoutMs: number;
  concurrency: number;
  dryRun: boolean;
  /** Called after each target finishes (progress on a terminal); total is 0 while discovery goes on. */
  onResult?: (r: Result, done: number, total: number) => void;
  now?: () => number;
  /** The way to open a channel (tests may pass another). */
  open?: (target: Reachable, access: Access | undefined, timeoutMs: number, signal?: AbortSignal) => Channel;
  /** Once aborted (Ctrl-C), no new target is started; the ones in flight finish. */
  signal?: AbortSignal;
  /**
   * The run's deadline (--timeout): once aborted, a PUT in flight is cut short and reported
   * `interrupted`, saying whether it had been sent. Never given to a restore of `set --for`.
   */
  cancel?: AbortSignal | undefined;
}

export async function applyAll(targets: Target[] | TargetFeed, opts: ApplyOptions): Promise<Result[]> {
  return fanOut(targets, opts, (t) => applyOne(t, opts), (t) => applyOne(interrupted(t), opts));
}

export async function applyOne(target: Target, opts: ApplyOptions): Promise<Result> {
  const now = opts.now ?? Date.now;
  const started = now();
  const level = typeof opts.level === "function" ? opts.level(target) : opts.level;
  const body = String(level);
  const open = opts.open ?? openChannel;
  let channel: Channel | undefined;
  let url = "";
  const finish = (c: Classified, httpStatus: number | null, errorCode: string | null, attempts = 0, skipped = false): Result => ({
    id: target.id,
    component: target.component,
    node: target.node ?? null,
    namespace: target.namespace ?? null,
    pod: target.pod ?? null,
    via: target.via,
    endpoint: url,
    level,
    ok: c.ok,
    skipped,
    outcome: c.outcome,
    httpStatus,
    attempts,
    message: c.message,
    hint: c.hint ?? null,
    durationMs: Math.max(0, Math.round(now() - started)),
    errorCode,
    request: { method: "PUT", url, body, auth: authShown(target, opts.access) },
    before: null,
    restore: null,
  });

  if (target.unavailable) {
    const u = target.unavailable;
    return finish({ outcome: u.outcome, ok: false, message: u.message, hint: u.hint }, null, null, 0, u.skipped === true);
  }
  const cancel = opts.cancel;
  // Sent whole, in this try or an earlier one: the component may have acted on it.
  let sent = false;
  const cut = (attempts: number): Result => finish(cutShortInFlight(reasonText(cancel!), sent), null, null, attempts);
  try {
    channel = open(target, opts.access, opts.timeoutMs, cancel);
    url = channel.url;
    if (opts.dryRun) {
      return finish({ outcome: "dry-run", ok: true, message: `would PUT "${body}" to ${url}` }, null, null);
    }
    const ch = channel;
    // The same level PUT twice does the same: a failure that may pass is tried again, at most
    // MAX_ATTEMPTS times, all within this target's --request-timeout.
    const deadline = now() + opts.timeoutMs;
    let attempts = 0;
    for (;;) {
      if (cancel?.aborted) return cut(attempts);
      const left = Math.max(1, deadline - now());
      let sentNow = false;
      const onSent = (): void => {
        sent = sentNow = true;
      };
      try {
        const sending = ch.send({ method: "PUT", path: FLAGS_PATH, body, timeoutMs: left, signal: cancel, onSent });
        const answer = await untilAborted(withDeadline(sending, left + 1000, `no answer within ${left + 1000} ms`), cancel);
        attempts += answer.attempts ?? 1;
        const wait = retryAnswer(target, answer, attempts, deadline - now());
        if (wait === undefined) return finish(classifyAnswer(target, level, answer), answer.status, null, attempts);
        await sleep(wait, cancel);
      } catch (e) {
        if (cancel?.aborted) return cut(attempts + (sentNow ? 1 : 0));
        attempts++;
        const wait = retryError(e, attempts, deadline - now());
        if (wait === undefined) return finish(classifyError(target, e, opts.timeoutMs), e instanceof TunnelRefusedError ? e.status : null, errorCode(e), attempts);
        await sleep(wait, cancel);
      }
    }
  } catch (e) {
    const c = classifyError(target, e, opts.timeoutMs);
    return finish(c, e instanceof TunnelRefusedError ? e.status : null, errorCode(e), 1);
  } finally {
    await channel?.close().catch(() => {});
  }
}

/** The kind of credentials a target is sent (never their value). */
function authShown(target: Target, access: Access | undefined): string {
  if (!target.authenticates || !access) return "none";
  if (target.via === "direct") return directCredentials(target, access)?.kind ?? "none";
  return access.credentials.kind;
}

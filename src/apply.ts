// apply: PUT /debug/flags/v on every target (bounded fan-out, per-target timeout),
// and classify each answer into an outcome with the next step in its message.

import { COMPONENTS, tooOld, type Component, type ComponentName } from "./components.js";
import { CLOSED_BEFORE_ANSWER, errorCode, failedBeforeAnswer, FLAGS_PATH, isTimeout, networkReason, sleep, statusMessage, untilAborted, withDeadline, type HttpAnswer } from "./http.js";
import type { Access } from "./access.js";
import type { Target } from "./target.js";
import { TunnelError, TunnelRefusedError } from "./portforward.js";
import { directCredentials, openChannel, type Channel } from "./transport.js";

export type Outcome =
  | "set"
  | "dry-run"
  | "unauthorized"
  | "forbidden"
  | "not-installed"
  | "too-old"
  | "disabled"
  | "unexpected-answer"
  | "rejected"
  | "connection-refused"
  | "connection-reset"
  | "timeout"
  | "tls-error"
  | "unreachable"
  | "pod-not-running"
  | "node-not-ready"
  | "untrusted"
  | "missing"
  | "interrupted"
  | "unknown-startup"
  | "superseded"
  | "error";

/** One result per target: the view model that both the table and the JSON render. */
export interface Result {
  id: string;
  component: ComponentName;
  node: string | null;
  namespace: string | null;
  pod: string | null;
  via: Target["via"];
  endpoint: string;
  level: number;
  ok: boolean;
  /** Left out on purpose (a node whose kubelet is down): not counted as a failure. */
  skipped: boolean;
  outcome: Outcome;
  httpStatus: number | null;
  /** HTTP attempts made: more than 1 after a 429 (Retry-After) or a credential renewal; 0 when nothing was sent. */
  attempts: number;
  message: string;
  hint: string | null;
  durationMs: number;
  errorCode: string | null;
  request: { method: "PUT"; url: string; body: string; auth: string };
  /** The level before this change, when known (the override kvlog recorded, else the startup level). */
  before: number | null;
  /** With --for: how the level was put back (null otherwise, or when it was not changed). */
  restore: Restore | null;
}

/** Putting a level back after `set --for`. */
export interface Restore {
  level: number | null;
  ok: boolean;
  outcome: Outcome;
  httpStatus: number | null;
  message: string;
  hint: string | null;
  at: string | null;
}

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
  open?: (target: Target, access: Access | undefined, timeoutMs: number, signal?: AbortSignal) => Channel;
  /** Once aborted (Ctrl-C), no new target is started; the ones in flight finish. */
  signal?: AbortSignal;
  /**
   * The run's deadline (--timeout): once aborted, a PUT in flight is cut short and reported
   * `interrupted`, saying whether it had been sent. Never given to a restore of `set --for`.
   */
  cancel?: AbortSignal | undefined;
}

export interface Classified {
  outcome: Outcome;
  ok: boolean;
  message: string;
  hint?: string | undefined;
}

const catalog = (name: ComponentName): Component => COMPONENTS.find((c) => c.name === name)!;

/**
 * Targets as discovery finds them, page by page, so the fan-out starts with the first page of a
 * 5,000-node list instead of after the last. `end()` says no more will come.
 */
export class TargetFeed {
  private readonly items: Target[] = [];
  private taken = 0;
  private ended = false;
  private wake: (() => void) | undefined;
  private waiting: Promise<void> | undefined;

  push(targets: Target[]): void {
    this.items.push(...targets);
    this.release();
  }

  end(): void {
    this.ended = true;
    this.release();
  }

  get size(): number {
    return this.items.length;
  }

  get complete(): boolean {
    return this.ended;
  }

  /** The next target and its index, or undefined once the feed has ended and is empty. */
  async next(): Promise<{ target: Target; index: number } | undefined> {
    while (this.taken >= this.items.length) {
      if (this.ended) return undefined;
      await this.change();
    }
    const index = this.taken++;
    return { target: this.items[index]!, index };
  }

  /** Every target not handed out yet; waits for the feed to end. */
  async rest(): Promise<{ target: Target; index: number }[]> {
    while (!this.ended) await this.change();
    const out = this.items.slice(this.taken).map((target, k) => ({ target, index: this.taken + k }));
    this.taken = this.items.length;
    return out;
  }

  /** Resolves at the next push() or end(). */
  private change(): Promise<void> {
    return (this.waiting ??= new Promise((resolve) => (this.wake = resolve)));
  }

  private release(): void {
    const wake = this.wake;
    this.wake = undefined;
    this.waiting = undefined;
    wake?.();
  }
}

export interface FanOutOptions<R> {
  concurrency: number;
  /** Once aborted (Ctrl-C), no new target is started; the ones in flight finish. */
  signal?: AbortSignal | undefined;
  /** Called after each target finishes (progress on a terminal); total is 0 while discovery goes on. */
  onResult?: ((r: R, done: number, total: number) => void) | undefined;
}

/**
 * Runs `work` on every target, `concurrency` at once, in the feed's order; one target's failure
 * never stops the others. Targets not started because of an interrupt get `notAttempted`.
 */
export async function fanOut<R>(targets: Target[] | TargetFeed, opts: FanOutOptions<R>, work: (t: Target) => Promise<R>, notAttempted: (t: Target) => Promise<R>): Promise<R[]> {
  const feed = targets instanceof TargetFeed ? targets : new TargetFeed();
  if (!(targets instanceof TargetFeed)) {
    feed.push(targets);
    feed.end();
  }
  const results: R[] = [];
  let done = 0;
  const total = (): number => (feed.complete ? feed.size : 0);
  const unstarted: { target: Target; index: number }[] = [];
  const worker = async (): Promise<void> => {
    while (!opts.signal?.aborted) {
      const next = await feed.next();
      if (!next) return;
      if (opts.signal?.aborted) {
        unstarted.push(next); // interrupted while this worker waited for discovery
        return;
      }
      const r = await work(next.target);
      results[next.index] = r;
      done++;
      opts.onResult?.(r, done, total());
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, opts.concurrency) }, worker));
  // Targets never started are reported too: the user must know which ones were not changed.
  for (const { target, index } of [...unstarted, ...(await feed.rest())]) results[index] = await notAttempted(target);
  return results;
}

/** Said of a PUT that was sent whole but not answered before --timeout passed (report.ts counts these). */
export const MAY_HAVE_BEEN_APPLIED = "the change may have been applied";

/** A PUT cut short by the run's deadline: sent (the component may have acted on it) or not yet. */
export function cutShortInFlight(why: string, sent: boolean): Classified {
  return sent
    ? {
        outcome: "interrupted",
        ok: false,
        message: `${why} while kvlog waited for the answer: the PUT was sent, so ${MAY_HAVE_BEEN_APPLIED}`,
        hint: "run the same command again to be sure (the same level sent twice does the same)",
      }
    : { outcome: "interrupted", ok: false, message: `${why} before the PUT was sent (its level is unchanged)` };
}

/**
 * Changed, or may have been: set, or a PUT sent whole that --timeout cut short before its answer.
 * Such a target is recorded and, with `set --for`, put back like one that was set.
 */
export function mayHaveChanged(r: Result): boolean {
  return r.ok || (r.outcome === "interrupted" && r.message.includes(MAY_HAVE_BEEN_APPLIED));
}

/** The text of an abort reason (--timeout's is an Error). */
export function reasonText(signal: AbortSignal): string {
  const r = signal.reason as unknown;
  return r instanceof Error ? r.message : String(r);
}

/** A target that an interrupt (or --timeout) kept kvlog from reaching. */
export function interrupted(target: Target, why = "interrupted"): Target {
  return { ...target, unavailable: { outcome: "interrupted", message: `not attempted: ${why} before kvlog reached it (its level is unchanged)` } };
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

/** Tries of one PUT, the first included. */
export const MAX_ATTEMPTS = 3;

/** How long to wait before the next try, or undefined when there is none (attempts used, no time left, or no point). */
function backoff(attempts: number, retryAfterS: number | undefined, leftMs: number): number | undefined {
  if (attempts >= MAX_ATTEMPTS) return undefined;
  const wait = retryAfterS !== undefined ? Math.min(retryAfterS, 5) * 1000 : 250 * 2 ** (attempts - 1) + Math.floor(Math.random() * 100);
  return wait + 500 < leftMs ? wait : undefined; // leave the next try time to answer
}

/**
 * Answers worth another try: 429, and 503 that says when to come back (Retry-After) or comes
 * from the component itself. A node proxy's 502/503 means the apiserver could not dial the
 * kubelet, which another try within seconds does not change; 4xx answers never change.
 */
export function retryAnswer(target: Target, ans: HttpAnswer, attempts: number, leftMs: number): number | undefined {
  const retryable = ans.status === 429 || (ans.status === 503 && (ans.retryAfter !== undefined || target.via !== "node-proxy"));
  return retryable ? backoff(attempts, ans.retryAfter, leftMs) : undefined;
}

/** Connection failures before any answer (refused, reset, closed): the PUT did not happen, or happened once. Timeouts are not tried again. */
export function retryError(e: unknown, attempts: number, leftMs: number): number | undefined {
  const refusedInTunnel = e instanceof TunnelError && /connection refused/i.test(e.message);
  return refusedInTunnel || failedBeforeAnswer(e) ? backoff(attempts, undefined, leftMs) : undefined;
}

/** The kind of credentials a target is sent (never their value). */
function authShown(target: Target, access: Access | undefined): string {
  if (!target.authenticates || !access) return "none";
  if (target.via === "direct") return directCredentials(target, access)?.kind ?? "none";
  return access.credentials.kind;
}

const SUCCESS = /^successfully set klog\.logging\.verbosity to (\S+)/;

/** Classifies an HTTP answer from a target. Pure: tested with plain answers. */
export function classifyAnswer(target: Target, level: number, ans: HttpAnswer): Classified {
  const c = catalog(target.component);
  const text = statusMessage(ans.body) ?? "";
  const where = describeWhere(target);
  switch (ans.status) {
    case 200: {
      const m = SUCCESS.exec(ans.body.trim());
      if (m && m[1] === String(level)) return { outcome: "set", ok: true, message: `level set to ${level}` };
      if (m) return { outcome: "unexpected-answer", ok: false, message: `the component says it set level ${m[1]}, not ${level}` };
      const html = /<html|<a href/i.test(ans.body) || ans.contentType.includes("text/html");
      return {
        outcome: "unexpected-answer",
        ok: false,
        message: html
          ? `${where} answered 200 with the /debug/flags index page, not the success text: the path is wrong or the component is too old`
          : `${where} answered 200 without the success text: ${short(ans.body) || "(empty body)"}`,
        hint: "kvlog only counts `successfully set klog.logging.verbosity to N` as success; check --endpoint or the component version",
      };
    }
    case 400:
      return { outcome: "rejected", ok: false, message: `${where} rejected level ${level}: ${short(ans.body)}` };
    case 401:
      return {
        outcome: "unauthorized",
        ok: false,
        message: `${where} did not accept the credentials (401 ${text || "Unauthorized"})`,
        hint:
          target.via === "port-forward"
            ? `${c.name} checks tokens with TokenReview and client certificates against the cluster client CA: use a token (--token, --service-account) or a kubeconfig client certificate it trusts; check its --authentication-kubeconfig`
            : target.nodeReported && !target.tokenToNodes
              ? "kvlog sends no bearer token to an address a node reports about itself (a compromised node could replay it): drop --direct, or use --service-account NS/NAME (a short-lived token minted for the run), or pass --send-token-to-nodes"
              : "check the kubeconfig user, or pass --token/--token-file/--service-account",
      };
    case 403:
      return forbidden(target, text);
    case 404: {
      if (target.via === "node-proxy" && ans.contentType.includes("json")) {
        return { outcome: "missing", ok: false, message: `the apiserver says: ${text}` };
      }
      if (tooOld(c, target.version)) {
        return {
          outcome: "too-old",
          ok: false,
          message: `${where} runs ${target.version}; PUT ${FLAGS_PATH} arrived in ${c.since.join(".")}`,
          hint: `upgrade ${c.name} to ${c.since.join(".")} or newer`,
        };
      }
      return {
        outcome: "not-installed",
        ok: false,
        message: `${where} does not serve ${FLAGS_PATH} (404): the debug handler is off`,
        hint: `to turn it on, ${c.gate}`,
      };
    }
    case 405:
      if (target.component === "kubelet" && /flags endpoint is disabled/.test(ans.body)) {
        return {
          outcome: "disabled",
          ok: false,
          message: `${where}: flags endpoint is disabled (405)`,
          hint: "set enableDebugFlagsHandler: true in the KubeletConfiguration (or --enable-debug-flags-handler), then restart the kubelet",
        };
      }
      break;
    case 406:
      return { outcome: "unexpected-answer", ok: false, message: `${where} refused the method (406 ${short(ans.body)})` };
    case 502:
    case 503:
      if (target.via === "node-proxy") {
        return {
          outcome: "unreachable",
          ok: false,
          message: `the apiserver could not reach the kubelet on ${target.node} (${ans.status} ${text})`,
          hint: "check the node is Ready and its kubelet port is reachable from the control plane",
        };
      }
      break;
  }
  return { outcome: "error", ok: false, message: `${where} answered ${ans.status}: ${short(text || ans.body)}` };
}

function forbidden(target: Target, text: string): Classified {
  const c = catalog(target.component);
  const where = describeWhere(target);
  const why =
    c.name === "kubelet"
      ? " (nodes/proxy also reaches the kubelet's exec and run paths: grant it with care)"
      : c.name === "kube-apiserver"
        ? ""
        : ` (${c.name} asks the apiserver with SubjectAccessReview)`;
  return { outcome: "forbidden", ok: false, message: `${where}: forbidden (403): ${text}`, hint: `grant ${c.rbac}${why}` };
}

/** Classifies a failure to get any answer (network, TLS, tunnel). Pure. */
export function classifyError(target: Target, e: unknown, timeoutMs: number): Classified {
  const c = classifyFailure(target, e, timeoutMs);
  if (target.replica && ["connection-refused", "timeout", "unreachable"].includes(c.outcome)) {
    return {
      ...c,
      hint: "a kube-apiserver replica listed in default/kubernetes is not reachable from here (managed control planes keep replica addresses private): run kvlog where every replica is reachable, e.g. inside the cluster",
    };
  }
  return c;
}

function classifyFailure(target: Target, e: unknown, timeoutMs: number): Classified {
  const where = describeWhere(target);
  if (e instanceof TunnelRefusedError) {
    if (e.status === 403) {
      return {
        outcome: "forbidden",
        ok: false,
        message: `port-forward to ${target.namespace}/${target.pod} forbidden (403): ${e.message}`,
        hint: `grant apiGroups [""] resources ["pods/portforward"] verbs ["get", "create"] in namespace ${target.namespace}`,
      };
    }
    if (e.status === 401) {
      return { outcome: "unauthorized", ok: false, message: `the apiserver did not accept the credentials for port-forward (401 ${e.message})`, hint: "check the kubeconfig user, or pass --token/--token-file/--service-account" };
    }
    if (e.status === 404) {
      return { outcome: "missing", ok: false, message: `pod ${target.namespace}/${target.pod} is gone (404 ${e.message})` };
    }
    return { outcome: "error", ok: false, message: `the apiserver refused the port-forward to ${target.namespace}/${target.pod}: ${e.status} ${e.message}` };
  }
  if (e instanceof TunnelError) {
    const refused = /connection refused/i.test(e.message);
    return {
      outcome: refused ? "connection-refused" : "error",
      ok: false,
      message: `port-forward to ${target.namespace}/${target.pod}:${target.port} failed: ${e.message}`,
      hint: refused ? `nothing listens on port ${target.port} in the pod: check ${target.component}'s --secure-port/--bind-address (or metricsBindAddress for kube-proxy)` : undefined,
    };
  }
  const code = errorCode(e);
  const err = e as { message?: string };
  if (isTimeout(e)) {
    return { outcome: "timeout", ok: false, message: `${where} did not answer within ${timeoutMs} ms`, hint: "raise --request-timeout, or check the network path" };
  }
  if (code === "ECONNREFUSED") {
    return { outcome: "connection-refused", ok: false, message: `${where}: connection refused`, hint: "check the address and port, and that the component is running" };
  }
  if (code && CLOSED_BEFORE_ANSWER.has(code)) {
    return { outcome: "connection-reset", ok: false, message: `${where}: the connection was closed before an answer (${code})` };
  }
  if (code && (code.startsWith("ERR_TLS") || code.startsWith("ERR_SSL") || /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|HOSTNAME|ALTNAME/.test(code))) {
    return {
      outcome: "tls-error",
      ok: false,
      message: `${where}: TLS verification failed (${code}: ${short(err.message ?? "")})`,
      hint:
        target.via === "port-forward"
          ? `the TLS handshake with ${target.component} inside the tunnel failed: check that port ${target.port} serves HTTPS`
          : target.component === "kubelet" && target.via === "direct"
            ? "kubelet serving certificates are often self-signed: drop --direct to go through the apiserver's node proxy"
            : "check the kubeconfig's certificate-authority, or pass --insecure-skip-tls-verify if you accept the risk",
    };
  }
  if (code === "ENOTFOUND" || code === "EAI_AGAIN" || code === "EHOSTUNREACH" || code === "ENETUNREACH") {
    return { outcome: "unreachable", ok: false, message: `${where}: ${networkReason(e)}` };
  }
  return { outcome: "error", ok: false, message: `${where}: ${networkReason(e)}` };
}

function describeWhere(t: Target): string {
  if (t.pod) return `${t.component} ${t.namespace}/${t.pod}`;
  if (t.node) return `${t.component} on ${t.node}`;
  return t.url ? `${t.component} at ${new URL(t.url).host}` : t.component;
}

function short(s: string): string {
  const one = s.replace(/\s+/g, " ").trim();
  return one.length > 200 ? `${one.slice(0, 200)}…` : one;
}

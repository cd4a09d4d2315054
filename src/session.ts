// session: the core every command runs on. Cluster access (the identity, a minted
// ServiceAccount, masking of secrets), and discovery feeding a bounded fan-out with progress.

import { freshCredentials, withServiceAccount, type Access } from "./access.js";
import { kubeApi, loadAccess } from "./api.js";
import { BARE_SOURCE, bareAccess } from "./credentials.js";
import { newDispatcher } from "./dispatch.js";
import { ConfigError, KvlogError } from "./errors.js";
import { fanOut, TargetFeed } from "./fanout.js";
import { cutShort } from "./http.js";
import type { Io } from "./io.js";
import type { DoctorApi, KubeApi, RecordApi } from "./objects.js";
import { formatDuration, type AccessRequest, type TargetRequest } from "./options.js";
import { planTargets } from "./plan.js";
import { interrupted, type Target } from "./target.js";
import { dropPreconnected } from "./preconnect.js";
import { escapeTerminal } from "./terminal.js";

/** A full garbage collection every this many finished targets keeps a fleet run's memory flat. */
const COLLECT_EVERY = 256;

export class Session {
  /** Every identity used in the run (the user's, and a ServiceAccount's): closed and masked at the end. */
  private readonly used: Access[] = [];
  access: Access | undefined;
  /** The apiserver, for the run's reads (discovery, checks, the record as shown): cut short when --timeout passes. */
  api: (KubeApi & RecordApi & DoctorApi) | undefined;
  /** The same apiserver for what --timeout never cuts: the record of a change (read, written) and the restore of `set --for`. */
  recordApi: (KubeApi & RecordApi & DoctorApi) | undefined;

  readonly req: AccessRequest;
  readonly io: Io;
  /** Aborted by Ctrl-C / SIGTERM, or when --timeout passes: no new target is started after it. */
  readonly stop: AbortSignal | undefined;

  /** --timeout's own controller and timer, held here: a signal from AbortSignal.timeout() that only AbortSignal.any() refers to can be collected before it fires. */
  private readonly limit = new AbortController();
  private readonly limitTimer: NodeJS.Timeout | undefined;

  constructor(req: AccessRequest, io: Io) {
    this.req = req;
    this.io = io;
    if (req.runTimeoutMs !== undefined) {
      this.limitTimer = setTimeout(() => this.limit.abort(cutShort(`--timeout ${formatDuration(req.runTimeoutMs!)} passed`)), req.runTimeoutMs);
      this.limitTimer.unref();
      this.stop = io.signal ? AbortSignal.any([io.signal, this.limit.signal]) : this.limit.signal;
    } else this.stop = io.signal;
  }

  /**
   * Discovery failed part-way (a later page refused or unreachable) after some targets were
   * worked on and reported: one line, and the run's exit code (at least 1).
   */
  discoveryStopped(done: number, e: unknown): number {
    this.io.stderr.write(`kvlog: discovery stopped after ${done} target(s): ${escapeTerminal(this.redact(e instanceof Error ? e.message : String(e)))}\n`);
    return e instanceof KvlogError ? Math.max(e.exitCode, 1) : 1;
  }

  /**
   * Aborted when --timeout passes (not by Ctrl-C, which lets the work in flight finish): requests
   * then in flight (discovery, reads, PUTs) are cut short. Never given to a restore of `set --for`
   * nor to the record's bookkeeping, which keep their own bound (--request-timeout).
   */
  get deadline(): AbortSignal | undefined {
    return this.req.runTimeoutMs !== undefined ? this.limit.signal : undefined;
  }

  /** Why a target was not reached: the interrupt, or --timeout. */
  notAttempted(t: Target): Target {
    const timedOut = this.stop?.aborted && !this.io.signal?.aborted;
    return interrupted(t, timedOut ? `--timeout ${formatDuration(this.req.runTimeoutMs!)} passed` : "interrupted");
  }

  /**
   * Loads the identity. `endpoint`: the one target is given, a kubeconfig is optional.
   * `mint`: act as --service-account (not on a dry run, which sends nothing).
   */
  async open(endpoint: URL | undefined, mint: boolean): Promise<void> {
    const req = this.req;
    const accessOpts = {
      kubeconfig: req.kubeconfig,
      context: req.context,
      insecureSkipTlsVerify: req.insecureSkipTlsVerify,
      token: req.token,
      tokenFile: req.tokenFile,
      timeoutMs: req.timeoutMs,
      connections: req.concurrency,
      optional: endpoint !== undefined,
      env: this.io.env,
    };
    let access = await loadAccess(accessOpts);
    if (access) this.used.push(access);
    if (!access && req.serviceAccount) {
      throw new ConfigError("--service-account mints its token through the apiserver, which needs a kubeconfig; pass --kubeconfig or use --token");
    }
    if (!access && endpoint) this.used.push((access = await bareAccess(accessOpts, endpoint, newDispatcher)));
    if (req.serviceAccount && access && mint) {
      // The user's own identity stays open: it mints the token again before it expires.
      access = await withServiceAccount(access, kubeApi(access, this.apiOptions), req.serviceAccount.namespace, req.serviceAccount.name, newDispatcher);
      this.used.push(access);
    }
    if (req.serviceAccount && !mint && access) {
      access.credentials = { ...access.credentials, kind: `ServiceAccount ${req.serviceAccount.namespace}/${req.serviceAccount.name} token (minted when not --dry-run)` };
    }
    this.access = access;
    // With --endpoint and no kubeconfig there is no apiserver: nothing to discover or record.
    const apiserver = access && access.source !== BARE_SOURCE ? access : undefined;
    this.api = apiserver && kubeApi(apiserver, { ...this.apiOptions, signal: this.deadline });
    this.recordApi = apiserver && kubeApi(apiserver, this.apiOptions);
  }

  get apiOptions(): { timeoutMs: number; chunkSize: number } {
    return { timeoutMs: this.req.timeoutMs, chunkSize: this.req.chunkSize };
  }

  /** Credentials renewed now if due: after a long wait (--for), before the levels are put back. */
  async refresh(): Promise<void> {
    if (this.access) await freshCredentials(this.access);
  }

  colorOn(stream: { isTTY?: boolean }): boolean {
    return this.req.color && (this.io.env.FORCE_COLOR ? this.io.env.FORCE_COLOR !== "0" : stream.isTTY === true);
  }

  now(): number {
    return this.io.now?.() ?? Date.now();
  }

  /** Secrets never reach output: any credential value that shows up in a message is masked. */
  redact(s: string): string {
    const secrets = this.secrets();
    let out = s;
    for (const secret of secrets) if (out.includes(secret)) out = out.split(secret).join("<redacted>");
    // A message cut short (a component's answer, an apiserver's status) may end, or begin, in the
    // middle of a secret: any run of 8 or more token characters found inside a secret goes too.
    return out.replace(/[A-Za-z0-9._~+/=-]{8,}/g, (run) => (secrets.some((x) => x.includes(run)) ? "<redacted>" : run));
  }

  /** Every credential value in use (capture keeps them out of the log files it writes). */
  secrets(): string[] {
    const proxies = this.used.flatMap((a) => [a.pool.proxy?.fixed, a.pool.proxy?.https, a.pool.proxy?.http]);
    return [
      ...this.used.flatMap((a) => Object.values(a.credentials.headers)).map((v) => v.replace(/^(Bearer|Basic)\s+/i, "")),
      ...proxies.flatMap((u) => (u?.password ? [u.password, decodeURIComponent(u.password)] : [])),
    ].filter((v) => v.length >= 8);
  }

  async close(): Promise<void> {
    clearTimeout(this.limitTimer);
    dropPreconnected(); // one no dispatcher took (another apiserver, other TLS settings)
    // After --timeout, nothing still in flight is waited for.
    for (const a of this.used) await (this.limit.signal.aborted ? a.dispatcher.destroy() : a.dispatcher.close()).catch(() => {});
  }

  /**
   * Runs a command on a session that is closed afterwards; an error that ends the run has any
   * credential it quotes masked (an apiserver or plugin may echo one back).
   */
  static async with<T>(req: AccessRequest, io: Io, fn: (s: Session) => Promise<T>): Promise<T> {
    const session = new Session(req, io);
    try {
      return await fn(session);
    } catch (e) {
      if (e instanceof Error) {
        e.message = session.redact(e.message);
        if (e.stack) e.stack = session.redact(e.stack);
      }
      throw e;
    } finally {
      await session.close();
    }
  }

  /**
   * Discovers the targets of `sel` and runs `work` on each as they are found (a node list's
   * first page is worked on while the next is read), `concurrency` at once, with progress on a
   * terminal. Discovery that fails part-way is returned, not thrown, so what was done is reported.
   */
  async onTargets<R>(
    sel: TargetRequest,
    verb: string,
    work: (t: Target) => Promise<R>,
    notAttempted: (t: Target) => Promise<R>,
    filter?: (t: Target) => boolean,
  ): Promise<{ results: R[]; warnings: string[]; discoveryError: unknown }> {
    const feed = new TargetFeed();
    const warnings: string[] = [];
    let discoveryError: unknown;
    const discovery = planTargets(
      {
        component: sel.component,
        nodes: sel.nodes,
        pods: sel.pods,
        selector: sel.selector,
        podSelector: sel.podSelector,
        namespace: sel.namespace,
        endpoint: sel.endpoint,
        direct: sel.direct,
        includeNotReady: sel.includeNotReady,
        tokenToNodes: sel.sendTokenToNodes,
        warn: (message) => warnings.push(this.redact(message)),
      },
      sel.endpoint ? undefined : this.api,
      this.access?.server,
      (targets) => feed.push(filter ? targets.filter(filter) : targets),
    ).then(
      () => feed.end(),
      (e: unknown) => {
        discoveryError = e;
        feed.end();
      },
    );
    const results = await this.fanOut(feed, verb, work, notAttempted);
    await discovery;
    return { results, warnings, discoveryError };
  }

  /** `work` on every target of a feed or list, with progress on a terminal; `interruptible`: Ctrl-C stops starting new ones. */
  async fanOut<R>(targets: Target[] | TargetFeed, verb: string, work: (t: Target) => Promise<R>, notAttempted: (t: Target) => Promise<R>, interruptible = true): Promise<R[]> {
    const io = this.io;
    const progress = io.stderr.isTTY === true && this.req.output === "table";
    let shown = false;
    const results = await fanOut(
      targets,
      {
        concurrency: this.req.concurrency,
        signal: interruptible ? this.stop : undefined,
        onResult: (_r, done, total) => {
          if (progress && (shown || done > 1)) {
            shown = true;
            io.stderr.write(`\r\x1b[2K${verb} ${done}/${total || "…"}…`);
          }
          if (done % COLLECT_EVERY === 0) io.collectGarbage?.();
        },
      },
      work,
      notAttempted,
    );
    // A large fan-out's garbage goes before the report is built; for a few targets a full
    // collection (~10 ms) would cost more than it frees.
    if (results.length >= COLLECT_EVERY) io.collectGarbage?.();
    if (shown) io.stderr.write("\r\x1b[2K");
    return results;
  }
}

/**
 * A kubeconfig that impersonates (`as:`) makes the apiserver act as that identity, and so does
 * its node proxy. The scheduler, controller-managers and a kubelet reached directly check the
 * credentials themselves and ignore impersonation headers: kvlog would act there as the real,
 * usually more powerful, identity. It refuses instead.
 */
export function refuseIgnoredImpersonation(sel: TargetRequest, access: Access | undefined): void {
  const as = Object.entries(access?.credentials.headers ?? {}).find(([k]) => k.toLowerCase() === "impersonate-user")?.[1];
  if (!as || !sel.component.authenticates) return;
  const where =
    sel.endpoint !== undefined && sel.endpoint.origin !== access?.server.origin
      ? `--endpoint ${sel.endpoint.host}`
      : sel.component.discovery === "pod"
        ? `${sel.component.name} (through a port-forward)`
        : sel.component.name === "kubelet" && sel.direct
          ? "a kubelet reached with --direct"
          : undefined;
  if (!where) return;
  throw new ConfigError(
    `the kubeconfig impersonates "${as}" (as:), but ${where} checks credentials itself and ignores impersonation, so kvlog would act there as your own identity; drop "as:" from the kubeconfig user, or use --service-account NAMESPACE/NAME`,
  );
}

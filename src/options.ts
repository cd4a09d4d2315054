// options: the flags several commands share (cluster access, target selection, output), as
// commander options and as validation into typed values. No I/O.

import { Option, type Command } from "commander";
import { COMPONENTS, findComponent, suggestComponent, type Component } from "./components.js";
import { UsageError } from "./errors.js";

export const MAX_LEVEL = 2147483647;
/** The longest timed change (set --for): a bump is for debugging, not a new normal. */
export const MAX_FOR_MS = 24 * 3_600_000;
/**
 * Targets changed at once. Each change is a request the apiserver proxies (node proxy,
 * port-forward): long-running requests that API Priority and Fairness does not limit, so this
 * is the only bound on what kvlog asks of the apiserver (a goroutine, a connection to a kubelet
 * and often a TLS handshake each). 32 keeps a 5,000-node fleet within 1.25× of the network's
 * lower bound at 20 ms an answer (README "Large clusters"); raise it for faster fleets.
 */
export const DEFAULT_CONCURRENCY = 32;
/**
 * Clusters worked on at once when a run names several contexts: each is a session of its own
 * (credentials, connections, its own fan-out of --concurrency targets), so the two bounds multiply.
 */
export const DEFAULT_CONTEXT_CONCURRENCY = 8;

/** A context name that is a pattern ('prod-*', 'eu-?'): it may match several contexts. */
export const isContextGlob = (s: string): boolean => /[*?[]/.test(s);

/** How to reach the cluster, and how to print: every command that talks to a cluster has these. */
export interface AccessRequest {
  kubeconfig?: string | undefined;
  context?: string | undefined;
  /**
   * Several clusters (src/run/contexts.ts): the names and globs given to --context (more than one,
   * or a glob), or "all" for --all-contexts; undefined for one context, as before.
   */
  contexts?: string[] | "all" | undefined;
  /** --context-concurrency: clusters worked on at once when there are several. */
  contextConcurrency: number;
  token?: string | undefined;
  tokenFile?: string | undefined;
  serviceAccount?: { namespace: string; name: string } | undefined;
  insecureSkipTlsVerify: boolean;
  timeoutMs: number;
  output: "table" | "json";
  /** -o wide: a table that lists every target, also the ones skipped for the same reason. */
  wide: boolean;
  color: boolean;
  concurrency: number;
  chunkSize: number;
  /** --timeout: the whole run's limit (at it, what is in flight is cut short and no new target starts); undefined: none. */
  runTimeoutMs?: number | undefined;
}

/** Which replicas of a component: `set`, `get` and `reset` select them the same way. */
export interface TargetRequest {
  component: Component;
  namespace?: string | undefined;
  selector?: string | undefined;
  podSelector?: string | undefined;
  nodes: string[];
  /** --pod: these pods only, trusted because the user named them. */
  pods: string[];
  direct: boolean;
  sendTokenToNodes: boolean;
  endpoint?: URL | undefined;
  includeNotReady: boolean;
}

export interface RawAccessOptions {
  kubeconfig?: string;
  context?: string[];
  allContexts?: boolean;
  contextConcurrency?: string;
  token?: string;
  tokenFile?: string;
  serviceAccount?: string;
  output: string;
  requestTimeout: string;
  timeout?: string;
  insecureSkipTlsVerify?: boolean;
  concurrency: string;
  chunkSize: string;
  color: boolean;
}

export interface RawTargetOptions {
  namespace?: string;
  selector?: string;
  podSelector?: string;
  node?: string[];
  pod?: string[];
  direct?: boolean;
  sendTokenToNodes?: boolean;
  endpoint?: string;
  includeNotReady?: boolean;
}

export const componentList = COMPONENTS.map((c) => (c.aliases.length ? `${c.name} (${c.aliases.join(", ")})` : c.name)).join(", ");

/** -l, --node, --pod, ...: how `set`, `get` and `reset` choose the component's replicas. */
export function targetOptions(cmd: Command): Command {
  return cmd
    .option("-n, --namespace <namespace>", "namespace of the component's pods (default kube-system)")
    .option("-l, --selector <selector>", "label selector: of nodes for kubelet and kube-proxy, of pods for the control-plane components")
    .option("--pod-selector <selector>", "kube-proxy only: label selector of its pods (default k8s-app=kube-proxy)")
    .option("--node <name>", "only this node (kubelet, kube-proxy); repeat or separate with commas", collect("node"))
    .option("--pod <name>", "scheduler, controller-managers: only this pod, trusted even off a control-plane node; repeat or separate with commas", collect("pod"))
    .option("--direct", "kubelet only: connect to each node's address and kubelet port instead of the apiserver's node proxy")
    .option("--send-token-to-nodes", "with --direct: also send a bearer token (not only a client certificate) to the addresses nodes report; --service-account tokens are always sent")
    .option("--endpoint <url>", "this URL instead of discovering targets (e.g. https://10.0.0.5:10259)")
    .option("--include-not-ready", "also try nodes whose kubelet stopped reporting (Ready Unknown or never reported); by default they are skipped without waiting on them");
}

/** --kubeconfig, --token, -o, ...: every command that talks to a cluster. */
export function accessOptions(cmd: Command, { concurrency = true }: { concurrency?: boolean } = {}): Command {
  cmd
    .option("--kubeconfig <path>", "path to the kubeconfig file (default: $KUBECONFIG or ~/.kube/config)")
    .option("--context <name>", "the kubeconfig context to use; several (repeat, separate with commas, or a glob like 'prod-*') run on each cluster at once", collectContexts)
    .option("--all-contexts", "run on every context of the kubeconfig, each cluster with its own credentials; exit 0 only when every cluster succeeded")
    .option("--context-concurrency <n>", "with several contexts: how many clusters to work on at once", String(DEFAULT_CONTEXT_CONCURRENCY))
    .option("--token <token>", "bearer token to use instead of the kubeconfig's credentials")
    .option("--token-file <path>", "read the bearer token from this file")
    .option("--service-account <namespace/name>", "mint a 10-minute token for this ServiceAccount (TokenRequest API) and act as it")
    .addOption(new Option("-o, --output <format>", "output format (wide: the table lists every target, also those skipped for the same reason)").choices(["table", "json", "wide"]).default("table"))
    .option("--request-timeout <duration>", "how long each network step may take (e.g. 10s, 1m)", "30s")
    .option("--timeout <duration>", "the whole run's limit (each cluster's, with several contexts): at it, requests in flight are cut short, no new target is started, and every target is reported (e.g. 2m; default: none; with --for it bounds the change, never the restore)")
    .option("--insecure-skip-tls-verify", "do not verify server certificates (the apiserver's, and direct endpoints')");
  if (concurrency) cmd.option("--concurrency <n>", "how many targets to reach at once", String(DEFAULT_CONCURRENCY));
  else cmd.addOption(new Option("--concurrency <n>").default(String(DEFAULT_CONCURRENCY)).hideHelp());
  return cmd
    .option("--chunk-size <n>", "list nodes and pods this many at a time, as kubectl does (0: all in one answer)", "500")
    .option("--no-color", "no colour in the output (also: NO_COLOR=1)");
}

export function validateAccess(o: RawAccessOptions, env: NodeJS.ProcessEnv): AccessRequest {
  const identities = [o.token !== undefined, o.tokenFile !== undefined, o.serviceAccount !== undefined].filter(Boolean).length;
  if (identities > 1) throw new UsageError("--token, --token-file and --service-account each choose the identity: give only one");
  if (o.token !== undefined && !o.token.trim()) throw new UsageError("--token is empty");
  const concurrency = Number(o.concurrency);
  if (!/^\d+$/.test(o.concurrency) || concurrency < 1 || concurrency > 1000) {
    throw new UsageError(`--concurrency must be a whole number from 1 to 1000, got "${o.concurrency}"`);
  }
  const names = o.context ?? [];
  if (o.allContexts && names.length > 0) throw new UsageError("--all-contexts already names every context: drop --context, or drop --all-contexts to name some");
  const single = names.length === 1 && !isContextGlob(names[0]!);
  const contexts = o.allContexts ? ("all" as const) : names.length > 0 && !single ? [...new Set(names)] : undefined;
  const contextConcurrencyText = o.contextConcurrency ?? String(DEFAULT_CONTEXT_CONCURRENCY);
  const contextConcurrency = Number(contextConcurrencyText);
  if (!/^\d+$/.test(contextConcurrencyText) || contextConcurrency < 1 || contextConcurrency > 1000) {
    throw new UsageError(`--context-concurrency must be a whole number from 1 to 1000, got "${contextConcurrencyText}"`);
  }
  if (contexts && (o.token !== undefined || o.tokenFile !== undefined)) {
    throw new UsageError(`--token and --token-file would send one cluster's token to every cluster: with several contexts, let each context's kubeconfig user authenticate (or use --service-account)`);
  }
  const chunkSize = Number(o.chunkSize);
  if (!/^\d+$/.test(o.chunkSize) || chunkSize > 100_000) {
    throw new UsageError(`--chunk-size must be a whole number from 0 to 100000, got "${o.chunkSize}"`);
  }
  return {
    kubeconfig: o.kubeconfig,
    context: single ? names[0] : undefined,
    contexts,
    contextConcurrency,
    token: o.token?.trim(),
    tokenFile: o.tokenFile,
    serviceAccount: o.serviceAccount !== undefined ? serviceAccountName(o.serviceAccount) : undefined,
    insecureSkipTlsVerify: o.insecureSkipTlsVerify === true,
    timeoutMs: parseDuration(o.requestTimeout),
    runTimeoutMs: o.timeout !== undefined ? parseDuration(o.timeout, "--timeout", 24 * 3_600_000, "2m, 90s or 1h") : undefined,
    output: o.output === "json" ? "json" : "table",
    wide: o.output === "wide",
    color: o.color !== false && !env.NO_COLOR,
    concurrency,
    chunkSize,
  };
}

export function validateTargets(component: Component, o: RawTargetOptions): TargetRequest {
  const nodes = o.node ?? [];
  const nodeScoped = component.discovery === "node" || component.discovery === "node-pod";
  const podBased = component.discovery === "pod" || component.discovery === "node-pod";

  if (nodes.length > 0 && !nodeScoped) throw new UsageError(`--node applies to kubelet and kube-proxy, not ${component.name}${podBased ? `; use -l to select ${component.name} pods` : ""}`);
  if (o.selector !== undefined && component.discovery === "apiserver") throw new UsageError("-l/--selector does not apply to kube-apiserver: kvlog finds its replicas in the endpoints default/kubernetes");
  if (o.namespace !== undefined && !podBased) throw new UsageError(`-n/--namespace does not apply to ${component.name}: it does not run as a pod kvlog looks up`);
  if (o.podSelector !== undefined && component.discovery !== "node-pod") throw new UsageError(`--pod-selector applies to kube-proxy only; for ${component.name} use -l`);
  if (o.direct && component.name !== "kubelet") throw new UsageError("--direct applies to kubelet only");
  if (o.sendTokenToNodes && !o.direct) throw new UsageError("--send-token-to-nodes applies with --direct only");
  if (o.pod !== undefined && component.discovery !== "pod") {
    throw new UsageError(`--pod applies to the scheduler and controller-managers, not ${component.name}${nodeScoped ? "; use --node" : ""}`);
  }
  if (o.pod !== undefined && o.selector !== undefined) throw new UsageError("--pod names the pods: drop -l");
  for (const [flag, value] of [["-l/--selector", o.selector], ["--pod-selector", o.podSelector], ["-n/--namespace", o.namespace]] as const) {
    if (value !== undefined && !value.trim()) throw new UsageError(`${flag} is empty; give a value or leave the flag out`);
  }
  let endpoint: URL | undefined;
  if (o.endpoint !== undefined) {
    try {
      endpoint = new URL(o.endpoint);
    } catch {
      throw new UsageError(`--endpoint "${o.endpoint}" is not a URL; give one like https://10.0.0.5:10259`);
    }
    if (endpoint.protocol !== "https:" && endpoint.protocol !== "http:") throw new UsageError(`--endpoint must be an http:// or https:// URL, got ${endpoint.protocol}`);
    if (endpoint.username || endpoint.password) throw new UsageError("--endpoint must not carry user:password; pass credentials with --token or --token-file");
    if (nodes.length > 0 || o.pod !== undefined || o.selector !== undefined || o.namespace !== undefined || o.direct || o.podSelector !== undefined) {
      throw new UsageError("--endpoint names the one target: drop --node, --pod, -l, -n, --pod-selector and --direct");
    }
  }
  if (o.includeNotReady && !nodeScoped) throw new UsageError(`--include-not-ready applies to kubelet and kube-proxy, not ${component.name}`);
  return {
    component,
    namespace: o.namespace,
    selector: o.selector?.trim(),
    podSelector: o.podSelector,
    nodes: [...new Set(nodes)],
    pods: [...new Set(o.pod ?? [])],
    direct: o.direct === true,
    sendTokenToNodes: o.sendTokenToNodes === true,
    endpoint,
    includeNotReady: o.includeNotReady === true,
  };
}

/** The component a user named, or a UsageError that suggests the closest one. */
export function componentNamed(input: string, where = ""): Component {
  const c = findComponent(input);
  if (c) return c;
  const guess = suggestComponent(input);
  throw new UsageError(`unknown component "${input}"${where}${guess ? `; did you mean ${guess}?` : ""} Known: ${COMPONENTS.map((x) => x.name).join(", ")}`);
}

export function serviceAccountName(v: string, flag = "--service-account"): { namespace: string; name: string } {
  const m = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?)\/([a-z0-9]([-a-z0-9.]*[a-z0-9])?)$/.exec(v);
  if (!m) throw new UsageError(`${flag} must be NAMESPACE/NAME, got "${v}"`);
  return { namespace: m[1]!, name: m[3]! };
}

/** --context a --context b,c: names and globs, in the order given. */
function collectContexts(value: string, previous: string[] | undefined): string[] {
  const names = value.split(",").map((s) => s.trim());
  if (names.some((n) => !n)) throw new UsageError(`--context "${value}" has an empty context name`);
  return [...(previous ?? []), ...names];
}

/** A repeatable flag of names, also comma-separated: --node a --node b,c. */
function collect(what: "node" | "pod"): (value: string, previous: string[] | undefined) => string[] {
  return (value, previous) => {
    const names = value.split(",").map((s) => s.trim());
    if (names.some((n) => !n)) throw new UsageError(`--${what} "${value}" has an empty ${what} name`);
    return [...(previous ?? []), ...names];
  };
}

export function parseLevel(s: string, what = "level", example = "e.g. kvlog set kubelet 4"): number {
  if (!/^\d+$/.test(s)) {
    throw new UsageError(`${what} must be a whole number from 0 to ${MAX_LEVEL}, got "${s}"; ${example}`);
  }
  const n = Number(s);
  if (n > MAX_LEVEL) throw new UsageError(`${what} ${s} is above ${MAX_LEVEL}, the largest klog accepts`);
  return n;
}

/** kubectl-style durations: "30s", "1m30s", "500ms", "2h", or a bare number of seconds. */
export function parseDuration(s: string, flag = "--request-timeout", maxMs = 3_600_000, example = "10s, 1m or 500ms"): number {
  const bad = () => new UsageError(`${flag} must be a duration like ${example}, got "${s}"`);
  const t = s.trim();
  let ms: number;
  if (/^\d+$/.test(t)) {
    ms = Number(t) * 1000;
  } else {
    const re = /(\d+(?:\.\d+)?)(ms|s|m|h)/gy;
    ms = 0;
    let m: RegExpExecArray | null;
    let consumed = 0;
    while ((m = re.exec(t)) !== null) {
      const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] as "ms" | "s" | "m" | "h"];
      ms += Number(m[1]) * unit;
      consumed = re.lastIndex;
    }
    if (consumed === 0 || consumed !== t.length) throw bad();
  }
  if (!(ms > 0)) throw new UsageError(`${flag} must be more than 0${flag === "--request-timeout" ? ": kvlog never waits forever" : ""}`);
  if (ms > maxMs) throw new UsageError(`${flag} must be at most ${formatDuration(maxMs)}, got "${s}"`);
  return Math.round(ms);
}

/** 90000 -> "1m30s", as Go prints durations (whole seconds). */
export function formatDuration(ms: number): string {
  let s = Math.max(0, Math.round(ms / 1000));
  const h = Math.floor(s / 3600);
  s -= h * 3600;
  const m = Math.floor(s / 60);
  s -= m * 60;
  return `${h ? `${h}h` : ""}${m ? `${m}m` : ""}${s || (!h && !m) ? `${s}s` : ""}`;
}

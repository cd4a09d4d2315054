// cli: argv -> a typed, validated request (no I/O), then one run.
// The only module that touches process (in main()); run() takes its streams and env.

import v8 from "node:v8";
import vm from "node:vm";
import { Command, CommanderError, Option } from "commander";
import { applyAll, TargetFeed, type Result } from "./apply.js";
import { COMPONENTS, findComponent, suggestComponent, type Component } from "./components.js";
import { ConfigError, KvlogError, UsageError } from "./errors.js";
import { bareAccess, kubeApi, loadAccess, withServiceAccount } from "./kube.js";
import { planTargets } from "./plan.js";
import type { Access } from "./http.js";
import { rbacYaml, type Subject } from "./rbac.js";
import { buildReport, exitCode, jsonParts, renderSummary, renderTable } from "./report.js";

export const VERSION = "0.1.0";
export const MAX_LEVEL = 2147483647;
const NOISY_LEVEL = 10;
/**
 * Targets changed at once. Each change is a request the apiserver proxies (node proxy,
 * port-forward): long-running requests that API Priority and Fairness does not limit, so this
 * is the only bound on what kvlog asks of the apiserver (a goroutine, a connection to a kubelet
 * and often a TLS handshake each). 32 keeps a 5,000-node fleet within 1.25× of the network's
 * lower bound at 20 ms an answer (README "Large clusters"); raise it for faster fleets.
 */
export const DEFAULT_CONCURRENCY = 32;
/** A full garbage collection every this many finished targets keeps a fleet run's memory flat. */
const COLLECT_EVERY = 256;

export interface SetRequest {
  command: "set";
  component: Component;
  level: number;
  kubeconfig?: string | undefined;
  context?: string | undefined;
  namespace?: string | undefined;
  selector?: string | undefined;
  podSelector?: string | undefined;
  nodes: string[];
  /** --pod: these pods only, trusted because the user named them. */
  pods: string[];
  direct: boolean;
  sendTokenToNodes: boolean;
  endpoint?: URL | undefined;
  token?: string | undefined;
  tokenFile?: string | undefined;
  serviceAccount?: { namespace: string; name: string } | undefined;
  output: "table" | "json";
  timeoutMs: number;
  insecureSkipTlsVerify: boolean;
  dryRun: boolean;
  concurrency: number;
  chunkSize: number;
  includeNotReady: boolean;
  color: boolean;
}

interface RawSetOptions {
  kubeconfig?: string;
  context?: string;
  namespace?: string;
  selector?: string;
  podSelector?: string;
  node?: string[];
  pod?: string[];
  direct?: boolean;
  sendTokenToNodes?: boolean;
  endpoint?: string;
  token?: string;
  tokenFile?: string;
  serviceAccount?: string;
  output: string;
  requestTimeout: string;
  insecureSkipTlsVerify?: boolean;
  dryRun?: boolean;
  concurrency: string;
  chunkSize: string;
  includeNotReady?: boolean;
  color: boolean;
}

export interface Io {
  stdout: { write(s: string): unknown; isTTY?: boolean };
  stderr: { write(s: string): unknown; isTTY?: boolean };
  env: NodeJS.ProcessEnv;
  /** Aborted on the first Ctrl-C: no new target is started, the report is still printed. */
  signal?: AbortSignal;
  /** A full garbage collection (main() passes V8's); called now and then during long fan-outs. */
  collectGarbage?: () => void;
}

/** `kvlog rbac`: the RBAC for these components, bound to this subject. */
export interface RbacRequest {
  command: "rbac";
  components: Component[];
  subject: Subject;
  name: string;
}

interface RawRbacOptions {
  components?: string;
  serviceAccount?: string;
  user?: string;
  group?: string;
  name: string;
}

/** The exit code after an interrupt, as shells report SIGINT. */
export const EXIT_INTERRUPTED = 130;

const componentList = COMPONENTS.map((c) => (c.aliases.length ? `${c.name} (${c.aliases.join(", ")})` : c.name)).join(", ");

function program(
  onSet: (component: string, level: string, opts: RawSetOptions) => void,
  onRbac: (opts: RawRbacOptions) => void,
  io: Io,
): Command {
  const root = new Command("kvlog")
    .description("Change the log verbosity (klog -v) of running Kubernetes components without restarting them.")
    .version(VERSION, "--version", "print the kvlog version")
    .helpOption("-h, --help", "show help")
    .showSuggestionAfterError(true)
    .helpCommand(false)
    .exitOverride()
    .configureOutput({
      writeOut: (s) => void io.stdout.write(s),
      writeErr: (s) => void io.stderr.write(s),
      outputError: () => {}, // errors are printed once, by run()
    })
    .addHelpText(
      "after",
      `
Examples:
  kvlog set kubelet 5                      every node's kubelet, through the apiserver
  kvlog set scheduler 4 -o json | jq .     every kube-scheduler replica, results as JSON
  kvlog set kube-proxy 3 --node worker-1   one node's kube-proxy
  kvlog rbac | kubectl apply -f -          the least-privilege ClusterRole kvlog needs

Run 'kvlog set --help' for every flag.`,
    );

  const set = root
    .command("set")
    .summary("set the klog verbosity of every replica of a component")
    .description(`Set the klog verbosity of every replica of a component.\n\nComponents: ${componentList}.`)
    .argument("<component>", "the component to change")
    .argument("<level>", `the new verbosity, a whole number from 0 to ${MAX_LEVEL}`)
    .option("--kubeconfig <path>", "path to the kubeconfig file (default: $KUBECONFIG or ~/.kube/config)")
    .option("--context <name>", "the kubeconfig context to use")
    .option("-n, --namespace <namespace>", "namespace of the component's pods (default kube-system)")
    .option("-l, --selector <selector>", "label selector: of nodes for kubelet and kube-proxy, of pods for the control-plane components")
    .option("--pod-selector <selector>", "kube-proxy only: label selector of its pods (default k8s-app=kube-proxy)")
    .option("--node <name>", "only this node (kubelet, kube-proxy); repeat or separate with commas", collect("node"))
    .option("--pod <name>", "scheduler, controller-managers: only this pod, trusted even off a control-plane node; repeat or separate with commas", collect("pod"))
    .option("--direct", "kubelet only: connect to each node's address and kubelet port instead of the apiserver's node proxy")
    .option("--send-token-to-nodes", "with --direct: also send a bearer token (not only a client certificate) to the addresses nodes report; --service-account tokens are always sent")
    .option("--endpoint <url>", "send to this URL instead of discovering targets (e.g. https://10.0.0.5:10259)")
    .option("--token <token>", "bearer token to use instead of the kubeconfig's credentials")
    .option("--token-file <path>", "read the bearer token from this file")
    .option("--service-account <namespace/name>", "mint a 10-minute token for this ServiceAccount (TokenRequest API) and act as it")
    .addOption(new Option("-o, --output <format>", "output format").choices(["table", "json"]).default("table"))
    .option("--request-timeout <duration>", "how long each network step may take (e.g. 10s, 1m)", "30s")
    .option("--insecure-skip-tls-verify", "do not verify server certificates (the apiserver's, and direct endpoints')")
    .option("--dry-run", "resolve the targets and print exactly what would be sent; send nothing")
    .option("--concurrency <n>", "how many targets to change at once", String(DEFAULT_CONCURRENCY))
    .option("--chunk-size <n>", "list nodes and pods this many at a time, as kubectl does (0: all in one answer)", "500")
    .option("--include-not-ready", "also try nodes whose kubelet stopped reporting (Ready Unknown or never reported); by default they are skipped without waiting on them")
    .option("--no-color", "no colour in the output (also: NO_COLOR=1)")
    .addHelpText(
      "after",
      `
Examples:
  # every node's kubelet, through the apiserver's node proxy
  kvlog set kubelet 5
  # only two nodes, or nodes by label
  kvlog set kubelet 5 --node worker-1 --node worker-2
  kvlog set kube-proxy 4 -l node-role.kubernetes.io/worker=
  # every scheduler replica, JSON for jq
  kvlog set scheduler 4 -o json | jq -r '.results[] | select((.ok or .skipped) | not) | .id'
  # in CI: fail the job when any replica was not changed
  kvlog set controller-manager 2 -o json > result.json || exit 1
  # see what would be sent
  kvlog set apiserver 3 --dry-run

Exit codes: 0 every target tried was set (nodes that are down are skipped, not failed), 1 a target failed
or none was set, 2 usage or configuration error, 3 nothing matched,
130 interrupted (Ctrl-C: targets in flight finish, the rest are reported as not attempted).`,
    )
    .action((component: string, level: string, opts: RawSetOptions) => onSet(component, level, opts));

  const rbac = root
    .command("rbac")
    .summary("print the least-privilege RBAC kvlog needs, as YAML for kubectl apply -f -")
    .description(
      "Print the ClusterRole with exactly the rules kvlog needs for the components (every component by default), and a\nClusterRoleBinding to the subject (by default a placeholder group to replace). Each rule says what it allows.",
    )
    .option("--components <names>", "only these components, comma-separated (names or aliases)")
    .option("--service-account <namespace/name>", "bind the role to this ServiceAccount")
    .option("--user <name>", "bind the role to this user")
    .option("--group <name>", "bind the role to this group")
    .option("--name <name>", "name of the ClusterRole and ClusterRoleBinding", "kvlog")
    .addHelpText(
      "after",
      `
Examples:
  kvlog rbac | kubectl apply -f -                                   then bind your people to ClusterRole kvlog
  kvlog rbac --components kubelet --group sre | kubectl apply -f -  only kubelets, for the group sre
  kvlog rbac --service-account ops/kvlog > kvlog-rbac.yaml`,
    )
    .action((opts: RawRbacOptions) => onRbac(opts));
  for (const c of [set, rbac]) {
    c.exitOverride().configureOutput({
      writeOut: (s) => void io.stdout.write(s),
      writeErr: (s) => void io.stderr.write(s),
      outputError: () => {},
    });
  }
  return root;
}

export function validateRbac(o: RawRbacOptions): RbacRequest {
  const components = o.components === undefined ? [...COMPONENTS] : [];
  for (const n of o.components?.split(",").map((s) => s.trim()) ?? []) {
    const c = componentNamed(n, " in --components");
    if (!components.includes(c)) components.push(c);
  }
  if (components.length === 0) throw new UsageError("--components is empty; name at least one component, or leave the flag out for all");
  const subjects = [o.serviceAccount, o.user, o.group].filter((x) => x !== undefined);
  if (subjects.length > 1) throw new UsageError("--service-account, --user and --group each name the subject: give only one");
  let subject: Subject;
  if (o.serviceAccount !== undefined) subject = { kind: "ServiceAccount", ...serviceAccountName(o.serviceAccount) };
  else if (o.user !== undefined || o.group !== undefined) {
    const name = (o.user ?? o.group)!.trim();
    if (!name) throw new UsageError(`--${o.user !== undefined ? "user" : "group"} is empty`);
    subject = { kind: o.user !== undefined ? "User" : "Group", name };
  }
  if (!/^[a-z0-9]([-a-z0-9.:]*[a-z0-9])?$/.test(o.name)) throw new UsageError(`--name "${o.name}" is not a valid ClusterRole name (lowercase letters, digits, '-', '.', ':')`);
  // Keep the catalog's order, whatever order they were named in.
  return { command: "rbac", components: COMPONENTS.filter((c) => components.includes(c)), subject, name: o.name };
}

/** The component a user named, or a UsageError that suggests the closest one. */
function componentNamed(input: string, where: string): Component {
  const c = findComponent(input);
  if (c) return c;
  const guess = suggestComponent(input);
  throw new UsageError(`unknown component "${input}"${where}${guess ? `; did you mean ${guess}?` : ""} Known: ${COMPONENTS.map((x) => x.name).join(", ")}`);
}

function serviceAccountName(v: string): { namespace: string; name: string } {
  const m = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?)\/([a-z0-9]([-a-z0-9.]*[a-z0-9])?)$/.exec(v);
  if (!m) throw new UsageError(`--service-account must be NAMESPACE/NAME, got "${v}"`);
  return { namespace: m[1]!, name: m[3]! };
}

/** A repeatable flag of names, also comma-separated: --node a --node b,c. */
function collect(what: "node" | "pod"): (value: string, previous: string[] | undefined) => string[] {
  return (value, previous) => {
    const names = value.split(",").map((s) => s.trim());
    if (names.some((n) => !n)) throw new UsageError(`--${what} "${value}" has an empty ${what} name`);
    return [...(previous ?? []), ...names];
  };
}

/**
 * Parses argv (without node and script) into a SetRequest, or undefined when
 * commander handled it (help, version). Throws UsageError for anything invalid.
 */
export function parseArgs(argv: string[], io: Io): SetRequest | RbacRequest | undefined {
  let request: SetRequest | RbacRequest | undefined;
  const cmd = program(
    (component, level, opts) => {
      request = validate(component, level, opts, io.env);
    },
    (opts) => {
      request = validateRbac(opts);
    },
    io,
  );
  try {
    cmd.parse(argv, { from: "user" });
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.exitCode === 0) return undefined; // --help, --version
      if (e.code === "commander.help") throw new UsageError("missing command; try 'kvlog set <component> <level>' (help is above)");
      throw new UsageError(commanderMessage(e, argv));
    }
    throw e;
  }
  if (!request) {
    // No subcommand: commander printed help for `kvlog` alone? Make it a usage error.
    throw new UsageError("missing command; try 'kvlog set <component> <level>'");
  }
  return request;
}

function commanderMessage(e: CommanderError, argv: string[]): string {
  let msg = e.message.replace(/^error: /, "");
  const neg = /unknown option '(-\d+)'/.exec(msg);
  if (neg) return `level must be a whole number from 0 to ${MAX_LEVEL}, got ${neg[1]}; run 'kvlog set --help' for usage`;
  if (e.code === "commander.missingArgument" && argv[0] === "set") {
    msg = msg.replace(/^missing required argument '(\w+)'/, "missing $1");
    return `${msg}; usage: kvlog set <component> <level> (components: ${COMPONENTS.map((c) => c.name).join(", ")})`;
  }
  return `${msg.replace(/\n+/g, " ").trim().replace(/\.$/, "")}; run 'kvlog ${argv[0] === "set" ? "set " : ""}--help' for usage`;
}

export function validate(componentArg: string, levelArg: string, o: RawSetOptions, env: NodeJS.ProcessEnv): SetRequest {
  const component = componentNamed(componentArg, "");
  const level = parseLevel(levelArg);
  const nodes = o.node ?? [];
  const nodeScoped = component.discovery === "node" || component.discovery === "node-pod";
  const podBased = component.discovery === "pod" || component.discovery === "node-pod";

  if (nodes.length > 0 && !nodeScoped) throw new UsageError(`--node applies to kubelet and kube-proxy, not ${component.name}${podBased ? `; use -l to select ${component.name} pods` : ""}`);
  if (o.selector !== undefined && component.discovery === "apiserver") throw new UsageError("-l/--selector does not apply to kube-apiserver: kvlog sets it through the kubeconfig's cluster URL");
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

  const identities = [o.token !== undefined, o.tokenFile !== undefined, o.serviceAccount !== undefined].filter(Boolean).length;
  if (identities > 1) throw new UsageError("--token, --token-file and --service-account each choose the identity: give only one");
  if (o.token !== undefined && !o.token.trim()) throw new UsageError("--token is empty");
  const serviceAccount = o.serviceAccount !== undefined ? serviceAccountName(o.serviceAccount) : undefined;

  const concurrency = Number(o.concurrency);
  if (!/^\d+$/.test(o.concurrency) || concurrency < 1 || concurrency > 1000) {
    throw new UsageError(`--concurrency must be a whole number from 1 to 1000, got "${o.concurrency}"`);
  }
  const chunkSize = Number(o.chunkSize);
  if (!/^\d+$/.test(o.chunkSize) || chunkSize > 100_000) {
    throw new UsageError(`--chunk-size must be a whole number from 0 to 100000, got "${o.chunkSize}"`);
  }
  if (o.includeNotReady && !nodeScoped) throw new UsageError(`--include-not-ready applies to kubelet and kube-proxy, not ${component.name}`);

  return {
    command: "set",
    component,
    level,
    kubeconfig: o.kubeconfig,
    context: o.context,
    namespace: o.namespace,
    selector: o.selector?.trim(),
    podSelector: o.podSelector,
    nodes: [...new Set(nodes)],
    pods: [...new Set(o.pod ?? [])],
    direct: o.direct === true,
    sendTokenToNodes: o.sendTokenToNodes === true,
    endpoint,
    token: o.token?.trim(),
    tokenFile: o.tokenFile,
    serviceAccount,
    output: o.output === "json" ? "json" : "table",
    timeoutMs: parseDuration(o.requestTimeout),
    insecureSkipTlsVerify: o.insecureSkipTlsVerify === true,
    dryRun: o.dryRun === true,
    concurrency,
    chunkSize,
    includeNotReady: o.includeNotReady === true,
    color: o.color !== false && !env.NO_COLOR,
  };
}

export function parseLevel(s: string): number {
  if (!/^\d+$/.test(s)) {
    throw new UsageError(`level must be a whole number from 0 to ${MAX_LEVEL}, got "${s}"; e.g. kvlog set kubelet 4`);
  }
  const n = Number(s);
  if (n > MAX_LEVEL) throw new UsageError(`level ${s} is above ${MAX_LEVEL}, the largest klog accepts`);
  return n;
}

/** kubectl-style durations: "30s", "1m30s", "500ms", "2h", or a bare number of seconds. */
export function parseDuration(s: string): number {
  const bad = () => new UsageError(`--request-timeout must be a duration like 10s, 1m or 500ms, got "${s}"`);
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
  if (!(ms > 0)) throw new UsageError(`--request-timeout must be more than 0: kvlog never waits forever`);
  if (ms > 3_600_000) throw new UsageError("--request-timeout must be at most 1h");
  return Math.round(ms);
}

/** One whole `kvlog ...` invocation; returns the exit code. */
export async function run(argv: string[], io: Io): Promise<number> {
  let access: Access | undefined;
  /** Every identity used in the run (the user's, and a ServiceAccount's): closed and masked at the end. */
  const used: Access[] = [];
  try {
    const parsed = parseArgs(argv, io);
    if (!parsed) return 0;
    if (parsed.command === "rbac") {
      io.stdout.write(rbacYaml(parsed.components, parsed.subject, parsed.name));
      return 0;
    }
    const req = parsed;
    const colorOn = (stream: { isTTY?: boolean }): boolean =>
      req.color && (io.env.FORCE_COLOR ? io.env.FORCE_COLOR !== "0" : stream.isTTY === true);
    if (req.level > NOISY_LEVEL) {
      io.stderr.write(`warning: level ${req.level} is above ${NOISY_LEVEL}: components then log request and response bodies, which can flood disks and expose data\n`);
    }

    const accessOpts = {
      kubeconfig: req.kubeconfig,
      context: req.context,
      insecureSkipTlsVerify: req.insecureSkipTlsVerify,
      token: req.token,
      tokenFile: req.tokenFile,
      timeoutMs: req.timeoutMs,
      connections: req.concurrency,
      optional: req.endpoint !== undefined,
      env: io.env,
    };
    access = await loadAccess(accessOpts);
    if (access) used.push(access);
    if (!access && req.serviceAccount) {
      throw new ConfigError("--service-account mints its token through the apiserver, which needs a kubeconfig; pass --kubeconfig or use --token");
    }
    if (!access && req.endpoint) used.push((access = await bareAccess(accessOpts, req.endpoint)));
    const apiOpts = { timeoutMs: req.timeoutMs, chunkSize: req.chunkSize };
    if (req.serviceAccount && access && !req.dryRun) {
      // The user's own identity stays open: it mints the token again before it expires.
      access = await withServiceAccount(access, kubeApi(access, apiOpts), req.serviceAccount.namespace, req.serviceAccount.name);
      used.push(access);
    }

    refuseIgnoredImpersonation(req, req.serviceAccount ? undefined : access);
    if (req.serviceAccount && req.dryRun && access) {
      access.credentials = { ...access.credentials, kind: `ServiceAccount ${req.serviceAccount.namespace}/${req.serviceAccount.name} token (minted when not --dry-run)` };
    }

    // Discovery feeds the fan-out as it goes: a node list's first page is being changed while
    // the next pages are read.
    const feed = new TargetFeed();
    const warnings: string[] = [];
    let discoveryError: unknown;
    const discovery = planTargets(
      {
        component: req.component,
        nodes: req.nodes,
        pods: req.pods,
        selector: req.selector,
        podSelector: req.podSelector,
        namespace: req.namespace,
        endpoint: req.endpoint,
        direct: req.direct,
        includeNotReady: req.includeNotReady,
        tokenToNodes: req.sendTokenToNodes,
        warn: (message) => warnings.push(message),
      },
      access && !req.endpoint ? kubeApi(access, apiOpts) : undefined,
      access?.server,
      (targets) => feed.push(targets),
    ).then(
      () => feed.end(),
      (e: unknown) => {
        discoveryError = e;
        feed.end();
      },
    );

    const progress = io.stderr.isTTY === true && req.output === "table";
    let shown = false;
    const results = await applyAll(feed, {
      level: req.level,
      access,
      timeoutMs: req.timeoutMs,
      concurrency: req.concurrency,
      dryRun: req.dryRun,
      signal: io.signal,
      onResult: (_r, done, total) => {
        if (progress && (shown || done > 1)) {
          shown = true;
          io.stderr.write(`\r\x1b[2K${req.dryRun ? "resolving" : "setting"} ${done}/${total || "…"}…`);
        }
        if (done % COLLECT_EVERY === 0) io.collectGarbage?.();
      },
    });
    await discovery;
    io.collectGarbage?.(); // the fan-out's garbage goes before the report is built
    if (shown) io.stderr.write("\r\x1b[2K");
    // Discovery failed before anything was tried: one error line, as for any run-ending error.
    if (discoveryError !== undefined && results.length === 0) throw discoveryError;

    const report = buildReport(req.component.name, req.level, req.dryRun, redact(results, used), warnings.map((w) => redactText(w, used)));
    if (req.output === "json") for (const part of jsonParts(report)) io.stdout.write(part);
    else io.stdout.write(renderTable(report, colorOn(io.stdout)));
    io.stderr.write(renderSummary(report, colorOn(io.stderr)));
    if (discoveryError !== undefined) {
      // Failed part-way (a later page refused or unreachable): what was done is reported above.
      const e = discoveryError;
      io.stderr.write(`kvlog: discovery stopped after ${results.length} target(s): ${redactText(e instanceof Error ? e.message : String(e), used)}\n`);
      return e instanceof KvlogError ? Math.max(e.exitCode, 1) : 1;
    }
    if (io.signal?.aborted) return EXIT_INTERRUPTED;
    return exitCode(report);
  } catch (e) {
    if (e instanceof KvlogError) {
      io.stderr.write(`kvlog: ${redactText(e.message, used)}\n`);
      return e.exitCode;
    }
    const err = e as Error;
    io.stderr.write(`kvlog: unexpected error: ${redactText(err.message ?? String(e), used)}; please report it with the command you ran\n`);
    if (io.env.KVLOG_DEBUG) io.stderr.write(`${redactText(err.stack ?? "", used)}\n`);
    return 1;
  } finally {
    for (const a of used) await a.dispatcher.close().catch(() => {});
  }
}

/**
 * A kubeconfig that impersonates (`as:`) makes the apiserver act as that identity, and so does
 * its node proxy. The scheduler, controller-managers and a kubelet reached directly check the
 * credentials themselves and ignore impersonation headers: kvlog would act there as the real,
 * usually more powerful, identity. It refuses instead.
 */
function refuseIgnoredImpersonation(req: SetRequest, access: Access | undefined): void {
  const as = Object.entries(access?.credentials.headers ?? {}).find(([k]) => k.toLowerCase() === "impersonate-user")?.[1];
  if (!as || !req.component.authenticates) return;
  const where =
    req.endpoint !== undefined && req.endpoint.origin !== access?.server.origin
      ? `--endpoint ${req.endpoint.host}`
      : req.component.discovery === "pod"
        ? `${req.component.name} (through a port-forward)`
        : req.component.name === "kubelet" && req.direct
          ? "a kubelet reached with --direct"
          : undefined;
  if (!where) return;
  throw new ConfigError(
    `the kubeconfig impersonates "${as}" (as:), but ${where} checks credentials itself and ignores impersonation, so kvlog would act there as your own identity; drop "as:" from the kubeconfig user, or use --service-account NAMESPACE/NAME`,
  );
}

/** Secrets never reach output: any credential value that shows up in a message is masked. */
function secretsOf(used: Access[]): string[] {
  return used
    .flatMap((a) => Object.values(a.credentials.headers))
    .map((v) => v.replace(/^(Bearer|Basic)\s+/i, ""))
    .filter((v) => v.length >= 8);
}

function redactText(s: string, used: Access[]): string {
  let out = s;
  for (const secret of secretsOf(used)) if (out.includes(secret)) out = out.split(secret).join("<redacted>");
  return out;
}

function redact(results: Result[], used: Access[]): Result[] {
  return results.map((r) => ({ ...r, message: redactText(r.message, used), hint: r.hint === null ? null : redactText(r.hint, used) }));
}

/**
 * Keeps a fleet run's memory flat (README "Large clusters"). V8 grows its young generation to
 * tens of MB under the steady allocation of thousands of requests, and frees the native memory
 * of closed TLS sockets only when their small JS objects are collected, which it does lazily;
 * a 5,000-node kube-proxy run then peaked at ~350 MB. Keeping the young generation at its
 * starting size and a full collection every COLLECT_EVERY targets hold it near 150 MB, at no
 * measurable cost in time. Both V8 switches are safe to change at run time.
 */
function boundMemory(): (() => void) | undefined {
  try {
    v8.setFlagsFromString("--semi-space-growth-factor=1");
    v8.setFlagsFromString("--expose-gc");
    return vm.runInNewContext("gc") as () => void;
  } catch {
    return undefined;
  }
}

export async function main(): Promise<void> {
  // A reader that stops early (`| head`, jq quitting) closes the pipe: the rest of the output has
  // nowhere to go, which is not an error of the run (no stack trace; the work is already done).
  for (const stream of [process.stdout, process.stderr]) {
    stream.on("error", (e: NodeJS.ErrnoException) => {
      if (e.code !== "EPIPE") throw e;
    });
  }
  // First Ctrl-C: start no new target, let the ones in flight finish (each is bounded by
  // --request-timeout) and print what happened to every target. Second Ctrl-C: quit now.
  const interrupt = new AbortController();
  process.on("SIGINT", () => {
    if (interrupt.signal.aborted) process.exit(EXIT_INTERRUPTED);
    interrupt.abort();
    process.stderr.write("\ninterrupted: finishing the targets in flight, starting no more (Ctrl-C again to quit now)\n");
  });
  const collectGarbage = boundMemory();
  const code = await run(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, env: process.env, signal: interrupt.signal, collectGarbage });
  process.exitCode = code;
  // Normally the process ends here by itself. If something still holds the event loop (an exec
  // credential plugin that never answered), exit anyway once the output has had time to drain.
  setTimeout(() => process.exit(code), 2000).unref();
}

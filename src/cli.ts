// cli: argv -> one command's typed, validated request (no I/O), then that command's run.
// Each command's flags and validation live in src/commands/, its run in src/run/ (loaded only
// when it runs), over the shared core in session.ts; this module only wires commander to them.
// The only module that touches process (in main()); run() takes its streams and env.

import v8 from "node:v8";
import vm from "node:vm";
import { Command, CommanderError } from "commander";
import { captureCommand, type CaptureRequest } from "./commands/capture.js";
import { completeRequest, completionCommand, type CompleteRequest, type CompletionRequest } from "./commands/completion.js";
import { doctorCommand, type DoctorRequest } from "./commands/doctor.js";
import { getCommand, type GetRequest } from "./commands/get.js";
import { rbacCommand, runRbac, type RbacRequest } from "./commands/rbac.js";
import { resetCommand, type ResetRequest } from "./commands/reset.js";
import { setCommand, type SetRequest } from "./commands/set.js";
import { statusCommand, type StatusRequest } from "./commands/status.js";
import { COMPONENTS } from "./components.js";
import { KvlogError, UsageError } from "./errors.js";
import { escapeTerminal } from "./terminal.js";
import { MAX_LEVEL } from "./options.js";
import type { Io } from "./io.js";

export { validateRbac, type RbacRequest } from "./commands/rbac.js";
export { validateSet as validate, type SetRequest } from "./commands/set.js";
export { MAX_LEVEL, parseDuration, parseLevel } from "./options.js";
export type { Io } from "./io.js";

export const VERSION = "0.1.0";

export type Request = SetRequest | CaptureRequest | GetRequest | ResetRequest | StatusRequest | DoctorRequest | RbacRequest | CompletionRequest | CompleteRequest;

/** The exit code after an interrupt, as shells report SIGINT. */
export const EXIT_INTERRUPTED = 130;

function program(io: Io, onParsed: (req: Request) => void): Command {
  const output = {
    writeOut: (s: string) => void io.stdout.write(s),
    writeErr: (s: string) => void io.stderr.write(s),
    outputError: () => {}, // errors are printed once, by run()
  };
  const root = new Command("kvlog")
    .description("Change the log verbosity (klog -v) of running Kubernetes components without restarting them.")
    .version(VERSION, "--version", "print the kvlog version")
    .helpOption("-h, --help", "show help")
    .showSuggestionAfterError(true)
    .helpCommand(false)
    .exitOverride()
    .configureOutput(output)
    .addHelpText(
      "after",
      `
Examples:
  kvlog set kubelet 5                        every node's kubelet, through the apiserver
  kvlog set kubelet 6 --node n1 --for 10m    one node for ten minutes, then back
  kvlog set scheduler 4 -o json | jq .       every kube-scheduler replica, results as JSON
  kvlog capture kubelet 6 --for 2m           level 6 for two minutes, every kubelet's log of it in a directory
  kvlog get kubelet --node n1                the level it started with, and kvlog's change since
  kvlog status                               every change kvlog recorded, and which are overdue
  kvlog reset --expired                      put back every overdue timed change
  kvlog doctor                               what would work, what would not and why; changes nothing
  kvlog set kubelet 4 --context 'prod-*'     every cluster whose context matches, one report
  kvlog doctor --all-contexts                every context of the kubeconfig, problems first
  kvlog rbac | kubectl apply -f -            the least-privilege RBAC kvlog needs

Run 'kvlog <command> --help' for every flag.`,
    );
  // The one list of commands, in the order --help and completion offer them.
  const commands = [
    setCommand(root, onParsed, io.env),
    captureCommand(root, onParsed, io.env),
    getCommand(root, onParsed, io.env),
    resetCommand(root, onParsed, io.env),
    statusCommand(root, onParsed, io.env),
    doctorCommand(root, onParsed, io.env),
    rbacCommand(root, onParsed),
    completionCommand(root, onParsed),
  ];
  for (const c of commands) c.exitOverride().configureOutput(output);
  return root;
}

/**
 * Parses argv (without node and script) into a request, or undefined when commander handled it
 * (help, version). Throws UsageError for anything invalid.
 */
export function parseArgs(argv: string[], io: Io): Request | undefined {
  if (argv[0] === "__complete") return completeRequest(program(io, () => {}), argv.slice(1));
  let request: Request | undefined;
  const cmd = program(io, (r) => {
    request = r;
  });
  try {
    cmd.parse(argv, { from: "user" });
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.exitCode === 0) return undefined; // --help, --version
      if (e.code === "commander.help") throw new UsageError("missing command; try 'kvlog set <component> <level>' (help is above)");
      throw new UsageError(commanderMessage(e, argv, cmd));
    }
    throw e;
  }
  if (!request) throw new UsageError("missing command; try 'kvlog set <component> <level>', or 'kvlog --help'");
  return request;
}

function commanderMessage(e: CommanderError, argv: string[], root: Command): string {
  let msg = e.message.replace(/^error: /, "");
  const command = root.commands.some((c) => c.name() === argv[0]) ? argv[0] : undefined;
  const neg = /unknown option '(-\d+)'/.exec(msg);
  if (neg && (command === "set" || command === "capture")) return `level must be a whole number from 0 to ${MAX_LEVEL}, got ${neg[1]}; run 'kvlog ${command} --help' for usage`;
  if (e.code === "commander.missingArgument" && command) {
    msg = msg.replace(/^missing required argument '(\w+)'/, "missing $1");
    const usage = command === "set" ? "kvlog set <component> <level>" : command === "capture" ? "kvlog capture <component> <level> --for <duration>" : `kvlog ${command} <component>`;
    return `${msg}; usage: ${usage} (components: ${COMPONENTS.map((c) => c.name).join(", ")})`;
  }
  return `${msg.replace(/\n+/g, " ").trim().replace(/\.$/, "")}; run 'kvlog ${command ? `${command} ` : ""}--help' for usage`;
}

/** One whole `kvlog ...` invocation; returns the exit code. */
export async function run(argv: string[], io: Io): Promise<number> {
  try {
    const req = parseArgs(argv, io);
    if (!req) return 0;
    // Several contexts: the same run once per cluster, under one bound (src/run/contexts.ts).
    if ("contexts" in req && req.contexts !== undefined) return await (await import("./run/contexts.js")).runOnContexts(req, io, dispatch);
    if (io.preconnect && PRECONNECT.has(req.command)) await startPreconnect(req as Extract<Request, { timeoutMs: number }>, io.env);
    return await dispatch(req, io);
  } catch (e) {
    // Secrets are masked where they are known (each command's session); run-ending errors carry none.
    if (e instanceof KvlogError) {
      io.stderr.write(`kvlog: ${escapeTerminal(e.message)}\n`);
      return e.exitCode;
    }
    const err = e as Error;
    io.stderr.write(`kvlog: unexpected error: ${escapeTerminal(err.message ?? String(e))}; please report it with the command you ran\n`);
    if (io.env.KVLOG_DEBUG) io.stderr.write(`${escapeTerminal(err.stack ?? "").replaceAll("\\n", "\n")}\n`);
    return 1;
  }
}

/** The commands whose run starts with the apiserver: its connection is opened while the run loads (src/preconnect.ts). */
const PRECONNECT = new Set(["set", "capture", "get", "reset", "status"]);

async function startPreconnect(req: Extract<Request, { timeoutMs: number }>, env: NodeJS.ProcessEnv): Promise<void> {
  await (await import("./preconnect.js")).preconnectFor(req, env);
  // The handshake takes its steps only when the event loop is free: load the network code in
  // pieces with a turn of the loop between them, not in one synchronous block.
  const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
  await turn();
  await import("./dispatch.js");
  await turn();
  await import("./api.js");
  await turn();
}

/** One command's run on one cluster (or none); errors that end the run are thrown. */
async function dispatch(req: Request, io: Io): Promise<number> {
  // A command's run (and the network code under it) is loaded only now: --help and usage
  // errors load none of it (src/run/).
  switch (req.command) {
    case "set":
      return await (await import("./run/set.js")).runSet(req, io);
    case "capture":
      return await (await import("./run/capture.js")).runCapture(req, io);
    case "get":
      return await (await import("./run/get.js")).runGet(req, io);
    case "reset":
      return await (await import("./run/reset.js")).runReset(req, io);
    case "status":
      return await (await import("./run/status.js")).runStatus(req, io);
    case "doctor":
      return await (await import("./run/doctor.js")).runDoctor(req, io);
    case "rbac":
      return runRbac(req, io);
    case "completion":
      io.stdout.write((await import("./completion/scripts.js")).script(req.shell, req.program));
      return 0;
    case "__complete":
      return await (await import("./completion/engine.js")).runComplete(req.spec, req.words, io);
  }
}

/**
 * Keeps a fleet run's memory flat (README "Large clusters"). V8 grows its young generation to
 * tens of MB under the steady allocation of thousands of requests, and frees the native memory
 * of closed TLS sockets only when their small JS objects are collected, which it does lazily;
 * a 5,000-node kube-proxy run then peaked at ~350 MB. Keeping the young generation at its
 * starting size and a full collection every few hundred targets hold it near 150 MB, at no
 * measurable cost in time. Both V8 switches are safe to change at run time.
 */
function boundMemory(): (() => void) | undefined {
  try {
    v8.setFlagsFromString("--semi-space-growth-factor=1");
    v8.setFlagsFromString("--expose-gc");
  } catch {
    return undefined;
  }
  // The collector is fetched on first use: a new V8 context costs milliseconds a short run need not spend.
  let gc: (() => void) | undefined;
  return () => {
    try {
      (gc ??= vm.runInNewContext("gc") as () => void)();
    } catch {
      // no collector: memory is then V8's own business
    }
  };
}

export async function main(): Promise<void> {
  // A reader that stops early (`| head`, jq quitting) closes the pipe: the rest of the output has
  // nowhere to go, which is not an error of the run (no stack trace; the work is already done).
  for (const stream of [process.stdout, process.stderr]) {
    stream.on("error", (e: NodeJS.ErrnoException) => {
      if (e.code !== "EPIPE") throw e;
    });
  }
  // First Ctrl-C or SIGTERM: start no new target, let the ones in flight finish (each is bounded
  // by --request-timeout), put back what `set --for` changed, and report every target. Again:
  // quit now, unless levels are being put back (that is bounded too, and is the point).
  const interrupt = new AbortController();
  let restoring = false;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (!interrupt.signal.aborted) {
      interrupt.abort(signal);
      process.stderr.write(`\ninterrupted (${signal}): finishing the targets in flight, starting no more (again to quit now)\n`);
    } else if (restoring) {
      process.stderr.write(`\nputting the levels back first; this takes at most --request-timeout\n`);
    } else {
      process.exit(signal === "SIGTERM" ? 143 : EXIT_INTERRUPTED);
    }
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  const collectGarbage = boundMemory();
  const code = await run(process.argv.slice(2), {
    stdout: process.stdout,
    stderr: process.stderr,
    env: process.env,
    signal: interrupt.signal,
    collectGarbage,
    preconnect: true,
    restoring: (on) => {
      restoring = on;
    },
  });
  process.exitCode = code;
  // Normally the process ends here by itself. If something still holds the event loop (an exec
  // credential plugin that never answered), exit anyway once the output has had time to drain.
  setTimeout(() => process.exit(code), 2000).unref();
}

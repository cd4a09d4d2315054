// kvlog capture <component> <level> --for D: raise the level like `set --for`, write every
// target's log for the window to a bundle directory, put the level back, and show whether the
// raise took effect. This module: the flags, their validation and the request (no I/O but the
// one check that --out is empty); the run is src/run/capture.ts.

import { readdirSync, statSync } from "node:fs";
import { resolve } from "node:path";
import type { Command } from "commander";
import { UsageError } from "../errors.js";
import {
  accessOptions,
  componentList,
  componentNamed,
  MAX_LEVEL,
  parseDuration,
  parseLevel,
  targetOptions,
  validateAccess,
  validateTargets,
  type AccessRequest,
  type RawAccessOptions,
  type RawTargetOptions,
  type TargetRequest,
} from "../options.js";
import { MAX_FOR_MS } from "./set.js";

/** stern's default when following; kubectl's is 5. */
export const DEFAULT_MAX_LOG_REQUESTS = 50;
export const DEFAULT_MAX_BYTES = 100 * 1024 * 1024;
/** Past this window, --max-bytes must be given: the default could fill a disk across a fleet. */
export const LONG_WINDOW_MS = 3_600_000;

export interface CaptureRequest extends AccessRequest, TargetRequest {
  command: "capture";
  level: number;
  forMs: number;
  restoreTo?: number | undefined;
  record: boolean;
  /** Always false: capture changes levels (it exists so the raise is `set --for`'s). */
  dryRun: false;
  /** The bundle directory, resolved; `outGiven`: --out was given (else the default name). */
  out: string;
  outGiven: boolean;
  maxLogRequests: number;
  maxBytes: number;
  /** The UTC time of the start, in the default directory name. */
  startedAt: Date;
}

export interface RawCaptureOptions extends RawAccessOptions, RawTargetOptions {
  for?: string;
  restoreTo?: string;
  record: boolean;
  out?: string;
  maxLogRequests: string;
  maxBytes?: string;
}

export function captureCommand(root: Command, onParsed: (req: CaptureRequest) => void, env: NodeJS.ProcessEnv, cwd: () => string = () => resolve()): Command {
  const cmd = root
    .command("capture")
    .summary("raise a component's level for a while, collect every replica's logs of that window, put it back")
    .description(
      `Raise the klog verbosity of every replica of a component for --for (exactly as 'kvlog set --for'), write each replica's log of that window to a file, put the level back, and show per replica whether the log rate changed.\n\nLogs are read through the apiserver: pods/log for pod-backed replicas, the kubelet's /logs/ (node log query, or /var/log/kubelet.log) through the node proxy. Replicas reached only by address get logs-unavailable, with where their logs are; their level still changes and comes back.\n\nComponents: ${componentList}.`,
    )
    .argument("<component>", "the component to change")
    .argument("<level>", `the verbosity during the window, a whole number from 0 to ${MAX_LEVEL}`)
    .option("--for <duration>", "how long to keep the level raised and collect logs (required; e.g. 30s, 5m; at most 24h); Ctrl-C or SIGTERM puts it back at once and still writes the bundle")
    .option("--out <dir>", "the bundle directory (default ./kvlog-capture-<component>-<UTC time>); must be new or empty")
    .option("--max-log-requests <n>", "log streams open at once; replicas beyond it are read from their log history after the window", String(DEFAULT_MAX_LOG_REQUESTS))
    .option("--max-bytes <size>", "most bytes kept per replica (e.g. 500Mi, 2Gi; default 100Mi); the file is cut and marked truncated, lines are still counted. Required with --for over 1h")
    .option("--restore-to <level>", "the level to put back (default: the level each target started with)")
    .option("--no-record", "do not record the change in the cluster");
  targetOptions(cmd);
  accessOptions(cmd);
  return cmd
    .addHelpText(
      "after",
      `
Examples:
  # every node's kubelet at level 6 for two minutes, logs in ./kvlog-capture-kubelet-<time>/
  kvlog capture kubelet 6 --for 2m
  # one scheduler replica's decisions for a minute, into a directory of your choice
  kvlog capture scheduler 5 --for 1m --out ./sched-debug
  # kube-proxy on two nodes, summary as JSON
  kvlog capture kube-proxy 4 --for 30s --node worker-1,worker-2 -o json | jq '.results[] | {id, lines, linesPerSecond}'

The bundle holds one file per replica (named after its id) and capture.json (kind CaptureResult).
RBAC beyond 'kvlog set': get on pods/log, get on nodes/proxy (the kubelet's /logs/; nodes/proxy also
reaches a kubelet's exec and run paths: grant it knowingly). 'kvlog rbac' prints both.

Exit codes: 0 every target was raised, logged and put back; 1 a target failed (its level, its
restore or its log); 2 usage or configuration error (nothing was changed); 3 nothing matched;
130 interrupted by Ctrl-C (143 by SIGTERM): every changed target is put back first and the bundle
is still written.`,
    )
    .action((component: string, level: string, opts: RawCaptureOptions) => onParsed(validateCapture(component, level, opts, env, cwd())));
}

/** "100Mi", "2Gi", "500M", "1048576": bytes. */
export function parseBytes(s: string, flag = "--max-bytes"): number {
  const m = /^(\d+(?:\.\d+)?)(Ki|Mi|Gi|Ti|K|M|G|T|k)?$/.exec(s.trim());
  if (!m) throw new UsageError(`${flag} must be a size like 100Mi, 2Gi or 500M, got "${s}"`);
  const unit = { Ki: 1024, Mi: 1024 ** 2, Gi: 1024 ** 3, Ti: 1024 ** 4, K: 1e3, k: 1e3, M: 1e6, G: 1e9, T: 1e12 }[m[2] ?? ""] ?? 1;
  const n = Math.floor(Number(m[1]) * unit);
  if (n < 4096) throw new UsageError(`${flag} must be at least 4Ki, got "${s}"`);
  return n;
}

/** 2026-12-06T20:11:46Z -> 20261206T201146Z (no colons: a name that works on every file system). */
export function stamp(d: Date): string {
  return d.toISOString().replace(/\.\d+Z$/, "Z").replace(/[-:]/g, "");
}

export function validateCapture(componentArg: string, levelArg: string, o: RawCaptureOptions, env: NodeJS.ProcessEnv, cwd: string, now = new Date()): CaptureRequest {
  const component = componentNamed(componentArg);
  const level = parseLevel(levelArg, "level", "e.g. kvlog capture kubelet 6 --for 2m");
  if (o.for === undefined) throw new UsageError(`capture needs --for: how long to keep level ${level} and collect logs (e.g. kvlog capture ${component.name} ${level} --for 2m)`);
  const forMs = parseDuration(o.for, "--for", MAX_FOR_MS, "30s, 5m or 1h");
  const targets = validateTargets(component, o);
  const access = validateAccess(o, env);
  const restoreTo = o.restoreTo !== undefined ? parseLevel(o.restoreTo, "--restore-to", "e.g. --restore-to 2") : undefined;
  if (!/^\d+$/.test(o.maxLogRequests) || Number(o.maxLogRequests) < 1 || Number(o.maxLogRequests) > 1000) {
    throw new UsageError(`--max-log-requests must be a whole number from 1 to 1000, got "${o.maxLogRequests}"`);
  }
  if (forMs > LONG_WINDOW_MS && o.maxBytes === undefined) {
    throw new UsageError(`--for over 1h needs an explicit --max-bytes (the most kept per replica, e.g. --max-bytes 500Mi): a long window at a raised level can fill a disk`);
  }
  const maxBytes = o.maxBytes !== undefined ? parseBytes(o.maxBytes) : DEFAULT_MAX_BYTES;
  const outGiven = o.out !== undefined;
  if (outGiven && !o.out!.trim()) throw new UsageError("--out is empty; give a directory or leave the flag out");
  const out = resolve(cwd, outGiven ? o.out! : `kvlog-capture-${component.name}-${stamp(now)}`);
  refuseNonEmpty(out);
  return {
    command: "capture",
    ...access,
    ...targets,
    level,
    forMs,
    restoreTo,
    record: o.record !== false,
    dryRun: false,
    out,
    outGiven,
    maxLogRequests: Number(o.maxLogRequests),
    maxBytes,
    startedAt: now,
  };
}

/** The bundle goes into a new or empty directory only: an earlier capture is never mixed in or overwritten. */
function refuseNonEmpty(dir: string): void {
  let st;
  try {
    st = statSync(dir);
  } catch {
    return; // does not exist: made at the start of the run
  }
  if (!st.isDirectory()) throw new UsageError(`--out ${dir} exists and is not a directory; give a new or empty directory`);
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch (e) {
    throw new UsageError(`--out ${dir} cannot be read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); give a new or empty directory`);
  }
  if (entries.length > 0) throw new UsageError(`--out ${dir} is not empty (${entries.length} entr${entries.length === 1 ? "y" : "ies"}); give a new or empty directory so no earlier capture is overwritten`);
}

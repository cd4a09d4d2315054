// kvlog set <component> <level> [--for D]: change every selected replica, record the change in the
// cluster, and with --for put each one back when the time is up (or at Ctrl-C / SIGTERM).
// This module: the flags, their validation and the request; the run is src/run/set.ts.

import type { Command } from "commander";
import { UsageError } from "../errors.js";
import {
  accessOptions,
  componentList,
  componentNamed,
  MAX_FOR_MS,
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


export interface SetRequest extends AccessRequest, TargetRequest {
  command: "set";
  level: number;
  dryRun: boolean;
  /** --for: put the level back after this long. */
  forMs?: number | undefined;
  /** --restore-to: the level to put back (default: each target's startup level). */
  restoreTo?: number | undefined;
  /** Write the change into the cluster's record (--no-record turns it off). */
  record: boolean;
}

export interface RawSetOptions extends RawAccessOptions, RawTargetOptions {
  dryRun?: boolean;
  for?: string;
  restoreTo?: string;
  record: boolean;
}

export function setCommand(root: Command, onParsed: (req: SetRequest) => void, env: NodeJS.ProcessEnv): Command {
  const cmd = root
    .command("set")
    .summary("set the klog verbosity of every replica of a component")
    .description(
      `Set the klog verbosity of every replica of a component, and record the change in the cluster (kube-system/kvlog-<component>) so that kvlog status shows who raised what.\n\nComponents: ${componentList}.`,
    )
    .argument("<component>", "the component to change")
    .argument("<level>", `the new verbosity, a whole number from 0 to ${MAX_LEVEL}`)
    .option("--for <duration>", "put the level back after this long (e.g. 10m, 1h30m; at most 24h); Ctrl-C or SIGTERM puts it back at once")
    .option("--restore-to <level>", "with --for: the level to put back (default: the level each target started with)")
    .option("--dry-run", "resolve the targets and print exactly what would be sent; send nothing")
    .option("--no-record", "do not record the change in the cluster");
  targetOptions(cmd);
  accessOptions(cmd);
  return cmd
    .addHelpText(
      "after",
      `
Examples:
  # every node's kubelet, through the apiserver's node proxy
  kvlog set kubelet 5
  # one node for ten minutes, then back to the level it started with
  kvlog set kubelet 6 --node worker-1 --for 10m
  # only two nodes, or nodes by label
  kvlog set kubelet 5 --node worker-1 --node worker-2
  kvlog set kube-proxy 4 -l node-role.kubernetes.io/worker=
  # every scheduler replica, JSON for jq
  kvlog set scheduler 4 -o json | jq -r '.results[] | select((.ok or .skipped) | not) | .id'
  # in CI: fail the job when any replica was not changed
  kvlog set controller-manager 2 -o json > result.json || exit 1
  # see what would be sent
  kvlog set apiserver 3 --dry-run

Exit codes: 0 every target tried was set (and put back, with --for; nodes that are down are skipped,
not failed), 1 a target failed or none was set, 2 usage or configuration error, 3 nothing matched,
130 interrupted by Ctrl-C (143 by SIGTERM): targets in flight finish, the rest are reported as not
attempted, and with --for every changed target is put back first. --timeout passed: 1, with what was
in flight cut short and reported as interrupted.`,
    )
    .action((component: string, level: string, opts: RawSetOptions) => onParsed(validateSet(component, level, opts, env)));
}

export function validateSet(componentArg: string, levelArg: string, o: RawSetOptions, env: NodeJS.ProcessEnv): SetRequest {
  const component = componentNamed(componentArg);
  const level = parseLevel(levelArg);
  const targets = validateTargets(component, o);
  const access = validateAccess(o, env);
  const forMs = o.for !== undefined ? parseDuration(o.for, "--for", MAX_FOR_MS, "10m, 1h or 90s") : undefined;
  if (o.restoreTo !== undefined && forMs === undefined) throw new UsageError("--restore-to applies with --for only; to put levels back now, run kvlog reset");
  const restoreTo = o.restoreTo !== undefined ? parseLevel(o.restoreTo, "--restore-to", "e.g. --restore-to 2") : undefined;
  return { command: "set", ...access, ...targets, level, dryRun: o.dryRun === true, forMs, restoreTo, record: o.record !== false };
}

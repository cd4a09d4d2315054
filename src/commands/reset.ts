// kvlog reset <component>: put the selected replicas back to the level each started with.
// kvlog reset --expired: put back every target whose timed change (--for) is overdue in the
// record, e.g. because the kvlog that made it was killed; safe to run from a CronJob.
// This module: the flags, their validation and the request; the run is src/run/reset.ts.

import type { Command } from "commander";
import { COMPONENTS, type Component } from "../components.js";
import { UsageError } from "../errors.js";
import {
  accessOptions,
  componentList,
  componentNamed,
  parseLevel,
  targetOptions,
  validateAccess,
  validateTargets,
  type AccessRequest,
  type RawAccessOptions,
  type RawTargetOptions,
  type TargetRequest,
} from "../options.js";

export interface ResetRequest extends AccessRequest {
  command: "reset";
  /** Without --expired: the targets to put back. */
  targets?: TargetRequest | undefined;
  /** --expired: the overdue targets of these components (all by default). */
  expired?: Component[] | undefined;
  /** --to: this level instead of each target's startup level. */
  to?: number | undefined;
  dryRun: boolean;
}

interface RawResetOptions extends RawAccessOptions, RawTargetOptions {
  expired?: boolean;
  to?: string;
  dryRun?: boolean;
}

export function resetCommand(root: Command, onParsed: (req: ResetRequest) => void, env: NodeJS.ProcessEnv): Command {
  const cmd = root
    .command("reset")
    .summary("put replicas back to the level they started with (--expired: every overdue timed change)")
    .description(
      `Put every selected replica of a component back to the level its process started with (read from its pod's command line, the kubelet's /configz or /flagz, else from kvlog's record), and take it out of the record. With --expired, put back every target whose timed change (set --for) is overdue in the record, across components: run it from a CronJob so a change comes back even if the kvlog that made it was killed.\n\nComponents: ${componentList}.`,
    )
    .argument("[component]", "the component to put back (with --expired: only this one's overdue targets)")
    .option("--expired", "every target whose timed change is overdue in the record")
    .option("--to <level>", "put back this level instead of the level each target started with")
    .option("--dry-run", "read the levels to put back and print what would be sent; change nothing");
  targetOptions(cmd);
  accessOptions(cmd);
  return cmd
    .addHelpText(
      "after",
      `
Examples:
  kvlog reset kubelet --node worker-1        back to the level worker-1's kubelet started with
  kvlog reset scheduler --to 2               every scheduler replica to level 2
  kvlog reset --expired                      every overdue timed change (README: CronJob)

Exit codes: 0 every target tried was put back (or nothing was overdue), 1 a target failed,
2 usage or configuration error, 3 nothing matched.`,
    )
    .action((component: string | undefined, opts: RawResetOptions) => onParsed(validateReset(component, opts, env)));
}

export function validateReset(componentArg: string | undefined, o: RawResetOptions, env: NodeJS.ProcessEnv): ResetRequest {
  const access = validateAccess(o, env);
  const to = o.to !== undefined ? parseLevel(o.to, "--to", "e.g. kvlog reset kubelet --to 2") : undefined;
  const base = { command: "reset" as const, ...access, to, dryRun: o.dryRun === true };
  if (o.expired) {
    const narrowed = [o.selector, o.podSelector, o.namespace, o.node, o.pod, o.endpoint, o.direct].some((v) => v !== undefined);
    if (narrowed) throw new UsageError("--expired puts back what the record says is overdue: drop -l, -n, --node, --pod, --pod-selector, --endpoint and --direct");
    return { ...base, expired: componentArg === undefined ? [...COMPONENTS] : [componentNamed(componentArg)] };
  }
  if (componentArg === undefined) throw new UsageError("missing component; usage: kvlog reset <component> [flags], or kvlog reset --expired");
  return { ...base, targets: validateTargets(componentNamed(componentArg), o) };
}

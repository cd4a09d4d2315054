// kvlog get <component>: per target, the level the process started with and where that is
// written, and the change kvlog recorded since (upstream cannot tell the live level).
// This module: the flags, their validation and the request; the run is src/run/get.ts.

import type { Command } from "commander";
import {
  accessOptions,
  componentList,
  componentNamed,
  targetOptions,
  validateAccess,
  validateTargets,
  type AccessRequest,
  type RawAccessOptions,
  type RawTargetOptions,
  type TargetRequest,
} from "../options.js";

export interface GetRequest extends AccessRequest, TargetRequest {
  command: "get";
}

export function getCommand(root: Command, onParsed: (req: GetRequest) => void, env: NodeJS.ProcessEnv): Command {
  const cmd = root
    .command("get")
    .summary("show the level each replica started with, and the change kvlog recorded since")
    .description(
      `Show, for every replica of a component, the level its process started with and where that is written (its pod's command line, the kubelet's /configz, /flagz), and the change kvlog recorded since (level, who, until when). Kubernetes has no way to read the live level: a level changed without kvlog, or by kvlog with --no-record, does not show.\n\nComponents: ${componentList}.`,
    )
    .argument("<component>", "the component to look at");
  targetOptions(cmd);
  accessOptions(cmd);
  return cmd
    .addHelpText(
      "after",
      `
Examples:
  kvlog get kubelet --node worker-1
  kvlog get scheduler -o json | jq '.results[] | {id, startup: .startup.level, now: .recorded.level}'

Exit codes: 0 every target was looked at (an unknown level is shown as unknown), 1 a target could
not be used (untrusted, missing, not running), 2 usage or configuration error, 3 nothing matched.`,
    )
    .action((component: string, opts: RawAccessOptions & RawTargetOptions) => {
      onParsed({ command: "get", ...validateAccess(opts, env), ...validateTargets(componentNamed(component), opts) });
    });
}

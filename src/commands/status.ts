// kvlog status: every change kvlog recorded across the cluster, with the ones that are overdue
// and the ones a restart has already undone.
// This module: the flags, their validation and the request; the run is src/run/status.ts.

import type { Command } from "commander";
import { COMPONENTS, type Component } from "../components.js";
import { accessOptions, componentNamed, validateAccess, type AccessRequest, type RawAccessOptions } from "../options.js";

export interface StatusRequest extends AccessRequest {
  command: "status";
  components: Component[];
}

export function statusCommand(root: Command, onParsed: (req: StatusRequest) => void, env: NodeJS.ProcessEnv): Command {
  const cmd = root
    .command("status")
    .summary("list the level changes kvlog recorded across the cluster, and which are overdue")
    .description(
      `List every level change kvlog recorded in the cluster (kube-system/kvlog-<component>): target, level, the level before, who made it, when, until when, and its state: active, expired (its --for is over and nobody put it back: kvlog reset --expired), restarted (the process restarted since and runs at its startup level again) or gone (the pod no longer exists).`,
    )
    .argument("[component]", "only this component's changes");
  accessOptions(cmd, { concurrency: false });
  return cmd
    .addHelpText(
      "after",
      `
Examples:
  kvlog status
  kvlog status kubelet -o json | jq -r '.results[] | select(.state == "expired") | .target'

Exit codes: 0 the record was read (whatever it holds), 1 a component's record could not be read,
2 usage or configuration error.`,
    )
    .action((component: string | undefined, opts: RawAccessOptions) => {
      onParsed({ command: "status", ...validateAccess(opts, env), components: component === undefined ? [...COMPONENTS] : [componentNamed(component)] });
    });
}

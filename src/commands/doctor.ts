// kvlog doctor [component...]: whether kvlog could change each component's level, and if not,
// why and what to do, without changing anything. Permissions are asked of the apiserver
// (SelfSubjectAccessReview); each target is probed with a GET on /debug/flags/v, which every
// component answers without acting (406 "unsupported http method": the endpoint is served).
// This module: the flags, their validation and the request; the run is src/run/doctor.ts.

import type { Command } from "commander";
import { COMPONENTS, type Component } from "../components.js";
import { accessOptions, componentNamed, validateAccess, type AccessRequest, type RawAccessOptions } from "../options.js";

export interface DoctorRequest extends AccessRequest {
  command: "doctor";
  components: Component[];
  /** The components were named (a missing one is then a problem, not a note). */
  named: boolean;
}

export function doctorCommand(root: Command, onParsed: (req: DoctorRequest) => void, env: NodeJS.ProcessEnv): Command {
  const cmd = root
    .command("doctor")
    .summary("check, without changing anything, whether kvlog could change each component, and why not")
    .description(
      `Check, without changing any level, whether kvlog could change each component (all by default): the permissions the current identity has for each step (SelfSubjectAccessReview), the targets discovery finds, and whether each target serves PUT /debug/flags/v (a GET, which every component answers with 406 without acting). Each problem comes with the next step.`,
    )
    .argument("[components...]", "the components to check (default: all)");
  accessOptions(cmd);
  return cmd
    .addHelpText(
      "after",
      `
Examples:
  kvlog doctor                         every component
  kvlog doctor kubelet kube-proxy      two of them
  kvlog doctor -o json | jq '.results[] | select(.ok | not)'

Exit codes: 0 everything checked would work (warnings aside), 1 something would not,
2 usage or configuration error.`,
    )
    .action((names: string[], opts: RawAccessOptions) => {
      const picked = names.map((n) => componentNamed(n));
      onParsed({ command: "doctor", ...validateAccess(opts, env), components: picked.length ? COMPONENTS.filter((c) => picked.includes(c)) : [...COMPONENTS], named: picked.length > 0 });
    });
}

// kvlog completion bash|zsh|fish: print a completion script for that shell. And the hidden
// `kvlog __complete WORD...`, which those scripts, bin/kubectl_complete-kvlog (`kubectl kvlog
// <TAB>`) and kubectl itself run on every TAB (cobra's protocol): src/completion/ does the work
// (spec.ts: what there is to complete, read from these commander definitions; engine.ts: the walk
// over the words and the answer; lookups.ts: contexts and nodes; scripts.ts: the thin scripts).

import { Argument, type Command } from "commander";
import { SHELLS, type Shell } from "../completion/scripts.js";
import { cliSpec, type CliSpec } from "../completion/spec.js";

export interface CompletionRequest {
  command: "completion";
  shell: Shell;
  program: string;
}

/** `kvlog __complete WORD...`: the words after the program name, the last one being completed ("" for a new one). */
export interface CompleteRequest {
  command: "__complete";
  words: string[];
  spec: CliSpec;
}

/**
 * The request for `kvlog __complete ARGS...` (taken before commander parses anything: every word,
 * --help and --version included, is a word to complete). `args --` first (what the scripts of
 * earlier kvlog builds sent, still in files saved from them) is dropped.
 */
export function completeRequest(root: Command, args: string[]): CompleteRequest {
  const words = args[0] === "args" && args[1] === "--" ? args.slice(2) : args;
  return { command: "__complete", words, spec: cliSpec(root) };
}

export function completionCommand(root: Command, onParsed: (req: CompletionRequest) => void): Command {
  return root
    .command("completion")
    .summary("print a shell completion script (bash, zsh, fish)")
    .description(
      "Print a completion script for the shell: commands, flags, component names and aliases, -o values, the\nkubeconfig's contexts for --context and, when the cluster answers within 2 s, node names for --node.\nThe script asks 'kvlog __complete' on each TAB, so it stays right when kvlog is upgraded.",
    )
    .addArgument(new Argument("<shell>", "bash, zsh or fish").choices(SHELLS))
    .addHelpText(
      "after",
      `
Examples:
  source <(kvlog completion bash)                             bash, in ~/.bashrc
  source <(kvlog completion zsh)                              zsh, in ~/.zshrc after compinit
  kvlog completion zsh > "\${fpath[1]}/_kvlog"                 zsh, once, in a directory of $fpath
  kvlog completion fish > ~/.config/fish/completions/kvlog.fish
  kubectl kvlog <TAB>                                         kubectl 1.26+ runs kubectl_complete-kvlog (installed with kvlog)`,
    )
    .action((shell: Shell) => onParsed({ command: "completion", shell, program: root.name() }));
}

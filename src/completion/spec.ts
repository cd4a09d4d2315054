// What there is to complete: the command line as commander defines it, read as plain data when a
// completion runs (commands, their flags and which take a value, choices, positional arguments),
// so a new command or flag is offered without editing anything here. Only the kind of value a
// flag takes (a context, a node, a file, components) is named here, by the flag's long name.

import type { Command, Option } from "commander";
import { COMPONENTS } from "../components.js";

/** What a flag's value or a positional argument is. */
export type ValueKind = "bool" | "none" | "choices" | "component" | "component-list" | "context" | "node" | "file";

/** The kind of value of the flags that take one, by long name; any other value is free text. */
const FLAG_VALUES: Record<string, ValueKind> = {
  "--context": "context",
  "--node": "node",
  "--kubeconfig": "file",
  "--token-file": "file",
  "--components": "component-list",
  "--out": "file",
};

export interface FlagSpec {
  /** "-o", "--output"; "--no-color" */
  names: string[];
  kind: ValueKind;
  choices: string[];
  description: string;
}

export interface ArgSpec {
  name: string;
  variadic: boolean;
  kind: ValueKind;
  choices: string[];
}

export interface CommandSpec {
  name: string;
  summary: string;
  flags: FlagSpec[];
  args: ArgSpec[];
}

export interface CliSpec {
  program: string;
  rootFlags: FlagSpec[];
  commands: CommandSpec[];
  /** Component names and aliases, each with what it is. */
  components: { value: string; description: string }[];
}

/** A short description: the first clause of commander's, on one line. */
function short(text: string): string {
  const first = text.replace(/\s+/g, " ").split(/; | \(/)[0]!.trim();
  return first.length > 80 ? `${first.slice(0, 77)}...` : first;
}

function flagSpec(o: Option): FlagSpec {
  const names = [o.short, o.long].filter((n): n is string => !!n);
  const takesValue = o.required || o.optional;
  const kind: ValueKind = !takesValue ? "bool" : o.argChoices ? "choices" : (FLAG_VALUES[o.long ?? ""] ?? "none");
  return { names, kind, choices: o.argChoices ? [...o.argChoices] : [], description: short(o.description) };
}

/** The spec of the program `root` defines, read from commander (what `--help` shows). */
export function cliSpec(root: Command): CliSpec {
  const help = root.createHelp();
  // In the order src/cli.ts registers them (the one list of commands), as --help shows them.
  const commands = help.visibleCommands(root).map((c): CommandSpec => {
    return {
      name: c.name(),
      summary: short(c.summary() || c.description()),
      flags: help.visibleOptions(c).map(flagSpec),
      args: c.registeredArguments.map((a) => ({
        name: a.name(),
        variadic: a.variadic,
        kind: a.argChoices ? "choices" : /^components?$/.test(a.name()) ? "component" : "none",
        choices: a.argChoices ? [...a.argChoices] : [],
      })),
    };
  });
  return {
    program: root.name(),
    rootFlags: help.visibleOptions(root).map(flagSpec),
    commands,
    components: COMPONENTS.flatMap((c) => [
      { value: c.name, description: c.aliases.length ? `also: ${c.aliases.join(", ")}` : "" },
      ...c.aliases.map((a) => ({ value: a, description: c.name })),
    ]),
  };
}

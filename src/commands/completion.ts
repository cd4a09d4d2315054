// kvlog completion bash|zsh|fish: print a completion script for that shell. And the hidden
// `kvlog __complete`, which those scripts and bin/kubectl_complete-kvlog (`kubectl kvlog <TAB>`)
// call for what only the kubeconfig or the cluster knows: context names and node names.
//
// Everything the scripts offer comes from the commander definitions at the moment the script is
// printed (commands, their flags and which take a value, -o's choices, the positional arguments),
// so a new flag is offered without editing this file. Only the kind of value a flag takes
// (a context, a node, a file, components) is named here, by the flag's long name.
//
// The scripts complete commands, flags, components and choices in the shell itself, with no
// process started; only --context and --node values run `kvlog __complete args -- WORDS...`,
// which reads the kubeconfig files (contexts, no network) or lists nodes within NODES_TIMEOUT_MS.
// `kvlog completion SHELL` itself never loads the kubeconfig code.

import { Argument, type Command, type Option } from "commander";
import { delimiter, join } from "node:path";
import { COMPONENTS } from "../components.js";
import type { Access } from "../http.js";
import type { Io } from "../session.js";

export const SHELLS = ["bash", "zsh", "fish"] as const;
export type Shell = (typeof SHELLS)[number];

/**
 * Every command, in the order the completion offers them. `doctor` is listed before it is
 * registered anywhere; a command registered with commander but not listed here is offered too.
 */
const COMMAND_ORDER = ["set", "capture", "get", "reset", "status", "doctor", "rbac", "completion"];

/**
 * How long `kvlog __complete` may take to list nodes, counted from the process's start (the
 * shell waits on it), loading the credentials included; at least MIN_NODES_MS for the cluster.
 */
export const NODES_TIMEOUT_MS = 2000;
const MIN_NODES_MS = 500;

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

/** The command line as commander defines it, as plain data: what every script is generated from. */
export interface CliSpec {
  program: string;
  rootFlags: FlagSpec[];
  commands: CommandSpec[];
  /** Component names and aliases, each with what it is. */
  components: { value: string; description: string }[];
}

export interface CompletionRequest {
  command: "completion";
  shell: Shell;
  spec: CliSpec;
}

/**
 * `kvlog __complete args -- WORD...` (the words after the program name, the last one the word
 * being completed, "" for a new one), `kvlog __complete contexts [--kubeconfig PATH]` or
 * `kvlog __complete nodes [--context NAME] [--kubeconfig PATH]`.
 */
export interface CompleteRequest {
  command: "__complete";
  mode: string;
  words: string[];
  spec: CliSpec;
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
  const registered = help.visibleCommands(root);
  const names = [...COMMAND_ORDER, ...registered.map((c) => c.name()).filter((n) => !COMMAND_ORDER.includes(n))];
  const commands = names.map((name): CommandSpec => {
    const c = registered.find((x) => x.name() === name);
    if (!c) return { name, summary: "", flags: [], args: [] };
    return {
      name,
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

export function completionCommand(root: Command, onParsed: (req: CompletionRequest | CompleteRequest) => void): Command {
  // Hidden: what the scripts and kubectl_complete-kvlog call. Every word after `__complete` is
  // taken as typed (root.rawArgs), so a typed --help or --version is a word to complete.
  root
    .command("__complete", { hidden: true })
    .argument("[words...]")
    .helpOption(false)
    .allowUnknownOption()
    .allowExcessArguments()
    .action((typed: string[]) => {
      // commander keeps the words as given in rawArgs (not in its typings); its parsed words lose
      // a "--" typed among them.
      const raw = (root as unknown as { rawArgs?: string[] }).rawArgs;
      const rest = raw?.includes("__complete") ? raw.slice(raw.indexOf("__complete") + 1) : typed;
      const mode = rest[0] ?? "";
      const words = rest.slice(1);
      if (words[0] === "--") words.shift();
      onParsed({ command: "__complete", mode, words, spec: cliSpec(root) });
    });
  return root
    .command("completion")
    .summary("print a shell completion script (bash, zsh, fish)")
    .description(
      "Print a completion script for the shell: commands, flags, component names and aliases, -o values, the\nkubeconfig's contexts for --context and, when the cluster answers within 2 s, node names for --node.",
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
    .action((shell: Shell) => onParsed({ command: "completion", shell, spec: cliSpec(root) }));
}

export function runCompletion(req: CompletionRequest, io: Io): number {
  io.stdout.write(req.shell === "bash" ? bashScript(req.spec) : req.shell === "zsh" ? zshScript(req.spec) : fishScript(req.spec));
  return 0;
}

/** Never fails and never waits long: whatever goes wrong, the shell gets no candidates. */
export async function runComplete(req: CompleteRequest, io: Io): Promise<number> {
  let out = "";
  try {
    if (req.mode === "args") {
      const { items, directive } = await completeWords(req.spec, req.words, io.env, io.signal);
      out = items.map((i) => (i.description ? `${i.value}\t${i.description}` : i.value)).join("\n") + (items.length ? "\n" : "") + `:${directive}\n`;
    } else if (req.mode === "contexts" || req.mode === "nodes") {
      const given = flagValues(req.words);
      const names = req.mode === "contexts" ? await contextNames(given.get("--kubeconfig"), io.env) : await nodeNames(given, io.env, io.signal);
      out = names.map((n) => `${n}\n`).join("");
    }
  } catch {
    out = req.mode === "args" ? `:${NO_FILES}\n` : "";
  }
  io.stdout.write(out);
  return 0;
}

// ---------------------------------------------------------------------------------------------
// The completion itself, for kubectl_complete-kvlog (and the scripts' dynamic values). The shell
// scripts below do the same walk over the words in the shell's own language.

export interface Item {
  value: string;
  description?: string;
}

/** cobra's ShellCompDirective values, the last line kubectl reads from kubectl_complete-kvlog. */
export const DEFAULT = 0; // no candidates: the shell completes file names
export const NO_SPACE = 2;
export const NO_FILES = 4;

/** Where the word being completed stands. */
type Slot =
  | { at: "commands" | "rootflags" | "nothing" }
  | { at: "flags"; cmd: CommandSpec }
  | { at: "value"; kind: ValueKind; choices: string[]; prefix: string; typed: string };

function findFlag(cmd: CommandSpec, name: string): FlagSpec | undefined {
  return cmd.flags.find((f) => f.names.includes(name));
}

/** words: after the program name, the last one the word being completed. */
function locate(spec: CliSpec, words: string[]): Slot {
  const cur = words.at(-1) ?? "";
  if (words.length <= 1) return { at: cur.startsWith("-") ? "rootflags" : "commands" };
  const cmd = spec.commands.find((c) => c.name === words[0]);
  if (!cmd) return { at: "nothing" };
  let expect: FlagSpec | undefined;
  let pos = 0;
  let dashdash = false;
  for (const w of words.slice(1, -1)) {
    if (expect) {
      expect = undefined;
      continue;
    }
    if (!dashdash && w === "--") {
      dashdash = true;
      continue;
    }
    if (!dashdash && w.length > 1 && w.startsWith("-")) {
      if (w.startsWith("--") && w.includes("=")) continue;
      const f = findFlag(cmd, w.startsWith("--") ? w : w.slice(0, 2));
      if (f && f.kind !== "bool" && (w.startsWith("--") || w.length === 2)) expect = f;
      continue;
    }
    pos++;
  }
  if (expect) return { at: "value", kind: expect.kind, choices: expect.choices, prefix: "", typed: cur };
  if (!dashdash && /^--[^=]+=/.test(cur)) {
    const eq = cur.indexOf("=");
    const f = findFlag(cmd, cur.slice(0, eq));
    if (!f || f.kind === "bool") return { at: "nothing" };
    return { at: "value", kind: f.kind, choices: f.choices, prefix: cur.slice(0, eq + 1), typed: cur.slice(eq + 1) };
  }
  if (!dashdash && cur.startsWith("-")) return { at: "flags", cmd };
  const last = cmd.args.at(-1);
  const arg = cmd.args[pos] ?? (last?.variadic ? last : undefined);
  if (arg) return { at: "value", kind: arg.kind, choices: arg.choices, prefix: "", typed: cur };
  return { at: "flags", cmd };
}

/** The values given to the access flags among `words`: --context X, --context=X, ... */
function flagValues(words: string[]): Map<string, string> {
  const given = new Map<string, string>();
  const valued = ["--kubeconfig", "--context", "--token", "--token-file", "-l", "--selector"];
  for (let i = 0; i < words.length; i++) {
    const w = words[i]!;
    const eq = w.indexOf("=");
    if (w.startsWith("--") && eq > 0 && valued.includes(w.slice(0, eq))) given.set(w.slice(0, eq), w.slice(eq + 1));
    else if (valued.includes(w) && i + 1 < words.length) given.set(w, words[++i]!);
    else if (w === "--insecure-skip-tls-verify") given.set(w, "true");
  }
  return given;
}

export async function completeWords(spec: CliSpec, words: string[], env: NodeJS.ProcessEnv, signal?: AbortSignal): Promise<{ items: Item[]; directive: number }> {
  const cur = words.at(-1) ?? "";
  const slot = locate(spec, words.length ? words : [""]);
  const starting = (items: Item[], typed = cur): Item[] => items.filter((i) => i.value.startsWith(typed));
  const flagItems = (flags: FlagSpec[]): Item[] => flags.flatMap((f) => f.names.map((value) => ({ value, description: f.description })));
  switch (slot.at) {
    case "commands":
      return { items: starting(spec.commands.map((c) => ({ value: c.name, description: c.summary }))), directive: NO_FILES };
    case "rootflags":
      return { items: starting(flagItems(spec.rootFlags)), directive: NO_FILES };
    case "flags":
      return { items: starting(flagItems(slot.cmd.flags)), directive: NO_FILES };
    case "nothing":
      return { items: [], directive: NO_FILES };
  }
  const context = words.slice(0, -1);
  let values: Item[] = [];
  let directive = NO_FILES;
  switch (slot.kind) {
    case "file":
      return { items: [], directive: DEFAULT };
    case "choices":
      values = slot.choices.map((value) => ({ value }));
      break;
    case "component":
      values = spec.components;
      break;
    case "component-list": {
      const head = slot.typed.slice(0, slot.typed.lastIndexOf(",") + 1);
      const taken = head.split(",");
      values = spec.components.filter((c) => !taken.includes(c.value)).map((c) => ({ ...c, value: head + c.value }));
      directive = NO_FILES | NO_SPACE;
      break;
    }
    case "context":
      values = (await contextNames(flagValues(context).get("--kubeconfig"), env)).map((value) => ({ value }));
      break;
    case "node":
      values = (await nodeNames(flagValues(context), env, signal)).map((value) => ({ value }));
      break;
    default:
      values = [];
  }
  return { items: starting(values, slot.typed).map((i) => ({ ...i, value: slot.prefix + i.value })), directive };
}

function expandHome(path: string, env: NodeJS.ProcessEnv): string {
  return path.startsWith("~/") && env.HOME ? join(env.HOME, path.slice(2)) : path;
}

/** Every kubeconfig file kvlog would read, as loadAccess chooses them. */
function kubeconfigFiles(kubeconfig: string | undefined, env: NodeJS.ProcessEnv): string[] {
  if (kubeconfig) return [expandHome(kubeconfig, env)];
  if (env.KUBECONFIG) return env.KUBECONFIG.split(delimiter).filter(Boolean);
  return env.HOME ? [join(env.HOME, ".kube", "config")] : [];
}

/** The context names of the kubeconfig files, read from disk only (no credentials, no network). */
export async function contextNames(kubeconfig: string | undefined, env: NodeJS.ProcessEnv): Promise<string[]> {
  const { KubeConfig } = await import("../kubeconfig.js");
  const names = new Set<string>();
  for (const file of kubeconfigFiles(kubeconfig, env)) {
    try {
      const kc = new KubeConfig();
      kc.loadFromFile(file);
      for (const c of kc.getContexts()) names.add(c.name);
    } catch {
      // a file that cannot be read offers nothing; the others still do
    }
  }
  return [...names];
}

/**
 * The cluster's node names, or none when anything goes wrong or takes longer than
 * NODES_TIMEOUT_MS in all: a TAB must never hang the shell. The access flags typed on the line
 * apply (--kubeconfig, --context, --token, --token-file, --insecure-skip-tls-verify, -l), except
 * --service-account: completing never creates anything in the cluster. Ctrl-C (signal) ends it at once.
 */
export async function nodeNames(given: Map<string, string>, env: NodeJS.ProcessEnv, signal?: AbortSignal): Promise<string[]> {
  const budget = Math.round(Math.max(MIN_NODES_MS, NODES_TIMEOUT_MS - performance.now()));
  const deadline = Date.now() + budget;
  let access: Access | undefined;
  let over = false;
  const close = (a: Access) => void Promise.resolve(a.dispatcher.destroy()).catch(() => {});
  const work = (async () => {
    const { kubeApi, loadAccess } = await import("../kube.js"); // the network code, only when completing node names
    const a = await loadAccess({
      kubeconfig: given.has("--kubeconfig") ? expandHome(given.get("--kubeconfig")!, env) : undefined,
      context: given.get("--context"),
      token: given.get("--token"),
      tokenFile: given.has("--token-file") ? expandHome(given.get("--token-file")!, env) : undefined,
      insecureSkipTlsVerify: given.has("--insecure-skip-tls-verify"),
      timeoutMs: budget,
      connections: 1,
      optional: false,
      env,
    });
    if (!a) return [];
    if (over) {
      close(a);
      return [];
    }
    access = a;
    const api = kubeApi(a, { timeoutMs: Math.max(1, deadline - Date.now()), chunkSize: 500 });
    const nodes = await api.listNodes(given.get("--selector") ?? given.get("-l"));
    // Candidates go into the shell's completion list: a name that is not a DNS name (as the apiserver
    // validates node names) could carry a newline, a tab (a description) or shell syntax; it is left out.
    return nodes.map((n) => n.metadata.name).filter((name) => /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/.test(name));
  })();
  work.catch(() => {});
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      work,
      new Promise<string[]>((resolve) => {
        timer = setTimeout(() => resolve([]), budget);
        signal?.addEventListener("abort", () => resolve([]), { once: true });
      }),
    ]);
  } catch {
    return [];
  } finally {
    over = true;
    clearTimeout(timer);
    if (access) close(access);
  }
}

// ---------------------------------------------------------------------------------------------
// The scripts. bash and zsh share the generated tables (__kvlog_list, __kvlog_flag_kind,
// __kvlog_arg_kind: the same syntax in both); each walks the words in its own way. fish declares
// each flag natively and asks __kvlog_slot only where the word stands among the arguments.

/** A word for bash and zsh: single-quoted, ' as '\''. */
function q(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** A word for fish: single-quoted, \\ and \' escaped. */
function fishQ(s: string): string {
  return `'${s.replace(/\\/g, "\\\\").replace(/'/g, "\\'")}'`;
}

/** "component", "node", ... or "choices A B". */
function kindText(kind: ValueKind, choices: string[]): string {
  return kind === "choices" ? ["choices", ...choices].join(" ") : kind;
}

function listLines(items: Item[]): string {
  return items.length ? `printf '%s\\t%s\\n' ${items.map((i) => `${q(i.value)} ${q(i.description ?? "")}`).join(" ")}` : ":";
}

/** The tables bash and zsh share: lists (value TAB description), flag kinds and argument kinds. */
function shTables(spec: CliSpec): string {
  const flagItems = (flags: FlagSpec[]): Item[] => flags.flatMap((f) => f.names.map((value) => ({ value, description: f.description })));
  const lists = [
    `  commands) ${listLines(spec.commands.map((c) => ({ value: c.name, description: c.summary })))} ;;`,
    `  rootflags) ${listLines(flagItems(spec.rootFlags))} ;;`,
    `  components) ${listLines(spec.components)} ;;`,
    ...spec.commands.map((c) => `  flags:${c.name}) ${listLines(flagItems(c.flags))} ;;`),
  ];
  const flagKinds = spec.commands.map((c) => {
    const byKind = new Map<string, string[]>();
    for (const f of c.flags) byKind.set(kindText(f.kind, f.choices), [...(byKind.get(kindText(f.kind, f.choices)) ?? []), ...f.names]);
    const cases = [...byKind].map(([kind, names]) => `    ${names.join("|")}) REPLY=${q(kind)} ;;`);
    return `  ${c.name})\n    case $2 in\n${[...cases, "    *) return 1 ;;"].join("\n")}\n    esac ;;`;
  });
  const argKinds = spec.commands.map((c) => {
    const cases = c.args.map((a, i) => `    ${a.variadic ? "*" : i}) REPLY=${q(kindText(a.kind, a.choices))} ;;`);
    if (!c.args.at(-1)?.variadic) cases.push("    *) return 1 ;;");
    return `  ${c.name})\n    case $2 in\n${cases.join("\n")}\n    esac ;;`;
  });
  return `# Lines "value<TAB>description": commands, rootflags, components, flags:COMMAND.
__kvlog_list() {
  case $1 in
${lists.join("\n")}
  esac
}

# REPLY = what the flag $2 of command $1 takes: bool, none, file, context, node, component-list,
# or 'choices A B'. Fails for a flag the command does not have.
__kvlog_flag_kind() {
  case $1 in
${flagKinds.join("\n")}
  *) return 1 ;;
  esac
}

# REPLY = what positional argument $2 (from 0) of command $1 is; fails past the last one.
__kvlog_arg_kind() {
  case $1 in
${argKinds.join("\n")}
  *) return 1 ;;
  esac
}
`;
}

const HEADER = (shell: Shell, install: string) => `# ${shell} completion for kvlog, printed by \`kvlog completion ${shell}\` from kvlog's own command
# definitions (print it again after upgrading kvlog). ${install}
`;

/**
 * The walk, in words common to bash and zsh once the words are in \`words\` (from 0: the program)
 * and the word being completed is the last: sets kind (commands, rootflags, flags, nothing, or a
 * value kind), prefix (--flag= typed in the same word) and value (what is typed of the value).
 */
function shWalk(w: { root: string; cmd: string; from: string; to: string }): string {
  return `  local cmd= expect= w kind= prefix= value=$cur
  local -i i pos=0 dd=0
  if (( ${w.root} )); then
    if [[ $cur == -* ]]; then kind=rootflags; else kind=commands; fi
  else
    cmd=\${words[${w.cmd}]}
    for (( i = ${w.from}; i < ${w.to}; i++ )); do
      w=\${words[i]}
      if [[ -n $expect ]]; then expect=; continue; fi
      if (( !dd )) && [[ $w == -- ]]; then dd=1; continue; fi
      if (( !dd )) && [[ $w == -?* ]]; then
        case $w in
        --*=*) ;;
        --*|-?) __kvlog_flag_kind "$cmd" "$w" && [[ $REPLY != bool ]] && expect=$w ;;
        esac
        continue
      fi
      (( pos++ ))
    done
    if [[ -n $expect ]]; then
      __kvlog_flag_kind "$cmd" "$expect"; kind=$REPLY
    elif (( !dd )) && [[ $cur == --?*=* ]]; then
      if __kvlog_flag_kind "$cmd" "\${cur%%=*}" && [[ $REPLY != bool ]]; then
        kind=$REPLY prefix=\${cur%%=*}= value=\${cur#*=}
      else
        kind=nothing
      fi
    elif (( !dd )) && [[ $cur == -* ]]; then
      kind=flags
    elif __kvlog_arg_kind "$cmd" "$pos"; then
      kind=$REPLY
    else
      kind=flags
    fi
  fi`;
}

export function bashScript(spec: CliSpec): string {
  return `${HEADER("bash", "Install: source <(kvlog completion bash), e.g. in ~/.bashrc.")}
${shTables(spec)}
# Runs the program being completed to ask for --context and --node values: at most 2 s, and
# nothing on any error.
__kvlog_dynamic() {
  local prog=\${words[0]} line
  [[ $prog == "~/"* ]] && prog=$HOME/\${prog#"~/"}
  "$prog" __complete args -- "\${words[@]:1}" 2>/dev/null </dev/null | while IFS= read -r line; do
    [[ $line == :* ]] || printf '%s\\n' "\${line%%$'\\t'*}"
  done
}

_kvlog() {
  local REPLY cur line c brk= strip=
  local -a words=() cands=()
  local -i i j=-1 glue=0
  # bash splits a word at the characters of COMP_WORDBREAKS: put --context=arn:aws:... back
  # together as it was typed.
  for (( i = 0; i <= COMP_CWORD; i++ )); do
    c=\${COMP_WORDS[i]}
    if (( j >= 0 )) && [[ -n $c && -z \${c//[=:]/} ]]; then
      words[j]+=$c glue=1
    elif (( glue )) && [[ -n $c ]]; then
      words[j]+=$c glue=0
    else
      words[++j]=$c
    fi
  done
  cur=\${words[j]}
${shWalk({ root: "j < 2", cmd: "1", from: "2", to: "j" })}
  COMPREPLY=()
  case $kind in
  commands|rootflags|components)
    while IFS=$'\\t' read -r line c; do cands+=("$line"); done < <(__kvlog_list "$kind") ;;
  flags)
    while IFS=$'\\t' read -r line c; do cands+=("$line"); done < <(__kvlog_list "flags:$cmd") ;;
  component)
    while IFS=$'\\t' read -r line c; do cands+=("$prefix$line"); done < <(__kvlog_list components) ;;
  component-list)
    compopt -o nospace 2>/dev/null
    line=\${value%"\${value##*,}"}
    while IFS=$'\\t' read -r c w; do [[ ,$line == *,"$c",* ]] || cands+=("$prefix$line$c"); done < <(__kvlog_list components) ;;
  choices\\ *)
    for c in \${kind#choices }; do cands+=("$prefix$c"); done ;;
  context|node)
    while IFS= read -r line; do cands+=("$line"); done < <(__kvlog_dynamic) ;;
  file)
    compopt -o filenames 2>/dev/null
    while IFS= read -r line; do COMPREPLY+=("$line"); done < <(compgen -f -- "$value")
    return 0 ;;
  esac
  for c in "\${cands[@]}"; do
    [[ $c == "$cur"* ]] && COMPREPLY+=("$c")
  done
  # bash replaces only what follows the last word-break character: drop what precedes it.
  [[ \${COMP_WORDBREAKS-} == *=* ]] && brk+='='
  [[ \${COMP_WORDBREAKS-} == *:* ]] && brk+=':'
  if [[ -n $brk && $cur == *[$brk]* ]]; then
    strip=\${cur%"\${cur##*[$brk]}"}
    for i in "\${!COMPREPLY[@]}"; do COMPREPLY[i]=\${COMPREPLY[i]#"$strip"}; done
  fi
  return 0
}

complete -F _kvlog ${spec.program} kubectl-${spec.program}
`;
}

export function zshScript(spec: CliSpec): string {
  return `#compdef ${spec.program} kubectl-${spec.program}
${HEADER("zsh", "Install: source <(kvlog completion zsh) in ~/.zshrc after compinit, or save it as _kvlog in a directory of $fpath.")}
${shTables(spec)}
# Runs the program being completed to ask for --context and --node values: at most 2 s, and
# nothing on any error.
__kvlog_dynamic() {
  local prog=\${words[1]/#\\~/$HOME}
  "$prog" __complete args -- "\${(@)words[2,CURRENT-1]}" "$IPREFIX$PREFIX" 2>/dev/null </dev/null
}

_kvlog() {
  local REPLY cur=$PREFIX line d
  local -a vals descs
${shWalk({ root: "CURRENT <= 2", cmd: "2", from: "3", to: "CURRENT" })}
  # From here on, what zsh matches is the value alone: --flag= and list heads go to IPREFIX.
  if [[ -n $prefix ]]; then
    IPREFIX=$IPREFIX$prefix PREFIX=\${PREFIX#"$prefix"}
  fi
  case $kind in
  commands|rootflags|components|flags|component)
    [[ $kind == flags ]] && kind=flags:$cmd
    [[ $kind == component ]] && kind=components
    for line in "\${(@f)$(__kvlog_list $kind)}"; do
      [[ -n $line ]] || continue
      vals+=("\${line%%$'\\t'*}")
      d=\${line#*$'\\t'}
      descs+=("\${vals[-1]}\${d:+  -- $d}")
    done
    compadd -l -d descs -a vals ;;
  component-list)
    d=\${PREFIX%"\${PREFIX##*,}"}
    IPREFIX=$IPREFIX$d PREFIX=\${PREFIX##*,}
    for line in "\${(@f)$(__kvlog_list components)}"; do
      [[ ,$d == *,"\${line%%$'\\t'*}",* ]] || vals+=("\${line%%$'\\t'*}")
    done
    compadd -S '' -a vals ;;
  choices\\ *)
    vals=(\${=kind#choices })
    compadd -a vals ;;
  context|node)
    for line in "\${(@f)$(__kvlog_dynamic)}"; do
      [[ -z $line || $line == :* ]] && continue
      line=\${line%%$'\\t'*}
      vals+=("\${line#"$prefix"}")
    done
    compadd -a vals ;;
  file)
    _files ;;
  esac
}

if [[ \${funcstack[1]-} == _kvlog ]]; then
  # autoloaded from $fpath by compinit
  _kvlog "$@"
elif (( $+functions[compdef] )); then
  compdef _kvlog ${spec.program} kubectl-${spec.program}
else
  print -u2 "kvlog: completion not installed: run 'autoload -U compinit && compinit' before sourcing it"
fi
`;
}

export function fishScript(spec: CliSpec): string {
  const lines: string[] = [];
  const flagKinds: string[] = [];
  const argKinds: string[] = [];
  for (const c of spec.commands) {
    const cond = fishQ(`__kvlog_using ${c.name}`);
    for (const f of c.flags) {
      const parts = [`complete -c ${spec.program} -n ${cond}`];
      for (const n of f.names) parts.push(n.startsWith("--") ? `-l ${n.slice(2)}` : `-s ${n.slice(1)}`);
      if (f.kind === "file") parts.push("-r -F");
      else if (f.kind !== "bool") parts.push("-x");
      if (f.kind === "choices") parts.push(`-a ${fishQ(f.choices.join(" "))}`);
      if (f.kind === "context" || f.kind === "node") parts.push(`-a ${fishQ("(__kvlog_dynamic)")}`);
      if (f.kind === "component-list") parts.push(`-a ${fishQ("(__kvlog_component_list)")}`);
      if (f.kind === "component") parts.push(`-a ${fishQ("(__kvlog_list components)")}`);
      parts.push(`-d ${fishQ(f.description)}`);
      lines.push(parts.join(" "));
    }
    const valued = c.flags.filter((f) => f.kind !== "bool").flatMap((f) => f.names);
    if (valued.length) flagKinds.push(`        case ${c.name}\n            contains -- $argv[2] ${valued.map(fishQ).join(" ")}`);
    const cases = c.args.map((a, i) => `                case ${a.variadic ? "'*'" : i}\n                    echo ${fishQ(kindText(a.kind, a.choices))}`);
    argKinds.push(`        case ${c.name}\n            switch $argv[2]\n${cases.join("\n")}${cases.length ? "\n" : ""}                case '*'\n                    return 1\n            end`);
  }
  const list = (items: Item[]) => items.map((i) => `${fishQ(i.value)} ${fishQ(i.description ?? "")}`).join(" ");
  return `${HEADER("fish", "Install: kvlog completion fish > ~/.config/fish/completions/kvlog.fish")}
# Lines "value<TAB>description": commands, rootflags, components.
function __kvlog_list
    switch $argv[1]
        case commands
            printf '%s\\t%s\\n' ${list(spec.commands.map((c) => ({ value: c.name, description: c.summary })))}
        case components
            printf '%s\\t%s\\n' ${list(spec.components)}
    end
end

# Succeeds when flag $argv[2] of command $argv[1] takes a value.
function __kvlog_takes_value
    switch $argv[1]
${flagKinds.join("\n")}
        case '*'
            return 1
    end
end

# What positional argument $argv[2] (from 0) of command $argv[1] is; fails past the last one.
function __kvlog_arg_kind
    switch $argv[1]
${argKinds.join("\n")}
        case '*'
            return 1
    end
end

# The words after the program name, before the one being completed.
function __kvlog_words
    set -l words (commandline -opc)
    set -e words[1]
    string join \\n -- $words
end

# The command typed, if any.
function __kvlog_command
    for w in (__kvlog_words)
        string match -q -- '-*' $w; and continue
        echo $w
        return 0
    end
    return 1
end

function __kvlog_using
    test "$(__kvlog_command)" = $argv[1]
end

# Where the word being completed stands: command, rootflags, flag (a flag or a flag's value:
# the declarations below complete those), flags (no argument left), or the
# kind of the positional argument (component, choices A B, none).
function __kvlog_slot
    set -l words (__kvlog_words)
    set -l cur (commandline -ct)
    if test (count $words) -eq 0
        if string match -q -- '-*' "$cur"
            echo rootflags
        else
            echo command
        end
        return
    end
    set -l cmd $words[1]
    set -e words[1]
    set -l expect 0
    set -l dd 0
    set -l pos 0
    for w in $words
        if test $expect = 1
            set expect 0
            continue
        end
        if test $dd = 0; and test "$w" = --
            set dd 1
            continue
        end
        if test $dd = 0; and string match -q -- '-?*' $w
            if not string match -q -- '--*=*' $w; and __kvlog_takes_value $cmd $w
                set expect 1
            end
            continue
        end
        set pos (math $pos + 1)
    end
    if test $expect = 1; or begin; test $dd = 0; and string match -q -- '-*' "$cur"; end
        echo flag
    else if __kvlog_arg_kind $cmd $pos >/dev/null
        __kvlog_arg_kind $cmd $pos
    else
        echo flags
    end
end

function __kvlog_slot_is
    string match -q -- "$argv[1]*" (__kvlog_slot)
end

function __kvlog_choices
    string split ' ' -- (__kvlog_slot | string replace -r '^choices ' '')
end

# --components: a comma-separated list, each name once.
function __kvlog_component_list
    set -l typed (commandline -ct | string replace -r -- '^--[^=]+=' '')
    set -l head (string replace -r -- '[^,]*$' '' "$typed")
    for line in (__kvlog_list components)
        set -l name (string split -f1 \\t -- $line)
        contains -- $name (string split , -- $head); or echo "$head$line"
    end
end

# Runs the program being completed to ask for --context and --node values: at most 2 s, and
# nothing on any error.
function __kvlog_dynamic
    set -l words (commandline -opc)
    set -l prog $words[1]
    set -e words[1]
    set -l cur (commandline -ct)
    if string match -qr -- '^--[^=]+=' "$cur"
        set -l parts (string split -m 1 = -- "$cur")
        set -a words $parts[1]
        set cur $parts[2]
    end
    command $prog __complete args -- $words "$cur" 2>/dev/null </dev/null | string match -rv -- '^:[0-9]+$'
end

complete -c kvlog -f
complete -c kubectl-kvlog -w kvlog
complete -c kvlog -n '__kvlog_slot_is command' -a '(__kvlog_list commands)'
${spec.rootFlags.map((f) => `complete -c kvlog -n '__kvlog_slot_is rootflags' ${f.names.map((n) => (n.startsWith("--") ? `-l ${n.slice(2)}` : `-s ${n.slice(1)}`)).join(" ")} -d ${fishQ(f.description)}`).join("\n")}
complete -c kvlog -n '__kvlog_slot_is component' -a '(__kvlog_list components)'
complete -c kvlog -n '__kvlog_slot_is choices' -a '(__kvlog_choices)'
${lines.join("\n")}
`;
}

// The completion itself, the only walk over the typed words: `kvlog __complete WORD...` (the words
// after the program name, the last one the word being completed, "" for a new one) answers as
// cobra's __complete does: one candidate a line ("value<TAB>description"), then ":<directive>".
// The shell scripts (scripts.ts), bin/kubectl_complete-kvlog (`kubectl kvlog <TAB>`) and kubectl
// itself all read that answer; none of them knows kvlog's commands or flags.

import type { Io } from "../io.js";
import { contextNames, nodeNames } from "./lookups.js";
import type { CliSpec, CommandSpec, FlagSpec, ValueKind } from "./spec.js";

export interface Item {
  value: string;
  description?: string;
}

/** cobra's ShellCompDirective bits that kvlog uses. */
export const DEFAULT = 0; // no candidates: the shell completes file names
export const ERROR = 1; // offer nothing
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

/** cobra's answer: a candidate a line, a TAB before its description, then ":<directive>". */
export function cobraAnswer(items: Item[], directive: number): string {
  // One line each: a value with a newline or TAB in it (a context's name in a kubeconfig) would make
  // another candidate or a description, so it is left out; a description's are made spaces.
  const lines = items.filter((i) => !/[\t\r\n]/.test(i.value)).map((i) => (i.description ? `${i.value}\t${i.description.replace(/[\t\r\n]/g, " ")}` : i.value));
  return lines.map((l) => `${l}\n`).join("") + `:${directive}\n`;
}

/** `kvlog __complete WORD...`. Never fails and never waits long: whatever goes wrong, the shell gets no candidates. */
export async function runComplete(spec: CliSpec, words: string[], io: Io): Promise<number> {
  let out: string;
  try {
    const { items, directive } = await completeWords(spec, words, io.env, io.signal);
    out = cobraAnswer(items, directive);
  } catch {
    out = `:${NO_FILES}\n`;
  }
  io.stdout.write(out);
  return 0;
}

// The completion engine (src/completion/): what it offers comes from the commander definitions,
// so a flag added to a command is completed with no edit to the completion code, and the answer
// keeps cobra's shape (one candidate a line, then ":directive") whatever the values hold.
import { Command, Option } from "commander";
import { describe, expect, it } from "vitest";
import { run, type Io } from "../../src/cli.js";
import { cobraAnswer, completeWords, NO_FILES, NO_SPACE } from "../../src/completion/engine.js";
import { cliSpec } from "../../src/completion/spec.js";

function io(): Io & { out: string } {
  const o = { out: "" } as Io & { out: string };
  o.stdout = { write: (s: string) => (o.out += s), isTTY: false };
  o.stderr = { write: () => true, isTTY: false };
  o.env = { KUBECONFIG: "/nonexistent/kvlog-test-kubeconfig" };
  return o;
}

async function complete(...words: string[]): Promise<string> {
  const o = io();
  expect(await run(["__complete", ...words], o)).toBe(0);
  return o.out;
}

describe("kvlog __complete", () => {
  it("answers as cobra: candidates with descriptions, then the directive", async () => {
    expect(await complete("se")).toBe("set\tset the klog verbosity of every replica of a component\n:4\n");
    expect(await complete("get", "kubelet", "-o", "")).toBe("table\njson\nwide\n:4\n");
    expect(await complete("rbac", "--components=kubelet,kube-p")).toBe("--components=kubelet,kube-proxy\talso: proxy\n:6\n");
    expect(await complete("set", "--kubeconfig", "")).toBe(":0\n");
    expect(await complete("nosuch", "")).toBe(":4\n");
  });

  it("takes every word as typed: --help and --version are words, `args --` of older scripts is dropped", async () => {
    expect(await complete("--vers")).toBe("--version\tprint the kvlog version\n:4\n");
    expect(await complete("set", "--help", "kubel")).toBe("kubelet\n:4\n");
    expect(await complete("args", "--", "completion", "z")).toBe("zsh\n:4\n");
  });
});

describe("the command list is the one src/cli.ts registers", () => {
  it("completion offers the commands --help lists, in the same order", async () => {
    const o = io();
    expect(await run(["--help"], o)).toBe(0);
    const helpSection = o.out.slice(o.out.indexOf("Commands:"), o.out.indexOf("Examples:"));
    const fromHelp = [...helpSection.matchAll(/^ {2}(\S+)/gm)].map((m) => m[1]);
    const offered = (await complete(""))
      .split("\n")
      .filter((l) => l && !l.startsWith(":") && !l.startsWith("-"))
      .map((l) => l.split("\t")[0]);
    expect(fromHelp).toEqual(["set", "capture", "get", "reset", "status", "doctor", "rbac", "completion"]);
    expect(offered).toEqual(fromHelp);
  });
});

describe("the spec comes from commander", () => {
  it("a flag added to a command is offered, with its kind: choices, a context, a switch", async () => {
    const root = new Command("kvlog");
    root
      .command("set")
      .argument("<component>")
      .option("--all-contexts", "every context of the kubeconfig")
      .addOption(new Option("--mode <m>", "how").choices(["fast", "slow"]))
      .option("--context <name>", "the context");
    const spec = cliSpec(root);
    expect((await completeWords(spec, ["set", "--a"], {})).items).toEqual([{ value: "--all-contexts", description: "every context of the kubeconfig" }]);
    expect(await completeWords(spec, ["set", "--mode", "s"], {})).toEqual({ items: [{ value: "slow" }], directive: NO_FILES });
    // A switch takes no value: the word after it is the component.
    expect((await completeWords(spec, ["set", "--all-contexts", "kube-sch"], {})).items.map((i) => i.value)).toEqual(["kube-scheduler"]);
  });
});

describe("cobraAnswer", () => {
  it("leaves out a value that would break a line, and flattens a description's", () => {
    const answer = cobraAnswer(
      [{ value: "ok" }, { value: "two\nlines" }, { value: "tab\tdesc" }, { value: "d", description: "a\nb\tc" }],
      NO_FILES | NO_SPACE,
    );
    expect(answer).toBe("ok\nd\ta b c\n:6\n");
  });
});

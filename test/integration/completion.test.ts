// `kvlog completion bash|zsh|fish` run in each of those shells, and kubectl_complete-kvlog as
// kubectl runs it, against the simulated cluster (node names) and a kubeconfig written here
// (context names). Every shell must be installed: a missing one fails, it is never skipped
// (Windows aside, which has none of them). The round trip through kubectl itself is in the
// e2e suite (test/e2e/completion.e2e.test.ts), which always has a kubectl.
//
// bash: the completion function driven with COMP_WORDS/COMP_CWORD/COMP_LINE/COMP_POINT as bash
//   sets them (a word split at = and :, as bash does). zsh: compinit, the script sourced (and
//   autoloaded from $fpath), and _kvlog called with words/CURRENT/PREFIX as compsys sets them;
//   compadd and _files, which only work inside a completion widget, are replaced by functions
//   that print what they were given, matched against PREFIX as compadd does. fish: its own
//   engine, `complete -C LINE`.
import { spawn, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startFakeCluster, type FakeCluster } from "../fake/cluster.ts";
import { CLI } from "./run.ts";

const HELPER = fileURLToPath(new URL("../../bin/kubectl_complete-kvlog", import.meta.url));
const SHELLS = ["bash", "zsh", "fish"] as const;
type Shell = (typeof SHELLS)[number];

const COMMANDS = ["set", "capture", "get", "reset", "status", "doctor", "rbac", "completion"];
const COMPONENTS = [
  "kube-apiserver",
  "apiserver",
  "kube-scheduler",
  "scheduler",
  "kube-controller-manager",
  "controller-manager",
  "kcm",
  "cloud-controller-manager",
  "ccm",
  "kubelet",
  "kube-proxy",
  "proxy",
];
const EKS = "arn:aws:eks:eu-west-1:123456789012:cluster/prod";
const CONTEXTS = ["fake", EKS, "dead", "hang"];

let fake: FakeCluster;
let dir: string;
let env: Record<string, string>;
let hang: Server;
const held: Socket[] = [];
const script: Partial<Record<Shell, string>> = {};

function which(cmd: string): string | undefined {
  const r = spawnSync("sh", ["-c", `command -v ${cmd}`], { encoding: "utf8" });
  return r.status === 0 ? r.stdout.trim() : undefined;
}

function needShell(shell: Shell): void {
  if (!which(shell)) throw new Error(`${shell} is not installed; the completion tests run each script in its shell: apt-get install -y zsh fish on Debian (.ci/run installs them), brew install fish on macOS`);
}

/** Runs a process without blocking this one: the simulated cluster answers from this process. */
function run(cmd: string, args: string[], timeoutMs = 20_000): Promise<{ stdout: string; stderr: string; status: number | null; ms: number }> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env, cwd: dir, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`${cmd} ${args.join(" ")} did not finish in ${timeoutMs} ms\nstdout: ${stdout}\nstderr: ${stderr}`));
    }, timeoutMs);
    child.on("error", reject);
    child.on("close", (status) => {
      clearTimeout(timer);
      resolve({ stdout, stderr, status, ms: performance.now() - t0 });
    });
  });
}

/** A line as bash splits it into COMP_WORDS: at blanks, and at = and : (each run its own word). */
function bashWords(line: string): string[] {
  return line.split(" ").flatMap((w, i, all) => (w === "" && i < all.length - 1 ? [] : w.split(/([=:]+)/).filter((p, _, parts) => p !== "" || parts.length === 1)));
}

const BASH_HARNESS = `
source "$1"; line=$2; shift 2
[[ $(complete -p kvlog) == *"-F _kvlog"* && $(complete -p kubectl-kvlog) == *"-F _kvlog"* ]] || { echo "not registered: $(complete -p)" >&2; exit 3; }
COMP_WORDS=("$@"); COMP_CWORD=$(( $# - 1 )); COMP_LINE=$line; COMP_POINT=\${#COMP_LINE}; COMPREPLY=()
t0=$EPOCHREALTIME
_kvlog kvlog "\${COMP_WORDS[COMP_CWORD]}" "\${COMP_WORDS[COMP_CWORD-1]}"
t1=$EPOCHREALTIME
printf '%s\\n' "\${COMPREPLY[@]}"
if [[ -n $t0 ]]; then echo "took-us $(( \${t1/[.,]/} - \${t0/[.,]/} ))"; else echo "took-us -1"; fi
`;

const ZSH_HARNESS = `
mode=$1 file=$2; shift 2
if [[ $mode == fpath ]]; then
  mkdir -p $ZDOTDIR/functions && cp $file $ZDOTDIR/functions/_kvlog && fpath=($ZDOTDIR/functions $fpath)
  autoload -U compinit && compinit -u -D
else
  autoload -U compinit && compinit -u -D
  source $file
fi
[[ $_comps[kvlog] == _kvlog && $_comps[kubectl-kvlog] == _kvlog ]] || { print -u2 "not registered: kvlog=$_comps[kvlog]"; exit 3 }
# compadd as zsh matches: each candidate that starts with PREFIX, inserted after IPREFIX; a
# display string (-d) after a TAB.
compadd() {
  local -a o_d o_S o_a o_l disp m
  zparseopts -D -E d:=o_d S:=o_S a=o_a l=o_l
  local n tab=$'\\t'; local -i i
  if (( $#o_a )); then for n; do m+=("\${(@P)n}"); done; else m=("$@"); fi
  (( $#o_d )) && disp=("\${(@P)o_d[2]}")
  for (( i = 1; i <= $#m; i++ )); do
    [[ \${m[i][1,$#PREFIX]} == "$PREFIX" ]] && print -r -- "$IPREFIX$m[i]\${disp[i]:+$tab$disp[i]}"
  done
  return 0
}
_files() { print -r -- "<files>" }
words=("$@"); CURRENT=$#words; PREFIX=$words[CURRENT]; IPREFIX= SUFFIX=
zmodload zsh/datetime
float t0=$EPOCHREALTIME
_kvlog
integer us=$(( (EPOCHREALTIME - t0) * 1000000 ))
print "took-us $us"
`;

// fish's own completion engine. (date without %N, as on macOS: no time taken here.)
const FISH_HARNESS = `
source $argv[1]
set -l t0 (date +%s%6N)
complete -C $argv[2]
set -l t1 (date +%s%6N)
if string match -qr '^[0-9]+$' -- "$t0"
    echo took-us (math "$t1 - $t0")
else
    echo took-us -1
end
`;

/**
 * What the shell offers for `line` (the word under the cursor is its end): values, descriptions,
 * and how long the completion itself took (measured in the shell, its own start-up aside).
 */
async function offered(shell: Shell, line: string, how: "source" | "fpath" = "source"): Promise<{ values: string[]; descriptions: string[]; ms: number; stderr: string }> {
  needShell(shell);
  let r;
  if (shell === "bash") {
    r = await run("bash", ["--norc", "--noprofile", "-c", BASH_HARNESS, "bash", script.bash!, line, ...bashWords(line)]);
  } else if (shell === "zsh") {
    r = await run("zsh", ["-f", "-c", ZSH_HARNESS, "zsh", how, script.zsh!, ...line.split(" ")]);
  } else {
    r = await run("fish", ["--no-config", "-c", FISH_HARNESS, script.fish!, line]);
  }
  expect(r.status, `${shell} failed for "${line}": ${r.stderr}`).toBe(0);
  const rows = r.stdout.split("\n").filter(Boolean);
  const took = /^took-us (-?\d+)$/.exec(rows.pop() ?? "");
  expect(took, `${shell} printed no time for "${line}": ${r.stdout}`).not.toBeNull();
  // No clock in the shell (bash before 5.0, date without %N): the whole run, the shell's start included.
  const ms = Number(took![1]) < 0 ? r.ms : Number(took![1]) / 1000;
  return { values: rows.map((l) => l.split("\t")[0]!), descriptions: rows.map((l) => l.split("\t")[1] ?? ""), ms, stderr: r.stderr };
}

/** `--context=fake` offered in the same word is the value fake. */
async function values(shell: Shell, line: string): Promise<string[]> {
  return (await offered(shell, line)).values.map((v) => v.replace(/^--[\w-]+=/, ""));
}

// bash, zsh and fish, symlinks and `#!/usr/bin/env node` are what this tests: not on Windows.
describe.skipIf(process.platform === "win32")("completion", () => {
  beforeAll(async () => {
    fake = await startFakeCluster();
    dir = mkdtempSync(join(tmpdir(), "kvlog-completion-"));
    const bin = join(dir, "bin");
    const home = join(dir, "home");
    mkdirSync(bin);
    mkdirSync(home);
    // How users run it: kvlog and kubectl-kvlog on PATH, kubectl_complete-kvlog next to them.
    symlinkSync(CLI, join(bin, "kvlog"));
    symlinkSync(CLI, join(bin, "kubectl-kvlog"));
    symlinkSync(HELPER, join(bin, "kubectl_complete-kvlog"));

    // An apiserver address that accepts connections and never answers, and one nobody listens on.
    hang = createServer((s) => void held.push(s));
    await new Promise<void>((resolve) => hang.listen(0, "127.0.0.1", resolve));
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
    const deadPort = (closed.address() as { port: number }).port;
    await new Promise((resolve) => closed.close(resolve));

    const ca = Buffer.from(fake.caPem).toString("base64");
    const kubeconfig = join(dir, "kubeconfig");
    writeFileSync(
      kubeconfig,
      `apiVersion: v1
kind: Config
clusters:
- name: fake
  cluster:
    server: ${fake.url}
    certificate-authority-data: ${ca}
- name: dead
  cluster: {server: "https://127.0.0.1:${deadPort}", insecure-skip-tls-verify: true}
- name: hang
  cluster: {server: "https://127.0.0.1:${(hang.address() as { port: number }).port}", insecure-skip-tls-verify: true}
users:
- name: admin
  user: {token: ${fake.tokenFor("admin")}}
contexts:
- name: fake
  context: {cluster: fake, user: admin}
- name: "${EKS}"
  context: {cluster: fake, user: admin}
- name: dead
  context: {cluster: dead, user: admin}
- name: hang
  context: {cluster: hang, user: admin}
current-context: fake
  `,
    );
    env = { PATH: `${bin}:${dirname(process.execPath)}:/usr/local/bin:/usr/bin:/bin`, HOME: home, ZDOTDIR: home, XDG_CONFIG_HOME: join(home, ".config"), XDG_DATA_HOME: join(home, ".data"), KUBECONFIG: kubeconfig };

    for (const shell of SHELLS) {
      const r = await run(process.execPath, [CLI, "completion", shell]);
      expect(r.status, r.stderr).toBe(0);
      script[shell] = join(dir, `kvlog.${shell}`);
      writeFileSync(script[shell], r.stdout);
    }
  });

  afterAll(async () => {
    for (const s of held) s.destroy();
    await new Promise((resolve) => hang?.close(resolve));
    await fake?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  describe.each(SHELLS)("%s", (shell) => {
    const offer = async (line: string) => (await offered(shell, line)).values.sort();

    it("kvlog s<TAB>: set and status", async () => {
      expect(await offer("kvlog s")).toEqual(["set", "status"]);
    });

    it("kvlog <TAB>: every command, doctor included, the hidden __complete not", async () => {
      const r = await offered(shell, "kvlog ");
      expect(r.values.sort()).toEqual([...COMMANDS].sort());
      if (shell !== "bash") expect(r.descriptions.join("\n")).toMatch(/set the klog verbosity/);
    });

    it("kvlog set <TAB>: every component name and alias", async () => {
      expect(await offer("kvlog set ")).toEqual([...COMPONENTS].sort());
      expect(await offer("kvlog status kube-")).toEqual(COMPONENTS.filter((c) => c.startsWith("kube-")).sort());
      expect(await offer("kvlog doctor kubelet kube-pr")).toEqual(["kube-proxy"]);
    });

    it("kvlog set kubelet 5 --no<TAB>: --node, --no-record, --no-color", async () => {
      expect(await offer("kvlog set kubelet 5 --no")).toEqual(["--no-color", "--no-record", "--node"]);
      expect(await offer("kvlog get kubelet --no")).toEqual(["--no-color", "--node"]);
    });

    it("-o <TAB>: table, json and wide, also as --output=", async () => {
      expect(await offer("kvlog get kubelet -o ")).toEqual(["json", "table", "wide"]);
      expect(await values(shell, "kvlog status --output=j")).toEqual(["json"]);
    });

    it("kvlog completion <TAB>: the shells; rbac --components: a comma-separated list", async () => {
      expect(await offer("kvlog completion ")).toEqual(["bash", "fish", "zsh"]);
      expect(await values(shell, "kvlog rbac --components kube-proxy,kubel")).toEqual(["kube-proxy,kubelet"]);
    });

    it("--context <TAB>: the kubeconfig's contexts, read without the network", async () => {
      expect(await offer("kvlog set kubelet 5 --context ")).toEqual([...CONTEXTS].sort());
      expect(await values(shell, "kvlog get kubelet --context=d")).toEqual(["dead"]);
      expect(await values(shell, "kvlog get kubelet --context ar")).toEqual([EKS]);
    });

    it("--node <TAB>: the nodes of the cluster the line names", async () => {
      expect(await offer("kvlog set kubelet 5 --node ")).toEqual(["cp-1", "worker-1"]);
      expect(await offer("kvlog set kubelet 5 --context fake --node w")).toEqual(["worker-1"]);
      expect(await values(shell, `kvlog get kube-proxy --context=${EKS} --node=c`)).toEqual(["cp-1"]);
    });

    // Completion gives the node lookup 2 s in all; what it guards against is a TAB that hangs for the
    // 30 s request timeout. The bound (10 s) keeps that apart without failing a busy 2-core machine
    // (a 3 s bound failed there at 3,005 ms: the shell's own start is in the time).
    it("--node <TAB> with the apiserver unreachable: nothing, well before the request timeout", async () => {
      for (const context of ["dead", "hang"]) {
        const r = await offered(shell, `kvlog set kubelet 5 --context ${context} --node `);
        expect(r.values).toEqual([]);
        expect(r.ms).toBeLessThan(10_000);
        expect(r.stderr).toBe("");
      }
    });

    it("--kubeconfig <TAB>: file names", async () => {
      const r = await offered(shell, `kvlog set kubelet 5 --kubeconfig ${dir}/kube`);
      expect(r.values).toEqual(shell === "zsh" ? ["<files>"] : [`${dir}/kubeconfig`]);
    });
  });

  describe("bash", () => {
    it("a context with colons is completed from after the last colon, as bash replaces it", async () => {
      expect((await offered("bash", "kvlog set kubelet 5 --context arn:aws:eks:eu-west-1:1")).values).toEqual(["123456789012:cluster/prod"]);
      expect((await offered("bash", "kvlog set kubelet 5 --context=arn:aws:e")).values).toEqual(["eks:eu-west-1:123456789012:cluster/prod"]);
      expect((await offered("bash", "kvlog set kubelet 5 --context=")).values.sort()).toEqual([...CONTEXTS].sort());
    });
  });

  describe("zsh", () => {
    it("installed as _kvlog in $fpath: autoloaded by compinit", async () => {
      expect((await offered("zsh", "kvlog s", "fpath")).values.sort()).toEqual(["set", "status"]);
      expect((await offered("zsh", "kvlog set kubelet 5 --node ", "fpath")).values.sort()).toEqual(["cp-1", "worker-1"]);
    });
  });

  describe("fish", () => {
    it("kubectl-kvlog completes as kvlog", async () => {
      expect((await offered("fish", "kubectl-kvlog set sch")).values).toEqual(["scheduler"]);
    });
  });

  describe("the scripts come from the command definitions", () => {
    it("every command's flags, as its --help lists them, are offered", async () => {
      const help = (await run(process.execPath, [CLI, "--help"])).stdout;
      const commands = [...help.split("Commands:")[1]!.split("\n\n")[0]!.matchAll(/^ {2}(\w+)/gm)].map((m) => m[1]!);
      expect(commands.sort()).toEqual([...COMMANDS].sort());
      for (const command of commands) {
        const usage = (await run(process.execPath, [CLI, command, "--help"])).stdout;
        const flags = [...usage.matchAll(/^ {2}(?:(-\w), )?(--[\w-]+)/gm)].flatMap((m) => (m[1] ? [m[1], m[2]!] : [m[2]!]));
        expect((await offered("bash", `kvlog ${command} -`)).values.sort(), command).toEqual(flags.sort());
      }
    });

    it("kvlog completion SHELL (like --help, a usage error and rbac) runs none of the network code; completing node names does", async () => {
      // One bundled file (bin/build.mjs): a command's run and the network code under it are
      // evaluated only when called. node:tls is required by that code alone (src/credentials.ts,
      // src/dispatch.ts, src/proxy.ts), so whether the process loaded it tells which ran.
      const hook = join(dir, "trace-tls.mjs");
      writeFileSync(hook, `process.on("exit", () => process.stderr.write("tls loaded: " + process.moduleLoadList.includes("NativeModule tls") + "\\n"));\n`);
      for (const args of [...SHELLS.map((s) => ["completion", s]), ["--help"], ["set", "--help"], ["set", "nosuch", "3"], ["rbac"]]) {
        const r = await run(process.execPath, ["--import", hook, CLI, ...args]);
        expect(r.stderr, args.join(" ")).toMatch(/tls loaded: false\n$/);
      }
      // Completing what the definitions know (a flag, a component) runs none of it either.
      for (const words of [["set", "kubelet", "5", "--n"], ["set", ""], ["get", "kubelet", "--context", ""]]) {
        const r = await run(process.execPath, ["--import", hook, CLI, "__complete", ...words]);
        expect(r.stderr, words.join(" ")).toMatch(/tls loaded: false\n$/);
      }
      expect((await run(process.execPath, ["--import", hook, CLI, "__complete", "set", "--node", ""])).stderr).toMatch(/tls loaded: true\n$/);
    });

    it("an unknown shell is a usage error", async () => {
      const r = await run(process.execPath, [CLI, "completion", "tcsh"]);
      expect(r.status).toBe(2);
      expect(r.stderr).toMatch(/^kvlog: .*tcsh.*bash, zsh, fish/);
    });
  });

  describe("kvlog __complete", () => {
    it("--node: the cluster's names, one a line, then :4; none on any error, well before the request timeout", async () => {
      expect((await run(process.execPath, [CLI, "__complete", "set", "kubelet", "5", "--node", ""])).stdout).toBe("cp-1\nworker-1\n:4\n");
      expect((await run(process.execPath, [CLI, "__complete", "get", "kubelet", "--context", "fake", "--kubeconfig", env.KUBECONFIG!, "--node", ""])).stdout).toBe("cp-1\nworker-1\n:4\n");
      for (const args of [["--context", "hang"], ["--context", "nope"], ["--kubeconfig", join(dir, "missing")]]) {
        const r = await run(process.execPath, [CLI, "__complete", "set", ...args, "--node", ""]);
        expect([r.status, r.stdout, r.stderr]).toEqual([0, ":4\n", ""]);
        expect(r.ms).toBeLessThan(10_000);
      }
    });

    it("--context: the kubeconfig's contexts; none from a file that is not there", async () => {
      expect((await run(process.execPath, [CLI, "__complete", "status", "--context", ""])).stdout).toBe(CONTEXTS.map((c) => `${c}\n`).join("") + ":4\n");
      expect((await run(process.execPath, [CLI, "__complete", "status", "--kubeconfig", join(dir, "missing"), "--context", ""])).stdout).toBe(":4\n");
    });

    it("--help, --version and -h among the words are words to complete, not flags to obey", async () => {
      expect((await run(process.execPath, [CLI, "__complete", "--he"])).stdout).toBe("--help\tshow help\n:4\n");
      expect((await run(process.execPath, [CLI, "__complete", "set", "-h", "--version", "kubel"])).stdout).toBe("kubelet\n:4\n");
    });
  });

  describe("kubectl_complete-kvlog (kubectl 1.26+ plugin completion)", () => {
    const complete = (...words: string[]) => run(join(dir, "bin", "kubectl_complete-kvlog"), words);
    const lines = async (...words: string[]) =>
      (await complete(...words)).stdout
        .split("\n")
        .filter(Boolean)
        .map((l) => l.split("\t")[0]);

    it("candidates one a line, value TAB description, then :<directive>", async () => {
      const r = await complete("s");
      expect(r.status).toBe(0);
      expect(r.stdout).toMatch(/^set\tset the klog verbosity[^\n]*\nstatus\t[^\n]+\n:4\n$/);
      expect(await lines("")).toEqual([...COMMANDS, ":4"]);
    });

    it("the same slots as the shells: components, flags, -o, contexts, nodes, files", async () => {
      expect(await lines("set", "")).toEqual([...COMPONENTS, ":4"]);
      expect(await lines("set", "kubelet", "5", "--no")).toEqual(["--no-record", "--node", "--no-color", ":4"]);
      expect(await lines("get", "kubelet", "-o", "")).toEqual(["table", "json", "wide", ":4"]);
      expect(await lines("set", "--context", "")).toEqual([...CONTEXTS, ":4"]);
      expect(await lines("set", "--context=f")).toEqual(["--context=fake", ":4"]);
      expect(await lines("set", "kubelet", "5", "--context", "fake", "--node", "")).toEqual(["cp-1", "worker-1", ":4"]);
      expect(await lines("set", "--kubeconfig", "")).toEqual([":0"]); // no candidates: the shell completes file names
      expect(await lines("rbac", "--components", "kubelet,kube-p")).toEqual(["kubelet,kube-proxy", ":6"]); // 2|4: no space after
      // Words that are kvlog's or commander's own flags are words to complete, not flags to obey.
      expect(await lines("--vers")).toEqual(["--version", ":4"]);
      expect(await lines("set", "--", "--help")).toEqual([":4"]);
    });

    it("an unreachable apiserver: no nodes, well before the request timeout", async () => {
      const r = await complete("set", "kubelet", "5", "--context", "hang", "--node", "");
      expect([r.stdout, r.stderr]).toEqual([":4\n", ""]);
      expect(r.ms).toBeLessThan(10_000);
    });

    // The round trip through kubectl itself (`kubectl __complete kvlog ...`) is in the e2e suite,
    // which always has the kubectl built for the local cluster (test/e2e/completion.e2e.test.ts).
  });
});

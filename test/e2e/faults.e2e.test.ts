// End-to-end faults on the real local cluster (issue 12, "Faults on the real local cluster"):
// a component that stops answering (SIGSTOP) and one that is gone (killed) behind a
// port-forward, a kubelet that is down behind the node proxy, an apiserver replica killed and
// restarted in the middle of a fleet run, etcd paused while kvlog lists nodes, and a pod
// deleted between discovery and the port-forward. For each: the outcome of the target that
// meets the fault, the other targets unaffected, the exit code, kvlog's run time against an
// explicit bound, and the cluster put back as it was (SIGCONT what was stopped; what was
// killed started again with the command line, environment and namespaces the harness gave
// it, through the harness's own `launch`, and waited for until healthy).
//
// Local cluster only (`npm run cluster:up`): faults are made by signalling its processes.
// Run it holding the cluster lock, e.g.
//   flock -o /tmp/kvlog-e2e.lock npm run test:e2e --silent -- test/e2e/faults.e2e.test.ts
// (`-o`: the lock is not inherited by what runs under it; a restarted component could
// otherwise keep holding it. `relaunch` closes inherited descriptors anyway.)

import { execFile, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { existsSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, statSync, writeFileSync } from "node:fs";
import https from "node:https";
import { connect, type AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { kvlog, type CliRun } from "../integration/run.ts";
import { kvlogIdentity, readmeRoles } from "./identities.ts";
import { logMark, logSince, V5_PATHRECORDER } from "./logs.ts";

const exec = promisify(execFile);
const STATE = process.env.KVLOG_E2E_DIR ?? "/tmp/kvlog-e2e";
const LOCAL = !process.env.KVLOG_E2E_KUBECONFIG && existsSync(`${STATE}/cluster.json`);
const ADMIN = `${STATE}/admin.kubeconfig`;
const LIB_SH = new URL("./cluster/lib.sh", import.meta.url).pathname;
const NS = "kvlog-e2e";
const KVLOG_USER = `system:serviceaccount:${NS}:kvlog`;
/** Time to start node and kvlog, discover and print, on top of a fault's own wait (2 busy cores). */
const SLACK_MS = 3000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const cluster = (): any => JSON.parse(readFileSync(`${STATE}/cluster.json`, "utf8"));
let kubectlBin = "kubectl";
let kubeconfig = "";
const tokens: string[] = [];
/** What each fault measured, printed at the end (the closing note wants the numbers). */
const numbers: string[] = [];

async function kubectl(args: string[], input?: string): Promise<string> {
  const child = exec(kubectlBin, ["--kubeconfig", ADMIN, ...args], { maxBuffer: 64 * 1024 * 1024 });
  if (input !== undefined) child.child.stdin?.end(input);
  return (await child).stdout;
}

async function until<T>(what: string, fn: () => Promise<T | undefined | false>, ms = 60_000, every = 250): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn().catch(() => undefined);
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(every);
  }
}

// ---- kvlog, timed --------------------------------------------------------------------------

interface Timed extends CliRun {
  ms: number;
  doc: any;
}

function check(r: CliRun): void {
  for (const t of tokens) expect(r.stdout + r.stderr, "a token leaked into the output").not.toContain(t);
}

function parse(r: CliRun, ms: number): Timed {
  check(r);
  let doc: any;
  try {
    doc = r.stdout ? JSON.parse(r.stdout) : undefined;
  } catch {
    doc = undefined;
  }
  return Object.assign(r, { ms, doc });
}

async function run(args: string[], limitMs = 120_000): Promise<Timed> {
  const t0 = Date.now();
  const r = await kvlog(args, { KUBECONFIG: kubeconfig }, limitMs);
  return parse(r, Date.now() - t0);
}

/** kvlog in the background: its process (to find its sockets or signal it) and its timed result. */
function start(args: string[], limitMs = 240_000): { child: Promise<ChildProcess>; done: Promise<Timed> } {
  let give!: (c: ChildProcess) => void;
  const child = new Promise<ChildProcess>((r) => (give = r));
  const t0 = Date.now();
  const done = kvlog(args, { KUBECONFIG: kubeconfig }, limitMs, give).then((r) => parse(r, Date.now() - t0));
  return { child, done };
}

const result = (doc: any, id: string): any => doc.results.find((x: any) => x.id === id);

// ---- the cluster's processes ----------------------------------------------------------------

/** The pid the harness wrote for a component (pid = its process group), checked to be ours and alive. */
function pidOf(name: string): number {
  const pid = Number(readFileSync(`${STATE}/pids/${name}.pid`, "utf8").trim());
  const env = readFileSync(`/proc/${pid}/environ`, "utf8").split("\0");
  expect(env, `${name} (pid ${pid}) is not a process of the harness`).toContain(`KVLOG_E2E_TAG=kvlog-e2e:${STATE}`);
  return pid;
}

/** R, S, D… or T when stopped; undefined once the process is gone. */
function procState(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[0];
  } catch {
    return undefined;
  }
}

/** Processes this file stopped: SIGCONT on the way out (a failed test, a worker that exits early; not SIGKILL). */
const stopped = new Set<number>();
process.on("exit", () => {
  for (const pid of stopped) {
    try {
      process.kill(pid, "SIGCONT");
    } catch {
      // gone
    }
  }
});

function stop(pid: number): void {
  stopped.add(pid);
  process.kill(pid, "SIGSTOP");
}

function resume(pid: number): void {
  process.kill(pid, "SIGCONT");
  stopped.delete(pid);
}

async function waitRunning(pid: number, what: string): Promise<void> {
  await until(`${what} (pid ${pid}) running again`, async () => procState(pid) !== undefined && procState(pid) !== "T", 5000, 50);
}

/** How the harness started a process (lib.sh's launch): what is needed to start it again the same way. */
interface Launched {
  name: string;
  pid: number;
  argv: string[];
  env: Record<string, string>;
  /** launch's options: --netns NODE, --hostname NAME. */
  opts: string[];
}

function inode(path: string): number {
  return statSync(path).ino;
}

/** Reads the command line, environment and namespaces of a running harness process (before killing it). */
async function captured(name: string): Promise<Launched> {
  const pid = pidOf(name);
  const argv = readFileSync(`/proc/${pid}/cmdline`, "utf8").replace(/\0$/, "").split("\0");
  const env = Object.fromEntries(
    readFileSync(`/proc/${pid}/environ`, "utf8")
      .split("\0")
      .filter((kv) => kv.includes("="))
      .map((kv) => [kv.slice(0, kv.indexOf("=")), kv.slice(kv.indexOf("=") + 1)]),
  );
  const opts: string[] = [];
  const ns = (kind: string, p: number) => readlinkSync(`/proc/${p}/ns/${kind}`);
  if (ns("net", pid) !== ns("net", process.pid)) {
    const netns = readdirSync("/run/netns").find((n) => inode(`/run/netns/${n}`) === inode(`/proc/${pid}/ns/net`));
    expect(netns, `${name} runs in a network namespace that /run/netns does not name`).toBeDefined();
    opts.push("--netns", netns!);
  }
  if (ns("uts", pid) !== ns("uts", process.pid)) {
    opts.push("--hostname", (await exec("nsenter", ["--target", String(pid), "--uts", "hostname"])).stdout.trim());
  }
  // Private mounts (the kubelets') are not read back here: this file never kills a kubelet.
  expect(ns("mnt", pid), `${name} has private mounts; relaunch does not know them`).toBe(ns("mnt", process.pid));
  return { name, pid, argv, env, opts };
}

async function kill(p: Launched): Promise<void> {
  process.kill(p.pid, "SIGKILL");
  await until(`${p.name} (pid ${p.pid}) gone`, async () => procState(p.pid) === undefined || procState(p.pid) === "Z", 10_000, 50);
}

/**
 * Starts a killed component again through the harness's own `launch` (lib.sh): the same
 * command line and environment, network namespace and hostname, log and pid file. Descriptors
 * above 2 are closed first: whatever this process inherited (the cluster lock, when the suite
 * runs under `flock` without -o) must not live on in a cluster process.
 */
async function relaunch(p: Launched): Promise<number> {
  const script = `
    for f in /proc/$$/fd/*; do n=\${f##*/}; [ "$n" -gt 2 ] && eval "exec $n>&-" 2>/dev/null; done
    . "$1"; name=$2; shift 2
    opts=(); while [ "$1" != -- ]; do opts+=("$1"); shift; done; shift
    rm -f "$PIDS/$name.pid"
    launch "$name" "\${opts[@]}" -- "$@"`;
  const env: Record<string, string> = { ...p.env, KVLOG_E2E_DIR: STATE };
  delete env.KVLOG_E2E_TAG; // launch sets it, from KVLOG_E2E_DIR
  await exec("bash", ["-c", script, "relaunch", LIB_SH, p.name, ...p.opts, "--", ...p.argv], { env });
  // launch returns once the pid file is written, which exec-in.sh does first, before its chain of
  // execs (unshare, nsenter, the component): read in the middle of one, /proc/PID/environ is
  // empty. Wait until the process shows the harness's tag (seen once in .ci/run on 1.30.14).
  const written = Number(readFileSync(`${STATE}/pids/${p.name}.pid`, "utf8").trim());
  await until(`${p.name} (pid ${written}) running with the harness's environment`, async () => readFileSync(`/proc/${written}/environ`, "utf8").includes(`KVLOG_E2E_TAG=kvlog-e2e:${STATE}`), 5000, 20);
  const pid = pidOf(p.name);
  expect(pid).not.toBe(p.pid);
  const held = readdirSync(`/proc/${pid}/fd`).map((fd) => {
    try {
      return readlinkSync(`/proc/${pid}/fd/${fd}`);
    } catch {
      return "";
    }
  });
  expect(held.filter((f) => f.endsWith(".lock")), `${p.name} inherited a lock`).toEqual([]);
  return pid;
}

async function inNode(node: string, args: string[]): Promise<string> {
  return (await exec("nsenter", [`--net=/run/netns/${node}`, "--", ...args], { timeout: 10_000 })).stdout;
}

async function apiserverReady(url: string): Promise<boolean> {
  const pki = `${STATE}/pki`;
  await exec("curl", ["-fsS", "--max-time", "3", "--cacert", `${pki}/ca.crt`, "--cert", `${pki}/admin.crt`, "--key", `${pki}/admin.key`, `${url}/readyz`]);
  return true;
}

async function podReady(selector: string, node: string): Promise<string | undefined> {
  const pods = JSON.parse(await kubectl(["-n", "kube-system", "get", "pods", "-l", selector, "--field-selector", `spec.nodeName=${node}`, "-o", "json"])).items;
  const p = pods.length === 1 ? pods[0] : undefined;
  const ready = p?.status?.phase === "Running" && p.status.conditions?.some((c: any) => c.type === "Ready" && c.status === "True") && !p.metadata.deletionTimestamp;
  return ready ? p.metadata.name : undefined;
}

/** Every process in the harness's pid files alive and not stopped: the cluster as the next file expects it. */
function allRunning(): void {
  for (const f of readdirSync(`${STATE}/pids`).filter((f) => f.endsWith(".pid"))) {
    const name = f.replace(/\.pid$/, "");
    const pid = pidOf(name);
    expect(procState(pid), `${name} (pid ${pid})`).toMatch(/^[RSD]$/);
  }
}

// ---- sockets (ss) ---------------------------------------------------------------------------

interface Sock {
  local: string;
  peer: string;
  proc: string;
  pid: number;
}

async function sockets(state: string, filter: string, netns?: string): Promise<Sock[]> {
  const ss = ["ss", "-Htnp", "state", state, filter];
  // A replica on a node (cluster.json apiservers[].node) runs in that node's netns.
  const out = (netns ? await exec("nsenter", [`--net=/run/netns/${netns}`, "--", ...ss]) : await exec(ss[0]!, ss.slice(1))).stdout;
  return out
    .split("\n")
    .map((l) => /(\S+:\d+)\s+(\S+:\d+)\s+users:\(\("([^"]+)",pid=(\d+)/.exec(l))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => ({ local: m[1]!, peer: m[2]!, proc: m[3]!, pid: Number(m[4]) }));
}

/** haproxy's connections to the apiserver replicas (TCP mode: one per client connection). */
async function haproxyBackends(): Promise<Sock[]> {
  return (await sockets("established", "( dport = :6443 )")).filter((s) => s.proc === "haproxy");
}

/**
 * haproxy takes every replica again: the last state change it logged for each server is UP
 * (it logs only changes; a replica whose /readyz failed twice is DOWN until it passes twice).
 */
async function haproxyAllUp(): Promise<void> {
  const lb = cluster().loadBalancer;
  const names: string[] = cluster().apiservers.map((a: any) => a.name);
  await sleep(3000); // a check under way when the replica came back (every 2 s) is logged first
  await until("haproxy sending to every replica (its last state change for each is UP)", async () => {
    const lines = readFileSync(lb.log, "utf8").split("\n");
    return names.every((n) => {
      const last = lines.filter((l) => l.includes(`Server kube-apiserver/${n} is `)).pop();
      return last === undefined || / is UP/.test(last);
    });
  }, 30_000, 500);
}

/**
 * kvlog's record (kube-system/kvlog-<component>): the faults' runs write to it like any run;
 * it is put back as it was at the start, so no file after this one finds changes of this one's.
 */
const RECORDS = ["kube-apiserver", "kube-scheduler", "kube-controller-manager", "cloud-controller-manager", "kubelet", "kube-proxy"].map((c) => `kvlog-${c}`);
const savedRecords = new Map<string, any>();

async function saveRecords(): Promise<void> {
  for (const name of RECORDS) {
    const out = await kubectl(["-n", "kube-system", "get", "configmap", name, "--ignore-not-found", "-o", "json"]);
    savedRecords.set(name, out.trim() ? JSON.parse(out) : null);
  }
}

async function restoreRecords(): Promise<void> {
  for (const [name, cm] of savedRecords) {
    await kubectl(["-n", "kube-system", "delete", "configmap", name, "--ignore-not-found"]);
    if (cm === null) continue;
    const { name: n, namespace, labels, annotations } = cm.metadata;
    await kubectl(["create", "-f", "-"], JSON.stringify({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: n, namespace, labels, annotations }, data: cm.data ?? {} }));
  }
}

// ---- set-up ---------------------------------------------------------------------------------

async function setUp(): Promise<void> {
  const env = readFileSync(`${STATE}/env`, "utf8");
  kubectlBin = `${/^K8S_BIN=(.*)$/m.exec(env)![1]}/kubectl`;
  allRunning();
  // The README's roles bound to kvlog-e2e/kvlog, as the other e2e files do: kvlog runs as
  // the least-privilege identity users are told to grant.
  await kubectl(["apply", "-f", "-"], readmeRoles());
  await kubectl(["apply", "-f", "-"], kvlogIdentity(NS));
  await saveRecords();
  const token = (await kubectl(["-n", NS, "create", "token", "kvlog", "--duration=1h"])).trim();
  tokens.push(token);
  const c = JSON.parse(await kubectl(["config", "view", "--raw", "--minify", "-o", "json"])).clusters[0];
  kubeconfig = `${STATE}/faults-kvlog.kubeconfig`;
  writeFileSync(
    kubeconfig,
    JSON.stringify({ apiVersion: "v1", kind: "Config", clusters: [{ name: "e2e", cluster: c.cluster }], users: [{ name: "kvlog", user: { token } }], contexts: [{ name: "kvlog", context: { cluster: "e2e", user: "kvlog" } }], "current-context": "kvlog" }),
    { mode: 0o600 },
  );
}

async function tearDown(): Promise<void> {
  for (const pid of stopped) resume(pid);
  if (savedRecords.size) await restoreRecords();
  if (kubeconfig) rmSync(kubeconfig, { force: true });
  allRunning();
  if (numbers.length) console.log(`faults: run time against bound\n  ${numbers.join("\n  ")}`);
}

/** The fleet fault needs a second replica and a fleet big enough for several rounds of 64 (the default cluster: 2, 1,200). */
const HA_FLEET = LOCAL && cluster().apiservers.length >= 2 && cluster().fleet.count >= 256;

const SCHEDULER = "kube-scheduler/kube-system/kube-scheduler-kvlog-node-1";
const KCM = "kube-controller-manager/kube-system/kube-controller-manager-kvlog-node-1";

async function schedulerHealthy(): Promise<void> {
  await until("kube-scheduler /healthz on 127.0.0.1:10259 in kvlog-node-1", async () => (await inNode("kvlog-node-1", ["curl", "-fsSk", "--max-time", "2", "https://127.0.0.1:10259/healthz"])) === "ok");
  await until("mirror pod kube-scheduler-kvlog-node-1 Ready", () => podReady("component=kube-scheduler", "kvlog-node-1"));
}

describe.skipIf(!LOCAL)("faults on the real local cluster", () => {
  beforeAll(setUp, 120_000);
  afterAll(tearDown, 120_000);

  it("kube-scheduler stopped (SIGSTOP) behind the port-forward: timeout within --request-timeout; the controller-manager, set meanwhile, is unaffected", async () => {
    const pid = pidOf("kube-scheduler");
    const boundMs = 5000 + SLACK_MS;
    stop(pid);
    let sched: Timed, kcm: Timed, cut: Timed;
    try {
      // At once: the controller-manager is set while the scheduler does not answer; and --timeout
      // 3s ends a run at 3 s although --request-timeout is 60 s (issue 20), through the tunnel too.
      [sched, kcm, cut] = await Promise.all([
        run(["set", "scheduler", "1", "--request-timeout", "5s", "-o", "json"]),
        run(["set", "kcm", "1", "--request-timeout", "5s", "-o", "json"]),
        run(["set", "scheduler", "1", "--timeout", "3s", "--request-timeout", "60s", "-o", "json"]),
      ]);
    } finally {
      resume(pid);
    }
    await waitRunning(pid, "kube-scheduler");
    numbers.push(`scheduler SIGSTOP: timeout after ${result(sched.doc, SCHEDULER)?.durationMs} ms, run ${sched.ms} ms, bound ${boundMs} ms`);

    expect(sched.code, sched.stderr).toBe(1);
    expect(result(sched.doc, SCHEDULER)).toMatchObject({ outcome: "timeout", ok: false, httpStatus: null, attempts: 1, message: expect.stringMatching(/did not answer within 5000 ms/) });
    // Timeouts are not tried again: one wait of --request-timeout, not three.
    expect(result(sched.doc, SCHEDULER).durationMs).toBeGreaterThanOrEqual(5000);
    expect(result(sched.doc, SCHEDULER).durationMs).toBeLessThan(6000);
    expect(sched.ms, `kvlog took ${sched.ms} ms`).toBeLessThan(boundMs);

    expect(kcm.code, kcm.stderr).toBe(0);
    expect(result(kcm.doc, KCM)).toMatchObject({ outcome: "set", attempts: 1 });
    expect(kcm.ms).toBeLessThan(boundMs);
    expect(result(kcm.doc, KCM).durationMs).toBeLessThan(2000);

    numbers.push(`scheduler SIGSTOP, --timeout 3s --request-timeout 60s: run ${cut.ms} ms, bound ${3000 + SLACK_MS} ms`);
    expect(cut.code, cut.stderr).toBe(1);
    // The tunnel opens (the kernel accepts on the stopped process's socket), but the TLS handshake
    // inside it needs the scheduler to answer: the PUT is never sent, so the level is unchanged.
    expect(result(cut.doc, SCHEDULER)).toMatchObject({ outcome: "interrupted", ok: false, attempts: 0, message: "--timeout 3s passed before the PUT was sent (its level is unchanged)" });
    expect(cut.ms, `kvlog took ${cut.ms} ms`).toBeLessThan(3000 + SLACK_MS);

    // Put back: it answers again.
    const again = await run(["set", "scheduler", "1", "--request-timeout", "10s", "-o", "json"]);
    expect(result(again.doc, SCHEDULER)?.outcome, again.stderr).toBe("set");
  });

  /** The runs against the killed scheduler (several: what kvlog reports depends on a race, below). */
  const killed: Timed[] = [];
  const KILLED_RUNS = 5;

  it("kube-scheduler gone (killed): the port-forward's refusal fails fast, exit 1, nothing set; started again as up.sh starts it, set works again", async () => {
    const boundMs = 5000 + SLACK_MS;
    const p = await captured("kube-scheduler");
    expect(p.opts).toEqual(["--netns", "kvlog-node-1"]);
    expect(p.argv[0]).toMatch(/\/kube-scheduler$/);
    await kill(p);
    try {
      for (let i = 0; i < KILLED_RUNS; i++) killed.push(await run(["set", "scheduler", "1", "--request-timeout", "5s", "-o", "json"]));
    } finally {
      await relaunch(p);
      await schedulerHealthy();
    }
    const seen = killed.map((k) => result(k.doc, SCHEDULER)).map((r) => `${r?.outcome}/${r?.attempts} tries/${r?.errorCode}/${r?.durationMs} ms`);
    numbers.push(`scheduler killed, ${KILLED_RUNS} runs (outcome/tries/errorCode/duration): ${seen.join(", ")}; message "${result(killed[0]!.doc, SCHEDULER)?.message}"; runs ${killed.map((k) => k.ms).join(", ")} ms, bound ${boundMs} ms`);
    for (const k of killed) {
      const r = result(k.doc, SCHEDULER);
      expect(k.code, k.stderr).toBe(1);
      expect(r).toMatchObject({ ok: false, httpStatus: null });
      expect(r.outcome).not.toBe("timeout"); // a refusal is an answer: no waiting it out
      expect(r.durationMs).toBeLessThan(5000);
      expect(k.ms, `kvlog took ${k.ms} ms`).toBeLessThan(boundMs);
      expect(k.stderr).toMatch(/1 of 1 target\(s\) failed, 0 set/);
    }

    const again = await run(["set", "scheduler", "1", "--request-timeout", "10s", "-o", "json"]);
    expect(again.code, again.stderr).toBe(0);
    expect(result(again.doc, SCHEDULER)).toMatchObject({ outcome: "set", attempts: 1 });
  });

  // The kubelet's error frame ("error forwarding port 10259 … dial tcp 127.0.0.1:10259: connect:
  // connection refused", channel 1) and the close frame arrive within a few milliseconds of the
  // WebSocket opening, often before kvlog's first write into the tunnel (the TLS ClientHello).
  // kvlog once failed that write with a bare "port-forward tunnel is closed" (outcome `error`,
  // not tried again); it now waits for the close and fails with the kubelet's words, so every
  // run is `connection-refused` after 3 tries. Checked on several runs, so that a lucky run
  // cannot make this pass.
  it("kube-scheduler gone (killed): connection-refused, tried 3 times, on every run", () => {
    expect(killed, "the runs above did not happen").toHaveLength(KILLED_RUNS);
    for (const k of killed) expect(result(k.doc, SCHEDULER)).toMatchObject({ outcome: "connection-refused", attempts: 3 });
  });

  it("a kubelet that is down (SIGSTOP on kvlog-node-2): that node times out behind the node proxy, kvlog-node-1 is set, exit 1", async () => {
    const pid = pidOf("kubelet-kvlog-node-2");
    const boundMs = 5000 + SLACK_MS;
    let r: Timed, cut: Timed;
    stop(pid);
    try {
      // Also at once: --timeout 3s ends that run at 3 s although --request-timeout is 60 s (issue 20).
      [r, cut] = await Promise.all([
        run(["set", "kubelet", "1", "--node", "kvlog-node-1,kvlog-node-2", "--request-timeout", "5s", "-o", "json"]),
        run(["set", "kubelet", "1", "--node", "kvlog-node-1,kvlog-node-2", "--timeout", "3s", "--request-timeout", "60s", "-o", "json"]),
      ]);
    } finally {
      resume(pid);
    }
    await waitRunning(pid, "kubelet-kvlog-node-2");
    const down = result(r.doc, "kubelet/kvlog-node-2");
    numbers.push(`kubelet SIGSTOP: ${down?.outcome} (${down?.durationMs} ms, HTTP ${down?.httpStatus}), run ${r.ms} ms, bound ${boundMs} ms`);
    expect(r.code, r.stderr).toBe(1);
    expect(result(r.doc, "kubelet/kvlog-node-1")).toMatchObject({ outcome: "set", ok: true, attempts: 1 });
    expect(["timeout", "unreachable"]).toContain(down.outcome);
    expect(down).toMatchObject({ ok: false, skipped: false, via: "node-proxy" });
    // The node proxy's 502/503 is not tried again, nor is a timeout.
    expect(down.attempts).toBe(1);
    expect(down.durationMs).toBeLessThan(6000);
    expect(r.ms, `kvlog took ${r.ms} ms`).toBeLessThan(boundMs);
    numbers.push(`kubelet SIGSTOP, --timeout 3s --request-timeout 60s: run ${cut.ms} ms, bound ${3000 + SLACK_MS} ms`);
    expect(cut.code, cut.stderr).toBe(1);
    expect(result(cut.doc, "kubelet/kvlog-node-1")).toMatchObject({ outcome: "set", ok: true });
    // The PUT reached the apiserver whole; the kubelet behind it may or may not have acted on it.
    expect(result(cut.doc, "kubelet/kvlog-node-2")).toMatchObject({ outcome: "interrupted", ok: false, message: expect.stringMatching(/^--timeout 3s passed while kvlog waited for the answer: the PUT was sent, so the change may have been applied$/) });
    expect(cut.ms, `kvlog took ${cut.ms} ms`).toBeLessThan(3000 + SLACK_MS);

    // Put back: the kubelet answers again.
    await until("kvlog-node-2's kubelet answering through the node proxy", async () => (await kubectl(["get", "--raw", "/api/v1/nodes/kvlog-node-2/proxy/healthz"])) === "ok", 30_000);
    const again = await run(["set", "kubelet", "1", "--node", "kvlog-node-2", "--request-timeout", "10s", "-o", "json"]);
    expect(result(again.doc, "kubelet/kvlog-node-2")?.outcome, again.stderr).toBe("set");
  });

  it.skipIf(!HA_FLEET)(
    "apiserver replica 2 killed and started again in the middle of a fleet run: every target reported, the reset requests tried again through the other replica, both real kubelets set",
    async () => {
      const fleet = cluster().fleet.count as number;
      const replica = cluster().apiservers.find((a: any) => a.name === "kube-apiserver-2");
      expect(replica, "the cluster has no second apiserver replica").toBeDefined();
      const total = fleet + 2;
      // Measured (v1.36.3, 1,200 fleet nodes, 2 cores busy with builds): 58.5 s without the
      // fault. Fleet kubelets do not answer (no ARP answer for their addresses), so each of them
      // waits out --request-timeout: ceil(1202 / 64) = 19 rounds of 3 s, plus slack for the
      // replica starting again on the same two cores.
      const boundMs = Math.ceil(total / 64) * 3000 + 20_000;
      const args = ["set", "kubelet", "1", "--include-not-ready", "--request-timeout", "3s", "--concurrency", "64", "-o", "json"];

      // kvlog keeps one (HTTP/2) connection through haproxy, which hands each new connection to
      // the next replica in turn: start kvlog until that connection is on replica 2, so that
      // killing replica 2 cuts requests kvlog has in flight (SIGTERM: a run ends at once).
      let bg: ReturnType<typeof start> | undefined;
      let pid = 0;
      for (let tries = 1; !bg; tries++) {
        expect(tries, "kvlog never landed on replica 2").toBeLessThanOrEqual(4);
        const before = new Set((await haproxyBackends()).map((s) => s.local));
        const attempt = start(args);
        const conn = await until("kvlog's connection through haproxy", async () => (await haproxyBackends()).find((s) => !before.has(s.local)), 15_000, 100);
        if (conn.peer === `${replica.ip}:${replica.port}`) bg = attempt;
        else {
          (await attempt.child).kill("SIGTERM");
          expect((await attempt.done).code).toBe(143);
        }
      }
      pid = pidOf("kube-apiserver-2");
      const p = await captured("kube-apiserver-2");
      expect(p.opts).toEqual([...(replica.node ? ["--netns", replica.node] : []), "--hostname", replica.hostname]);

      // The fan-out runs in rounds of 64 node-proxy requests, each waiting out its 3 s: wait for a
      // round to begin (replica 2 dials 64 new fleet addresses) and kill the replica 0.3 s in,
      // so every request in flight has time left for another try.
      let prev = new Set<string>();
      await until(
        "a new round of node-proxy dials on replica 2",
        async () => {
          const cur = new Set((await sockets("syn-sent", "( dport = :10250 )", replica.node ?? undefined)).filter((s) => s.pid === pid).map((s) => s.local));
          const fresh = [...cur].filter((s) => !prev.has(s)).length;
          const began = prev.size > 0 && fresh >= 32;
          prev = cur;
          return began;
        },
        30_000,
        100,
      );
      await sleep(300);
      const killedAt = Date.now();
      await kill(p);
      // Take the next turn in haproxy's rotation (replica 1's) before kvlog, which waits about
      // 0.3 s before trying again, opens its new connection: that one is then handed to the dead
      // replica 2, refused, and redispatched by haproxy to replica 1 (haproxy retries a refused
      // connect twice, 1 s apart, and redispatches on the last try).
      const before = new Set((await haproxyBackends()).map((s) => s.local));
      const probe = connect(Number(new URL(cluster().loadBalancer.url).port), "127.0.0.1");
      await once(probe, "connect");
      let r: Timed;
      let readyAfter = -1;
      let probeWent = "";
      let kvlogWent = "";
      try {
        const probeConn = await until("the probe's connection through haproxy", async () => (await haproxyBackends()).find((s) => !before.has(s.local)), 2000, 50).catch(() => undefined);
        probeWent = probeConn?.peer ?? "unknown";
        if (probeConn) before.add(probeConn.local);
        // Replica 2 stays down until kvlog's new connection is through: started at once, it
        // listens within a second, before its RBAC caches are filled, and answers the requests
        // haproxy's retry hands it 403 Forbidden ("cannot update nodes/proxy"), which kvlog
        // rightly does not try again (a 4xx). Seen in both runs that started it at once while kvlog's
        // new connection was being handed to it (64 and 75 fleet targets `forbidden`).
        kvlogWent = (await until("kvlog's new connection through haproxy", async () => (await haproxyBackends()).find((s) => !before.has(s.local)), 10_000, 50).catch(() => undefined))?.peer ?? "none within 10 s";
        await relaunch(p);
        const ready = until(`replica 2 ${replica.url}/readyz`, () => apiserverReady(replica.url), 90_000).then(() => (readyAfter = Date.now() - killedAt));
        r = await bg.done;
        await ready;
      } finally {
        probe.destroy();
        await until(`replica 2 ${replica.url}/readyz`, () => apiserverReady(replica.url), 90_000);
        await haproxyAllUp();
      }
      await until("default/kubernetes lists both replicas again", async () => {
        const ep = JSON.parse(await kubectl(["get", "endpoints", "kubernetes", "-o", "json"]));
        const ips = (ep.subsets?.[0]?.addresses ?? []).map((a: any) => a.ip);
        return ips.includes(replica.ip) && ips.length === cluster().apiservers.length;
      });

      const doc = r.doc;
      const retried = doc.results.filter((x: any) => x.attempts > 1);
      const tries = Object.entries(retried.reduce((m: any, x: any) => ((m[`${x.attempts} tries, ${x.outcome}`] = (m[`${x.attempts} tries, ${x.outcome}`] ?? 0) + 1), m), {}));
      const outcomes = Object.entries(doc.results.reduce((m: any, x: any) => ((m[x.outcome] = (m[x.outcome] ?? 0) + 1), m), {}));
      numbers.push(
        `replica 2 killed mid-fleet run (probe after the kill went to ${probeWent}, kvlog's new connection to ${kvlogWent}, replica 2 ready again ${readyAfter} ms after the kill): ${JSON.stringify(outcomes)}, ${retried.length} retried ${JSON.stringify(tries)}, run ${r.ms} ms, bound ${boundMs} ms`,
      );
      // haproxy redispatched kvlog's new connection from the dead replica to replica 1.
      expect(kvlogWent).toBe(`${cluster().apiservers[0].ip}:${cluster().apiservers[0].port}`);
      expect(r.code, r.stderr).toBe(1);
      expect(doc.summary).toEqual({ total, succeeded: 2, failed: fleet, skipped: 0 });
      expect(new Set(doc.results.map((x: any) => x.id)).size).toBe(total);
      for (const n of ["kvlog-node-1", "kvlog-node-2"]) expect(result(doc, `kubelet/${n}`), n).toMatchObject({ outcome: "set", ok: true });
      // The fleet kubelets fail as they always do (they do not answer); none because of the kill.
      const fleetResults = doc.results.filter((x: any) => x.node.startsWith(cluster().fleet.namePrefix));
      expect(fleetResults.filter((x: any) => !["timeout", "unreachable"].includes(x.outcome)).map((x: any) => `${x.id}: ${x.outcome} ${x.message}`)).toEqual([]);
      // The requests the kill cut were tried again (a reset before an answer), within their 3 s.
      expect(retried.length, "no request was tried again after the kill").toBeGreaterThanOrEqual(32);
      for (const x of retried) expect(x.durationMs).toBeLessThan(3500);
      expect(r.ms, `kvlog took ${r.ms} ms`).toBeLessThan(boundMs);
    },
    240_000,
  );

  it("etcd paused (SIGSTOP) while kvlog lists nodes: one line naming the step, exit 1, within the bound", async () => {
    // What really happens (v1.36.3): the list is not served from the watch cache. A list of
    // nodes (limit=500, no resourceVersion) is a consistent read; the cache must first learn
    // etcd's current revision, which a paused etcd never tells, so the list waits until
    // --request-timeout. So does the GET of the record (kube-system/kvlog-kubelet), which set
    // reads first: with it, the run waits twice. etcd is paused for the run only and never
    // near 10 s: kube-scheduler and kube-controller-manager give up their leases and exit when
    // a renewal takes longer than that (renewDeadline).
    const etcd = pidOf("etcd");
    const guardMs = 8000;
    const cases: [args: string[], waits: number][] = [
      // List nodes is the first API call: the record is off.
      [["set", "kubelet", "1", "--request-timeout", "4s", "--no-record"], 4000],
      // With the record: its read times out first (kvlog goes on without it), then the list.
      [["set", "kubelet", "1", "--request-timeout", "2s"], 2 * 2000],
    ];
    for (const [args, waitMs] of cases) {
      const boundMs = waitMs + SLACK_MS;
      const leaders = [pidOf("kube-scheduler"), pidOf("kube-controller-manager")];
      let r: Timed;
      stop(etcd);
      const guard = setTimeout(() => resume(etcd), guardMs);
      try {
        r = await run(args);
      } finally {
        clearTimeout(guard);
        resume(etcd);
      }
      await waitRunning(etcd, "etcd");
      for (const a of cluster().apiservers) await until(`${a.url}/readyz`, () => apiserverReady(a.url), 30_000);
      await haproxyAllUp();
      numbers.push(`etcd SIGSTOP (${args.slice(3).join(" ")}): exit ${r.code}, "${r.stderr.trim()}", run ${r.ms} ms, bound ${boundMs} ms`);
      expect(r.code, r.stderr).toBe(1);
      expect(r.stdout).toBe("");
      expect(r.stderr.trim().split("\n"), r.stderr).toHaveLength(1);
      expect(r.stderr).toMatch(/^kvlog: cannot reach the apiserver at https:\/\/127\.0\.0\.1:6443 to list nodes: timed out/);
      expect(r.ms, `kvlog took ${r.ms} ms`).toBeLessThan(boundMs);
      expect(r.ms).toBeLessThan(guardMs);
      // The control plane lived through the pause.
      await sleep(2000);
      for (const l of leaders) expect(procState(l), `pid ${l} exited after the etcd pause`).toMatch(/^[RSD]$/);
    }
    // Put back: the same command works.
    const again = await run(["set", "kubelet", "1", "--request-timeout", "10s", "-o", "json"]);
    expect(again.code, again.stderr).toBe(0);
  });

  it("a pod deleted between discovery and the port-forward: missing (404), its DaemonSet's replacement untouched", async () => {
    // The deletion is put exactly there by the apiserver itself: a validating admission webhook
    // on CONNECT pods/portforward (admission runs before the apiserver looks the pod up to
    // open the tunnel) that, for kvlog's request to this pod only, force-deletes the pod and
    // answers only once the pod is gone. Nothing is timed by guesswork.
    const node = "kvlog-node-1"; // its kube-proxy has profiling on: /debug/flags/v is served
    const selector = "k8s-app=kube-proxy";
    const pod = await until(`kube-proxy pod on ${node} Ready`, () => podReady(selector, node));
    const base = await run(["set", "kube-proxy", "1", "--node", node, "-o", "json"]);
    expect(result(base.doc, `kube-proxy/kube-system/${pod}`)?.outcome, base.stderr).toBe("set");

    const dir = mkdtempSync(join(tmpdir(), "kvlog-faults-webhook-"));
    const name = "kvlog-e2e-faults-delete-pod";
    const seen: string[] = [];
    let deletedAt = 0;
    let held = 0;
    let changed = false;
    let server: https.Server | undefined;
    const boundMs = 8000;
    // The webhook listens on the host's bridge address: the replicas run in the nodes' network
    // namespaces, where 127.0.0.1 is the node's own loopback.
    const hostIP: string = cluster().apiserver.hostIP;
    try {
      await exec("openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "1", "-subj", "/CN=kvlog-faults-webhook", "-addext", `subjectAltName=IP:${hostIP}`, "-keyout", `${dir}/key.pem`, "-out", `${dir}/cert.pem`]);
      const cert = readFileSync(`${dir}/cert.pem`);
      server = https.createServer({ key: readFileSync(`${dir}/key.pem`), cert }, (req, res) => {
        let body = "";
        req.on("data", (d) => (body += d));
        req.on("end", async () => {
          const review = JSON.parse(body);
          const rq = review.request;
          seen.push(`${rq.operation} ${rq.namespace}/${rq.name} ${rq.userInfo?.username}`);
          if (rq.name === pod && rq.userInfo?.username === KVLOG_USER) {
            const asked = Date.now();
            await kubectl(["-n", "kube-system", "delete", "pod", pod, "--grace-period=0", "--force", "--wait=false"]).catch(() => {});
            await until(`pod ${pod} gone`, async () => !(await kubectl(["-n", "kube-system", "get", "pods", "--field-selector", `metadata.name=${pod}`, "-o", "name"])).trim(), 10_000, 100).catch(() => {});
            deletedAt = Date.now();
            held = deletedAt - asked;
          }
          res.setHeader("content-type", "application/json");
          res.end(JSON.stringify({ apiVersion: "admission.k8s.io/v1", kind: "AdmissionReview", response: { uid: rq.uid, allowed: true } }));
        });
      });
      server.listen(0, hostIP);
      await once(server, "listening");
      const port = (server.address() as AddressInfo).port;
      await kubectl(["apply", "-f", "-"], JSON.stringify({
        apiVersion: "admissionregistration.k8s.io/v1",
        kind: "ValidatingWebhookConfiguration",
        metadata: { name },
        webhooks: [
          {
            name: "delete-pod.faults.kvlog.dev",
            clientConfig: { url: `https://${hostIP}:${port}/`, caBundle: cert.toString("base64") },
            rules: [{ operations: ["CONNECT"], apiGroups: [""], apiVersions: ["v1"], resources: ["pods/portforward"], scope: "Namespaced" }],
            namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "kube-system" } },
            matchConditions: [{ name: "kvlog-to-this-pod-or-probe", expression: `request.name.startsWith('kvlog-faults-probe-') || (request.name == '${pod}' && request.userInfo.username == '${KVLOG_USER}')` }],
            failurePolicy: "Ignore",
            sideEffects: "None",
            admissionReviewVersions: ["v1"],
            timeoutSeconds: 15,
          },
        ],
      }));
      // Each replica calls the webhook once its informer has the configuration: probe each one
      // at its own address with a port-forward to a pod that does not exist.
      for (const a of cluster().apiservers) {
        const probe = `kvlog-faults-probe-${a.ip.replaceAll(".", "-")}`;
        await until(`${a.name} calling the webhook`, async () => {
          await kubectl(["--server", a.url, "get", "--raw", `/api/v1/namespaces/kube-system/pods/${probe}/portforward?ports=1`]).catch(() => "");
          return seen.some((s) => s.includes(`/${probe} `));
        }, 30_000, 500);
      }

      const r = await run(["set", "kube-proxy", "6", "--node", node, "--request-timeout", "20s", "-o", "json"]);
      const x = r.doc?.results?.[0];
      changed = x?.outcome === "set";
      numbers.push(`pod deleted before the port-forward (the webhook held the request ${held} ms): ${x?.outcome} (HTTP ${x?.httpStatus}: ${x?.message}), run ${r.ms} ms, bound ${boundMs} ms`);
      expect(deletedAt, `the webhook never saw kvlog's port-forward: ${seen.join("; ")}`).toBeGreaterThan(0);
      expect(r.code, r.stderr).toBe(1);
      expect(r.doc.results).toHaveLength(1);
      expect(x).toMatchObject({ id: `kube-proxy/kube-system/${pod}`, pod, outcome: "missing", ok: false, httpStatus: 404, attempts: 1, message: expect.stringMatching(new RegExp(`^pod kube-system/${pod} is gone \\(404 .*not found`)) });
      expect(r.doc.record).toBeNull(); // nothing changed, nothing recorded
      expect(r.ms, `kvlog took ${r.ms} ms`).toBeLessThan(boundMs);
    } finally {
      await kubectl(["delete", "validatingwebhookconfiguration", name, "--ignore-not-found"]);
      server?.close();
      if (changed) await run(["set", "kube-proxy", "1", "--node", node]).catch(() => undefined); // the fault did not happen: put the level back
      rmSync(dir, { recursive: true, force: true });
    }

    // The DaemonSet's replacement: a new pod on the node, Running and Ready.
    const replacement = await until(`the DaemonSet's replacement kube-proxy pod on ${node}`, async () => {
      const p = await podReady(selector, node);
      return p !== pod ? p : undefined;
    }, 90_000, 500);
    // Untouched: kvlog never reached kube-proxy (the one process behind both pods), so it still
    // logs at level 1: no -v=5 pathrecorder line for requests to its port 10249.
    const log = `${STATE}/logs/kube-proxy-${node}.log`;
    const mark = logMark(log);
    for (let i = 0; i < 3; i++) await inNode(node, ["curl", "-fsS", "--max-time", "2", "http://127.0.0.1:10249/healthz"]);
    await sleep(1500);
    const text = logSince(log, mark);
    expect(text.split("\n").filter((l) => V5_PATHRECORDER.test(l)), "kube-proxy logs at -v=5: kvlog changed it").toEqual([]);
    // And kvlog reaches the replacement now.
    const after = await run(["set", "kube-proxy", "1", "--node", node, "-o", "json"]);
    expect(after.code, after.stderr).toBe(0);
    expect(after.doc.results[0]).toMatchObject({ pod: replacement, outcome: "set" });
  });
});

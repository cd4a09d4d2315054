// npm run bench: measures kvlog as a user runs it (the built CLI, `node bin/kvlog.js`, a separate
// process) and prints one table: median wall time, min–max, CPU, peak RSS, and the ratio to a
// peer (kubectl, measured in the same run) or to a lower bound. It reports; nothing gates on it.
//
//   npm run bench                           every row
//   npm run bench -- --rounds 20            20 paired rounds for the real-cluster rows (default 10)
//   npm run bench -- --runs 5 --only fleet  rows (or groups) whose name contains "fleet"; 5 runs a fleet row
//   npm run bench -- --only contexts        the 100-context rows only (see "many clusters" below)
//   npm run bench -- --only apiserver,--node  rows whose name contains any of the comma-separated parts
//   npm run bench -- --json out.json        also write the rows as JSON
//   npm run bench -- --rtt 50               the remote rows over a 50 ms round trip (default 20; 0: none)
//   npm run bench -- --cpu-prof DIR         also one `node --cpu-prof` run of the one-PUT kvlog commands
//                                           (with and without the record) against the real cluster, and
//                                           a timeline of each (trace.mjs: module loads, requests)
//
// Start-up rows (`kvlog --help`, `--version` against `kubectl version --client`) need only the
// kubectl built for the local cluster (test/e2e/cluster/build). The REAL-CLUSTER rows run
// against the local cluster of upstream binaries (test/e2e/cluster) when it is up: this script
// never brings one up or down. It takes the cluster lock (flock /tmp/kvlog-e2e.lock,
// KVLOG_E2E_LOCK) for those rows only, waiting as long as someone else holds it, and skips them
// with a note when /tmp/kvlog-e2e/cluster.json is absent or the apiserver does not answer.
// Each real-cluster group is PAIRED and INTERLEAVED: one warm-up round (not counted), then
// --rounds rounds, each running every contender once, the order rotating by one every round, so
// that a load spike on this shared machine falls on all of them alike. Every process (kvlog,
// kubectl, curl) runs under /usr/bin/time for its peak RSS and CPU, with the same environment.
// The level set is always 1, the cluster's own (KVLOG_E2E_V), so nothing is left changed; the
// record ConfigMaps kvlog writes (kube-system/kvlog-<component>) are put back as they were.
//
// Remote rows: the same real-cluster groups through a relay that adds --rtt ms of round trip in
// front of replica 1 (a userspace delay: tc netem is not available on every machine), as an
// operator's laptop talks to a cluster: there the number of round trips counts as much as the
// start-up.
//
// Fleet rows: a SIMULATED cluster (test/fake) of 1,000 and 5,000 real-size nodes with a
// kube-proxy pod on each, every kubelet and kube-proxy answering after DELAY_MS. The lower
// bound of a fleet run is targets × delay ÷ concurrency: the time the answers alone take
// at kvlog's default concurrency. The whole run (start-up, discovery of every node, page by
// page, and the fan-out) is compared with it. The simulated cluster runs in this process, on the
// same cores as kvlog: CPU shows how much of the wall time kvlog itself was busy.
//
// kvlog always runs with NODE_COMPILE_CACHE set to one directory kept between bench runs
// (os.tmpdir()/kvlog-bench-compile-cache) and warm: every group starts with a run that is not
// counted.

import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { connect, createServer, type AddressInfo } from "node:net";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { cpus, homedir, loadavg, tmpdir, totalmem } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { fleetNodes, startFakeCluster, type FakeCluster } from "../fake/cluster.ts";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const CLI = join(ROOT, "bin/kvlog.js");
/** The single executable (npm run build:sea), measured next to the npm package when it is built from the current sources. */
const SEA = join(ROOT, "dist-sea/kvlog-linux-amd64");
const PROBE = fileURLToPath(new URL("./rss-probe.mjs", import.meta.url));
const TRACE = fileURLToPath(new URL("./trace.mjs", import.meta.url));
const DELAY_MS = 20;
const CONCURRENCY = 32; // kvlog's default (src/cli.ts DEFAULT_CONCURRENCY)
const LEVEL = "1"; // the local cluster's own level (KVLOG_E2E_V): setting it changes nothing
const STATE = process.env.KVLOG_E2E_DIR ?? "/tmp/kvlog-e2e";
const LOCK = process.env.KVLOG_E2E_LOCK ?? "/tmp/kvlog-e2e.lock";
const TIME = "/usr/bin/time";
const RUN_TIMEOUT_MS = 120_000;

interface Sample {
  wallMs: number;
  rssMiB: number;
  /** The measured process's own CPU time (user + system); for a pair of processes, both. */
  cpuMs: number;
  code: number | null;
  peakConnections?: number;
  summary?: { total: number; succeeded: number; failed: number; skipped: number };
}
interface Row {
  name: string;
  samples: Sample[];
  /** Lower bound (ms) or a peer's median, to compute the ratio against. */
  against?: { label: string; ms: number };
  /** Median over rounds of (this run ÷ the peer's run in the same round). */
  paired?: number;
  note?: string;
}

const args = process.argv.slice(2);
const flag = (name: string): string | undefined => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const RUNS = Number(flag("--runs") ?? 3);
const ROUNDS = Number(flag("--rounds") ?? 10);
/** Rows or groups to run: a name part, or several separated by commas (any of them). */
const ONLY_PARTS = flag("--only")?.split(",").filter(Boolean);
const only = (name: string): boolean => !ONLY_PARTS || ONLY_PARTS.some((p) => name.includes(p));
const JSON_OUT = flag("--json");
const CPU_PROF = flag("--cpu-prof");
/** The round trip of the remote client's link (remoteGroups); 0: no remote rows. */
const RTT_MS = Number(flag("--rtt") ?? 20);
const tmp = mkdtempSync(join(tmpdir(), "kvlog-bench-"));
const COMPILE_CACHE = join(tmpdir(), "kvlog-bench-compile-cache");
mkdirSync(COMPILE_CACHE, { recursive: true });
const notes: string[] = [];
const seaCurrent = ((): boolean => {
  if (!existsSync(SEA)) return false;
  const built = statSync(SEA).mtimeMs;
  const newer = (dir: string): boolean =>
    readdirSync(dir, { withFileTypes: true }).some((e) => (e.isDirectory() ? newer(join(dir, e.name)) : statSync(join(dir, e.name)).mtimeMs > built));
  return !newer(join(ROOT, "src")) && statSync(join(ROOT, "bin/build.mjs")).mtimeMs <= built;
})();
const note = (s: string): void => {
  notes.push(s);
  process.stderr.write(`bench: ${s}\n`);
};

/** Runs the built CLI once, measuring wall time and the process's own peak RSS. */
function runKvlog(argv: string[], env: Record<string, string>): Promise<Sample & { stdout: string; stderr: string }> {
  const rssFile = join(tmp, `rss-${process.hrtime.bigint()}`);
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(process.execPath, ["--import", PROBE, CLI, ...argv], {
      env: { PATH: process.env.PATH, HOME: tmp, KVLOG_BENCH_RSS_FILE: rssFile, NODE_COMPILE_CACHE: COMPILE_CACHE, ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.on("error", reject);
    child.on("close", (code) => {
      const wallMs = performance.now() - started;
      let rssMiB = NaN;
      let cpuMs = NaN;
      try {
        const u = JSON.parse(readFileSync(rssFile, "utf8")) as { maxRSS: number; cpuMs: number };
        rssMiB = u.maxRSS / 1024;
        cpuMs = u.cpuMs;
      } catch {
        // the probe did not write (the process was killed)
      }
      resolve({ wallMs, rssMiB, cpuMs, code, stdout, stderr });
    });
  });
}

// ---- one process, timed (real-cluster and start-up rows) ----------------------------------------

type Run = Sample & { stdout: string; stderr: string };

/**
 * Runs one command under /usr/bin/time (peak RSS %M and CPU %U+%S of that process), writing
 * `input` to its stdin. Wall time is from spawn to exit, as a shell user sees it.
 */
function timed(cmd: string, argv: string[], env: Record<string, string>, input?: string): Promise<Run> {
  const out = join(tmp, `time-${process.hrtime.bigint()}`);
  const useTime = existsSync(TIME);
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = useTime
      ? spawn(TIME, ["-o", out, "-f", "%M %U %S", cmd, ...argv], { env, stdio: ["pipe", "pipe", "pipe"] })
      : spawn(cmd, argv, { env, stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    const killer = setTimeout(() => child.kill("SIGKILL"), RUN_TIMEOUT_MS);
    child.stdout!.on("data", (d) => (stdout += d));
    child.stderr!.on("data", (d) => (stderr += d));
    child.stdin!.on("error", () => {});
    child.stdin!.end(input ?? "");
    child.on("error", reject);
    child.on("close", (code) => {
      const wallMs = performance.now() - started;
      clearTimeout(killer);
      let rssMiB = NaN;
      let cpuMs = NaN;
      if (useTime) {
        try {
          // GNU time writes "Command exited with non-zero status N" first when it did.
          const last = readFileSync(out, "utf8").trim().split("\n").at(-1)!;
          const [kib, user, sys] = last.split(" ").map(Number);
          rssMiB = kib! / 1024;
          cpuMs = (user! + sys!) * 1000;
        } catch {
          // killed before time could write
        }
        rmSync(out, { force: true });
      }
      resolve({ wallMs, rssMiB, cpuMs, code, stdout, stderr });
    });
  });
}

const CLK_TCK = Number(spawnSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).stdout.trim()) || 100;

/** Peak RSS (MiB) and CPU (ms) of a running process, from /proc. */
function procStats(pid: number): { rssMiB: number; cpuMs: number } {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const hwm = Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1]);
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // fields 14 and 15 (utime, stime) of proc(5); f[0] is field 3
    const cpu = ((Number(f[11]) + Number(f[12])) * 1000) / CLK_TCK;
    return { rssMiB: hwm / 1024, cpuMs: cpu };
  } catch {
    return { rssMiB: NaN, cpuMs: NaN };
  }
}

/** What a person does by hand: kubectl port-forward, wait until it listens, curl, then Ctrl-C. */
async function portForwardAndCurl(portForward: [string, string[]], curl: (port: number) => [string, string[]], env: Record<string, string>): Promise<Run> {
  const started = performance.now();
  const pf: ChildProcess = spawn(portForward[0], portForward[1], { env, stdio: ["ignore", "pipe", "pipe"] });
  const closed = new Promise<void>((r) => pf.on("close", () => r()));
  let pfOut = "";
  let pfErr = "";
  pf.stderr!.on("data", (d) => (pfErr += d));
  const port = await new Promise<number | undefined>((resolve) => {
    const t = setTimeout(() => resolve(undefined), 60_000);
    pf.stdout!.on("data", (d) => {
      pfOut += d;
      const m = /Forwarding from 127\.0\.0\.1:(\d+)/.exec(pfOut);
      if (m) {
        clearTimeout(t);
        resolve(Number(m[1]));
      }
    });
    pf.on("close", () => resolve(undefined));
  });
  if (port === undefined) {
    pf.kill("SIGKILL");
    await closed;
    return { wallMs: performance.now() - started, rssMiB: NaN, cpuMs: NaN, code: null, stdout: pfOut, stderr: pfErr };
  }
  const c = await timed(...curl(port), env);
  const wallMs = performance.now() - started;
  const s = procStats(pf.pid!);
  pf.kill("SIGINT"); // Ctrl-C; not timed
  await closed;
  return { wallMs, rssMiB: Math.max(s.rssMiB, c.rssMiB), cpuMs: s.cpuMs + c.cpuMs, code: c.code, stdout: c.stdout, stderr: pfErr + c.stderr };
}

// ---- paired, interleaved groups -------------------------------------------------------------------

interface Contender {
  name: string;
  run: () => Promise<Run>;
}
interface Group {
  title: string;
  /** The first is the reference every other row's ratio is against; `reference` names it in the table. */
  contenders: Contender[];
  reference: string;
  note?: string;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

async function runGroup(g: Group): Promise<Row[]> {
  if (g.note) notes.push(`${g.title}: ${g.note}`);
  const samples = new Map<string, Sample[]>(g.contenders.map((c) => [c.name, []]));
  const fail = (c: Contender, r: Run, round: string): void => {
    process.stderr.write(`bench: ${g.title}: ${c.name}: ${round}: exit ${r.code}: ${(r.stderr || r.stdout).trim().slice(0, 400)}\n`);
  };
  for (const c of g.contenders) {
    const r = await c.run(); // warm-up: compile cache, page cache, kubectl's discovery cache, TLS
    if (r.code !== 0) fail(c, r, "warm-up");
  }
  for (let round = 0; round < ROUNDS; round++) {
    const k = g.contenders.length;
    const order = g.contenders.map((_, i) => g.contenders[(i + round) % k]!);
    for (const c of order) {
      const r = await c.run();
      if (r.code !== 0) fail(c, r, `round ${round + 1}`);
      samples.get(c.name)!.push({ wallMs: r.wallMs, rssMiB: r.rssMiB, cpuMs: r.cpuMs, code: r.code });
    }
  }
  process.stderr.write(`bench: ${g.title}: done (${ROUNDS} rounds)\n`);
  const theirs = samples.get(g.contenders[0]!.name)!;
  return g.contenders.map((c, i) => {
    const mine = samples.get(c.name)!;
    const row: Row = { name: `${g.title}: ${c.name}`, samples: mine, note: g.note };
    if (i > 0) {
      row.against = { label: g.reference, ms: median(theirs.map((s) => s.wallMs)) };
      row.paired = median(mine.map((s, j) => s.wallMs / theirs[j]!.wallMs));
    }
    return row;
  });
}

const wanted = (g: Group): boolean => only(g.title) || g.contenders.some((c) => only(`${g.title}: ${c.name}`));

// ---- the local cluster ----------------------------------------------------------------------------

interface ClusterJson {
  k8sVersion: string;
  kubectl?: string;
  kubeconfigs: { admin: string };
  apiservers: { url: string; name: string }[];
  nodes: { name: string }[];
  components: Record<string, { namespace?: string; pod?: string; port?: number }>;
}

/**
 * The kubectl built for the local cluster (test/e2e/cluster/build): for the real-cluster rows the
 * running cluster's own (cluster.json, then the state dir's env), so that kubectl and the cluster
 * are one release; for the start-up rows the pinned release's (versions.env) first, so that every
 * machine compares the same kubectl whichever release its cluster last ran.
 */
function findKubectl(c: ClusterJson | undefined, pinnedFirst: boolean): string | undefined {
  const running: string[] = [];
  if (c?.kubectl) running.push(c.kubectl);
  try {
    const bin = /^K8S_BIN=(.*)$/m.exec(readFileSync(join(STATE, "env"), "utf8"))?.[1];
    if (bin) running.push(join(bin, "kubectl"));
  } catch {
    // no state dir
  }
  const pinned: string[] = [];
  try {
    const v = /^K8S_VERSION=(\S+)/m.exec(readFileSync(join(ROOT, "test/e2e/cluster/versions.env"), "utf8"))?.[1];
    const cache = process.env.KVLOG_E2E_CACHE ?? join(homedir(), ".cache/kvlog-e2e");
    if (v) pinned.push(join(cache, `k8s-${v}`, "bin/kubectl"));
  } catch {
    // no pin
  }
  return (pinnedFirst ? [...pinned, ...running] : [...running, ...pinned]).find((p) => existsSync(p));
}

const versionOf = (kubectl: string): string => /Client Version: (\S+)/.exec(spawnSync(kubectl, ["version", "--client"], { encoding: "utf8" }).stdout)?.[1] ?? "?";

function readCluster(): ClusterJson | undefined {
  try {
    return JSON.parse(readFileSync(join(STATE, "cluster.json"), "utf8")) as ClusterJson;
  } catch {
    return undefined;
  }
}

/** Takes the cluster lock (waiting as long as it takes); resolves to the function that lets it go. */
async function takeLock(): Promise<() => Promise<void>> {
  // flock holds the lock while its command (cat, reading our pipe) runs; closing the pipe, or this
  // process dying, lets it go. -o: the command does not hold the lock itself.
  const child = spawn("flock", ["-o", LOCK, "sh", "-c", "echo held; exec cat >/dev/null"], { stdio: ["pipe", "pipe", "inherit"] });
  const t0 = performance.now();
  const waiting = setInterval(
    () => process.stderr.write(`bench: waiting for the cluster lock ${LOCK} (held by an e2e run or a cluster up/down), ${Math.round((performance.now() - t0) / 1000)} s\n`),
    30_000,
  );
  await new Promise<void>((resolve, reject) => {
    child.stdout!.once("data", () => resolve());
    child.on("error", reject);
    child.on("close", (code) => reject(new Error(`flock ${LOCK} exited ${code}`)));
  });
  clearInterval(waiting);
  const waited = (performance.now() - t0) / 1000;
  if (waited > 1) note(`waited ${waited.toFixed(0)} s for the cluster lock`);
  return () =>
    new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      child.on("close", () => resolve());
      child.stdin!.end();
    });
}

/** The record kvlog writes on every set, to put back afterwards: name -> the ConfigMap, or null. */
type RecordSnapshot = Map<string, { data?: Record<string, string> } | null>;

function kubectlSync(kubectl: string, kubeconfig: string, argv: string[], input?: string): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(kubectl, ["--kubeconfig", kubeconfig, ...argv], { encoding: "utf8", input, env: { PATH: process.env.PATH, HOME: tmp } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const cmPath = (name: string): string => `/api/v1/namespaces/kube-system/configmaps/${name}`;

/** A ConfigMap in kube-system (raw paths: no discovery), or null when it does not exist. */
function getConfigMap(kubectl: string, kubeconfig: string, name: string): { data?: Record<string, string> } | null {
  const r = kubectlSync(kubectl, kubeconfig, ["get", "--raw", cmPath(name)]);
  if (r.code === 0) return JSON.parse(r.stdout) as { data?: Record<string, string> };
  if (/NotFound|not found/.test(r.stderr)) return null;
  throw new Error(`cannot read kube-system/${name}: ${r.stderr.trim()}`);
}

function snapshotRecord(kubectl: string, kubeconfig: string, names: string[]): RecordSnapshot {
  return new Map(names.map((name) => [name, getConfigMap(kubectl, kubeconfig, name)]));
}

function restoreRecord(kubectl: string, kubeconfig: string, snap: RecordSnapshot): void {
  for (const [name, before] of snap) {
    try {
      const now = getConfigMap(kubectl, kubeconfig, name);
      if (JSON.stringify(now?.data ?? null) === JSON.stringify(before?.data ?? null) && (now === null) === (before === null)) continue;
      let w;
      if (before === null) w = kubectlSync(kubectl, kubeconfig, ["delete", "--raw", cmPath(name)]);
      else if (now === null) w = kubectlSync(kubectl, kubeconfig, ["create", "--raw", "/api/v1/namespaces/kube-system/configmaps", "-f", "-"], JSON.stringify({ apiVersion: "v1", kind: "ConfigMap", metadata: { name, namespace: "kube-system" }, data: before.data }));
      else {
        if (before.data) now.data = before.data;
        else delete now.data;
        w = kubectlSync(kubectl, kubeconfig, ["replace", "--raw", cmPath(name), "-f", "-"], JSON.stringify(now)); // with now's resourceVersion
      }
      if (w.code !== 0) note(`could not put kube-system/${name} back: ${w.stderr.trim()}`);
    } catch (e) {
      note(`could not put kube-system/${name} back: ${(e as Error).message}`);
    }
  }
}

/**
 * The apiserver as seen across a slow link (startRemote): a relay on 127.0.0.1 in front of
 * replica 1 that holds every piece of data for half the round trip in each direction (and the
 * connection for a whole one, as TCP's handshake would), and a copy of the admin kubeconfig
 * that points at it.
 */
interface Remote {
  url: string;
  kubeconfig: string;
  rttMs: number;
}

function clusterGroups(c: ClusterJson, kubectl: string, remote?: Remote): Group[] {
  const admin = remote?.kubeconfig ?? c.kubeconfigs.admin;
  const pki = join(STATE, "pki");
  const env = { PATH: process.env.PATH!, HOME: tmp, KUBECONFIG: admin, NODE_COMPILE_CACHE: COMPILE_CACHE };
  const timedWithEnv = (cmd: string, argv: string[], input?: string) => timed(cmd, argv, env, input);
  const kvlog = (...argv: string[]) => () => timedWithEnv(process.execPath, [CLI, ...argv]);
  const title = (t: string) => (remote ? `remote ${remote.rttMs} ms RTT: ${t}` : t);
  const cert = ["--cert", join(pki, "admin.crt"), "--key", join(pki, "admin.key")];
  const replica1 = remote?.url ?? c.apiservers[0]!.url;
  const node = c.nodes[0]!.name;
  const sched = c.components["kube-scheduler"]!;
  const schedPod = sched.pod ?? `kube-scheduler-${node}`;
  const schedNs = sched.namespace ?? "kube-system";
  const schedPort = sched.port ?? 10259;
  return [
    {
      title: title("apiserver"),
      reference: "kubectl",
      note: remote ? `one PUT each to replica 1 through the relay (${replica1})` : `one PUT each to replica 1 (${replica1}); the last row reaches both replicas`,
      contenders: [
        { name: `kubectl replace --raw /debug/flags/v -f - --server ${replica1}`, run: () => timedWithEnv(kubectl, ["--kubeconfig", admin, "--server", replica1, "replace", "--raw", "/debug/flags/v", "-f", "-"], LEVEL) },
        { name: `kvlog set kube-apiserver ${LEVEL} --endpoint ${replica1}`, run: kvlog("set", "kube-apiserver", LEVEL, "--endpoint", replica1) },
        { name: `kvlog set kube-apiserver ${LEVEL} --endpoint ${replica1} --no-record`, run: kvlog("set", "kube-apiserver", LEVEL, "--endpoint", replica1, "--no-record") },
        ...(seaCurrent && !remote
          ? [{ name: `single executable: kvlog set kube-apiserver ${LEVEL} --endpoint ${replica1}`, run: () => timed(SEA, ["set", "kube-apiserver", LEVEL, "--endpoint", replica1], env) }]
          : []),
        { name: `curl -X PUT --data ${LEVEL} (admin cert, key, CA)`, run: () => timedWithEnv("curl", ["-sS", "-f", "-X", "PUT", "--data", LEVEL, ...cert, "--cacert", join(pki, "ca.crt"), `${replica1}/debug/flags/v`]) },
        // Remote: the replicas' own addresses would bypass the relay.
        ...(remote ? [] : [{ name: `kvlog set apiserver ${LEVEL} (${c.apiservers.length} replicas)`, run: kvlog("set", "apiserver", LEVEL) }]),
      ],
    },
    {
      title: title("kubelet"),
      reference: "kubectl",
      note: `through the apiserver's node proxy (kubeconfig URL: ${remote ? "the relay" : "the load balancer"})`,
      contenders: [
        { name: `kubectl replace --raw /api/v1/nodes/${node}/proxy/debug/flags/v -f -`, run: () => timedWithEnv(kubectl, ["--kubeconfig", admin, "replace", "--raw", `/api/v1/nodes/${node}/proxy/debug/flags/v`, "-f", "-"], LEVEL) },
        { name: `kvlog set kubelet ${LEVEL} --node ${node}`, run: kvlog("set", "kubelet", LEVEL, "--node", node) },
        { name: `kvlog set kubelet ${LEVEL} --node ${node} --no-record`, run: kvlog("set", "kubelet", LEVEL, "--node", node, "--no-record") },
      ],
    },
    {
      title: title("scheduler"),
      reference: "by hand",
      note: `by hand: kubectl port-forward -n ${schedNs} pod/${schedPod} :${schedPort}, then curl -k -X PUT with the admin cert; timed to curl's answer, the port-forward stopped after`,
      contenders: [
        {
          name: "kubectl port-forward + curl -k -X PUT (by hand)",
          run: () =>
            portForwardAndCurl(
              [kubectl, ["--kubeconfig", admin, "-n", schedNs, "port-forward", `pod/${schedPod}`, `:${schedPort}`]],
              (port) => ["curl", ["-sS", "-f", "-k", "-X", "PUT", "--data", LEVEL, ...cert, `https://127.0.0.1:${port}/debug/flags/v`]],
              env,
            ),
        },
        { name: `kvlog set kube-scheduler ${LEVEL}`, run: kvlog("set", "kube-scheduler", LEVEL) },
      ],
    },
  ];
}

/** Starts the relay of Remote in this process; close() stops it. */
async function startRemote(c: ClusterJson, rttMs: number): Promise<Remote & { close(): Promise<void> }> {
  const target = new URL(c.apiservers[0]!.url);
  const later = (fn: () => void, ms: number): void => void setTimeout(fn, ms);
  const sockets = new Set<import("node:net").Socket>();
  const server = createServer((client) => {
    sockets.add(client);
    client.on("error", () => {}); // a client gone before the relay connected upstream
    client.setNoDelay(true); // as the endpoints do: Nagle's algorithm here would add waits a real link has not
    client.pause();
    // The connection takes a round trip before either side can send (TCP's handshake).
    later(() => {
      const upstream = connect(Number(target.port), target.hostname, () => client.resume());
      upstream.setNoDelay(true);
      sockets.add(upstream);
      // Each chunk waits half a round trip; the same wait for all keeps them in order.
      client.on("data", (d) => later(() => upstream.write(d), rttMs / 2));
      upstream.on("data", (d) => later(() => client.write(d), rttMs / 2));
      client.on("end", () => later(() => upstream.end(), rttMs / 2));
      upstream.on("end", () => later(() => client.end(), rttMs / 2));
      for (const [a, b] of [[client, upstream], [upstream, client]] as const) {
        a.on("error", () => b.destroy());
        a.on("close", () => {
          sockets.delete(a);
          later(() => b.destroy(), rttMs / 2);
        });
      }
    }, rttMs);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  // The admin kubeconfig through the relay (the apiserver's certificate names 127.0.0.1 too).
  const kubeconfig = join(tmp, "remote.kubeconfig");
  writeFileSync(kubeconfig, readFileSync(c.kubeconfigs.admin, "utf8").replace(/server: https:\/\/[^\s]+/g, `server: ${url}`));
  return {
    url,
    kubeconfig,
    rttMs,
    close: async () => {
      for (const x of sockets) x.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

function startupGroup(kubectl: string): Group {
  const env = { PATH: process.env.PATH!, HOME: tmp, NODE_COMPILE_CACHE: COMPILE_CACHE };
  return {
    title: "startup",
    reference: "kubectl",
    contenders: [
      { name: "kubectl version --client", run: () => timed(kubectl, ["version", "--client"], env) },
      { name: "kvlog --help", run: () => timed(process.execPath, [CLI, "--help"], env) },
      { name: "kvlog --version", run: () => timed(process.execPath, [CLI, "--version"], env) },
      ...(seaCurrent ? [{ name: "single executable: kvlog --help", run: () => timed(SEA, ["--help"], env) }] : []),
      { name: "node -e 0 (bare Node start)", run: () => timed(process.execPath, ["-e", "0"], env) },
    ],
  };
}

// ---- the simulated fleet --------------------------------------------------------------------------

const fleetRowName = (size: number, component: string, dry: boolean): string =>
  `fleet ${size} nodes: set ${component}${dry ? " --dry-run (start-up + discovery)" : ""}`;
const fleetRowNames = (size: number): string[] => ["kubelet", "kube-proxy"].flatMap((c) => [fleetRowName(size, c, true), fleetRowName(size, c, false)]);

async function fleetRows(size: number): Promise<Row[]> {
  const t0 = performance.now();
  const cluster: FakeCluster = await startFakeCluster({
    nodes: fleetNodes(size),
    defaultBehaviour: { kubelet: { delayMs: DELAY_MS }, "kube-proxy": { profiling: true, delayMs: DELAY_MS } },
  });
  const startMs = performance.now() - t0;
  const env = { KUBECONFIG: cluster.kubeconfig("admin") };
  const rows: Row[] = [];
  try {
    await runKvlog(["set", "kubelet", "2", "-o", "json", "--dry-run"], env); // warm-up, not counted
    for (const component of ["kubelet", "kube-proxy"]) {
      for (const dry of [true, false]) {
        const name = fleetRowName(size, component, dry);
        if (!only(name)) continue;
        const samples: Sample[] = [];
        for (let i = 0; i < RUNS; i++) {
          cluster.resetStats();
          const r = await runKvlog(["set", component, String(2 + (i % 3)), "-o", "json", ...(dry ? ["--dry-run"] : [])], env);
          let summary: Sample["summary"];
          try {
            summary = JSON.parse(r.stdout).summary;
          } catch {
            process.stderr.write(`bench: ${name}: no JSON (exit ${r.code}): ${r.stderr.slice(0, 300)}\n`);
          }
          samples.push({ wallMs: r.wallMs, rssMiB: r.rssMiB, cpuMs: r.cpuMs, code: r.code, peakConnections: cluster.stats().peakConnections, summary });
        }
        const lower = (size * DELAY_MS) / CONCURRENCY;
        rows.push({
          name,
          samples,
          against: dry ? undefined : { label: `lower bound ${size}×${DELAY_MS} ms÷${CONCURRENCY}`, ms: lower },
          note: `fake cluster started in ${(startMs / 1000).toFixed(1)} s`,
        });
        process.stderr.write(`bench: ${name}: done\n`);
      }
    }
    if (size === CAPTURE_FLEET && only(CAPTURE_ROW)) rows.push(await captureRow(cluster, env));
  } finally {
    await cluster.close();
  }
  return rows;
}

// ---- many clusters: one kubeconfig of 100 contexts ------------------------------------------------
//
// 100 contexts in one kubeconfig, each with its own cluster and user entry: 84 SIMULATED clusters
// (test/fake, in this process) of `nodes` nodes each, 5 of them slow (every kubelet answers after
// 1 s), and 16 that cannot work: 5 where nothing listens (connection refused), 4 that accept the
// connection and never answer (each costs one --request-timeout, 5 s here), 5 whose token the
// apiserver refuses (401), 1 whose exec plugin fails, 1 whose exec plugin hangs (the credential
// deadline). `kvlog set kubelet N --all-contexts -o json` at the default bounds (8 clusters at
// once, 32 targets a cluster). The row checks that every context is accounted for: each
// appears once in the MultiClusterResult, every healthy cluster has every kubelet set, each
// broken one has its own error.

const CONTEXT_COUNT = 100;
const contextsRowName = (nodes: number): string => `contexts ${CONTEXT_COUNT} × ${nodes} nodes: set kubelet --all-contexts`;

async function contextsRows(nodes: number): Promise<Row[]> {
  const name = contextsRowName(nodes);
  const { contextsKubeconfig } = await import("../fake/contexts.ts");
  const t0 = performance.now();
  const fakes: FakeCluster[] = [];
  for (let i = 0; i < 84; i++) {
    fakes.push(await startFakeCluster({ nodes: fleetNodes(nodes), defaultBehaviour: i < 5 ? { kubelet: { delayMs: 1000 } } : {} }));
  }
  const held: import("node:net").Socket[] = [];
  const mute = createServer((s) => void held.push(s));
  await new Promise<void>((r) => mute.listen(0, "127.0.0.1", r));
  const mutePort = (mute.address() as AddressInfo).port;
  const closed = createServer();
  await new Promise<void>((r) => closed.listen(0, "127.0.0.1", r));
  const deadPort = (closed.address() as AddressInfo).port;
  await new Promise<void>((r) => closed.close(() => r()));
  const hang = join(tmp, "hang-plugin.sh");
  writeFileSync(hang, "#!/bin/sh\nexec sleep 600\n", { mode: 0o755 });
  type Spec = Parameters<typeof contextsKubeconfig>[0][number];
  const specs: Spec[] = [
    ...fakes.map((cluster, i): Spec => ({ name: `${i < 5 ? "slow" : "ok"}-${String(i).padStart(3, "0")}`, cluster })),
    ...Array.from({ length: 5 }, (_, i): Spec => ({ name: `down-${i}`, server: `https://127.0.0.1:${deadPort}` })),
    ...Array.from({ length: 4 }, (_, i): Spec => ({ name: `mute-${i}`, server: `https://127.0.0.1:${mutePort}` })),
    ...Array.from({ length: 5 }, (_, i): Spec => ({ name: `refused-${i}`, cluster: fakes[5 + i]!, token: "a-token-nobody-issued" })),
    { name: "plugin-fails", cluster: fakes[10]!, exec: { command: "false", args: [] } },
    { name: "plugin-hangs", cluster: fakes[11]!, exec: { command: hang, args: [] } },
  ];
  const kc = contextsKubeconfig(specs);
  const startMs = performance.now() - t0;
  const rows: Row[] = [];
  try {
    const env = { KUBECONFIG: kc.file };
    const argv = (level: number) => ["set", "kubelet", String(level), "--all-contexts", "-o", "json", "--request-timeout", "5s"];
    await runKvlog(argv(2), env); // warm-up, not counted
    const samples: Sample[] = [];
    for (let i = 0; i < RUNS; i++) {
      const level = 3 + (i % 3);
      const r = await runKvlog(argv(level), env);
      let summary: Sample["summary"];
      try {
        const doc = JSON.parse(r.stdout) as { clusters: { context: string; ok: boolean; error: string | null; result: { summary: { succeeded: number } } | null }[] };
        const names = doc.clusters.map((c) => c.context);
        const healthy = doc.clusters.filter((c) => c.ok && c.result?.summary.succeeded === nodes);
        const broken = doc.clusters.filter((c) => !c.ok && c.error);
        const accounted = names.length === CONTEXT_COUNT && new Set(names).size === CONTEXT_COUNT && healthy.length === 84 && broken.length === 16;
        const levelsSet = fakes.every((f) => f.level("kubelet/cp-1") === level);
        if (!accounted || !levelsSet) note(`${name}: NOT every cluster accounted for (healthy ${healthy.length}/84, broken with an error ${broken.length}/16, levels set: ${levelsSet})`);
        summary = { total: CONTEXT_COUNT, succeeded: healthy.length, failed: doc.clusters.length - healthy.length, skipped: 0 };
      } catch {
        process.stderr.write(`bench: ${name}: no JSON (exit ${r.code}): ${r.stderr.slice(0, 300)}\n`);
      }
      samples.push({ wallMs: r.wallMs, rssMiB: r.rssMiB, cpuMs: r.cpuMs, code: r.code, summary });
    }
    rows.push({ name, samples, note: `${fakes.length} fake clusters started in ${(startMs / 1000).toFixed(1)} s; RESULT counts clusters` });
    process.stderr.write(`bench: ${name}: done\n`);
  } finally {
    for (const s of held) s.destroy();
    await new Promise<void>((r) => mute.close(() => r()));
    await Promise.all(fakes.map((f) => f.close()));
    kc.close();
  }
  return rows;
}

/**
 * kvlog capture over a fleet (issue 17): kube-proxy on every node raised to 2 for CAPTURE_FOR,
 * at most 50 log streams at once (the default), each log written to disk as it arrives. The rest
 * of the targets are read from their log history as streams free up. Proves memory stays flat
 * (peak RSS of the CLI) and that every target is accounted for (a captured log, with lines, for
 * each one, and every level put back).
 */
const CAPTURE_FLEET = 1000;
const CAPTURE_FOR = "20s";
const CAPTURE_ROW = `fleet ${CAPTURE_FLEET} nodes: capture kube-proxy 2 --for ${CAPTURE_FOR} (50 streams)`;
async function captureRow(cluster: FakeCluster, env: Record<string, string>): Promise<Row> {
  const samples: Sample[] = [];
  for (let i = 0; i < Math.min(RUNS, 2); i++) {
    const out = join(tmp, `capture-${i}`);
    cluster.resetStats();
    const r = await runKvlog(["capture", "kube-proxy", "2", "--for", CAPTURE_FOR, "--restore-to", "0", "--out", out, "-o", "json"], env);
    let summary: Sample["summary"];
    try {
      const doc = JSON.parse(r.stdout) as { summary: { total: number; captured: number; restored: number }; results: { lines: number; bytes: number; queued: boolean; log: { outcome: string } }[] };
      const files = readdirSync(out).filter((f) => f.endsWith(".log"));
      const lines = doc.results.reduce((n, t) => n + t.lines, 0);
      const bytes = doc.results.reduce((n, t) => n + t.bytes, 0);
      const withLines = doc.results.filter((t) => t.lines > 0).length;
      summary = { total: doc.summary.total, succeeded: doc.summary.captured, failed: doc.summary.total - doc.summary.captured, skipped: 0 };
      note(
        `${CAPTURE_ROW}, run ${i + 1}: ${doc.results.length} targets in capture.json, ${doc.summary.captured} captured, ${doc.summary.restored} put back, ${withLines} with lines, ${doc.results.filter((t) => t.queued).length} read from history after waiting for a stream, ${files.length} log files, ${lines} lines, ${(bytes / 1048576).toFixed(1)} MiB written, peak RSS ${r.rssMiB.toFixed(0)} MiB (exit ${r.code})`,
      );
    } catch {
      process.stderr.write(`bench: ${CAPTURE_ROW}: no JSON (exit ${r.code}): ${r.stderr.slice(0, 300)}\n`);
    }
    rmSync(out, { recursive: true, force: true });
    samples.push({ wallMs: r.wallMs, rssMiB: r.rssMiB, cpuMs: r.cpuMs, code: r.code, peakConnections: cluster.stats().peakConnections, summary });
  }
  process.stderr.write(`bench: ${CAPTURE_ROW}: done\n`);
  return { name: CAPTURE_ROW, samples, note: "memory must stay at or under 150 MiB whatever the logs weigh" };
}

// ---- the table ------------------------------------------------------------------------------------

const fmtMs = (ms: number): string => (Number.isNaN(ms) ? "?" : ms >= 10_000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms)} ms`);

function render(rows: Row[]): string {
  const header = ["ROW", "MEDIAN", "MIN–MAX", "CPU", "PEAK RSS", "CONNS", "RESULT", "RATIO"];
  const lines = rows.map((r) => {
    const walls = r.samples.map((s) => s.wallMs);
    const med = median(walls);
    const rss = Math.max(...r.samples.map((s) => s.rssMiB));
    const conns = r.samples.some((s) => s.peakConnections !== undefined) ? String(Math.max(...r.samples.map((s) => s.peakConnections ?? 0))) : "-";
    const s = r.samples.at(-1)?.summary;
    const codes = new Map<string, number>();
    for (const x of r.samples) codes.set(String(x.code), (codes.get(String(x.code)) ?? 0) + 1);
    const result = s
      ? `${s.succeeded} set/ok, ${s.failed} failed, ${s.skipped} skipped`
      : [...codes].map(([c, n]) => `exit ${c} ×${n}`).join(", ");
    const ratio = r.against
      ? `${(med / r.against.ms).toFixed(2)}× ${r.against.label} (${fmtMs(r.against.ms)})${r.paired !== undefined ? `, paired ${r.paired.toFixed(2)}×` : ""}`
      : "-";
    const cpu = median(r.samples.map((x) => x.cpuMs));
    return [r.name, fmtMs(med), `${fmtMs(Math.min(...walls))}–${fmtMs(Math.max(...walls))}`, fmtMs(cpu), Number.isNaN(rss) ? "?" : `${rss.toFixed(0)} MiB`, conns, result, ratio];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
  return [header, ...lines].map((l) => l.map((c, i) => c.padEnd(widths[i]!)).join("  ").trimEnd()).join("\n");
}

// ---- main ---------------------------------------------------------------------------------------------

const load = (): string => loadavg().map((x) => x.toFixed(2)).join(" ");
const rows: Row[] = [];
const loads: string[] = [`start ${load()}`];
let clusterLine = "real cluster: not measured";

const clusterAtStart = readCluster();
const startupKubectl = findKubectl(clusterAtStart, true);
const startup = startupGroup(startupKubectl ?? "kubectl");
if (wanted(startup)) {
  if (startupKubectl) {
    notes.push(`startup: kubectl ${versionOf(startupKubectl)} (${startupKubectl})`);
    rows.push(...(await runGroup(startup)));
  } else note("startup rows skipped: no kubectl built for the local cluster (npm run cluster:build)");
}
const kubectl = findKubectl(clusterAtStart, false);

// Only the names matter here: whether --only selects any real-cluster row.
const placeholder: ClusterJson = {
  k8sVersion: "",
  kubeconfigs: { admin: "" },
  apiservers: [{ url: "https://10.222.0.1:6443", name: "kube-apiserver" }],
  nodes: [{ name: "kvlog-node-1" }],
  components: { "kube-scheduler": {} },
};
const anyCluster = clusterAtStart ?? placeholder;
const remoteNames: Remote = { url: "https://127.0.0.1:1", kubeconfig: "", rttMs: RTT_MS };
if (![...clusterGroups(anyCluster, kubectl ?? "kubectl"), ...(RTT_MS > 0 ? clusterGroups(anyCluster, kubectl ?? "kubectl", remoteNames) : [])].some(wanted)) {
  // not selected
} else if (!clusterAtStart) {
  note(`real-cluster rows skipped: ${join(STATE, "cluster.json")} is absent (no local cluster; sudo test/e2e/cluster/up.sh brings one up)`);
} else if (!kubectl) {
  note("real-cluster rows skipped: no kubectl built for the local cluster");
} else {
  const release = await takeLock();
  try {
    // Read again under the lock: whoever held it may have brought the cluster down or up.
    const c = readCluster();
    const kubectl = findKubectl(c, false)!;
    const up = c && kubectlSync(kubectl, c.kubeconfigs.admin, ["get", "--raw", "/readyz", "--request-timeout=5s"]);
    if (!c) note(`real-cluster rows skipped: ${join(STATE, "cluster.json")} is absent`);
    else if (up!.code !== 0) note(`real-cluster rows skipped: the local cluster is not up (${up!.stderr.trim().split("\n")[0]})`);
    else {
      clusterLine = `real cluster: Kubernetes ${c.k8sVersion} (test/e2e/cluster: ${c.apiservers.length} apiserver replicas behind haproxy, ${c.nodes.length} nodes + fleet), kubectl ${versionOf(kubectl)}`;
      const groups = clusterGroups(c, kubectl).filter(wanted);
      const records = ["kvlog-kube-apiserver", "kvlog-kubelet", "kvlog-kube-scheduler"];
      const snap = snapshotRecord(kubectl, c.kubeconfigs.admin, records);
      loads.push(`real rows start ${load()}`);
      try {
        for (const g of groups) rows.push(...(await runGroup(g)));
        if (RTT_MS > 0 && clusterGroups(c, kubectl, remoteNames).some(wanted)) {
          const remote = await startRemote(c, RTT_MS);
          try {
            notes.push(
              `remote: the same commands through a relay in front of replica 1 (${c.apiservers[0]!.url}) that adds ${RTT_MS} ms of round trip (${RTT_MS / 2} ms each way, ${RTT_MS} ms to connect), as from a laptop to a cluster; kubeconfig and --endpoint point at the relay`,
            );
            for (const g of clusterGroups(c, kubectl, remote).filter(wanted)) rows.push(...(await runGroup(g)));
            if (CPU_PROF) {
              // A timeline of the same commands through the relay: where the round trips go.
              mkdirSync(CPU_PROF, { recursive: true });
              const env = { PATH: process.env.PATH!, HOME: tmp, KUBECONFIG: remote.kubeconfig, NODE_COMPILE_CACHE: COMPILE_CACHE };
              for (const [file, argv] of [
                ["trace-remote.txt", ["set", "kube-apiserver", LEVEL, "--endpoint", remote.url]],
                ["trace-remote-kubelet.txt", ["set", "kubelet", LEVEL, "--node", c.nodes[0]!.name]],
              ] as const) {
                const t = await timed(process.execPath, ["--import", TRACE, CLI, ...argv], env);
                writeFileSync(join(CPU_PROF, file), `kvlog ${argv.join(" ")} (through the ${RTT_MS} ms relay)\n${t.stderr}`);
                note(`kvlog ${argv.join(" ")} through the relay: timeline (${fmtMs(t.wallMs)}) in ${join(CPU_PROF, file)}`);
              }
            }
          } finally {
            await remote.close();
          }
        }
        if (CPU_PROF) {
          const env = { PATH: process.env.PATH!, HOME: tmp, KUBECONFIG: c.kubeconfigs.admin, NODE_COMPILE_CACHE: COMPILE_CACHE };
          mkdirSync(CPU_PROF, { recursive: true });
          for (const extra of [[], ["--no-record"]]) {
            const what = `kvlog set kube-apiserver ${LEVEL} --endpoint ${[c.apiservers[0]!.url, ...extra].join(" ")}`;
            const r = await timed(process.execPath, ["--cpu-prof", "--cpu-prof-dir", CPU_PROF, CLI, "set", "kube-apiserver", LEVEL, "--endpoint", c.apiservers[0]!.url, ...extra], env);
            // the same command again without the profiler, with a timeline of module loads and requests
            const t = await timed(process.execPath, ["--import", TRACE, CLI, "set", "kube-apiserver", LEVEL, "--endpoint", c.apiservers[0]!.url, ...extra], env);
            const file = join(CPU_PROF, `trace${extra.join("")}.txt`);
            writeFileSync(file, `${what}\n${t.stderr}`);
            note(`${what}: cpu profile (exit ${r.code}, ${fmtMs(r.wallMs)}) and timeline (${fmtMs(t.wallMs)}, ${file}) in ${CPU_PROF}`);
          }
        }
      } finally {
        restoreRecord(kubectl, c.kubeconfigs.admin, snap);
      }
      loads.push(`real rows end ${load()}`);
    }
  } finally {
    await release();
  }
}

for (const size of [1000, 5000]) if ([...fleetRowNames(size), ...(size === CAPTURE_FLEET ? [CAPTURE_ROW] : [])].some(only)) rows.push(...(await fleetRows(size)));
for (const nodes of [10, 100]) if (only(contextsRowName(nodes))) rows.push(...(await contextsRows(nodes)));
loads.push(`end ${load()}`);
rmSync(tmp, { recursive: true, force: true });

const machine = `${cpus().length} × ${cpus()[0]?.model ?? "cpu"}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.versions.node}`;
const date = new Date().toISOString().slice(0, 10);
process.stdout.write(`kvlog bench ${date} on ${machine}\n`);
process.stdout.write(`load average (1, 5, 15 min): ${loads.join("; ")}\n`);
process.stdout.write(`${clusterLine}; ${ROUNDS} paired rounds a group (order rotating, one warm-up round not counted); fleet: ${RUNS} run(s) a row\n`);
process.stdout.write(`kvlog: node bin/kvlog.js, NODE_COMPILE_CACHE=${COMPILE_CACHE} (warm); CPU and PEAK RSS of the measured process (by hand: kubectl port-forward and curl, CPU summed, RSS the larger)\n`);
process.stdout.write(
  seaCurrent
    ? `single executable: ${SEA} (${(statSync(SEA).size / 1048576).toFixed(0)} MiB)\n`
    : `single executable: not measured (npm run build:sea builds it; the bench uses it when it is newer than src/ and bin/build.mjs)\n`,
);
for (const n of notes) process.stdout.write(`note: ${n}\n`);
process.stdout.write(`${render(rows)}\n`);
if (JSON_OUT) writeFileSync(JSON_OUT, JSON.stringify({ date: new Date().toISOString(), machine, loads, cluster: clusterLine, rounds: ROUNDS, runs: RUNS, notes, rows }, null, 2));

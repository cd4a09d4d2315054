// End-to-end: the built kvlog CLI, as a separate process, against a real cluster.
//
// By default the local cluster of upstream binaries from `npm run cluster:up`
// (state in /tmp/kvlog-e2e). Against another cluster, set:
//   KVLOG_E2E_KUBECONFIG         admin kubeconfig (creates the test identities and RBAC)
//   KVLOG_E2E_LOGS=kubectl       read component logs with `kubectl logs` (pods) and
//   KVLOG_E2E_KUBELET_LOGS       a command that prints a node's kubelet log; {node} is replaced
//                                (kind: "docker exec {node} journalctl -u kubelet --no-pager -o cat")
//   KVLOG_E2E_PROXY_PROFILING_NODE  a node whose kube-proxy has enableProfiling: true
//   KVLOG_E2E_PROXY_OFF_NODE        a node whose kube-proxy has it off (optional)
//
// A change is proven by the component's own log: klog lines that are written only at
// -v=5 and above (mux pathrecorder's "satisfied by exact match", the kubelet's PLEG relist)
// appear after kvlog sets 6, and stop after kvlog sets the level back.

import { execFile } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { kvlog, type CliRun } from "../integration/run.ts";
import { kvlogIdentity, readmeRoles } from "./identities.ts";
import { logFile, V5_KUBELET, V5_PATHRECORDER } from "./logs.ts";
import { docBlock } from "../docs-blocks.ts";

const exec = promisify(execFile);
const STATE = process.env.KVLOG_E2E_DIR ?? "/tmp/kvlog-e2e";
const ADMIN = process.env.KVLOG_E2E_KUBECONFIG ?? `${STATE}/admin.kubeconfig`;
const LOCAL = !process.env.KVLOG_E2E_KUBECONFIG;
const LOG_MODE = process.env.KVLOG_E2E_LOGS ?? (LOCAL ? "files" : "kubectl");
const BASE_LEVEL = 1;
const HIGH_LEVEL = 6;
const NS = "kvlog-e2e";

function kubectlBin(): string {
  const env = `${STATE}/env`;
  if (LOCAL && existsSync(env)) {
    const m = /^K8S_BIN=(.*)$/m.exec(readFileSync(env, "utf8"));
    if (m && existsSync(`${m[1]}/kubectl`)) return `${m[1]}/kubectl`;
  }
  return "kubectl";
}
const KUBECTL = kubectlBin();

// ---- what legitimately differs by Kubernetes version ------------------------------------------
// The server's own version (as kvlog sees it), and the local cluster's harness (cluster.json:
// the ComponentFlagz gate that up.sh turns on where /flagz is alpha; k8s-versions.sh).

const SERVER_MINOR: number = await (async () => {
  const cfg = process.env.KVLOG_E2E_KUBECONFIG ?? `${STATE}/admin.kubeconfig`;
  if (!existsSync(cfg)) return Number.MAX_SAFE_INTEGER; // beforeAll reports the missing cluster
  const v = JSON.parse((await exec(KUBECTL, ["--kubeconfig", cfg, "version", "-o", "json"])).stdout).serverVersion;
  return Number(String(v.minor).replace(/\D+$/, ""));
})();
const CLUSTER_GATES: Record<string, boolean> = LOCAL && existsSync(`${STATE}/cluster.json`) ? (JSON.parse(readFileSync(`${STATE}/cluster.json`, "utf8")).featureGates ?? {}) : {};

/**
 * Whether /flagz gives kvlog a component's startup level: its structured form (v1beta1, on by
 * default) from 1.36; v1alpha1 in 1.35 behind the ComponentFlagz gate. Before that /flagz is
 * absent (404) or, behind the gate (1.32 apiserver, 1.33 the rest), text only: kvlog reads no
 * level, so `get` says unknown and `set --for` changes nothing without --restore-to.
 */
const FLAGZ_READABLE = SERVER_MINOR >= 36 || (SERVER_MINOR === 35 && CLUSTER_GATES.ComponentFlagz === true);
/** The components whose startup level kvlog can only read from /flagz (the others: pod command line, kubelet /configz). */
const FLAGZ_ONLY = new Set(["kube-apiserver", "kube-proxy"]);
/** Tells the matrix table (matrix-table.ts) that a test asserted what this version does differently. */
function versionBranch(task: { meta: object }, note: string): void {
  (task.meta as Record<string, unknown>).versionBranch = note;
}
const NO_FLAGZ_LEVEL = "no structured /flagz (before 1.36; 1.35 only behind the ComponentFlagz gate)";

async function kubectl(args: string[], input?: string): Promise<string> {
  const child = exec(KUBECTL, ["--kubeconfig", ADMIN, ...args], { maxBuffer: 64 * 1024 * 1024 });
  if (input !== undefined) {
    child.child.stdin?.end(input);
  }
  return (await child).stdout;
}

/** A kubeconfig for a ServiceAccount: the admin kubeconfig's cluster with a fresh TokenRequest token. */
async function serviceAccountKubeconfig(name: string): Promise<string> {
  const token = (await kubectl(["-n", NS, "create", "token", name, "--duration=2h"])).trim();
  const path = `${STATE}/e2e-${name}.kubeconfig`;
  const cluster = JSON.parse(await kubectl(["config", "view", "--raw", "--minify", "-o", "json"])).clusters[0];
  const { writeFileSync, mkdirSync } = await import("node:fs");
  mkdirSync(STATE, { recursive: true });
  writeFileSync(
    path,
    JSON.stringify({
      apiVersion: "v1",
      kind: "Config",
      clusters: [{ name: "e2e", cluster: cluster.cluster }],
      users: [{ name, user: { token } }],
      contexts: [{ name, context: { cluster: "e2e", user: name } }],
      "current-context": name,
    }),
    { mode: 0o600 },
  );
  return path;
}

let kvlogKubeconfig = "";
let nobodyKubeconfig = "";
let noPutKubeconfig = "";
let minterKubeconfig = "";
let recordlessKubeconfig = "";
const tokens: string[] = [];

async function run(args: string[], kubeconfig = kvlogKubeconfig): Promise<CliRun> {
  const r = await kvlog(args, { KUBECONFIG: kubeconfig }, 60_000);
  for (const t of tokens) expect(r.stdout + r.stderr, "a token leaked into the output").not.toContain(t);
  return r;
}

// ---- log sources -------------------------------------------------------------------------

interface LogSource {
  /** A position in the log; text() returns what was written after it. */
  mark(): Promise<number>;
  since(mark: number): Promise<string>;
}

function fileLog(path: string): LogSource {
  const f = logFile(path);
  return { mark: async () => f.mark(), since: async (mark) => f.since(mark) };
}

function podLog(namespace: string, pod: string): LogSource {
  return {
    async mark() {
      return Date.now();
    },
    async since(mark) {
      return kubectl(["-n", namespace, "logs", pod, `--since-time=${new Date(mark - 500).toISOString()}`]);
    },
  };
}

function commandLog(template: string, node: string): LogSource {
  return {
    async mark() {
      return Date.now();
    },
    async since(mark) {
      const cmd = template.replaceAll("{node}", node) + ` --since=@${Math.floor((mark - 500) / 1000)}`;
      return (await exec("sh", ["-c", cmd], { maxBuffer: 64 * 1024 * 1024 })).stdout;
    },
  };
}

async function logFor(result: { component: string; node: string | null; namespace: string | null; pod: string | null }): Promise<LogSource> {
  if (LOG_MODE === "files") {
    const single = ["kube-apiserver", "kube-scheduler", "kube-controller-manager", "cloud-controller-manager"].includes(result.component);
    return fileLog(`${STATE}/logs/${single ? result.component : `${result.component}-${result.node}`}.log`);
  }
  if (result.component === "kubelet") {
    const tpl = process.env.KVLOG_E2E_KUBELET_LOGS;
    if (!tpl) throw new Error("set KVLOG_E2E_KUBELET_LOGS to a command that prints a node's kubelet log ({node} is replaced)");
    return commandLog(tpl, result.node!);
  }
  if (result.pod) return podLog(result.namespace!, result.pod);
  // The apiserver is reached through the cluster URL; with one replica its static pod is the one.
  const pods = JSON.parse(await kubectl(["-n", "kube-system", "get", "pods", "-l", `component=${result.component}`, "-o", "json"])).items;
  if (pods.length !== 1) throw new Error(`expected one ${result.component} pod to read logs from, found ${pods.length}`);
  return podLog("kube-system", pods[0].metadata.name);
}

// Written by klog only at -v=5 and above.
const MARKERS: Record<string, RegExp> = {
  "kube-apiserver": V5_PATHRECORDER,
  "kube-scheduler": V5_PATHRECORDER,
  "kube-controller-manager": V5_PATHRECORDER,
  "cloud-controller-manager": V5_PATHRECORDER,
  "kube-proxy": V5_PATHRECORDER,
  kubelet: V5_KUBELET,
};

async function waitFor(log: LogSource, mark: number, re: RegExp, ms: number): Promise<string | undefined> {
  const until = Date.now() + ms;
  for (;;) {
    const text = await log.since(mark);
    const line = text.split("\n").find((l) => re.test(l));
    if (line) return line;
    if (Date.now() > until) return undefined;
    await new Promise((r) => setTimeout(r, 500));
  }
}

/**
 * Sets the level, proves from the log that it took effect, sets it back and proves the
 * lines stop. `args` narrows to one target so the log is unambiguous.
 */
async function proveChange(component: string, args: string[]): Promise<void> {
  const set = async (level: number) => {
    const r = await run(["set", component, String(level), ...args, "-o", "json"]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const doc = r.json();
    expect(doc.summary).toEqual({ total: 1, succeeded: 1, failed: 0, skipped: 0 });
    expect(doc.results[0]).toMatchObject({ ok: true, outcome: "set", httpStatus: 200, level });
    return doc.results[0];
  };
  const first = await set(BASE_LEVEL);
  const marker = MARKERS[first.component]!;
  const log = await logFor(first);

  // At the base level: a request (our own PUT) and a few seconds of work write no marker.
  const quiet = await log.mark();
  await set(BASE_LEVEL);
  await new Promise((r) => setTimeout(r, 3000));
  expect((await log.since(quiet)).split("\n").filter((l) => marker.test(l)), `${component} wrote -v=5 lines at -v=${BASE_LEVEL}`).toEqual([]);

  // Raised: the marker appears (our second PUT is itself logged by the mux at -v=5).
  const raised = await log.mark();
  await set(HIGH_LEVEL);
  await set(HIGH_LEVEL);
  const line = await waitFor(log, raised, marker, 20_000);
  expect(line, `${component} wrote no -v=5 line after kvlog set it to ${HIGH_LEVEL}`).toBeDefined();

  // Back to the base level: the marker stops.
  await set(BASE_LEVEL);
  await new Promise((r) => setTimeout(r, 1500));
  const lowered = await log.mark();
  await set(BASE_LEVEL);
  await new Promise((r) => setTimeout(r, 3000));
  expect((await log.since(lowered)).split("\n").filter((l) => marker.test(l)), `${component} still logs at -v=5 after kvlog set it back`).toEqual([]);
}

// ---- set-up: identities, exactly as the README tells users ---------------------------------

beforeAll(async () => {
  expect(existsSync(ADMIN), `no admin kubeconfig at ${ADMIN}: run npm run cluster:up, or set KVLOG_E2E_KUBECONFIG`).toBe(true);
  // The README's ClusterRole, Role (the record) and record ConfigMaps as they are, bound to the
  // suite's kvlog ServiceAccount (the README's bindings name a placeholder group).
  await kubectl(["apply", "-f", "-"], readmeRoles());
  await kubectl(["apply", "-f", "-"], `${e2eObjects()}\n---\n${kvlogIdentity(NS)}`);
  kvlogKubeconfig = await serviceAccountKubeconfig("kvlog");
  nobodyKubeconfig = await serviceAccountKubeconfig("nobody");
  noPutKubeconfig = await serviceAccountKubeconfig("no-put");
  minterKubeconfig = await serviceAccountKubeconfig("minter");
  recordlessKubeconfig = await serviceAccountKubeconfig("recordless");
  for (const k of [kvlogKubeconfig, nobodyKubeconfig, noPutKubeconfig, minterKubeconfig, recordlessKubeconfig]) tokens.push(JSON.parse(readFileSync(k, "utf8")).users[0].user.token);
});

afterAll(async () => {
  // Leave every component at the base level.
  if (kvlogKubeconfig) {
    for (const c of ["apiserver", "scheduler", "kcm", "ccm", "kubelet"]) await run(["set", c, String(BASE_LEVEL)]).catch(() => {});
    const { on } = nodesWithProxy();
    if (on) await run(["set", "kube-proxy", String(BASE_LEVEL), "--node", on]).catch(() => {});
  }
});

/** The other e2e identities (kvlog itself is identities.ts's): recordless (the README's ClusterRole only), nobody, no-put, minter. */
function e2eObjects(): string {
  return `
apiVersion: v1
kind: Namespace
metadata: { name: ${NS} }
---
apiVersion: v1
kind: ServiceAccount
metadata: { name: nobody, namespace: ${NS} }
---
apiVersion: v1
kind: ServiceAccount
metadata: { name: no-put, namespace: ${NS} }
---
apiVersion: v1
kind: ServiceAccount
metadata: { name: recordless, namespace: ${NS} }
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: { name: kvlog-e2e-recordless }
roleRef: { apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: kvlog }
subjects: [{ kind: ServiceAccount, name: recordless, namespace: ${NS} }]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: { name: find-and-forward, namespace: kube-system }
rules:
  - { apiGroups: [""], resources: ["pods"], verbs: ["get", "list"] }
  - { apiGroups: [""], resources: ["pods/portforward"], verbs: ["get", "create"] }
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: { name: kvlog-e2e-no-put, namespace: kube-system }
roleRef: { apiGroup: rbac.authorization.k8s.io, kind: Role, name: find-and-forward }
subjects: [{ kind: ServiceAccount, name: no-put, namespace: ${NS} }]
---
apiVersion: v1
kind: ServiceAccount
metadata: { name: minter, namespace: ${NS} }
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: { name: mint-kvlog-token, namespace: ${NS} }
rules:
  - { apiGroups: [""], resources: ["serviceaccounts/token"], verbs: ["create"], resourceNames: ["kvlog"] }
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: { name: kvlog-e2e-minter, namespace: ${NS} }
roleRef: { apiGroup: rbac.authorization.k8s.io, kind: Role, name: mint-kvlog-token }
subjects: [{ kind: ServiceAccount, name: minter, namespace: ${NS} }]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: { name: kvlog-e2e-list-nodes }
rules:
  - { apiGroups: [""], resources: ["nodes"], verbs: ["get", "list"] }
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: { name: kvlog-e2e-no-put-nodes }
roleRef: { apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: kvlog-e2e-list-nodes }
subjects: [{ kind: ServiceAccount, name: no-put, namespace: ${NS} }]
`;
}

/** The nodes whose kubelet runs (the local cluster's two; elsewhere every Ready node). */
function realNodes(): string[] {
  if (LOCAL) return JSON.parse(readFileSync(`${STATE}/cluster.json`, "utf8")).nodes.map((n: { name: string }) => n.name).sort();
  throw new Error("realNodes() is only known for the local cluster");
}

function nodesWithProxy(): { on: string | undefined; off: string | undefined } {
  // The local cluster: node-1's kube-proxy has profiling on, node-2's off.
  if (LOCAL) return { on: "kvlog-node-1", off: "kvlog-node-2" };
  return { on: process.env.KVLOG_E2E_PROXY_PROFILING_NODE, off: process.env.KVLOG_E2E_PROXY_OFF_NODE };
}

// ---- the suite ------------------------------------------------------------------------------

describe("kvlog changes the level of real components (proven by their logs)", () => {
  it("kube-apiserver: every replica, each at its own address, proven by each replica's own log", async () => {
    const replicas: { ip: string; port: number; log: string }[] = LOCAL ? JSON.parse(readFileSync(`${STATE}/cluster.json`, "utf8")).apiservers ?? [] : [];
    if (replicas.length < 2) {
      await proveChange("apiserver", []); // one replica: the kubeconfig URL
      return;
    }
    const ids = replicas.map((x) => `kube-apiserver/${x.ip}:${x.port}`).sort();
    const set = async (level: number) => {
      const r = await run(["set", "apiserver", String(level), "-o", "json"]);
      expect(r.code, r.stdout + r.stderr).toBe(0);
      const doc = r.json();
      expect(doc.warnings).toEqual([]);
      expect(doc.results.map((x: any) => `${x.id} ${x.outcome}`).sort()).toEqual(ids.map((id) => `${id} set`));
      expect(doc.results.every((x: any) => x.endpoint.startsWith("https://10.222.0."))).toBe(true); // each at its own address, not the load balancer
    };
    const logs = replicas.map((x) => fileLog(x.log));
    const marker = MARKERS["kube-apiserver"]!;
    await set(BASE_LEVEL);
    const quiet = await Promise.all(logs.map((l) => l.mark()));
    await set(BASE_LEVEL);
    await new Promise((r) => setTimeout(r, 3000));
    for (const [k, l] of logs.entries()) expect((await l.since(quiet[k]!)).split("\n").filter((x) => marker.test(x)), `replica ${replicas[k]!.ip} logs -v=5 at -v=1`).toEqual([]);
    const raised = await Promise.all(logs.map((l) => l.mark()));
    await set(HIGH_LEVEL);
    await set(HIGH_LEVEL);
    for (const [k, l] of logs.entries()) expect(await waitFor(l, raised[k]!, marker, 20_000), `replica ${replicas[k]!.ip} wrote no -v=5 line`).toBeDefined();
    await set(BASE_LEVEL);
    await new Promise((r) => setTimeout(r, 1500));
    const lowered = await Promise.all(logs.map((l) => l.mark()));
    await set(BASE_LEVEL);
    await new Promise((r) => setTimeout(r, 3000));
    for (const [k, l] of logs.entries()) expect((await l.since(lowered[k]!)).split("\n").filter((x) => marker.test(x)), `replica ${replicas[k]!.ip} still logs -v=5`).toEqual([]);
  });

  it("kube-scheduler, through a port-forward (apiserver -> kubelet -> runtime -> 127.0.0.1:10259)", async () => {
    const pods = (await run(["set", "scheduler", String(BASE_LEVEL), "-o", "json"])).json().results;
    expect(pods.length).toBeGreaterThan(0);
    await proveChange("scheduler", ["-l", `component=kube-scheduler`, "--request-timeout", "20s"]);
  });

  it("kube-controller-manager, through a port-forward", async () => {
    await proveChange("kcm", []);
  });

  it("cloud-controller-manager (k8s.io/cloud-provider with its fake cloud), through a port-forward to 10258", async () => {
    await proveChange("ccm", ["-l", "k8s-app=cloud-controller-manager"]);
  });

  it("kubelet, through the apiserver's node proxy", async () => {
    const nodes = (await run(["set", "kubelet", String(BASE_LEVEL), "-o", "json"])).json().results.filter((x: any) => x.outcome === "set");
    expect(nodes.length).toBeGreaterThan(0);
    await proveChange("kubelet", ["--node", nodes[0].node]);
  });

  it("kube-proxy with profiling on, through a port-forward to plain HTTP", async () => {
    const { on } = nodesWithProxy();
    if (!on) throw new Error("name a node whose kube-proxy has enableProfiling: true in KVLOG_E2E_PROXY_PROFILING_NODE");
    await proveChange("kube-proxy", ["--node", on]);
  });
});

describe("other paths against real components", () => {
  it("kubelet --direct: no bearer token to node-reported addresses unless asked; then TLS verified against the cluster CA", async () => {
    const withheld = await run(["set", "kubelet", String(BASE_LEVEL), "--direct", "-o", "json"]);
    const live = (doc: any) => doc.results.filter((x: any) => !x.skipped);
    // The kvlog identity is a ServiceAccount token: a node-reported address does not get it.
    expect(withheld.code).toBe(1);
    for (const x of live(withheld.json())) {
      expect(x).toMatchObject({ via: "direct", outcome: "unauthorized", httpStatus: 401, request: { auth: "none: bearer token withheld from a node-reported address" } });
    }
    expect(withheld.stderr).toMatch(/--send-token-to-nodes/);
    const r = await run(["set", "kubelet", String(BASE_LEVEL), "--direct", "--send-token-to-nodes", "-o", "json"]);
    const doc = r.json();
    // The local cluster's kubelet certificates are signed by the cluster CA (like serverTLSBootstrap).
    if (LOCAL) {
      expect(r.code, r.stdout).toBe(0);
      expect(live(doc).map((x: any) => x.node).sort()).toEqual(realNodes());
      expect(live(doc).every((x: any) => x.via === "direct" && x.outcome === "set")).toBe(true);
    } else {
      expect(doc.results.every((x: any) => ["set", "tls-error"].includes(x.outcome))).toBe(true);
    }
  });

  it("--dry-run resolves real targets and sends nothing (the kubelet's level stays put: no -v=5 lines)", async () => {
    const node = realNodes()[0]!;
    const log = await logFor({ component: "kubelet", node, namespace: null, pod: null });
    await run(["set", "kubelet", String(BASE_LEVEL), "--node", node]);
    const mark = await log.mark();
    const r = await run(["set", "kubelet", String(HIGH_LEVEL), "--dry-run", "-o", "json"]);
    expect(r.code).toBe(0);
    const doc = r.json();
    expect(doc.dryRun).toBe(true);
    const live = doc.results.filter((x: any) => !x.skipped);
    expect(live.length).toBeGreaterThan(0);
    for (const x of live) expect(x).toMatchObject({ outcome: "dry-run", ok: true, httpStatus: null, request: { method: "PUT", body: String(HIGH_LEVEL) } });
    await new Promise((r) => setTimeout(r, 4000)); // the kubelet relists every second: at -v=6 it would have said so
    expect((await log.since(mark)).split("\n").filter((l) => MARKERS.kubelet!.test(l))).toEqual([]);
  });

  it("--service-account: an identity that may only mint the token sets the apiserver, so the minted token was used", async () => {
    const r = await run(["set", "apiserver", String(BASE_LEVEL), "--service-account", `${NS}/kvlog`, "-o", "json"], minterKubeconfig);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.json().results[0].request.auth).toMatch(/ServiceAccount kvlog-e2e\/kvlog/);
    // The minter itself may not PUT: without --service-account it is refused.
    const own = await run(["set", "apiserver", String(BASE_LEVEL), "-o", "json"], minterKubeconfig);
    expect(own.json().results[0]).toMatchObject({ outcome: "forbidden", httpStatus: 403 });
  });
});

// A node's status is written by its own kubelet. Here a Node object points --direct at a listener
// of the test's (10.222.0.1, the test network's host address) with a self-signed certificate:
// what it receives is what a compromised node would.
describe.runIf(LOCAL)("--direct and a node that lies about its address", () => {
  const LIAR = "kvlog-e2e-liar";
  const received: { authorization: string | undefined; path: string }[] = [];
  let server: import("node:https").Server | undefined;
  let port = 0;

  beforeAll(async () => {
    const https = await import("node:https");
    const { selfSignedServing } = await import("../fake/x509.ts");
    const tls = await selfSignedServing("10.222.0.1", [], ["10.222.0.1"]);
    server = https.createServer({ key: tls.keyPem, cert: tls.certChainPem }, (req, res) => {
      received.push({ authorization: req.headers.authorization, path: req.url ?? "" });
      res.writeHead(200, { "Content-Type": "text/plain" }).end("successfully set klog.logging.verbosity to 2\n");
    });
    await new Promise<void>((resolve) => server!.listen(0, "10.222.0.1", resolve));
    port = (server.address() as import("node:net").AddressInfo).port;
    const now = new Date().toISOString().replace(/\.\d+Z$/, "Z");
    await kubectl(["create", "-f", "-"], JSON.stringify({
      // The fleet label keeps the kube-proxy DaemonSet off it (see the cluster README).
      apiVersion: "v1", kind: "Node", metadata: { name: LIAR, labels: { "kubernetes.io/hostname": LIAR, "kvlog.dev/e2e-fleet": "true" } },
      status: {
        addresses: [{ type: "InternalIP", address: "10.222.0.1" }],
        daemonEndpoints: { kubeletEndpoint: { Port: port } },
        conditions: [{ type: "Ready", status: "True", reason: "KubeletReady", message: "kubelet is posting ready status", lastHeartbeatTime: now, lastTransitionTime: now }],
      },
    }));
  });

  afterAll(async () => {
    await kubectl(["delete", "node", LIAR, "--ignore-not-found"]).catch(() => "");
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    // The liar answered "successfully set", so kvlog recorded the change; its node is gone now:
    // take it out of the record as an operator would, or the record tests below meet it.
    await forgetRecorded("kubelet", `kubelet/${LIAR}`).catch(() => {});
  });

  it("verified TLS refuses the liar before anything is sent, even with --send-token-to-nodes", async () => {
    const r = await run(["set", "kubelet", "2", "--direct", "--send-token-to-nodes", "--node", LIAR, "-o", "json"]);
    expect(r.code).toBe(1);
    expect(r.json().results[0]).toMatchObject({ via: "direct", outcome: "tls-error" });
    expect(r.json().results[0].hint).not.toMatch(/insecure/);
    expect(received).toEqual([]);
  });

  it("with verification off, the liar gets the PUT but no bearer token; only --send-token-to-nodes would hand it over", async () => {
    const r = await run(["set", "kubelet", "2", "--direct", "--node", LIAR, "--insecure-skip-tls-verify", "-o", "json"]);
    expect(r.json().results[0]).toMatchObject({ via: "direct", request: { auth: "none: bearer token withheld from a node-reported address" } });
    expect(received).toEqual([{ authorization: undefined, path: "/debug/flags/v" }]);
  });
});

describe("real failure answers", () => {
  it("an identity with no grant: 403 from the apiserver, with the missing rule", async () => {
    const r = await run(["set", "apiserver", "3", "-o", "json"], nobodyKubeconfig);
    expect(r.code).toBe(1);
    const x = r.json().results[0];
    expect(x).toMatchObject({ outcome: "forbidden", httpStatus: 403, ok: false });
    expect(x.message).toContain(`User "system:serviceaccount:${NS}:nobody" cannot put path "/debug/flags/v"`);
    expect(x.hint).toBe('grant nonResourceURLs ["/debug/flags/v"] verbs ["put"]');
  });

  it("an identity with no grant: discovery is refused in one line with the rule", async () => {
    const r = await run(["set", "scheduler", "3"], nobodyKubeconfig);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe("");
    expect(r.stderr).toMatch(/^kvlog: forbidden to list pods in namespace kube-system: .*cannot list resource "pods".*Grant: apiGroups \[""\] resources \["pods"\] verbs \["list"\]/);
  });

  it("port-forward allowed but PUT not: the scheduler's own SubjectAccessReview answers 403", async () => {
    const r = await run(["set", "scheduler", "3", "-o", "json"], noPutKubeconfig);
    expect(r.code).toBe(1);
    const x = r.json().results[0];
    expect(x).toMatchObject({ outcome: "forbidden", httpStatus: 403, via: "port-forward" });
    expect(x.message).toMatch(/cannot put path "\/debug\/flags\/v"/);
    expect(x.hint).toMatch(/SubjectAccessReview/);
  });

  it("a token the cluster does not know: 401, every time", async () => {
    const bogus = "kvlog-e2e-bogus-token-0123456789abcdef";
    tokens.push(bogus);
    // The apiserver retires an HTTP/2 connection (GOAWAY) after a 401 to an unknown client, with
    // kvlog's other requests (identity, record, discovery) in flight on it: they go again on a new
    // connection (before, 9 runs of 10 ended in "cannot reach the apiserver ... GOAWAY").
    for (let i = 0; i < 5; i++) {
      const r = await run(["set", "apiserver", "3", "--token", bogus, "-o", "json"]);
      expect(r.code, r.stderr).toBe(1);
      expect(r.json().results[0]).toMatchObject({ outcome: "unauthorized", httpStatus: 401 });
    }
  });

  it("kube-proxy with profiling off: not-installed, with the setting that turns it on", async () => {
    const { off } = nodesWithProxy();
    if (!off) throw new Error("name a node whose kube-proxy has profiling off in KVLOG_E2E_PROXY_OFF_NODE");
    const r = await run(["set", "kube-proxy", "3", "--node", off, "-o", "json"]);
    expect(r.code).toBe(1);
    const x = r.json().results[0];
    expect(x).toMatchObject({ outcome: "not-installed", httpStatus: 404, node: off });
    expect(x.hint).toMatch(/enableProfiling: true/);
  });

  it("a node that does not exist is reported next to the real ones", async () => {
    const real = (await run(["set", "kubelet", String(BASE_LEVEL), "--dry-run", "-o", "json"])).json().results.find((x: any) => !x.skipped).node;
    const r = await run(["set", "kubelet", String(BASE_LEVEL), "-o", "json", "--node", real, "--node", "no-such-node"]);
    expect(r.code).toBe(1);
    expect(r.json().results.map((x: any) => [x.id, x.outcome])).toEqual([
      [`kubelet/${real}`, "set"],
      ["kubelet/no-such-node", "missing"],
    ]);
  });
});

// The local cluster is production-sized: up.sh adds KVLOG_E2E_FLEET_NODES (default 1,200) real-size
// Node objects through the API, registered without a kubelet (like nodes that are down), next to
// the two real nodes whose kubelets publish ~50 images each. A node list is then several pages.
describe.runIf(LOCAL)("a production-sized cluster: paged discovery, nodes that are down", () => {
  const fleet = (): { count: number; label: string; names: string } => JSON.parse(readFileSync(`${STATE}/cluster.json`, "utf8")).fleet;

  it("the test bed is real size: real nodes of 10 KB or more, over a thousand more without a kubelet", async () => {
    for (const n of realNodes()) expect((await kubectl(["get", "node", n, "-o", "json"])).length).toBeGreaterThan(10_000);
    expect(fleet().count).toBeGreaterThanOrEqual(1000);
    const all = (await kubectl(["get", "nodes", "-o", "name", "--chunk-size=500"])).trim().split("\n");
    expect(all.length).toBe(fleet().count + realNodes().length);
  });

  it("set kubelet reads every page of the node list (chunks of 500, of 100, and unpaged) and skips the nodes that are down without waiting", async () => {
    const total = fleet().count + realNodes().length;
    for (const chunk of ["500", "100", "0"]) {
      const started = Date.now();
      const r = await run(["set", "kubelet", String(BASE_LEVEL), "-o", "json", "--chunk-size", chunk]);
      const took = Date.now() - started;
      expect(r.code, r.stderr).toBe(0);
      const doc = r.json();
      expect(doc.summary).toEqual({ total, succeeded: realNodes().length, failed: 0, skipped: fleet().count });
      expect(new Set(doc.results.map((x: any) => x.id)).size).toBe(total); // every page, no duplicates
      expect(doc.results.filter((x: any) => x.outcome === "set").map((x: any) => x.node).sort()).toEqual(realNodes());
      for (const x of doc.results.filter((x: any) => x.skipped)) {
        expect(x).toMatchObject({ outcome: "node-not-ready", ok: false, httpStatus: null, attempts: 0, endpoint: "" });
      }
      // Waiting on one dead kubelet alone would take the dial timeout (30 s): the run took seconds.
      expect(took, `set kubelet with ${fleet().count} nodes down took ${took} ms`).toBeLessThan(20_000);
      expect(r.stderr).toContain(`${fleet().count} skipped, their node is not ready (--include-not-ready tries them)`);
    }
  });

  it("set kube-proxy pages the node list too, and changes the real pods", async () => {
    const { on, off } = nodesWithProxy();
    const r = await run(["set", "kube-proxy", String(BASE_LEVEL), "-o", "json", "--chunk-size", "200"]);
    const doc = r.json();
    expect(doc.results.map((x: any) => [x.node, x.outcome]).sort()).toEqual([
      [on, "set"],
      [off, "not-installed"],
    ]);
    expect(r.code).toBe(1); // node-2's kube-proxy runs without profiling
  });

  it("a node that is down is still tried when named (and the run stays bounded by --request-timeout)", async () => {
    const down = fleet().names.split("..")[0]!; // "kvlog-fleet-00001..kvlog-fleet-01200"
    expect(JSON.parse(await kubectl(["get", "node", down, "-o", "json"])).metadata.labels).toMatchObject({ "kvlog.dev/e2e-fleet": "true" });
    const started = Date.now();
    const r = await run(["set", "kubelet", "2", "--node", down, "--request-timeout", "5s", "-o", "json"]);
    expect(r.code).toBe(1);
    const x = r.json().results[0];
    expect(x.skipped).toBe(false);
    expect(["unreachable", "timeout", "error"]).toContain(x.outcome);
    expect(Date.now() - started).toBeLessThan(20_000);
  });
});

// A worker's kubelet can publish a mirror pod with any labels for its own node. kvlog must not
// send an operator's token to one labelled component=kube-scheduler on a worker (README
// "Security notes"). node-2 is a worker: a static pod manifest there becomes such a mirror pod,
// and a listener on 127.0.0.1:10259 in node-2's network namespace records any connection.
describe.runIf(LOCAL)("credentials go only to pods the cluster vouches for", () => {
  const ROGUE = "rogue-scheduler";
  const worker = "kvlog-node-2";
  const manifest = `${STATE}/nodes/${worker}/manifests/${ROGUE}.yaml`;
  const seen = `${STATE}/rogue-connections.txt`;
  let listener: import("node:child_process").ChildProcess | undefined;

  beforeAll(async () => {
    const { writeFileSync } = await import("node:fs");
    const { spawn } = await import("node:child_process");
    writeFileSync(seen, "");
    const script = `require("net").createServer((s) => { require("fs").appendFileSync(${JSON.stringify(seen)}, "connection\\n"); s.destroy(); }).listen(10259, "127.0.0.1")`;
    listener = spawn("ip", ["netns", "exec", worker, process.execPath, "-e", script], { stdio: "ignore" });
    writeFileSync(
      manifest,
      `apiVersion: v1
kind: Pod
metadata:
  name: ${ROGUE}
  namespace: kube-system
  labels: { component: kube-scheduler, tier: control-plane }
spec:
  hostNetwork: true
  containers:
  - name: kube-scheduler
    image: registry.k8s.io/kube-scheduler:v1.36.3
    command: ["kube-scheduler"]
`,
    );
    // The kubelet reads its manifests every 5 s, then publishes the mirror pod.
    const until = Date.now() + 60_000;
    for (;;) {
      const phase = await kubectl(["-n", "kube-system", "get", "pod", `${ROGUE}-${worker}`, "-o", "jsonpath={.status.phase}"]).catch(() => "");
      if (phase === "Running") break;
      if (Date.now() > until) throw new Error(`the mirror pod ${ROGUE}-${worker} did not appear`);
      await new Promise((r) => setTimeout(r, 1000));
    }
  }, 90_000);

  afterAll(async () => {
    const { rmSync } = await import("node:fs");
    rmSync(manifest, { force: true });
    listener?.kill();
    // The kubelet reads its manifests every 5 s: wait until the mirror pod is gone, so that later
    // tests meet only the real scheduler.
    const until = Date.now() + 60_000;
    while (Date.now() < until && (await kubectl(["-n", "kube-system", "get", "pod", `${ROGUE}-${worker}`, "--ignore-not-found", "-o", "name"]).catch(() => "")).trim()) {
      await new Promise((r) => setTimeout(r, 1000));
    }
  }, 90_000);

  it("the worker's mirror pod labelled component=kube-scheduler is untrusted and reached by nothing; the real scheduler is set", async () => {
    const { readFileSync: read } = await import("node:fs");
    const r = await run(["set", "scheduler", String(BASE_LEVEL), "-o", "json"]);
    expect(r.code).toBe(1);
    const byPod = Object.fromEntries(r.json().results.map((x: any) => [x.pod, x]));
    expect(byPod[`kube-scheduler-kvlog-node-1`]).toMatchObject({ outcome: "set", ok: true });
    expect(byPod[`${ROGUE}-${worker}`]).toMatchObject({ outcome: "untrusted", attempts: 0, endpoint: "" });
    expect(byPod[`${ROGUE}-${worker}`].message).toMatch(/runs on node kvlog-node-2, which is not a control-plane node/);
    await new Promise((r) => setTimeout(r, 500));
    expect(read(seen, "utf8")).toBe("");
    // The listener does record: named with --pod, the pod is reached (and, not being a scheduler, fails).
    const named = await run(["set", "scheduler", String(BASE_LEVEL), "--pod", `${ROGUE}-${worker}`, "-o", "json", "--request-timeout", "10s"]);
    expect(named.json().results[0].outcome).not.toBe("untrusted");
    await new Promise((r) => setTimeout(r, 500));
    expect(read(seen, "utf8")).toContain("connection");
  });
});


// ---- fleet safety: get, set --for, reset, status, the record ----------------------------------

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** kvlog started in the background: the child (to signal it) and its result. */
function startKvlog(args: string[], kubeconfig = kvlogKubeconfig, timeoutMs = 120_000): { child: Promise<import("node:child_process").ChildProcess>; done: Promise<CliRun> } {
  let give!: (c: import("node:child_process").ChildProcess) => void;
  const child = new Promise<import("node:child_process").ChildProcess>((r) => (give = r));
  const done = kvlog(args, { KUBECONFIG: kubeconfig }, timeoutMs, give).then((r) => {
    for (const t of tokens) expect(r.stdout + r.stderr, "a token leaked into the output").not.toContain(t);
    return r;
  });
  return { child, done };
}

/** The targets a component's record lists now (kube-system/kvlog-<component>, read as admin). */
async function recorded(component: string): Promise<Map<string, { level: number; by: string; until?: string; change: string }>> {
  const out = new Map<string, { level: number; by: string; until?: string; change: string }>();
  let cm: { data?: Record<string, string> };
  try {
    cm = JSON.parse(await kubectl(["-n", "kube-system", "get", "configmap", `kvlog-${component}`, "-o", "json"]));
  } catch {
    return out;
  }
  for (const [change, text] of Object.entries(cm.data ?? {})) {
    const c = JSON.parse(text);
    for (const target of Object.keys(c.targets)) out.set(target, { level: c.level, by: c.by, until: c.until, change });
  }
  return out;
}

/** Takes one target out of a component's record (kube-system/kvlog-<component>), as the admin. */
async function forgetRecorded(component: string, target: string): Promise<void> {
  const cm = JSON.parse(await kubectl(["-n", "kube-system", "get", "configmap", `kvlog-${component}`, "-o", "json"]));
  let changed = false;
  for (const [change, text] of Object.entries<string>(cm.data ?? {})) {
    const c = JSON.parse(text);
    if (!(target in (c.targets ?? {}))) continue;
    delete c.targets[target];
    changed = true;
    if (Object.keys(c.targets).length === 0) delete cm.data[change];
    else cm.data[change] = JSON.stringify(c);
  }
  if (changed) await kubectl(["replace", "-f", "-"], JSON.stringify(cm));
}

async function until<T>(what: string, fn: () => Promise<T | undefined | false>, ms = 30_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(250);
  }
}

/** Every log that shows the component's level (both apiserver replicas' logs). */
async function logsOf(component: string, node?: string): Promise<LogSource[]> {
  if (component === "kube-apiserver" && LOCAL) {
    return JSON.parse(readFileSync(`${STATE}/cluster.json`, "utf8")).apiservers.map((a: { log: string }) => fileLog(a.log));
  }
  return [await logFor({ component, node: node ?? null, namespace: null, pod: null })];
}

/** No -v=5 line in any of the logs for a few seconds, while `poke` makes the component serve requests. */
async function quiet(component: string, logs: LogSource[], poke: () => Promise<unknown>): Promise<void> {
  await sleep(1500);
  const marks = await Promise.all(logs.map((l) => l.mark()));
  await poke();
  await sleep(2500);
  for (const [k, l] of logs.entries()) {
    expect((await l.since(marks[k]!)).split("\n").filter((x) => MARKERS[component]!.test(x)), `${component} still logs at -v=5`).toEqual([]);
  }
}

/** A -v=5 line in one of the logs, while `poke` makes the component serve requests. */
async function loud(component: string, logs: LogSource[], marks: number[], poke: () => Promise<unknown>): Promise<void> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    await poke();
    const lines = await Promise.all(logs.map(async (l, k) => (await l.since(marks[k]!)).split("\n").filter((x) => MARKERS[component]!.test(x))));
    if (lines.some((x) => x.length > 0)) return;
    expect(Date.now() < deadline, `${component} wrote no -v=5 line after kvlog raised it`).toBe(true);
    await sleep(1000);
  }
}

describe("fleet safety on real components: get, set --for, reset, status, the record", () => {
  const { on: proxyNode } = nodesWithProxy();
  // Earlier tests record their changes too (a lying node's kubelet, node-2): start from an empty record.
  beforeAll(async () => {
    for (const c of ["kube-apiserver", "kube-scheduler", "kube-controller-manager", "cloud-controller-manager", "kubelet", "kube-proxy"]) {
      await kubectl(["-n", "kube-system", "patch", "configmap", `kvlog-${c}`, "--type=json", "-p", '[{"op":"remove","path":"/data"}]']).catch(() => {});
    }
  });
  /**
   * One target of each component (both apiserver replicas), with the selectors that narrow to it
   * (the scheduler by name: an earlier test leaves a worker's rogue mirror pod labelled as one).
   */
  const CASES: [alias: string, component: string, args: string[], node?: string][] = [
    ["apiserver", "kube-apiserver", []],
    ["scheduler", "kube-scheduler", ["--pod", "kube-scheduler-kvlog-node-1"]],
    ["kcm", "kube-controller-manager", ["--pod", "kube-controller-manager-kvlog-node-1"]],
    ["ccm", "cloud-controller-manager", ["--pod", "cloud-controller-manager-kvlog-node-1"]],
    ["kubelet", "kubelet", ["--node", "kvlog-node-1"], "kvlog-node-1"],
    ["kube-proxy", "kube-proxy", ["--node", proxyNode!], proxyNode],
  ];

  it("get: every component's startup level, and where it was read", async ({ task }) => {
    if (!FLAGZ_READABLE) versionBranch(task, `${NO_FLAGZ_LEVEL}: get shows kube-apiserver's and kube-proxy's startup level as unknown, saying why`);
    const sources: Record<string, RegExp> = {
      "kube-apiserver": /^\/flagz \(--v\)$/,
      "kube-scheduler": /^pod command line \(--v\)$/,
      "kube-controller-manager": /^pod command line \(--v\)$/,
      "cloud-controller-manager": /^pod command line \(--v\)$/,
      kubelet: /^kubelet \/configz \(logging\.verbosity\)$/,
      "kube-proxy": /^\/flagz \(--v\)$/,
    };
    for (const [alias, component, args] of CASES) {
      const r = await run(["get", alias, ...args, "-o", "json"]);
      expect(r.code, r.stdout + r.stderr).toBe(0);
      const doc = r.json();
      expect(doc.kind).toBe("GetResult");
      expect(doc.results.length, component).toBe(component === "kube-apiserver" ? JSON.parse(readFileSync(`${STATE}/cluster.json`, "utf8")).apiservers.length : 1);
      for (const x of doc.results) {
        expect(x.ok, JSON.stringify(x)).toBe(true);
        if (FLAGZ_ONLY.has(component) && !FLAGZ_READABLE) {
          // No structured /flagz on this version: unknown, and kvlog says why.
          expect(x.startup.level, JSON.stringify(x)).toBe(null);
          expect(x.startup.source, JSON.stringify(x)).toMatch(/^unknown: \/flagz /);
          continue;
        }
        expect(x.startup.level, JSON.stringify(x)).toBe(BASE_LEVEL);
        expect(x.startup.source, JSON.stringify(x)).toMatch(sources[component]!);
      }
    }
    // The table: one row a target, the level and its source.
    const t = await run(["get", "kubelet", "--node", "kvlog-node-1,kvlog-node-2"]);
    expect(t.stdout).toMatch(/^TARGET\s+NODE\s+STARTUP\s+SOURCE\s+KVLOG CHANGE\nkubelet\/kvlog-node-1\s+kvlog-node-1\s+1\s+kubelet \/configz/);
  });

  it("set --for raises every component and puts it back when the time is up, proven by each one's log", async ({ task }) => {
    if (!FLAGZ_READABLE) versionBranch(task, `${NO_FLAGZ_LEVEL}: set --for refuses kube-apiserver and kube-proxy (unknown-startup, "pass --restore-to N"); with --restore-to 1 the timed change runs and is put back`);
    await Promise.all(
      CASES.map(async ([alias, component, args0, node]) => {
        let args = args0;
        let before: number | null = BASE_LEVEL;
        if (FLAGZ_ONLY.has(component) && !FLAGZ_READABLE) {
          // Its startup level is unknown on this version: kvlog changes nothing without
          // --restore-to, and says so; with it, the timed change runs as everywhere else.
          const refused = await run(["set", alias, String(HIGH_LEVEL), ...args, "--for", "15s", "-o", "json"]);
          expect(refused.code, refused.stdout + refused.stderr).toBe(1);
          for (const x of refused.json().results) {
            expect(x, JSON.stringify(x)).toMatchObject({ ok: false, outcome: "unknown-startup", hint: "pass --restore-to N to say which level to put back" });
            expect(x.message).toMatch(/^not changed: the level it started with is unknown: \/flagz /);
          }
          args = [...args, "--restore-to", String(BASE_LEVEL)];
          before = null; // nothing recorded, nothing read
        }
        const logs = await logsOf(component, node);
        const poke = () => run(["get", alias, ...args0]);
        const marks = await Promise.all(logs.map((l) => l.mark()));
        const bump = startKvlog(["set", alias, String(HIGH_LEVEL), ...args, "--for", "15s", "-o", "json"]);
        await until(`${component}'s timed change in the record`, async () => [...(await recorded(component)).values()].some((x) => x.until));
        await loud(component, logs, marks, poke); // raised, while kvlog waits
        const r = await bump.done;
        expect(r.code, r.stdout + r.stderr).toBe(0);
        const doc = r.json();
        expect(doc).toMatchObject({ forSeconds: 15, record: { written: true, by: "system:serviceaccount:kvlog-e2e:kvlog" } });
        for (const x of doc.results) {
          expect(x, JSON.stringify(x)).toMatchObject({ ok: true, outcome: "set", level: HIGH_LEVEL, before, restore: { ok: true, level: BASE_LEVEL, outcome: "set" } });
        }
        expect([...(await recorded(component)).keys()], "the restore takes the change out of the record").toEqual([]);
        await quiet(component, logs, poke); // back
      }),
    );
  });

  for (const [signal, code] of [["SIGINT", 130], ["SIGTERM", 143]] as const) {
    it(`${signal} during --for puts every target back at once and exits ${code}`, async () => {
      const nodes = realNodes();
      const logs = await Promise.all(nodes.map((n) => logFor({ component: "kubelet", node: n, namespace: null, pod: null })));
      const started = Date.now();
      const bump = startKvlog(["set", "kubelet", String(HIGH_LEVEL), "--node", nodes.join(","), "--for", "10m", "-o", "json"]);
      await until("both kubelets' timed change in the record", async () => [...(await recorded("kubelet")).values()].filter((x) => x.until).length === nodes.length);
      (await bump.child).kill(signal);
      const r = await bump.done;
      expect(Date.now() - started, "put back at once, not after 10m").toBeLessThan(60_000);
      expect(r.code, r.stdout + r.stderr).toBe(code);
      expect(r.stderr).toContain(`interrupted (${signal})`);
      const doc = r.json();
      expect(doc.results.map((x: any) => [x.id, x.outcome, x.restore?.ok, x.restore?.level])).toEqual(nodes.map((n) => [`kubelet/${n}`, "set", true, BASE_LEVEL]));
      expect((await recorded("kubelet")).size).toBe(0);
      await quiet("kubelet", logs, async () => {});
    });
  }

  it("status shows each change and its owner; reset puts it back and takes it out of the record", async () => {
    const logs = await logsOf("kube-controller-manager");
    const set = await run(["set", "kcm", String(HIGH_LEVEL)]);
    expect(set.code, set.stdout + set.stderr).toBe(0);
    expect(set.stderr).toContain("recorded in kube-system/kvlog-kube-controller-manager as system:serviceaccount:kvlog-e2e:kvlog");
    const status = await run(["status", "-o", "json"]);
    expect(status.code, status.stderr).toBe(0);
    const mine = status.json().results.filter((x: any) => x.component === "kube-controller-manager");
    expect(mine).toHaveLength(1);
    expect(mine[0]).toMatchObject({ level: HIGH_LEVEL, before: BASE_LEVEL, startup: BASE_LEVEL, by: "system:serviceaccount:kvlog-e2e:kvlog", until: null, state: "active" });
    const table = await run(["status"]);
    expect(table.stdout).toMatch(/^TARGET\s+LEVEL\s+BEFORE\s+BY\s+SINCE\s+UNTIL\s+STATE\n/);
    expect(table.stdout).toMatch(/kube-controller-manager\/kube-system\/kube-controller-manager-kvlog-node-1\s+6\s+1\s+system:serviceaccount:kvlog-e2e:kvlog\s+\S+\s+-\s+active/);
    const got = (await run(["get", "kcm", "-o", "json"])).json();
    expect(got.results[0].recorded).toMatchObject({ level: HIGH_LEVEL, by: "system:serviceaccount:kvlog-e2e:kvlog", expired: false, restarted: false });

    const reset = await run(["reset", "kcm", "-o", "json"]);
    expect(reset.code, reset.stdout + reset.stderr).toBe(0);
    expect(reset.json().results[0]).toMatchObject({ ok: true, level: BASE_LEVEL, before: HIGH_LEVEL, message: `level put back to ${BASE_LEVEL} (pod command line (--v))` });
    await quiet("kube-controller-manager", logs, () => run(["get", "kcm"]));
    expect((await run(["status", "kcm", "-o", "json"])).json().summary.total).toBe(0);
  });

  it("kvlog processes recording at once lose no change (the apiserver's 409 Conflict, read again, redo)", async () => {
    const nodes = realNodes();
    for (let round = 0; round < 3; round++) {
      const runs = await Promise.all(nodes.flatMap((n) => [run(["set", "kubelet", String(BASE_LEVEL), "--node", n]), run(["set", "kubelet", String(BASE_LEVEL), "--node", n])]));
      for (const r of runs) expect(r.code, r.stderr).toBe(0);
      for (const r of runs) expect(r.stderr).not.toContain("not recorded");
      expect([...(await recorded("kubelet")).keys()].sort()).toEqual(nodes.map((n) => `kubelet/${n}`));
      expect((await run(["reset", "kubelet", "--node", nodes.join(",")])).code).toBe(0);
      expect((await recorded("kubelet")).size).toBe(0);
    }
  });

  it("a record of an 8,000-node fleet (~620 KB; a ConfigMap holds 1 MiB) is read and written whole through the real apiserver", async () => {
    // An earlier change of 8,000 kubelets (the names of nodes that do not exist), as a fleet run
    // leaves it: kvlog must read the ConfigMap whole and write it back whole with its own change.
    const targets: Record<string, { before: number; startup: number }> = {};
    for (let i = 0; i < 8000; i++) targets[`kubelet/kvlog-fleet-record-${String(i).padStart(5, "0")}.example.internal`] = { before: BASE_LEVEL, startup: BASE_LEVEL };
    const big = { level: 2, by: "system:serviceaccount:kvlog-e2e:someone-else", at: new Date().toISOString(), targets };
    const cm = JSON.parse(await kubectl(["-n", "kube-system", "get", "configmap", "kvlog-kubelet", "-o", "json"]));
    cm.data = { "20260101T000000Z-fleet0": JSON.stringify(big) };
    // kubectl replace would copy the data into kubectl apply's annotation too (256 KiB at most).
    delete cm.metadata.annotations?.["kubectl.kubernetes.io/last-applied-configuration"];
    await kubectl(["replace", "-f", "-"], JSON.stringify(cm));
    try {
      const size = Buffer.byteLength(cm.data["20260101T000000Z-fleet0"]);
      expect(size).toBeGreaterThan(600_000);
      const status = await run(["status", "kubelet", "-o", "json"]);
      expect(status.code, status.stderr).toBe(0);
      expect(status.json().results.filter((x: any) => x.change === "20260101T000000Z-fleet0")).toHaveLength(8000);
      const node = realNodes()[0]!;
      const r = await run(["set", "kubelet", String(BASE_LEVEL), "--node", node, "-o", "json"]);
      expect(r.code, r.stderr).toBe(0);
      expect(r.json().record).toMatchObject({ written: true, error: null });
      const now = await recorded("kubelet");
      expect(now.size).toBe(8001);
      expect(now.get(`kubelet/${node}`)).toMatchObject({ level: BASE_LEVEL, change: r.json().record.change });
    } finally {
      await kubectl(["-n", "kube-system", "patch", "configmap", "kvlog-kubelet", "--type=json", "-p", '[{"op":"remove","path":"/data"}]']).catch(() => {});
    }
  });

  it("an identity that may change levels but not write the record: one warning line, the change still happens", async () => {
    const r = await run(["set", "scheduler", String(BASE_LEVEL), "--pod", "kube-scheduler-kvlog-node-1", "-o", "json"], recordlessKubeconfig);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.json().results[0]).toMatchObject({ ok: true, outcome: "set" });
    expect(r.json().record).toMatchObject({ written: false, name: "kube-system/kvlog-kube-scheduler" });
    const warnings = r.stderr.split("\n").filter((l) => l.startsWith("warning:"));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/^warning: the change is not recorded in kube-system\/kvlog-kube-scheduler: forbidden to read the record .*cannot get resource \\?"configmaps\\?".*Grant: apiGroups \[""\] resources \["configmaps"\] resourceNames \["kvlog-kube-scheduler"\] verbs \["get"\] in namespace kube-system/);
  });

  it("reset --expired, run as the README's CronJob runs it (in-cluster ServiceAccount), puts back a change whose kvlog was killed", async () => {
    expect(LOCAL, "in-pod.sh needs the local cluster").toBe(true);
    // The documented manifest (docs/safety.md), applied as it is (the CronJob suspended: the fake
    // runtime runs no image). docBlock throws, naming the page, when the block is missing.
    const yaml = docBlock("cronjob");
    const items: any[] = [];
    for (const doc of yaml.split(/^---$/m)) items.push(JSON.parse(await kubectl(["create", "--dry-run=client", "-o", "json", "-f", "-"], doc)));
    const cron = items.find((x) => x.kind === "CronJob");
    cron.spec.suspend = true;
    await kubectl(["apply", "-f", "-"], JSON.stringify({ apiVersion: "v1", kind: "List", items }));
    const pod = cron.spec.jobTemplate.spec.template.spec;
    const command: string[] = pod.containers[0].command;
    expect(command[0]).toBe("kvlog");

    // A timed change whose kvlog is killed (SIGKILL: nothing can put it back).
    const node = "kvlog-node-2";
    const log = await logFor({ component: "kubelet", node, namespace: null, pod: null });
    const bump = startKvlog(["set", "kubelet", String(HIGH_LEVEL), "--node", node, "--for", "2s"]);
    await until("the timed change in the record", async () => (await recorded("kubelet")).get(`kubelet/${node}`)?.until);
    (await bump.child).kill("SIGKILL");
    expect((await bump.done).code).toBe(null);
    await sleep(2500);
    const mark = await log.mark();
    expect(await waitFor(log, mark, MARKERS.kubelet!, 10_000), "the level stays raised after kvlog died").toBeDefined();
    const st = (await run(["status", "kubelet", "-o", "json"])).json();
    expect(st.results.find((x: any) => x.target === `kubelet/${node}`)).toMatchObject({ state: "expired", level: HIGH_LEVEL });

    // The CronJob's command, as its ServiceAccount, with a pod's files and environment.
    const { stdout, stderr, code } = await new Promise<{ stdout: string; stderr: string; code: number | null }>((resolve) => {
      const child = execFile(
        "bash",
        [new URL("./cluster/in-pod.sh", import.meta.url).pathname, "--namespace", cron.metadata.namespace, pod.serviceAccountName, "--", process.execPath, new URL("../../bin/kvlog.js", import.meta.url).pathname, ...command.slice(1)],
        { maxBuffer: 16 * 1024 * 1024, timeout: 90_000 },
        (err, out, errOut) => resolve({ stdout: out, stderr: errOut, code: err ? ((err as { code?: number }).code ?? 1) : 0 }),
      );
      child.stdin?.end();
    });
    for (const t of tokens) expect(stdout + stderr).not.toContain(t);
    expect(code, stdout + stderr).toBe(0);
    const doc = JSON.parse(stdout);
    expect(doc).toMatchObject({ kind: "ResetResult", expired: true });
    const mine = doc.results.find((x: any) => x.id === `kubelet/${node}`);
    expect(mine).toMatchObject({ ok: true, level: BASE_LEVEL, before: HIGH_LEVEL });
    expect(mine.endpoint, "reached through the kubernetes Service, as in a pod").toMatch(/^https:\/\/10\.96\.0\.1\//);
    await quiet("kubelet", [log], async () => {});
    expect((await recorded("kubelet")).has(`kubelet/${node}`)).toBe(false);
  });
});

// The RBAC `kvlog rbac` prints is exactly enough: the suite's kvlog identity is bound to it (the
// README's copy) and every test above works with it; here each rule is taken away in turn, and
// the run that needs it fails with kvlog's message naming that rule.
describe("kvlog rbac: each rule is needed, and kvlog names the one that is missing", () => {
  const rules: { text: string; resource: string }[] = [];
  let role = "";

  beforeAll(async () => {
    const r = await kvlog(["rbac"], {});
    expect(r.code).toBe(0);
    role = r.stdout.split(/^---$/m)[0]!;
    // One rule: from its first "  - " line to the next rule or comment.
    const body = role.split("rules:\n")[1]!;
    for (const chunk of body.split(/\n(?=  - |  #)/)) {
      if (!chunk.startsWith("  - ")) continue;
      const resource = /resources: \["([^"]+)"\]/.exec(chunk)?.[1] ?? /nonResourceURLs: \["([^"]+)"\]/.exec(chunk)![1]!;
      rules.push({ text: chunk.replace(/\n+$/, ""), resource });
    }
    expect(rules.map((x) => x.resource)).toEqual(["/debug/flags/v", "/flagz", "nodes/proxy", "endpoints", "nodes", "pods", "pods/portforward"]);
  });

  const COMMANDS: Record<string, string[]> = {
    "/debug/flags/v": ["set", "apiserver", String(BASE_LEVEL)],
    // A timed change is only made where kvlog can read the level to put back.
    "/flagz": ["set", "apiserver", String(BASE_LEVEL), "--for", "1s"],
    "nodes/proxy": ["set", "kubelet", String(BASE_LEVEL), "--node", "kvlog-node-1"],
    endpoints: ["set", "apiserver", String(BASE_LEVEL)],
    nodes: ["set", "kubelet", String(BASE_LEVEL)],
    pods: ["set", "scheduler", String(BASE_LEVEL)],
    "pods/portforward": ["set", "scheduler", String(BASE_LEVEL)],
  };

  it("without each rule, the command that needs it fails and says which rule to grant", async () => {
    for (const [i, rule] of rules.entries()) {
      const name = `kvlog-minus-${i}`;
      const without = role.replace(`${rule.text}\n`, "").replace(/name: kvlog\n/, `name: ${name}\n`);
      expect(without).not.toContain(rule.text);
      await kubectl(["apply", "-f", "-"], without);
      await kubectl(["apply", "-f", "-"], `
apiVersion: v1
kind: ServiceAccount
metadata: { name: ${name}, namespace: ${NS} }
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: { name: ${name} }
roleRef: { apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: ${name} }
subjects: [{ kind: ServiceAccount, name: ${name}, namespace: ${NS} }]
`);
      const kc = await serviceAccountKubeconfig(name);
      tokens.push(JSON.parse(readFileSync(kc, "utf8")).users[0].user.token);
      const r = await run([...COMMANDS[rule.resource]!, "-o", "json"], kc);
      expect(r.code, `${rule.resource}: ${r.stdout}${r.stderr}`).toBe(1);
      const said = r.stdout + r.stderr;
      const needle =
        rule.resource === "endpoints"
          ? 'endpoints "kubernetes"'
          : rule.resource === "/flagz"
            ? 'cannot get path \\"/flagz\\"'
            : rule.resource.includes("/")
              ? `["${rule.resource}"]`
              : `resources ["${rule.resource}"]`;
      expect(said, `${rule.resource} removed`).toContain(needle);
    }
  });
});

// Secrets, as a matrix (issue 12): the built CLI against the simulated cluster, sweeping
//   command     set, set --for 1s, set --dry-run, get, reset, reset --expired, status, doctor,
//               capture --for 1s (its bundle, log files and capture.json, is written under TMPDIR
//               and scanned with every other file there)
//   credential  kubeconfig bearer token, kubeconfig client certificate (its key PEM known),
//               exec-plugin token, --token, --token-file, --service-account (minted token),
//               kubeconfig proxy-url with a password (HTTP CONNECT and SOCKS5 in turn)
//   output      -o table, -o json
//   environment plain, KVLOG_DEBUG=1
//   failure     healthy; 401 (an unknown token, or a certificate of a foreign CA); 403 (user
//               "nobody", or a ServiceAccount with no rules); the scheduler resets the
//               connection / hangs; its node is unreachable (kubelet mode "unreachable");
//               a scheduler that echoes the Authorization header in its 400 body; a discovery
//               error from an apiserver that echoes the Authorization header in a 500 Status.
// Pairwise, in 64 runs: every command with every credential and with every failure path, every
// credential with every failure path, and every pair of values of any two axes (the first test
// checks the plan covers them all).
// For every run it proves: no secret value (every user's token of every cluster, the unknown
// tokens, each client key as PEM, as client-key-data and as each base64 line of its body, the
// proxy passwords and their Basic header, every token minted with --service-account, whole and
// per segment), nor the first or last 16 characters of one (a cut value), appears on stdout or
// stderr; no stack trace; an exit code among 0,1,2,3,130,143; healthy runs exit 0, runs with a
// refused identity do not; an echoing server was really sent
// the token it echoed. Then: no minted token (nor any other secret) was written under the CLI's
// HOME or TMPDIR. (It found one leak, fixed: a secret cut in half by a truncated message.)
// The fake records only that a bearer token was used, not its value: minted tokens are read
// from the fake apiserver's TokenRequest answers in process (ServerResponse.end is tapped), and
// their number is checked against the recorded 201 POSTs to .../serviceaccounts/NAME/token.
import { createHash, randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import http from "node:http";
import https from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KVLOG_RULES, defaultPods, startFakeCluster, type FakeCluster } from "../fake/cluster.ts";
import { startHttpProxy, startSocks5Proxy, type TestProxy } from "../fake/proxies.ts";
import { issue, selfSignedServing } from "../fake/x509.ts";
import { kvlog } from "./run.ts";

const SCHED = "kube-scheduler/kube-system/kube-scheduler-cp-1";
const SA_USER = "system:serviceaccount:kvlog-e2e:kvlog";
const COMMANDS: [string, string[]][] = [
  ["set", ["set", "scheduler", "3"]], ["set --for 1s", ["set", "scheduler", "4", "--for", "1s"]], ["set --dry-run", ["set", "scheduler", "5", "--dry-run"]],
  ["get", ["get", "scheduler"]], ["reset", ["reset", "scheduler"]], ["reset --expired", ["reset", "--expired"]], ["status", ["status"]], ["doctor", ["doctor"]],
  ["capture", ["capture", "scheduler", "4", "--for", "1s"]],
];
/** Commands that send the credential to the scheduler itself (where the echoing scheduler answers). */
const REACHES_SCHEDULER = new Set(["set", "set --for 1s", "reset", "reset --expired", "doctor", "capture"]);
const CREDS = ["kubeconfig token", "client certificate", "exec plugin", "--token", "--token-file", "--service-account", "proxy-url password"] as const;
const OUTPUTS = ["table", "json"] as const;
const ENVS = ["plain", "KVLOG_DEBUG=1"] as const;
const FAILURES = ["healthy", "401 unknown credential", "403 nobody", "scheduler resets", "scheduler hangs", "node unreachable", "echoes Authorization", "discovery error (echoed)"] as const;
/** Which simulated cluster a failure path runs against (one per fault, so that every row runs at once). */
type World = "normal" | "reset" | "hang" | "unreachable" | "echo";
const WORLD_OF: Record<(typeof FAILURES)[number], World> = {
  healthy: "normal", "401 unknown credential": "normal", "403 nobody": "normal", "discovery error (echoed)": "normal",
  "scheduler resets": "reset", "scheduler hangs": "hang", "node unreachable": "unreachable", "echoes Authorization": "echo",
};
const DOCUMENTED_EXIT = [0, 1, 2, 3, 130, 143];
/**
 * Rows that leaked before the fix (session.redact now masks any 8+ character run of a secret, so
 * an answer cut at 200 characters through a token no longer prints the token's head). Kept empty
 * on purpose: a row listed here would run as an expected failure.
 */
const KNOWN_LEAKS = new Map<string, string>();

// ---------------------------------------------------------------------------------------------
// The plan: command x failure in full (64 rows), credential = command + 2 x failure (mod 7), so
// command x credential and credential x failure are covered too; output and environment are
// chosen greedily per row to cover their pairs; the first test checks every pair is covered.
interface Row { cmd: number; cred: number; out: number; env: number; fail: number; name: string }
const SIZES = [COMMANDS.length, CREDS.length, OUTPUTS.length, ENVS.length, FAILURES.length];
function pairsOf(v: number[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < v.length; i++) for (let j = i + 1; j < v.length; j++) out.push(`${i}=${v[i]},${j}=${v[j]}`);
  return out;
}
function plan(): Row[] {
  const covered = new Set<string>();
  const used = [0, 0, 0, 0]; // rows with -o table, -o json, plain, KVLOG_DEBUG: ties go to the least used
  const rows: Row[] = [];
  for (let cmd = 0; cmd < COMMANDS.length; cmd++)
    for (let fail = 0; fail < FAILURES.length; fail++) {
      const cred = (cmd + 2 * fail) % CREDS.length; // x2: the echoing scheduler gets a minted token too
      let best: number[] = [];
      let gain = -1;
      for (const [out, env] of [[0, 0], [1, 1], [0, 1], [1, 0]] as const) {
        const g = 1000 * pairsOf([cmd, cred, out, env, fail]).filter((p) => !covered.has(p)).length - used[out]! - used[2 + env]!;
        if (g > gain) [best, gain] = [[cmd, cred, out, env, fail], g];
      }
      for (const p of pairsOf(best)) covered.add(p);
      const [, , out, env] = best as [number, number, number, number, number];
      used[out]!++;
      used[2 + env]!++;
      rows.push({ cmd, cred, out, env, fail, name: `${COMMANDS[cmd]![0]} | ${CREDS[cred]} | -o ${OUTPUTS[out]} | ${ENVS[env]} | ${FAILURES[fail]}` });
    }
  return rows;
}
const ROWS = plan();

// ---------------------------------------------------------------------------------------------
// Secrets, and what every run is checked against.
const secrets = new Map<string, string>(); // value -> label
function secret(value: string, label: string): string {
  if (value.length < 16) throw new Error(`a secret too short to grep safely: ${label}`);
  return secrets.has(value) ? value : (secrets.set(value, label), value);
}
/** A private key: the PEM, the kubeconfig's client-key-data, the body, and each base64 line of the body. */
function secretKey(keyPem: string, label: string): void {
  secret(keyPem.trim(), `${label} (PEM)`);
  secret(Buffer.from(keyPem).toString("base64"), `${label} (client-key-data)`);
  const body = keyPem.split("\n").filter((l) => l && !l.startsWith("-----"));
  secret(body.join(""), `${label} (body)`);
  body.forEach((line, i) => line.length >= 16 && secret(line, `${label} (body line ${i + 1})`));
}
const minted: string[] = [];
let jwtHeader = ""; // the fake's TokenRequest header segment: any minted token, learned or not, starts with it
function learnMinted(token: string): void {
  if (minted.includes(token)) return;
  minted.push(token);
  const [header, payload, signature] = token.split(".");
  jwtHeader = header ?? jwtHeader;
  secret(token, "minted ServiceAccount token");
  secret(payload!, "minted token (payload segment)");
  secret(signature!, "minted token (signature segment)");
}
/** Where each secret, or the first or last 16 characters of a long one (a cut value), appears in `text`. */
function leaksIn(text: string, stream: string): string[] {
  const found: string[] = [];
  const all: [string, string][] = [...secrets];
  if (jwtHeader) all.push([`${jwtHeader}.`, "a minted token (its JWT header)"]);
  for (const [value, label] of all) {
    const probes = value.length < 32 ? [value] : [value, value.slice(0, 16), value.slice(-16)];
    const probe = probes.find((v) => text.includes(v));
    if (!probe) continue;
    const at = text.indexOf(probe);
    const part = probe === value ? "" : probe === probes[1] ? ", its first 16 chars" : ", its last 16 chars";
    found.push(`${stream}: ${label}${part} …${text.slice(Math.max(0, at - 60), at).replace(/\n/g, "⏎")}[SECRET]…`);
  }
  return found;
}

// ---------------------------------------------------------------------------------------------
// The worlds, one simulated cluster each: normal; the scheduler resets / hangs; cp-1's kubelet is
// unreachable (so is every port-forward to its pods); echo: the scheduler pod's port 10259 is an
// HTTPS server echoing the credentials it is sent. Plus an apiserver echoing them in its errors,
// two proxies with passwords, and the CLI's own HOME and TMPDIR.
const worlds = {} as Record<World, FakeCluster>;
const servers: http.Server[] = [];
const echoSeen = { component: new Set<string>(), apiserver: new Set<string>() };
let echoApiUrl = "";
let proxies: TestProxy[] = [];
let dir = ""; // kubeconfigs, plugins, token files: outside the CLI's HOME and TMPDIR
let home = "";
let tmp = "";
let diskBefore = new Map<string, string>();
const outputs: { name: string; text: string }[] = [];
let echoedRuns = 0; // runs in which a server echoed the row's token back to kvlog
let extraRuns = 0; // runs outside the matrix (the targeted case)
let echoPad = 0; // characters the echoing scheduler puts before the credentials (the targeted case)
const started = Date.now();
const origEnd = http.ServerResponse.prototype.end;

function listen(s: http.Server): Promise<string> {
  servers.push(s);
  return new Promise((r) => s.listen(0, "127.0.0.1", () => r(`https://127.0.0.1:${(s.address() as AddressInfo).port}`)));
}
function snapshot(root: string, into = new Map<string, string>()): Map<string, string> {
  for (const e of readdirSync(root, { withFileTypes: true })) {
    const p = join(root, e.name);
    if (e.isDirectory()) snapshot(p, into);
    else if (e.isFile()) into.set(p, createHash("sha256").update(readFileSync(p)).digest("hex"));
  }
  return into;
}
function seedOverdue(f: FakeCluster): void {
  const past = new Date(Date.now() - 60_000).toISOString();
  const change = { level: 6, by: "matrix", at: past, until: past, targets: { [SCHED]: { before: 0, startup: 0 } } };
  f.putConfigMap("kube-system", {
    apiVersion: "v1", kind: "ConfigMap",
    metadata: { name: "kvlog-kube-scheduler", namespace: "kube-system", labels: { "app.kubernetes.io/managed-by": "kvlog", "kvlog.dev/component": "kube-scheduler" } },
    data: { "20260101T000000Z-aaaaaa": JSON.stringify(change) },
  });
}

beforeAll(async () => {
  // Tap the fake apiserver's TokenRequest answers (in this process) for the minted tokens.
  http.ServerResponse.prototype.end = function (this: http.ServerResponse, ...a: unknown[]) {
    const text = typeof a[0] === "string" || Buffer.isBuffer(a[0]) ? a[0].toString() : "";
    const token = text.includes('"kind":"TokenRequest"') ? (JSON.parse(text) as { status?: { token?: string } }).status?.token : undefined;
    if (token) learnMinted(token);
    return (origEnd as (...x: unknown[]) => http.ServerResponse).apply(this, a);
  } as typeof origEnd;

  const tls = await selfSignedServing("localhost", ["localhost"], ["127.0.0.1"]);
  // A client certificate for "kvlog" that the cluster CA did not sign (401).
  const foreignCa = await issue({ commonName: "foreign-ca", isCA: true });
  foreignClient = await issue({ commonName: "kvlog", issuer: foreignCa, clientAuth: true });
  secretKey(foreignClient.keyPem, "client key of a foreign CA");
  const component = https.createServer({ key: tls.keyPem, cert: tls.certChainPem }, (req, res) => {
    echoSeen.component.add(String(req.headers.authorization));
    const sent = `${req.headers.authorization} (proxy: ${req.headers["proxy-authorization"]})`;
    res.writeHead(400, { "Content-Type": "text/plain" }).end(`failed set klog.logging.verbosity: ${"x".repeat(echoPad)}your credentials were ${sent}\n`);
  });
  const apiserver = https.createServer({ key: tls.keyPem, cert: tls.certChainPem, requestCert: true, rejectUnauthorized: false }, (req, res) => {
    echoSeen.apiserver.add(String(req.headers.authorization));
    const message = `Internal error occurred: the request to ${req.url} with Authorization ${req.headers.authorization} (proxy: ${req.headers["proxy-authorization"]}) failed`;
    res.writeHead(500, { "Content-Type": "application/json" }).end(JSON.stringify({ kind: "Status", apiVersion: "v1", metadata: {}, status: "Failure", message, reason: "InternalError", code: 500 }) + "\n");
  });
  const componentUrl = await listen(component);
  echoApiUrl = await listen(apiserver);

  const users = [{ name: SA_USER, rules: KVLOG_RULES }];
  const common = { version: "v1.36.0", kubeletDialTimeoutMs: 500, users, serviceAccounts: ["kvlog-e2e/powerless"], defaultBehaviour: { "kube-proxy": { profiling: true } } };
  const pods = defaultPods().map((p) => (p.component === "kube-scheduler" ? { ...p, hostNetwork: false, ports: { 10259: Number(new URL(componentUrl).port) } } : p));
  const options: Record<World, Parameters<typeof startFakeCluster>[0]> = {
    normal: common,
    reset: { ...common, behaviour: { [SCHED]: { mode: "reset" } } },
    hang: { ...common, behaviour: { [SCHED]: { mode: "hang" } } },
    unreachable: { ...common, behaviour: { "kubelet/cp-1": { mode: "unreachable" } } },
    echo: { ...common, pods },
  };
  for (const w of Object.keys(options) as World[]) worlds[w] = await startFakeCluster(options[w]);
  for (const f of Object.values(worlds)) {
    seedOverdue(f);
    for (const u of ["admin", "kvlog", "recordless", "nobody", SA_USER]) secret(f.tokenFor(u), `token of ${u}`);
    for (const u of ["kvlog", "nobody"]) secretKey(f.clientCertFor(u).keyPem, `client key of ${u}`);
  }
  const pass = (kind: string) => secret(`${kind}-proxy-pass-${randomBytes(9).toString("hex")}`, `${kind} proxy password`);
  const [p1, p2] = [pass("http"), pass("socks5")];
  for (const p of [p1, p2]) secret(Buffer.from(`kvlog:${p}`).toString("base64"), "proxy Basic credentials");
  proxies = [await startHttpProxy({ auth: `kvlog:${p1}` }), await startSocks5Proxy({ auth: `kvlog:${p2}` })];

  dir = mkdtempSync(join(tmpdir(), "kvlog-matrix-creds-"));
  home = mkdtempSync(join(tmpdir(), "kvlog-matrix-home-"));
  tmp = mkdtempSync(join(tmpdir(), "kvlog-matrix-tmp-"));
  mkdirSync(join(home, ".kube"));
  // Node's compile cache (bin/kvlog.js puts it under TMPDIR) warmed by a run without secrets.
  await kvlog(["--version"], { HOME: home, TMPDIR: tmp });
  diskBefore = new Map([...snapshot(home), ...snapshot(tmp)]);
}, 120_000);

afterAll(async () => {
  http.ServerResponse.prototype.end = origEnd;
  // Closing waits for connections a hanging target still holds: each close gets 5 s, then the
  // process's own exit takes the rest (a close that hangs is not what this file tests).
  const bounded = (p: Promise<unknown>) => Promise.race([p, new Promise((r) => setTimeout(r, 5000).unref())]);
  await Promise.all([...Object.values(worlds).map((f) => bounded(f.close())), ...proxies.map((p) => bounded(p.close()))]);
  await Promise.all(servers.map((s) => bounded(new Promise<void>((r) => (s.closeAllConnections(), s.close(() => r()))))));
  for (const d of [dir, home, tmp]) if (d) rmSync(d, { recursive: true, force: true });
}, 60_000);

// ---------------------------------------------------------------------------------------------
// Credentials, per kind and identity.
type Identity = "good" | "unknown" | "nobody";
let foreignClient: { certPem: string; keyPem: string } | undefined;
/** A client certificate for "kvlog" that the cluster CA did not sign (401). */
function foreignCert(): { certPem: string; keyPem: string } {
  if (!foreignClient) throw new Error("the foreign client certificate is made in beforeAll");
  return foreignClient;
}
const unknownToken = (kind: string) => secret(`unknown-${kind.replace(/\W+/g, "")}-${randomBytes(16).toString("hex")}`, `unknown token (${kind})`);
let files = 0;
function file(name: string, text: string, mode = 0o600): string {
  const p = join(dir, `${++files}-${name}`);
  writeFileSync(p, text, { mode });
  return p;
}
function kubeconfig(cluster: Record<string, unknown>, user: Record<string, unknown>): string {
  return file("kubeconfig", JSON.stringify({
    apiVersion: "v1", kind: "Config",
    clusters: [{ name: "c", cluster }], users: [{ name: "u", user }],
    contexts: [{ name: "x", context: { cluster: "c", user: "u" } }], "current-context": "x",
  }));
}

/** What a row runs with: extra arguments, environment, and the bearer token an echoing server should see. */
function credentials(row: Row): { args: string[]; env: Record<string, string>; bearer?: string } {
  const failure = FAILURES[row.fail]!;
  const identity: Identity = failure === "401 unknown credential" ? "unknown" : failure === "403 nobody" ? "nobody" : "good";
  const f = worlds[WORLD_OF[failure]];
  const cluster: Record<string, unknown> =
    failure === "discovery error (echoed)" ? { server: echoApiUrl, "insecure-skip-tls-verify": true } : { server: f.url, "certificate-authority-data": Buffer.from(f.caPem).toString("base64") };
  const kind = CREDS[row.cred]!;
  const token = identity === "unknown" ? unknownToken(kind) : f.tokenFor(identity === "good" ? "kvlog" : "nobody");
  const kc = (user: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({ KUBECONFIG: kubeconfig({ ...cluster, ...extra }, user) });
  switch (kind) {
    case "kubeconfig token":
      return { args: [], env: kc({ token }), bearer: token };
    case "client certificate": {
      const c = identity === "unknown" ? foreignCert() : f.clientCertFor(identity === "good" ? "kvlog" : "nobody");
      return { args: [], env: kc({ "client-certificate-data": Buffer.from(c.certPem).toString("base64"), "client-key-data": Buffer.from(c.keyPem).toString("base64") }) };
    }
    case "exec plugin": {
      const cred = JSON.stringify({ apiVersion: "client.authentication.k8s.io/v1", kind: "ExecCredential", status: { token } });
      const plugin = file("plugin.sh", `#!/bin/sh\nprintf '%s' '${cred}'\n`, 0o700);
      return { args: [], env: kc({ exec: { apiVersion: "client.authentication.k8s.io/v1", command: plugin, interactiveMode: "Never" } }), bearer: token };
    }
    case "--token":
      return { args: ["--token", token], env: kc({}), bearer: token };
    case "--token-file":
      return { args: ["--token-file", file("token", `${token}\n`)], env: kc({}), bearer: token };
    case "--service-account": {
      const base = identity === "unknown" ? token : f.tokenFor("admin");
      // The apiserver (an echoing one too) sees the base token; a component sees the minted one.
      const args = ["--service-account", identity === "nobody" ? "kvlog-e2e/powerless" : "kvlog-e2e/kvlog"];
      return { args, env: kc({ token: base }), bearer: failure === "discovery error (echoed)" ? base : undefined };
    }
    case "proxy-url password":
      return { args: [], env: kc({ token }, { "proxy-url": proxies[row.cmd % 2]!.url }), bearer: token };
  }
}

/** At most 4 CLIs at once (a 2-core machine: more only makes each run slower). */
let slots = 4;
const waiting: (() => void)[] = [];
async function limited<T>(fn: () => Promise<T>): Promise<T> {
  while (slots === 0) await new Promise<void>((r) => waiting.push(r));
  slots--;
  return fn().finally(() => (slots++, waiting.shift()?.()));
}

async function runRow(row: Row): Promise<void> {
  const [cmdName, cmdArgs] = COMMANDS[row.cmd]!;
  const failure = FAILURES[row.fail]!;
  const { args, env, bearer } = credentials(row);
  const debug = ENVS[row.env] === "KVLOG_DEBUG=1" ? { KVLOG_DEBUG: "1" } : {};
  const proxy = CREDS[row.cred] === "proxy-url password" ? proxies[row.cmd % 2]! : undefined;
  const tunnels = proxy?.tunnels.length ?? 0;
  const mintedBefore = minted.length;
  const timeout = failure === "scheduler hangs" ? "2s" : "10s";
  // capture's bundle goes under TMPDIR, which the last test scans for secrets with everything else there.
  const bundle = cmdName === "capture" ? ["--out", join(tmp, `capture-${row.cmd}-${row.fail}`)] : [];
  const r = await limited(() => kvlog([...cmdArgs, ...args, ...bundle, "-o", OUTPUTS[row.out]!, "--request-timeout", timeout], { ...env, HOME: home, TMPDIR: tmp, ...debug }, 60_000));
  outputs.push({ name: row.name, text: r.stdout + r.stderr });
  const why = `${row.name}: exit ${r.code}\nstdout: ${r.stdout.slice(0, 1500)}\nstderr: ${r.stderr.slice(0, 1500)}`;
  expect([...leaksIn(r.stdout, "stdout"), ...leaksIn(r.stderr, "stderr")], why).toEqual([]);
  expect(r.stdout + r.stderr, why).not.toMatch(/^ {4}at |Node\.js v\d+/m);
  expect(DOCUMENTED_EXIT, why).toContain(r.code);
  if (cmdName === "capture" && failure === "healthy") {
    expect(readdirSync(bundle[1]!).sort(), why).toEqual(["capture.json", "kube-scheduler_kube-system_kube-scheduler-cp-1.log"]);
    expect(statSync(join(bundle[1]!, "kube-scheduler_kube-system_kube-scheduler-cp-1.log")).size, why).toBeGreaterThan(0);
  }
  if (proxy) expect(proxy.tunnels.length, `${why}\nthe proxy was not used`).toBeGreaterThan(tunnels);
  if (failure === "healthy") expect(r.code, why).toBe(0);
  // A refused identity fails the run (reset --expired too: a record it cannot read is a failure,
  // so a CronJob whose token was revoked does not keep passing).
  if (["401 unknown credential", "403 nobody", "discovery error (echoed)"].includes(failure)) expect(r.code, why).not.toBe(0);
  // The echoing servers really were sent the secret they echoed (else the row proves nothing).
  const echoed = failure === "discovery error (echoed)" ? echoSeen.apiserver : failure === "echoes Authorization" && REACHES_SCHEDULER.has(cmdName) ? echoSeen.component : undefined;
  const minting = CREDS[row.cred] === "--service-account";
  const sent = bearer ? [bearer] : minting ? minted.slice(mintedBefore) : []; // a minted token: one of this run's
  if (echoed && (bearer || minting)) {
    expect(sent.some((t) => echoed.has(`Bearer ${t}`)), `${why}\nthe echoing server was not sent the token`).toBe(true);
    echoedRuns++;
  }
}

it("the plan covers every pair of values of any two axes, and every command with every credential and failure", () => {
  const covered = new Set(ROWS.flatMap((r) => pairsOf([r.cmd, r.cred, r.out, r.env, r.fail])));
  const missing: string[] = [];
  for (let i = 0; i < SIZES.length; i++)
    for (let j = i + 1; j < SIZES.length; j++)
      for (let a = 0; a < SIZES[i]!; a++) for (let b = 0; b < SIZES[j]!; b++) if (!covered.has(`${i}=${a},${j}=${b}`)) missing.push(`${i}=${a},${j}=${b}`);
  expect(missing).toEqual([]);
  expect(new Set(ROWS.map((r) => r.name)).size).toBe(ROWS.length);
});

describe("the matrix", () => {
  for (const row of ROWS) it(row.name, { concurrent: true, fails: KNOWN_LEAKS.has(row.name), timeout: 120_000 }, () => runRow(row));
});

describe("a credential the 200-character cut of a component's answer goes through", () => {
  // The echoing scheduler puts 114 characters before "Bearer TOKEN", so the 200-character cut
  // falls inside kvlog's static token (32 characters): the head that is left must be masked too.
  let out = "";
  it("the run: exit 1, and the scheduler was sent the token it echoes", async () => {
    echoPad = 114;
    const f = worlds.echo;
    const cluster = { server: f.url, "certificate-authority-data": Buffer.from(f.caPem).toString("base64") };
    try {
      const r = await kvlog(["set", "scheduler", "3", "-o", "json"], { KUBECONFIG: kubeconfig(cluster, { token: f.tokenFor("kvlog") }), HOME: home, TMPDIR: tmp });
      extraRuns++;
      out = r.stdout + r.stderr;
      expect(r.code).toBe(1);
      expect(echoSeen.component.has(`Bearer ${f.tokenFor("kvlog")}`)).toBe(true);
    } finally {
      echoPad = 0;
    }
  });
  it("no part of the token is in its output", () => {
    expect(out).not.toBe("");
    expect(leaksIn(out, "output")).toEqual([]);
  });
});

describe("after every run", () => {
  it("no minted token (nor any other secret) was written under the CLI's HOME or TMPDIR, and no output holds one learned later", () => {
    expect(minted.length, "the --service-account rows minted no token: the tap saw nothing").toBeGreaterThan(0);
    const posted = Object.values(worlds).flatMap((f) => f.requests.filter((q) => q.method === "POST" && /\/serviceaccounts\/[^/]+\/token$/.test(q.path) && q.status === 201));
    expect(minted.length).toBe(posted.length);
    const after = new Map([...snapshot(home), ...snapshot(tmp)]);
    const changed = [...after].filter(([p, h]) => diskBefore.get(p) !== h).map(([p]) => p);
    const onDisk = changed.flatMap((p) => leaksIn(readFileSync(p, "latin1"), p));
    expect(onDisk).toEqual([]);
    for (const v of secrets.keys()) expect(leaksIn(`x${v}x`, "self-test"), "the detector misses a secret").not.toEqual([]);
    const where: Record<string, number> = {}; // new/changed files per top folder
    for (const p of changed.map((p) => (p.startsWith(tmp) ? `TMPDIR${p.slice(tmp.length)}` : `HOME${p.slice(home.length)}`)))
      where[p.split("/").slice(0, 2).join("/")] = (where[p.split("/").slice(0, 2).join("/")] ?? 0) + 1;
    // Every output again, against every secret (tokens minted after a run included).
    expect(outputs.filter((o) => !KNOWN_LEAKS.has(o.name)).flatMap((o) => leaksIn(o.text, o.name))).toEqual([]);
    const bytes = changed.reduce((n, p) => n + statSync(p).size, 0);
    console.log(
      `secrets matrix: ${outputs.length} runs (+${extraRuns} targeted), ${secrets.size} secret values checked in each (${minted.length} minted tokens), ` +
        `${echoedRuns} runs in which a server echoed the token back, ` +
        `${changed.length} new/changed files (${bytes} bytes) scanned ${JSON.stringify(where)}, ${((Date.now() - started) / 1000).toFixed(1)} s`,
    );
  });
});

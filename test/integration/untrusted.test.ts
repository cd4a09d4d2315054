// Everything the cluster says is untrusted input (docs: RBAC and security, "What kvlog trusts").
// The built CLI, as a separate process, against the simulated cluster and against small hostile
// servers. It proves that
// - a record with terminal escapes in every field reaches a real terminal (a pseudo-terminal, via
//   script(1)) escaped: no OSC title, no screen clear, no colour of its own; `-o json` stays exact;
// - a component answering with escapes and carriage returns, and an apiserver whose Status
//   message holds them, are shown escaped in the table and the error line;
// - a planted record cannot make `reset --expired` raise a level: huge, negative and
//   above-the-change startup levels are refused (`unknown-startup`, nothing sent), a far-future
//   `until` counts as at most 24h, target names that are not kvlog's are never asked for, while a
//   record kvlog could have written is still put back.
import { spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import http from "node:http";
import https from "node:https";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startFakeCluster, type FakeCluster } from "../fake/cluster.ts";
import { selfSignedServing } from "../fake/x509.ts";
import { CLI, kvlog } from "./run.ts";

const PROXY_CP = "kube-proxy/kube-system/kube-proxy-aaaaa"; // its pod says --v=3
const PROXY_W = "kube-proxy/kube-system/kube-proxy-bbbbb"; // no --v, no /flagz on 1.34: startup unknown
const HOSTILE = "\x1b]0;pwned\x07\x1b[2J\x1b[31m\rspoofed\u202e";
const ESCAPED = "\\x1b]0;pwned\\x07\\x1b[2J\\x1b[31m\\rspoofed\\u202e";
/** What stays of HOSTILE where kvlog already folds line breaks into spaces (a one-line message). */
const ESCAPED_LINE = "\\x1b]0;pwned\\x07\\x1b[2J\\x1b[31m";

let f: FakeCluster;
beforeAll(async () => {
  f = await startFakeCluster({ behaviour: { [PROXY_CP]: { startupLevel: 3 } }, defaultBehaviour: { "kube-proxy": { profiling: true } } });
});
afterAll(async () => {
  await f?.close();
});

function seed(component: string, data: Record<string, unknown>): void {
  const name = `kvlog-${component}`;
  const text = Object.fromEntries(Object.entries(data).map(([k, v]) => [k, typeof v === "string" ? v : JSON.stringify(v)]));
  f.putConfigMap("kube-system", {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { name, namespace: "kube-system", labels: { "app.kubernetes.io/managed-by": "kvlog", "kvlog.dev/component": component } },
    data: text,
  });
}
const puts = (target: string) => f.requests.filter((q) => q.target === target && q.method === "PUT" && q.path === "/debug/flags/v");
/** Control characters that would act on a terminal: anything but kvlog's own colours (SGR), progress line (CR, erase line) and line ends. */
function rawControls(s: string): string[] {
  return [...s.replace(/\x1b\[[0-9;]*m|\r\x1b\[2K/g, "").matchAll(/[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]/g)].map((m) => JSON.stringify(m[0]));
}

/** Runs the CLI with stdout and stderr on a pseudo-terminal (script(1)); what the terminal received. */
function onTerminal(args: string[], env: Record<string, string>): Promise<string> {
  const q = (s: string) => `'${s.replaceAll("'", `'\\''`)}'`;
  const cmd = [process.execPath, CLI, ...args].map(q).join(" ");
  return new Promise((resolve, reject) => {
    const child = spawn("script", ["-qfec", cmd, "/dev/null"], { env: { PATH: process.env.PATH, TERM: "xterm", HOME: f.dir, ...env }, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (out += d));
    const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
    child.on("error", reject);
    child.on("close", () => {
      clearTimeout(timer);
      resolve(out.replaceAll("\r\n", "\n")); // the terminal's own line ends (onlcr)
    });
  });
}

describe("terminal escapes from the cluster are shown escaped", () => {
  it("a record with escapes in every field: status and get on a pseudo-terminal show them escaped; JSON is exact", async () => {
    const soon = new Date(Date.now() + 3_600_000).toISOString();
    seed("kube-proxy", {
      "20260101T000000Z-aaaaaa": { level: 4, by: HOSTILE, at: new Date().toISOString(), until: soon, targets: { [PROXY_CP]: { before: 3, startup: 3, incarnation: HOSTILE } } },
      [`20260101T000000Z-bbbbbb`]: { level: 4, by: "x", at: HOSTILE, targets: { [PROXY_W]: {} } },
      [`20260101T000000Z-cccccc`]: { level: 4, by: "x", at: new Date().toISOString(), until: HOSTILE, targets: { [`kube-proxy/${HOSTILE}`]: {}, [PROXY_W]: {} } },
    });
    const env = { KUBECONFIG: f.kubeconfig("admin") };
    const status = await onTerminal(["status"], env);
    expect(status).toContain(ESCAPED); // `by`, in the table
    expect(status).toMatch(/warning: kvlog-kube-proxy: change 20260101T000000Z-bbbbbb is not one kvlog writes/);
    expect(status).toMatch(/1 target name\(s\) that are not kvlog's left out/);
    expect(rawControls(status)).toEqual([]);
    const get = await onTerminal(["get", "kube-proxy"], env);
    expect(get).toContain(ESCAPED);
    expect(rawControls(get)).toEqual([]);

    const json = await kvlog(["status", "-o", "json"], env);
    const mine = json.json().results.find((r: { target: string }) => r.target === PROXY_CP);
    expect(mine.by).toBe(HOSTILE);
    expect(mine.incarnation).toBe(HOSTILE);
    expect(JSON.stringify(json.json().results)).not.toContain(`kube-proxy/${HOSTILE}`);
  });

  it("a component answering with escapes and \\r: the table shows them escaped, -o json carries the answer exactly", async () => {
    const body = `${HOSTILE} refused\n`;
    const server = http.createServer((req, res) => {
      req.resume();
      req.on("end", () => res.writeHead(400, { "content-type": "text/plain" }).end(body));
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    try {
      const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const table = await kvlog(["set", "kube-proxy", "3", "--endpoint", endpoint], {});
      expect(table.code).toBe(1);
      expect(table.stdout).toContain(ESCAPED_LINE);
      expect(rawControls(table.stdout + table.stderr)).toEqual([]);
      const json = await kvlog(["set", "kube-proxy", "3", "--endpoint", endpoint, "-o", "json"], {});
      expect(json.json().results[0].message).toContain("\x1b]0;pwned\x07\x1b[2J\x1b[31m");
    } finally {
      server.close();
    }
  });

  it("an apiserver Status message with escapes: the error line shows them escaped", async () => {
    // The real apiserver quotes a user name with Go's %q, but other Status messages carry text as
    // given (an admission webhook's denial, an aggregated API's answer): a server that answers
    // every request with such a Status.
    const { keyPem, certChainPem } = await selfSignedServing("127.0.0.1", ["localhost"], ["127.0.0.1"]);
    const server = https.createServer({ key: keyPem, cert: certChainPem }, (req, res) => {
      req.resume();
      req.on("end", () =>
        res
          .writeHead(403, { "content-type": "application/json" })
          .end(JSON.stringify({ kind: "Status", apiVersion: "v1", status: "Failure", message: `admission webhook "deny.example.com" denied the request: ${HOSTILE}`, reason: "Forbidden", code: 403 })),
      );
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    try {
      const kubeconfig = join(f.dir, "hostile-apiserver.yaml");
      writeFileSync(
        kubeconfig,
        `apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: "https://127.0.0.1:${(server.address() as AddressInfo).port}", insecure-skip-tls-verify: true}}]\nusers: [{name: u, user: {token: abcdefgh12345678}}]\ncontexts: [{name: x, context: {cluster: c, user: u}}]\ncurrent-context: x\n`,
      );
      for (const args of [["status", "kube-proxy"], ["set", "kubelet", "3"]]) {
        const r = await kvlog(args, { KUBECONFIG: kubeconfig });
        expect(r.code, r.stderr).not.toBe(0);
        expect(r.stderr).toContain("denied the request");
        expect(r.stderr).toContain(ESCAPED_LINE);
        expect(rawControls(r.stdout + r.stderr)).toEqual([]);
      }
    } finally {
      server.close();
    }
  });
});

describe("a planted record cannot raise a level", () => {
  it("reset --expired: huge, negative and above-the-change startup levels are refused and nothing is sent; a record kvlog could have written is put back", async () => {
    const past = new Date(Date.now() - 2 * 86_400_000).toISOString();
    const cases: [string, unknown][] = [
      ["huge", 2147483647],
      ["negative", -5],
      ["fraction", 2.5],
      ["text", "7"],
      ["above the change's level", 6],
    ];
    for (const [why, startup] of cases) {
      seed("kube-proxy", { "20260101T000000Z-aaaaaa": { level: 4, by: "mallory", at: past, until: past, targets: { [PROXY_W]: { before: 0, startup } } } });
      const sent = puts(PROXY_W).length;
      const r = await kvlog(["reset", "--expired", "-o", "json"], { KUBECONFIG: f.kubeconfig("admin") });
      const res = r.json().results.find((x: { id: string }) => x.id === PROXY_W);
      expect([why, res?.outcome]).toEqual([why, "unknown-startup"]);
      expect([why, puts(PROXY_W).length]).toEqual([why, sent]);
      expect(r.code).toBe(1);
    }
    // A far-future `until` on a change made two days ago counts as at most 24h: it is overdue now,
    // and a startup level kvlog could have written (within 0-10, below the change's level) is used.
    seed("kube-proxy", { "20260101T000000Z-bbbbbb": { level: 6, by: "alice", at: past, until: "2999-01-01T00:00:00.000Z", targets: { [PROXY_W]: { before: 2, startup: 2 } } } });
    const status = await kvlog(["status", "-o", "json"], { KUBECONFIG: f.kubeconfig("admin") });
    expect(status.json().results[0]).toMatchObject({ target: PROXY_W, state: "expired", until: new Date(Date.parse(past) + 86_400_000).toISOString() });
    expect(status.json().warnings.join("\n")).toMatch(/until "2999-01-01T00:00:00.000Z" taken as/);
    const sent = puts(PROXY_W).length;
    const r = await kvlog(["reset", "--expired", "-o", "json"], { KUBECONFIG: f.kubeconfig("admin") });
    expect(r.json().results.find((x: { id: string }) => x.id === PROXY_W)).toMatchObject({ ok: true, level: 2 });
    expect(puts(PROXY_W).slice(sent).map((q) => q.body)).toEqual(["2"]);
    expect(f.level(PROXY_W)).toBe(2);
  });

  it("target names that are not kvlog's are never turned into requests", async () => {
    const past = new Date(Date.now() - 2 * 86_400_000).toISOString();
    const names = ["kubelet/..", "kubelet/../../api/v1/secrets", "kubelet/cp-1/../x", "kubelet/UPPER", "kubelet/a b", "kubelet/%2e%2e"];
    seed("kubelet", { "20260101T000000Z-aaaaaa": { level: 4, by: "mallory", at: past, until: past, targets: Object.fromEntries(names.map((n) => [n, { startup: 0 }])) } });
    const seen = f.requests.length;
    const r = await kvlog(["reset", "--expired", "kubelet", "-o", "json"], { KUBECONFIG: f.kubeconfig("admin") });
    expect(r.json().results).toEqual([]);
    expect(r.json().warnings.join("\n")).toMatch(/6 target name\(s\) that are not kvlog's left out/);
    const asked = f.requests.slice(seen).map((q) => q.path);
    expect(asked.filter((p) => /nodes\/|secrets|%2e/i.test(p))).toEqual([]);
  });
});

describe("cluster data that reaches a shell", () => {
  it("completion offers only node names the apiserver could have accepted: none with a newline, tab or shell syntax", async () => {
    const odd = ["ok-node", "evil\nsecond", "tab\tdesc", "$(touch /tmp/kvlog-pwned)", "semi;rm", "UPPER"];
    const c = await startFakeCluster({ nodes: odd.map((name) => ({ name })) });
    try {
      const r = await kvlog(["__complete", "set", "kubelet", "1", "--node", ""], { KUBECONFIG: c.kubeconfig("admin") });
      expect(r.stdout).toBe("ok-node\n:4\n");
    } finally {
      await c.close();
    }
  });
});

// End-to-end: the access paths operators use, against the real local cluster. Real proxies from
// Debian's packages (tinyproxy: HTTP CONNECT with Basic auth; dante: SOCKS5) in front of the real
// apiservers, from the kubeconfig's proxy-url and from HTTPS_PROXY; and an exec credential
// plugin, as EKS, GKE and AKS kubeconfigs use. Local cluster only (test/e2e/proxies.sh).

import { execFile } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { kvlog, type CliRun } from "../integration/run.ts";

const exec = promisify(execFile);
const STATE = process.env.KVLOG_E2E_DIR ?? "/tmp/kvlog-e2e";
const LOCAL = !process.env.KVLOG_E2E_KUBECONFIG;
const REPLICA = "https://10.222.0.2:6443"; // replica 1 (on kvlog-node-1), not loopback: HTTPS_PROXY applies (as in kubectl)

interface Proxies {
  http: string;
  socks5: string;
  httpLog: string;
  socksLog: string;
}
let proxies: Proxies;
let token = "";

function kubeconfig(name: string, cluster: Record<string, string>, user: Record<string, unknown>): string {
  const path = `${STATE}/access-${name}.kubeconfig`;
  writeFileSync(
    path,
    JSON.stringify({
      apiVersion: "v1",
      kind: "Config",
      clusters: [{ name: "e2e", cluster: { "certificate-authority": `${STATE}/pki/ca.crt`, server: REPLICA, ...cluster } }],
      users: [{ name: "u", user }],
      contexts: [{ name: "x", context: { cluster: "e2e", user: "u" } }],
      "current-context": "x",
    }),
    { mode: 0o600 },
  );
  return path;
}

async function run(args: string[], env: Record<string, string>): Promise<CliRun> {
  const r = await kvlog(args, env, 90_000);
  expect(r.stdout + r.stderr, "a token leaked").not.toContain(token);
  expect(r.stdout + r.stderr, "the proxy password leaked").not.toContain("kvlog-proxy-pass-0123");
  return r;
}

/** What the proxy's log gained while `fn` ran. */
async function logged(path: string, fn: () => Promise<void>): Promise<string> {
  const before = readFileSync(path, "utf8").length;
  await fn();
  await new Promise((r) => setTimeout(r, 300)); // the proxies write their log lines after the fact
  return readFileSync(path, "utf8").slice(before);
}

/** The commands that take every path: lists, node proxy, port-forward WebSocket, each replica directly. */
const COMMANDS: string[][] = [
  ["set", "kubelet", "1", "--node", "kvlog-node-1"],
  ["set", "scheduler", "1"],
  ["set", "apiserver", "1"],
  ["get", "kube-proxy", "--node", "kvlog-node-1"],
  ["status"],
];

beforeAll(async () => {
  expect(LOCAL, "the access tests need the local cluster (real proxies are started beside it)").toBe(true);
  const { stdout } = await exec("bash", [new URL("./proxies.sh", import.meta.url).pathname, "start"], { env: { ...process.env, KVLOG_E2E_DIR: STATE } });
  proxies = JSON.parse(stdout.trim().split("\n").pop()!);
  token = readFileSync(`${STATE}/tokens/kvlog.token`, "utf8").trim();
});

afterAll(async () => {
  await exec("bash", [new URL("./proxies.sh", import.meta.url).pathname, "stop"], { env: { ...process.env, KVLOG_E2E_DIR: STATE } }).catch(() => {});
});

describe("through real proxies", () => {
  it("kubeconfig proxy-url through tinyproxy (HTTP CONNECT, Basic auth): every command, every path", async () => {
    const kc = kubeconfig("proxy-url", { "proxy-url": proxies.http }, { token });
    const log = await logged(proxies.httpLog, async () => {
      for (const args of COMMANDS) {
        const r = await run([...args, "-o", "json"], { KUBECONFIG: kc });
        expect(r.code, `${args.join(" ")}: ${r.stdout}${r.stderr}`).toBe(0);
      }
    });
    // Both replicas were reached through the proxy (set apiserver goes to each at its own address).
    expect(log).toMatch(/CONNECT 10\.222\.0\.2:6443/);
    expect(log).toMatch(/CONNECT 10\.222\.0\.3:6443/);
  });

  it("HTTPS_PROXY=socks5:// through dante: every command, every path", async () => {
    const kc = kubeconfig("socks-env", {}, { token });
    const log = await logged(proxies.socksLog, async () => {
      for (const args of COMMANDS) {
        const r = await run([...args, "-o", "json"], { KUBECONFIG: kc, HTTPS_PROXY: proxies.socks5 });
        expect(r.code, `${args.join(" ")}: ${r.stdout}${r.stderr}`).toBe(0);
      }
    });
    expect(log).toMatch(/-> \S+ 10\.222\.0\.2\.6443/);
    expect(log).toMatch(/-> \S+ 10\.222\.0\.3\.6443/);
  });

  it("NO_PROXY keeps the cluster's addresses direct; without it, a dead proxy fails in one line that names it", async () => {
    const kc = kubeconfig("dead-proxy", {}, { token });
    const dead = "http://127.0.0.1:9"; // discard port: nothing listens
    const direct = await run(["set", "scheduler", "1"], { KUBECONFIG: kc, HTTPS_PROXY: dead, NO_PROXY: "10.222.0.0/24" });
    expect(direct.code, direct.stderr).toBe(0);
    const failed = await run(["set", "scheduler", "1"], { KUBECONFIG: kc, HTTPS_PROXY: dead });
    expect(failed.code).toBe(1);
    expect(failed.stderr).toMatch(/^kvlog: cannot reach the apiserver at https:\/\/10\.222\.0\.2:6443 to list pods in namespace kube-system: proxy http:\/\/127\.0\.0\.1:9: connect ECONNREFUSED/);
  });
});

describe("an exec credential plugin against the real apiserver", () => {
  it("its token is used for every path; what it prints never reaches the output", async () => {
    const plugin = `${STATE}/access-plugin.sh`;
    writeFileSync(
      plugin,
      `#!/bin/sh\necho "plugin diagnostics on stderr" >&2\nprintf '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"%s"}}' "$(cat ${STATE}/tokens/kvlog.token)"\n`,
      { mode: 0o700 },
    );
    const kc = kubeconfig("exec", {}, { exec: { apiVersion: "client.authentication.k8s.io/v1", command: plugin, interactiveMode: "Never" } });
    for (const args of COMMANDS) {
      const r = await run([...args, "-o", "json"], { KUBECONFIG: kc });
      expect(r.code, `${args.join(" ")}: ${r.stdout}${r.stderr}`).toBe(0);
      expect(r.stderr).not.toContain("plugin diagnostics");
    }
    const who = await run(["set", "scheduler", "1", "-o", "json"], { KUBECONFIG: kc });
    expect(who.json().record.by).toBe("system:serviceaccount:kvlog-e2e:kvlog");
  });

  it("a plugin that fails: one line with its command and exit code, exit 2", async () => {
    const plugin = `${STATE}/access-plugin-fails.sh`;
    writeFileSync(plugin, `#!/bin/sh\necho "token=not-for-your-eyes" >&2\nexit 3\n`, { mode: 0o700 });
    const kc = kubeconfig("exec-fails", {}, { exec: { apiVersion: "client.authentication.k8s.io/v1", command: plugin, interactiveMode: "Never" } });
    const r = await run(["set", "scheduler", "1"], { KUBECONFIG: kc });
    expect(r.code).not.toBe(0);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toContain(`the exec plugin ${plugin} exited with code 3`);
    expect(r.stderr).not.toContain("not-for-your-eyes");
  });
});

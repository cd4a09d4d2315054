// The real CLI against the in-process simulated cluster: every reach path, every outcome class.
import { readFileSync, writeFileSync } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { defaultPods, KVLOG_RULES, startFakeCluster, type FakeCluster, type FakeRule } from "../fake/cluster.ts";
import { kvlog, type CliRun } from "./run.ts";
import { docBlock } from "../docs-blocks.ts";

let fake: FakeCluster;
const SCHED = "kube-scheduler/kube-system/kube-scheduler-cp-1";
const KCM = "kube-controller-manager/kube-system/kube-controller-manager-cp-1";
const CCM = "cloud-controller-manager/kube-system/cloud-controller-manager-x2v8q";
const PROXY_CP = "kube-proxy/kube-system/kube-proxy-aaaaa";
const PROXY_W = "kube-proxy/kube-system/kube-proxy-bbbbb";

/** Every run: the secrets of every user must not appear anywhere in the output. */
async function run(args: string[], user = "admin", env: Record<string, string> = {}): Promise<CliRun> {
  const r = await kvlog(args, { KUBECONFIG: fake.kubeconfig(user), ...env });
  for (const u of ["admin", "kvlog", "nobody"]) {
    const token = fake.tokenFor(u);
    expect(r.stdout + r.stderr).not.toContain(token);
  }
  expect(r.stdout + r.stderr).not.toMatch(/PRIVATE KEY|    at .*\(.*:\d+:\d+\)/); // no keys, no stack traces
  return r;
}

/** The ClusterRole's rules from the documented RBAC block (docs/rbac-and-security.md), as the fake's rules. */
function documentedRules(): FakeRule[] {
  return clusterRoleRules(docBlock("rbac"));
}

/** The rules of the ClusterRole in YAML as kvlog rbac prints it (flow lists, one field a line). */
function clusterRoleRules(yaml: string): FakeRule[] {
  const role = yaml.split(/^---$/m).find((doc) => /^kind: ClusterRole$/m.test(doc))!;
  const rules: FakeRule[] = [];
  for (const line of role.split("\n")) {
    const m = /^\s*(-\s+)?(apiGroups|resources|verbs|nonResourceURLs|resourceNames):\s*(\[.*\])\s*$/.exec(line);
    if (!m) continue;
    if (m[1]) rules.push({ verbs: [] });
    (rules.at(-1) as unknown as Record<string, string[]>)[m[2]!] = JSON.parse(m[3]!) as string[];
  }
  return rules;
}

/** A kubeconfig for the fake cluster whose user runs an exec credential plugin. */
function execKubeconfig(command: string, name: string, args: string[] = []): string {
  const path = `${fake.dir}/${name}.kubeconfig`;
  const ca = Buffer.from(fake.caPem).toString("base64");
  writeFileSync(
    path,
    JSON.stringify({
      apiVersion: "v1",
      kind: "Config",
      clusters: [{ name: "fake", cluster: { server: fake.url, "certificate-authority-data": ca } }],
      users: [{ name, user: { exec: { apiVersion: "client.authentication.k8s.io/v1", command, args, interactiveMode: "Never" } } }],
      contexts: [{ name, context: { cluster: "fake", user: name } }],
      "current-context": name,
    }),
  );
  return path;
}

const puts = (target: string) => fake.requests.filter((q) => q.target === target && q.method === "PUT" && q.path === "/debug/flags/v");

beforeAll(async () => {
  fake = await startFakeCluster({
    behaviour: { [PROXY_CP]: { profiling: true } },
    users: [
      {
        name: "system:serviceaccount:kvlog-e2e:kvlog",
        rules: [{ nonResourceURLs: ["/debug/flags/v"], verbs: ["put"] }, { resources: ["endpoints"], verbs: ["get"], resourceNames: ["kubernetes"] }],
      },
    ],
  });
});
afterAll(async () => {
  await fake?.close();
});

describe("every component, every path", () => {
  it("kube-apiserver: the kubeconfig's URL, verified against its CA", async () => {
    const r = await run(["set", "apiserver", "3"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^TARGET\s+NODE\s+VIA\s+RESULT\s+MESSAGE\n/);
    expect(r.stdout).toMatch(/kube-apiserver\/127\.0\.0\.1:\d+\s+-\s+direct\s+set\s+level set to 3/);
    const dry = await run(["set", "apiserver", "3", "--dry-run", "-o", "json"]);
    expect(dry.json().results[0].endpoint).toBe(`${fake.url}/debug/flags/v`);
    expect(dry.json().results[0].request.url).toBe(`${fake.url}/debug/flags/v`);
    expect(r.stderr).toMatch(/kube-apiserver: 1 of 1 target\(s\) set to level 3/);
    expect(fake.level("kube-apiserver")).toBe(3);
    expect(puts("kube-apiserver").at(-1)).toMatchObject({ body: "3", authorization: "cert" });
  });

  it.each([
    ["scheduler", SCHED],
    ["kcm", KCM],
    ["ccm", CCM],
  ])("%s: every pod through a port-forward, HTTPS and credentials inside the tunnel", async (name, id) => {
    const r = await run(["set", name, "4", "-o", "json"]);
    expect(r.code).toBe(0);
    const doc = r.json();
    expect(doc.results).toHaveLength(1);
    expect(doc.results[0]).toMatchObject({ id, via: "port-forward", outcome: "set", ok: true, httpStatus: 200 });
    expect(fake.level(id)).toBe(4);
    expect(puts(id).at(-1)).toMatchObject({ via: "port-forward", body: "4", authorization: "cert" });
  });

  it("kubelet: every node through the apiserver's node proxy", async () => {
    const r = await run(["set", "kubelet", "5", "-o", "json"]);
    expect(r.code).toBe(0);
    expect(r.json().results.map((x: any) => [x.id, x.via, x.outcome])).toEqual([
      ["kubelet/cp-1", "node-proxy", "set"],
      ["kubelet/worker-1", "node-proxy", "set"],
    ]);
    expect(fake.level("kubelet/cp-1")).toBe(5);
    expect(fake.level("kubelet/worker-1")).toBe(5);
    expect(puts("kubelet/cp-1").at(-1)).toMatchObject({ via: "node-proxy" });
  });

  it("kubelet: --node and -l narrow the nodes", async () => {
    const one = await run(["set", "kubelet", "2", "--node", "worker-1", "-o", "json"]);
    expect(one.json().results.map((x: any) => x.id)).toEqual(["kubelet/worker-1"]);
    const cp = await run(["set", "kubelet", "2", "-l", "node-role.kubernetes.io/control-plane", "-o", "json"]);
    expect(cp.json().results.map((x: any) => x.id)).toEqual(["kubelet/cp-1"]);
  });

  it("kubelet --direct: verified TLS fails on a self-signed kubelet cert, --insecure-skip-tls-verify goes through", async () => {
    const verified = await run(["set", "kubelet", "6", "--direct", "--node", "cp-1", "-o", "json"]);
    expect(verified.code).toBe(1);
    expect(verified.json().results[0]).toMatchObject({ via: "direct", outcome: "tls-error", ok: false });
    expect(verified.json().results[0].hint).toMatch(/drop --direct/);
    expect(verified.json().results[0].hint).not.toMatch(/insecure/); // never suggests turning off the apiserver's verification
    const insecure = await run(["set", "kubelet", "6", "--direct", "--node", "cp-1", "--insecure-skip-tls-verify", "-o", "json"]);
    expect(insecure.code).toBe(0);
    expect(insecure.json().results[0]).toMatchObject({ via: "direct", outcome: "set" });
    expect(insecure.json().results[0].endpoint).toMatch(/^https:\/\/127\.0\.0\.1:\d+\/debug\/flags\/v$/);
    expect(puts("kubelet/cp-1").at(-1)).toMatchObject({ via: "direct", body: "6" });
  });

  it("kube-proxy: plain HTTP through the port-forward, no credentials sent; profiling off is not-installed", async () => {
    const r = await run(["set", "proxy", "3", "-o", "json"]);
    expect(r.code).toBe(1);
    const byId = Object.fromEntries(r.json().results.map((x: any) => [x.id, x]));
    expect(byId[PROXY_CP]).toMatchObject({ outcome: "set", ok: true, request: { auth: "none" } });
    expect(byId[PROXY_W]).toMatchObject({ outcome: "not-installed", ok: false, httpStatus: 404 });
    expect(byId[PROXY_W].hint).toMatch(/enableProfiling: true/);
    expect(puts(PROXY_CP).at(-1)).toMatchObject({ authorization: "none", via: "port-forward" });
    expect(r.stderr).toMatch(/kube-proxy: 1 of 2 target\(s\) failed, 1 set to level 3/);
  });

  it("kube-proxy --node picks the pod on that node", async () => {
    const r = await run(["set", "proxy", "2", "--node", "cp-1", "-o", "json"]);
    expect(r.code).toBe(0);
    expect(r.json().results.map((x: any) => x.id)).toEqual([PROXY_CP]);
  });

  it("--endpoint skips discovery", async () => {
    const port = fake.portOf(PROXY_CP);
    const r = await kvlog(["set", "proxy", "7", "--endpoint", `http://127.0.0.1:${port}`, "-o", "json"], {});
    expect(r.code).toBe(0);
    expect(r.json().results[0]).toMatchObject({ id: `kube-proxy/127.0.0.1:${port}`, via: "direct", outcome: "set" });
    expect(fake.level(PROXY_CP)).toBe(7);
  });
});

describe("identities", () => {
  it("the documented least-privilege role, as written in docs/rbac-and-security.md, is enough for every component", async () => {
    const rules = documentedRules();
    expect(rules.length).toBeGreaterThanOrEqual(4);
    const f = await startFakeCluster({
      users: [{ name: "readme", rules }],
      defaultBehaviour: { "kube-proxy": { profiling: true } },
    });
    try {
      for (const c of ["apiserver", "scheduler", "kcm", "ccm", "kubelet", "kube-proxy"]) {
        const r = await kvlog(["set", c, "2"], { KUBECONFIG: f.kubeconfig("readme") });
        expect(r.code, `${c}: ${r.stdout}${r.stderr}`).toBe(0);
      }
      expect(f.requests.filter((q) => q.target === SCHED && q.method === "PUT").at(-1)).toMatchObject({ authorization: "bearer", user: "readme" });
    } finally {
      await f.close();
    }
  });

  it("kvlog rbac --components X is enough for X alone, for every component", async () => {
    const names = ["apiserver", "scheduler", "kcm", "ccm", "kubelet", "kube-proxy"];
    const users = [];
    for (const n of names) {
      const r = await kvlog(["rbac", "--components", n], {});
      expect(r.code).toBe(0);
      users.push({ name: `rbac-${n}`, rules: clusterRoleRules(r.stdout) });
    }
    const f = await startFakeCluster({ users, defaultBehaviour: { "kube-proxy": { profiling: true } } });
    try {
      for (const n of names) {
        const r = await kvlog(["set", n, "2"], { KUBECONFIG: f.kubeconfig(`rbac-${n}`) });
        expect(r.code, `${n}: ${r.stdout}${r.stderr}`).toBe(0);
      }
    } finally {
      await f.close();
    }
  });

  it("--token replaces the kubeconfig identity (and a wrong one is 401)", async () => {
    const ok = await run(["set", "apiserver", "2", "--token", fake.tokenFor("kvlog")]);
    expect(ok.code).toBe(0);
    expect(puts("kube-apiserver").at(-1)).toMatchObject({ authorization: "bearer", user: "kvlog" });
    const bad = await run(["set", "apiserver", "2", "--token", "not-a-valid-token-0123456789", "-o", "json"]);
    expect(bad.code).toBe(1);
    expect(bad.json().results[0]).toMatchObject({ outcome: "unauthorized", httpStatus: 401, ok: false });
    expect(bad.stdout + bad.stderr).not.toContain("not-a-valid-token-0123456789");
  });

  it("a wrong token during discovery is one line and exit 1", async () => {
    const r = await run(["set", "scheduler", "2", "--token", "not-a-valid-token-0123456789"]);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe("");
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toMatch(/^kvlog: the apiserver did not accept the credentials \(401/);
  });

  it("--service-account mints a token with TokenRequest and acts as it", async () => {
    const before = fake.requests.length;
    const r = await run(["set", "apiserver", "9", "--service-account", "kvlog-e2e/kvlog", "-o", "json"]);
    expect(r.code).toBe(0);
    expect(r.json().results[0].request.auth).toMatch(/ServiceAccount kvlog-e2e\/kvlog/);
    expect(fake.requests.slice(before).some((q) => q.method === "POST" && q.path === "/api/v1/namespaces/kvlog-e2e/serviceaccounts/kvlog/token")).toBe(true);
    expect(puts("kube-apiserver").at(-1)).toMatchObject({ user: "system:serviceaccount:kvlog-e2e:kvlog", body: "9" });
  });

  it("a kubeconfig exec plugin provides the token (as EKS/GKE/AKS/OIDC plugins do)", async () => {
    const { writeFileSync, chmodSync } = await import("node:fs");
    const plugin = `${fake.dir}/exec-plugin.sh`;
    const cred = JSON.stringify({ apiVersion: "client.authentication.k8s.io/v1", kind: "ExecCredential", status: { token: fake.tokenFor("kvlog") } });
    writeFileSync(plugin, `#!/bin/sh\nprintf '%s' '${cred}'\n`);
    chmodSync(plugin, 0o755);
    const r = await kvlog(["set", "scheduler", "2", "-o", "json"], { KUBECONFIG: execKubeconfig(plugin, "exec-ok") });
    expect(r.code, r.stderr).toBe(0);
    expect(r.json().results[0].request.auth).toBe("bearer token (kubeconfig)");
    expect(puts(SCHED).at(-1)).toMatchObject({ authorization: "bearer", user: "kvlog" });
    expect(r.stdout + r.stderr).not.toContain(fake.tokenFor("kvlog"));
  });

  it("an exec plugin token that expired and is refused (401) is fetched again, and the run goes on", async () => {
    const { writeFileSync, chmodSync, readFileSync } = await import("node:fs");
    const plugin = `${fake.dir}/exec-expiring.sh`;
    const calls = `${fake.dir}/exec-expiring.calls`;
    writeFileSync(calls, "");
    // First call: a token the apiserver no longer accepts, already past its expirationTimestamp
    // (as an EKS token is after 15 minutes). Later calls: a valid token.
    const cred = (token: string, exp: string) =>
      JSON.stringify({ apiVersion: "client.authentication.k8s.io/v1", kind: "ExecCredential", status: { token, expirationTimestamp: exp } });
    writeFileSync(
      plugin,
      `#!/bin/sh\necho x >> '${calls}'\nif [ "$(wc -l < '${calls}')" -le 1 ]; then printf '%s' '${cred("stale-token-0123456789", "2000-01-01T00:00:00Z")}'; ` +
        `else printf '%s' '${cred(fake.tokenFor("kvlog"), "2999-01-01T00:00:00Z")}'; fi\n`,
    );
    chmodSync(plugin, 0o755);
    const r = await kvlog(["set", "kubelet", "2", "-o", "json"], { KUBECONFIG: execKubeconfig(plugin, "exec-expiring") });
    expect(r.code, r.stderr).toBe(0);
    expect(readFileSync(calls, "utf8").trim().split("\n")).toHaveLength(2);
    expect(r.json().summary).toMatchObject({ succeeded: 2, failed: 0 });
    expect(r.stdout + r.stderr).not.toContain("stale-token-0123456789");
  });

  it("an exec plugin that never answers is bounded by --request-timeout, and killed", async () => {
    const started = Date.now();
    const r = await kvlog(["set", "apiserver", "2", "--request-timeout", "1s"], { KUBECONFIG: execKubeconfig("/bin/sleep", "exec-hang", ["613"]) });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^kvlog: the credentials of the kubeconfig .* could not be loaded: .*did not answer within 1000 ms/);
    expect(Date.now() - started).toBeLessThan(15_000);
    const { execFileSync } = await import("node:child_process");
    const left = (() => {
      try {
        return execFileSync("pgrep", ["-f", "sleep 613"], { encoding: "utf8" }).trim();
      } catch {
        return ""; // pgrep exits 1 when nothing matches
      }
    })();
    expect(left, "the plugin still runs after kvlog exited").toBe("");
  });

  it("an exec plugin that fails: its exit code and the next step, never what it printed", async () => {
    const { writeFileSync, chmodSync } = await import("node:fs");
    const plugin = `${fake.dir}/exec-fails.sh`;
    writeFileSync(plugin, "#!/bin/sh\necho 'refresh failed for token sk-live-SECRET0123456789' >&2\nexit 3\n");
    chmodSync(plugin, 0o755);
    const r = await kvlog(["set", "apiserver", "2"], { KUBECONFIG: execKubeconfig(plugin, "exec-fails") });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/could not be loaded: the exec plugin .*exec-fails\.sh exited with code 3 \(run it yourself to see its message/);
    expect(r.stdout + r.stderr).not.toContain("SECRET0123456789");
  });

  it("impersonation (kubeconfig as:) is refused where it would be ignored, and used where the apiserver honours it", async () => {
    const { readFileSync, writeFileSync } = await import("node:fs");
    const kc = `${fake.dir}/impersonating.kubeconfig`;
    writeFileSync(kc, readFileSync(fake.kubeconfig("admin"), "utf8").trimEnd() + "\n    as: kvlog\n");
    for (const args of [["set", "scheduler", "2"], ["set", "kubelet", "2", "--direct", "--node", "cp-1"]]) {
      const r = await kvlog(args, { KUBECONFIG: kc });
      expect(r.code, args.join(" ")).toBe(2);
      expect(r.stderr).toMatch(/^kvlog: the kubeconfig impersonates "kvlog" \(as:\), but .* checks credentials itself and ignores impersonation.*drop "as:"/);
    }
    const proxied = await kvlog(["set", "kubelet", "2", "--node", "cp-1"], { KUBECONFIG: kc });
    expect(proxied.code, proxied.stderr).toBe(0);
  });

  it("--token-file reads and trims the token", async () => {
    const { writeFileSync } = await import("node:fs");
    const file = `${fake.dir}/token`;
    writeFileSync(file, `${fake.tokenFor("kvlog")}\n`);
    const r = await run(["set", "apiserver", "2", "--token-file", file]);
    expect(r.code).toBe(0);
    expect(puts("kube-apiserver").at(-1)).toMatchObject({ authorization: "bearer", user: "kvlog" }); // the file's identity, not the kubeconfig's (admin)
  });
});

describe("every failure is classified, and never hides the others", () => {
  it("403 at the apiserver prints the missing non-resource rule", async () => {
    const r = await run(["set", "apiserver", "3", "-o", "json"], "nobody");
    expect(r.code).toBe(1);
    expect(r.json().results[0]).toMatchObject({ outcome: "forbidden", httpStatus: 403 });
    expect(r.json().results[0].message).toContain('cannot put path \\"/debug/flags/v\\"'.replace(/\\/g, ""));
    expect(r.stderr).toContain('hint: grant nonResourceURLs ["/debug/flags/v"] verbs ["put"]');
  });

  it("403 on discovery names the rule, one line, exit 1", async () => {
    const r = await run(["set", "scheduler", "3"], "nobody");
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^kvlog: forbidden to list pods in namespace kube-system: .*Grant: apiGroups \[""\] resources \["pods"\] verbs \["list"\]/);
  });

  it("403 through the node proxy prints the nodes/proxy rule and its warning", async () => {
    const f = await startFakeCluster({ users: [{ name: "lister", rules: [{ resources: ["nodes"], verbs: ["get", "list"] }] }] });
    try {
      const r = await kvlog(["set", "kubelet", "3", "-o", "json"], { KUBECONFIG: f.kubeconfig("lister") });
      expect(r.code).toBe(1);
      const res = r.json().results;
      expect(res.map((x: any) => x.outcome)).toEqual(["forbidden", "forbidden"]);
      expect(res[0].hint).toMatch(/resources \["nodes\/proxy"\] verbs \["update"\].*with care/);
    } finally {
      await f.close();
    }
  });

  it("403 on the port-forward names pods/portforward", async () => {
    const f = await startFakeCluster({ users: [{ name: "viewer", rules: [{ resources: ["pods", "nodes"], verbs: ["get", "list"] }] }] });
    try {
      const r = await kvlog(["set", "scheduler", "3", "-o", "json"], { KUBECONFIG: f.kubeconfig("viewer") });
      expect(r.code).toBe(1);
      expect(r.json().results[0]).toMatchObject({ outcome: "forbidden", httpStatus: 403 });
      expect(r.json().results[0].hint).toBe('grant apiGroups [""] resources ["pods/portforward"] verbs ["get", "create"] in namespace kube-system');
    } finally {
      await f.close();
    }
  });

  it("403 from the component's own delegated authorization", async () => {
    const f = await startFakeCluster({
      users: [{ name: "no-put", rules: [{ resources: ["pods", "nodes"], verbs: ["get", "list"] }, { resources: ["pods/portforward"], verbs: ["get", "create"] }] }],
    });
    try {
      const r = await kvlog(["set", "scheduler", "3", "-o", "json"], { KUBECONFIG: f.kubeconfig("no-put") });
      expect(r.code).toBe(1);
      expect(r.json().results[0]).toMatchObject({ outcome: "forbidden", httpStatus: 403, via: "port-forward" });
      expect(r.json().results[0].message).toMatch(/cannot put path "\/debug\/flags\/v"/);
      expect(r.json().results[0].hint).toMatch(/SubjectAccessReview/);
    } finally {
      await f.close();
    }
  });

  it("kubelet 405, too-old controller-manager, the index page, refused, reset and hang", async () => {
    const f = await startFakeCluster({
      nodes: [{ name: "cp-1", controlPlane: true }, { name: "worker-1" }, { name: "worker-2" }],
      behaviour: {
        "kubelet/worker-1": { debugFlagsHandler: false },
        "kubelet/worker-2": { debuggingHandlers: false },
        [KCM]: { version: "v1.22.0" },
        [SCHED]: { mode: "index" },
      },
    });
    try {
      const env = { KUBECONFIG: f.kubeconfig("admin") };
      const kubelets = await kvlog(["set", "kubelet", "3", "-o", "json"], env);
      expect(kubelets.code).toBe(1);
      expect(kubelets.json().results.map((x: any) => [x.id, x.outcome, x.httpStatus])).toEqual([
        ["kubelet/cp-1", "set", 200],
        ["kubelet/worker-1", "disabled", 405],
        ["kubelet/worker-2", "not-installed", 404],
      ]);

      const kcm = (await kvlog(["set", "kcm", "3", "-o", "json"], env)).json().results[0];
      expect(kcm).toMatchObject({ outcome: "too-old", httpStatus: 404 });
      expect(kcm.message).toMatch(/v1\.22\.0.*1\.23/);

      const idx = (await kvlog(["set", "scheduler", "3", "-o", "json"], env)).json().results[0];
      expect(idx).toMatchObject({ outcome: "unexpected-answer", httpStatus: 200 });
      expect(idx.message).toMatch(/index page/);

      await f.setBehaviour(SCHED, { mode: "refuse" });
      const refused = (await kvlog(["set", "scheduler", "3", "-o", "json"], env)).json().results[0];
      expect(refused.outcome).toBe("connection-refused");
      expect(refused.message).toMatch(/connection refused/);

      await f.setBehaviour(SCHED, { mode: "reset" });
      expect((await kvlog(["set", "scheduler", "3", "-o", "json"], env)).json().results[0].outcome).toBe("connection-reset");

      await f.setBehaviour(SCHED, { mode: "hang" });
      const started = Date.now();
      const hung = await kvlog(["set", "scheduler", "3", "-o", "json", "--request-timeout", "1s"], env);
      expect(hung.json().results[0].outcome).toBe("timeout");
      expect(Date.now() - started).toBeLessThan(10_000);
    } finally {
      await f.close();
    }
  });

  it("--timeout ends the run at its time: a kubelet that never answers is cut short (interrupted, may have been applied), the others are set", async () => {
    // The bug of issue #20: `--timeout 3s --request-timeout 60s` with one node that never answers ran 60 s.
    const f = await startFakeCluster({
      nodes: [{ name: "n-1" }, { name: "n-2" }, { name: "n-3" }],
      behaviour: { "kubelet/n-1": { mode: "hang" } },
    });
    try {
      const started = Date.now();
      const r = await kvlog(["set", "kubelet", "2", "--timeout", "3s", "--request-timeout", "60s", "-o", "json"], { KUBECONFIG: f.kubeconfig("admin") }, 30_000);
      const took = Date.now() - started;
      expect(took, "ends at --timeout (3 s), not at --request-timeout (60 s)").toBeLessThan(5_000);
      expect(took, "and not before it: the others answered at once, the run still waited for n-1 until 3 s").toBeGreaterThanOrEqual(3_000);
      expect(r.code).toBe(1);
      const results = r.json().results;
      expect(results.map((x: any) => [x.id, x.outcome, x.ok])).toEqual([
        ["kubelet/n-1", "interrupted", false],
        ["kubelet/n-2", "set", true],
        ["kubelet/n-3", "set", true],
      ]);
      // Through the node proxy, the PUT reached the apiserver whole: the kubelet may have acted on it.
      expect(results[0].message).toBe("--timeout 3s passed while kvlog waited for the answer: the PUT was sent, so the change may have been applied");
      expect(results[0].attempts).toBe(1);
      expect(f.level("kubelet/n-2")).toBe(2);
      expect(f.level("kubelet/n-3")).toBe(2);
      expect(r.stderr).toMatch(/interrupted: 1 target\(s\) sent the change but got no answer in time: it may have been applied/);
    } finally {
      await f.close();
    }
  });

  it("reset --dry-run --timeout: a target whose startup level was still being read is interrupted, never \"would PUT 0\"", async () => {
    const f = await startFakeCluster({
      nodes: [{ name: "n-1" }, { name: "n-2" }],
      behaviour: { "kubelet/n-1": { mode: "hang" }, "kubelet/n-2": { startupLevel: 3 } },
    });
    try {
      const r = await kvlog(["reset", "kubelet", "--dry-run", "--timeout", "2s", "--request-timeout", "60s", "-o", "json"], { KUBECONFIG: f.kubeconfig("admin") }, 30_000);
      const results = r.json().results;
      expect(results.map((x: any) => [x.id, x.outcome, x.ok])).toEqual([
        ["kubelet/n-1", "interrupted", false],
        ["kubelet/n-2", "dry-run", true],
      ]);
      expect(results[0].message).toBe("--timeout 2s passed before the PUT was sent (its level is unchanged)");
      expect(results[1].message).toMatch(/^would PUT "3" to /);
      expect(r.code).toBe(1);
    } finally {
      await f.close();
    }
  });

  it("--timeout: with one target at a time, the one in flight is cut short and the rest are reported as not attempted, exit 1", async () => {
    const f = await startFakeCluster({
      nodes: [{ name: "n-1" }, { name: "n-2" }, { name: "n-3" }],
      behaviour: { "kubelet/n-1": { mode: "hang" } },
    });
    try {
      const started = Date.now();
      const r = await kvlog(["set", "kubelet", "4", "--concurrency", "1", "--request-timeout", "20s", "--timeout", "1s", "-o", "json"], { KUBECONFIG: f.kubeconfig("admin") }, 30_000);
      expect(Date.now() - started, "bounded by --timeout (1 s), not by the step in flight (20 s)").toBeLessThan(10_000);
      expect(r.code).toBe(1);
      expect(r.json().results.map((x: any) => [x.id, x.outcome])).toEqual([
        ["kubelet/n-1", "interrupted"],
        ["kubelet/n-2", "interrupted"],
        ["kubelet/n-3", "interrupted"],
      ]);
      expect(r.json().results[0].message).toMatch(/may have been applied$/);
      expect(r.json().results[1].message).toBe("not attempted: --timeout 1s passed before kvlog reached it (its level is unchanged)");
      expect(r.stderr).toMatch(/interrupted: 2 target\(s\) not attempted, their level is unchanged/);
      expect(f.level("kubelet/n-2")).toBeUndefined();
    } finally {
      await f.close();
    }
  });

  it("--timeout cuts a port-forward short: a tunnel that never opens (level unchanged) and a component that never answers through one (may have been applied)", async () => {
    // kubelet/cp-1 hangs: the apiserver's port-forward to the pods on cp-1 never opens, so the
    // PUT is never sent. undici's abort does not reach kvlog's own connector (libraries.md).
    const f = await startFakeCluster({ behaviour: { "kubelet/cp-1": { mode: "hang" } } });
    try {
      const env = { KUBECONFIG: f.kubeconfig("admin") };
      let started = Date.now();
      const closed = await kvlog(["set", "scheduler", "3", "--timeout", "2s", "--request-timeout", "60s", "-o", "json"], env, 30_000);
      expect(Date.now() - started).toBeLessThan(8_000);
      expect(closed.code).toBe(1);
      expect(closed.json().results[0]).toMatchObject({ id: SCHED, outcome: "interrupted", attempts: 0 });
      expect(closed.json().results[0].message).toBe("--timeout 2s passed before the PUT was sent (its level is unchanged)");
      expect(f.requests.filter((q) => q.target === SCHED && q.method === "PUT")).toEqual([]);

      await f.setBehaviour("kubelet/cp-1", { mode: "normal" });
      await f.setBehaviour(SCHED, { mode: "hang" });
      started = Date.now();
      const hung = await kvlog(["set", "scheduler", "3", "--timeout", "2s", "--request-timeout", "60s", "-o", "json"], env, 30_000);
      expect(Date.now() - started).toBeLessThan(8_000);
      expect(hung.json().results[0]).toMatchObject({ id: SCHED, outcome: "interrupted", attempts: 1 });
      expect(hung.json().results[0].message).toMatch(/the PUT was sent, so the change may have been applied$/);
    } finally {
      await f.close();
    }
  });

  it("--timeout never cuts the restore of set --for: the levels go back after the run's deadline", async () => {
    const f = await startFakeCluster({ nodes: [{ name: "n-1" }, { name: "n-2" }], defaultBehaviour: { kubelet: { startupLevel: 1 } } });
    try {
      const r = await kvlog(["set", "kubelet", "5", "--for", "2s", "--timeout", "1s", "-o", "json"], { KUBECONFIG: f.kubeconfig("admin") }, 30_000);
      expect(r.code).toBe(0);
      expect(r.json().results.map((x: any) => [x.id, x.outcome, x.restore?.outcome, x.restore?.level])).toEqual([
        ["kubelet/n-1", "set", "set", 1],
        ["kubelet/n-2", "set", "set", 1],
      ]);
      expect(f.level("kubelet/n-1")).toBe(1);
    } finally {
      await f.close();
    }
  });

  it("--timeout cuts discovery short: an apiserver that never answers the node list ends the run at its time, with one line that says why", async () => {
    const seen: string[] = [];
    const stuck = new Set<http.ServerResponse>();
    const apiserver = http.createServer((req, res) => {
      seen.push(`${req.method} ${req.url}`);
      stuck.add(res); // never answered
    });
    await new Promise<void>((r) => apiserver.listen(0, "127.0.0.1", r));
    try {
      const server = `http://127.0.0.1:${(apiserver.address() as AddressInfo).port}`;
      const kubeconfig = `${fake.dir}/stuck-apiserver.kubeconfig`;
      writeFileSync(
        kubeconfig,
        JSON.stringify({ apiVersion: "v1", kind: "Config", clusters: [{ name: "s", cluster: { server, "insecure-skip-tls-verify": true } }], users: [{ name: "u", user: {} }], contexts: [{ name: "s", context: { cluster: "s", user: "u" } }], "current-context": "s" }),
      );
      const started = Date.now();
      const r = await kvlog(["set", "kubelet", "2", "--timeout", "2s", "--request-timeout", "60s"], { KUBECONFIG: kubeconfig }, 30_000);
      expect(Date.now() - started, "2 s, not 60 s").toBeLessThan(8_000);
      expect(seen.some((q) => q.startsWith("GET /api/v1/nodes")), r.stderr).toBe(true);
      expect(r.code).toBe(1);
      expect(r.stderr).toBe("kvlog: stopped before the apiserver answered (to list nodes): --timeout 2s passed\n");
      expect(r.stdout).toBe("");
      // The same for the reads of `status` (the record of each component).
      const t0 = Date.now();
      const status = await kvlog(["status", "kubelet", "--timeout", "2s", "--request-timeout", "60s", "-o", "json"], { KUBECONFIG: kubeconfig }, 30_000);
      expect(Date.now() - t0, "2 s, not 60 s").toBeLessThan(8_000);
      expect(status.code).toBe(1);
      expect(status.json().warnings).toEqual([expect.stringMatching(/^cannot read kube-system\/kvlog-kubelet: stopped before the apiserver answered \(to .*\): --timeout 2s passed$/)]);
    } finally {
      for (const res of stuck) res.destroy();
      await new Promise<void>((r) => apiserver.close(() => r()));
    }
  });

  it("--timeout with --for: a PUT cut short after it was sent may have been applied, so it is recorded and put back like the others", async () => {
    // n-1 answers its PUTs after 4 s (its /configz at once): the change is sent, then cut short at 1 s.
    const f = await startFakeCluster({ nodes: [{ name: "n-1" }, { name: "n-2" }], defaultBehaviour: { kubelet: { startupLevel: 1 } }, behaviour: { "kubelet/n-1": { delayMs: 4000 } } });
    try {
      const r = await kvlog(["set", "kubelet", "5", "--for", "1s", "--timeout", "1s", "--request-timeout", "20s", "-o", "json"], { KUBECONFIG: f.kubeconfig("admin") }, 30_000);
      expect(r.code).toBe(1);
      const results = r.json().results;
      expect(results.map((x: any) => [x.id, x.outcome, x.restore?.outcome, x.restore?.level])).toEqual([
        ["kubelet/n-1", "interrupted", "set", 1],
        ["kubelet/n-2", "set", "set", 1],
      ]);
      expect(results[0].message).toMatch(/may have been applied$/);
      expect(f.level("kubelet/n-1"), "the delayed PUT of 5 landed, then the restore's 1").toBe(1);
      expect(r.stderr).toMatch(/kubelet: 2 of 2 target\(s\) put back/);
    } finally {
      await f.close();
    }
  });

  it("Ctrl-C: the target in flight finishes, the others are reported as not attempted, exit 130", async () => {
    const f = await startFakeCluster({
      nodes: [{ name: "n-1" }, { name: "n-2" }, { name: "n-3" }],
      behaviour: { "kubelet/n-1": { mode: "hang" } },
    });
    try {
      const r = await kvlog(
        ["set", "kubelet", "4", "--concurrency", "1", "--request-timeout", "3s", "-o", "json"],
        { KUBECONFIG: f.kubeconfig("admin") },
        30_000,
        (child) => {
          // Interrupt once the first (hanging) kubelet is being changed.
          const poll = setInterval(() => {
            if (f.requests.some((q) => q.target === "kubelet/n-1" && q.method === "PUT")) {
              clearInterval(poll);
              child.kill("SIGINT");
            }
          }, 50);
          child.on("close", () => clearInterval(poll));
        },
      );
      expect(r.code).toBe(130);
      expect(r.json().results.map((x: any) => [x.id, x.outcome])).toEqual([
        ["kubelet/n-1", "timeout"],
        ["kubelet/n-2", "interrupted"],
        ["kubelet/n-3", "interrupted"],
      ]);
      expect(r.stderr).toMatch(/interrupted \(SIGINT\): finishing the targets in flight/);
      expect(r.stderr).toMatch(/interrupted: 2 target\(s\) not attempted/);
      expect(f.level("kubelet/n-2")).toBeUndefined();
    } finally {
      await f.close();
    }
  });

  it("a direct endpoint that refuses, and a cluster that is unreachable", async () => {
    const r = await kvlog(["set", "scheduler", "3", "--endpoint", "https://127.0.0.1:1", "-o", "json"], {});
    expect(r.code).toBe(1);
    expect(r.json().results[0]).toMatchObject({ outcome: "connection-refused", errorCode: "ECONNREFUSED" });

    const down = await run(["set", "kubelet", "3"], "admin", { KUBECONFIG: fake.kubeconfig("admin", { server: "https://127.0.0.1:1" }) });
    expect(down.code).toBe(1);
    expect(down.stdout).toBe("");
    expect(down.stderr).toMatch(/^kvlog: cannot reach the apiserver at https:\/\/127\.0\.0\.1:1 to list nodes: .*ECONNREFUSED/);
    expect(down.stderr.trim().split("\n")).toHaveLength(1);
  });

  it("no control-plane pods (a managed cluster) exits 3", async () => {
    const f = await startFakeCluster({ pods: [] });
    try {
      const r = await kvlog(["set", "scheduler", "3"], { KUBECONFIG: f.kubeconfig("admin") });
      expect(r.code).toBe(3);
      expect(r.stderr).toMatch(/^kvlog: no kube-scheduler pods in namespace kube-system .*managed control plane \(EKS, GKE, AKS\)/);
    } finally {
      await f.close();
    }
  });

  it("a node selector that matches nothing exits 3", async () => {
    const r = await run(["set", "kubelet", "3", "-l", "no-such-label=x"]);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/no nodes match the selector no-such-label=x/);
  });

  it("an unknown --node is a failed target next to the others", async () => {
    const r = await run(["set", "kubelet", "3", "--node", "cp-1", "--node", "ghost", "-o", "json"]);
    expect(r.code).toBe(1);
    expect(r.json().results.map((x: any) => [x.id, x.outcome])).toEqual([
      ["kubelet/cp-1", "set"],
      ["kubelet/ghost", "missing"],
    ]);
  });
});

describe("credentials go only where the cluster vouches for the receiver", () => {
  it("a pod labelled as the scheduler but published by a worker's kubelet gets nothing; the real one is set; --pod trusts it", async () => {
    const f = await startFakeCluster({
      pods: [...defaultPods(), { name: "kube-scheduler-worker-1", nodeName: "worker-1", component: "kube-scheduler" }],
    });
    try {
      const rogue = "kube-scheduler/kube-system/kube-scheduler-worker-1";
      const sent = () => f.requests.filter((q) => q.target === rogue || q.path.includes("kube-scheduler-worker-1"));
      const r = await kvlog(["set", "scheduler", "4", "-o", "json"], { KUBECONFIG: f.kubeconfig("kvlog") });
      expect(r.code).toBe(1);
      const byPod = Object.fromEntries(r.json().results.map((x: any) => [x.pod, x]));
      expect(byPod["kube-scheduler-cp-1"]).toMatchObject({ outcome: "set", ok: true });
      expect(byPod["kube-scheduler-worker-1"]).toMatchObject({ outcome: "untrusted", ok: false, skipped: false, attempts: 0, endpoint: "", httpStatus: null });
      expect(byPod["kube-scheduler-worker-1"].message).toMatch(/not a control-plane node/);
      expect(sent()).toEqual([]); // no port-forward was even asked for: the token never left
      expect(f.level(rogue)).toBeUndefined();
      // Named explicitly, the user vouches for it.
      const named = await kvlog(["set", "scheduler", "4", "--pod", "kube-scheduler-worker-1", "-o", "json"], { KUBECONFIG: f.kubeconfig("kvlog") });
      expect(named.code, named.stderr).toBe(0);
      expect(f.level(rogue)).toBe(4);
    } finally {
      await f.close();
    }
  });

  it("--direct: a bearer token never goes to an address a node reports, unless minted for the run or --send-token-to-nodes", async () => {
    const flags = ["--direct", "--node", "worker-1", "--insecure-skip-tls-verify", "-o", "json"];
    const withheld = await run(["set", "kubelet", "5", ...flags], "kvlog");
    expect(withheld.code).toBe(1);
    expect(withheld.json().results[0]).toMatchObject({ outcome: "unauthorized", httpStatus: 401, request: { auth: "none: bearer token withheld from a node-reported address" } });
    expect(withheld.json().results[0].hint).toMatch(/--service-account NS\/NAME .* --send-token-to-nodes/);
    expect(puts("kubelet/worker-1").at(-1)).toMatchObject({ via: "direct", authorization: "none" }); // what the node's listener received
    const optIn = await run(["set", "kubelet", "5", ...flags, "--send-token-to-nodes"], "kvlog");
    expect(optIn.code, optIn.stderr).toBe(0);
    expect(puts("kubelet/worker-1").at(-1)).toMatchObject({ via: "direct", authorization: "bearer", user: "kvlog" });
    const f = await startFakeCluster({ users: [{ name: "system:serviceaccount:ops:kvlog", rules: KVLOG_RULES }] });
    try {
      const minted = await kvlog(["set", "kubelet", "6", ...flags, "--service-account", "ops/kvlog"], { KUBECONFIG: f.kubeconfig("admin") });
      expect(minted.code, minted.stderr).toBe(0);
      expect(minted.json().results[0]).toMatchObject({ request: { auth: expect.stringMatching(/^ServiceAccount ops\/kvlog token/) } });
      const got = f.requests.filter((q) => q.target === "kubelet/worker-1" && q.method === "PUT").at(-1);
      expect(got).toMatchObject({ via: "direct", authorization: "bearer", user: "system:serviceaccount:ops:kvlog" });
    } finally {
      await f.close();
    }
    // A client certificate cannot be replayed: it is sent.
    await run(["set", "kubelet", "5", ...flags], "admin");
    expect(puts("kubelet/worker-1").at(-1)).toMatchObject({ via: "direct", authorization: "cert", user: "admin" });
    const bad = await kvlog(["set", "kubelet", "5", "--send-token-to-nodes"], { KUBECONFIG: fake.kubeconfig("admin") });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toBe("kvlog: --send-token-to-nodes applies with --direct only\n");
  });

  it("the kubeconfig's insecure-skip-tls-verify is the apiserver's: it does not extend to node addresses", async () => {
    const r = await kvlog(["set", "kubelet", "5", "--direct", "--node", "cp-1", "-o", "json"], { KUBECONFIG: fake.kubeconfig("admin", { insecure: true }) });
    expect(r.code).toBe(1);
    expect(r.json().results[0]).toMatchObject({ via: "direct", outcome: "tls-error" }); // the apiserver itself was reached unverified, as asked
  });
});

describe("every kube-apiserver replica", () => {
  it("each replica listed in default/kubernetes is set at its own address; one not reachable fails the run with the reason", async () => {
    const f = await startFakeCluster({ apiserverReplicas: 3, unreachableApiserverReplicas: 1, users: [{ name: "putter", rules: [{ nonResourceURLs: ["/debug/flags/v"], verbs: ["put"] }] }] });
    try {
      const [r1, r2, r3, gone] = f.apiserverReplicas;
      const r = await kvlog(["set", "apiserver", "5", "-o", "json"], { KUBECONFIG: f.kubeconfig("kvlog") });
      expect(r.code).toBe(1);
      const doc = r.json();
      const byId = Object.fromEntries(doc.results.map((x: any) => [x.id, x]));
      for (const x of [r1!, r2!, r3!]) {
        expect(byId[`kube-apiserver/${x.ip}:${x.port}`]).toMatchObject({ outcome: "set", endpoint: `https://${x.ip}:${x.port}/debug/flags/v` });
        expect(f.level(`kube-apiserver/${x.ip}:${x.port}`)).toBe(5);
      }
      const lost = byId[`kube-apiserver/${gone!.ip}:${gone!.port}`];
      expect(lost).toMatchObject({ outcome: "connection-refused", ok: false });
      expect(lost.hint).toMatch(/replica listed in default\/kubernetes is not reachable from here/);
      expect(r.stderr).toMatch(/kube-apiserver: 1 of 4 target\(s\) failed, 3 set to level 5/);
      // An identity that may change levels but not see the replicas: the cluster URL, and a warning that fails the run.
      const blind = await kvlog(["set", "apiserver", "6", "-o", "json"], { KUBECONFIG: f.kubeconfig("putter") });
      expect(blind.code).toBe(1);
      expect(blind.json().results.map((x: any) => [x.outcome, x.endpoint])).toEqual([["set", `${f.url}/debug/flags/v`]]);
      expect(blind.json().warnings[0]).toMatch(/^could not read the endpoints default\/kubernetes \(403 .*other kube-apiserver replicas may be unchanged/);
      expect(blind.stderr).toMatch(/^warning: could not read the endpoints/m);
    } finally {
      await f.close();
    }
  });
});

describe("what a pod sends back through a port-forward is bounded", () => {
  it("an answer of several MB is cut off at 1 MiB, as an error of that target", async () => {
    const net = await import("node:net");
    const big = net.createServer((sock) => {
      sock.once("data", () => {
        sock.write("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 3145728\r\n\r\n");
        sock.end(Buffer.alloc(3 * 1024 * 1024, "x"));
      });
      sock.on("error", () => {});
    });
    await new Promise<void>((r) => big.listen(0, "127.0.0.1", r));
    const port = (big.address() as import("node:net").AddressInfo).port;
    const f = await startFakeCluster({
      pods: [{ name: "kube-proxy-huge", nodeName: "cp-1", labels: { "k8s-app": "kube-proxy" }, hostNetwork: false, ports: { 10249: port } }],
    });
    try {
      const r = await kvlog(["set", "kube-proxy", "3", "-o", "json"], { KUBECONFIG: f.kubeconfig("admin") });
      expect(r.code).toBe(1);
      expect(r.json().results[0]).toMatchObject({ pod: "kube-proxy-huge", ok: false });
      expect(r.json().results[0].message).toMatch(/more than 1 MiB through the port-forward/);
    } finally {
      await f.close();
      await new Promise<void>((r) => big.close(() => r()));
    }
  });
});

describe("a reader that stops early", () => {
  it("closing stdout (| head, jq quitting) is not an error: no stack trace, the run completes", async () => {
    const { spawn } = await import("node:child_process");
    const { CLI } = await import("./run.ts");
    for (const args of [["set", "--help"], ["set", "kubelet", "3", "-o", "json"]]) {
      const child = spawn(process.execPath, [CLI, ...args], { env: { PATH: process.env.PATH, KUBECONFIG: fake.kubeconfig("admin") }, stdio: ["ignore", "pipe", "pipe"] });
      child.stdout.destroy(); // the reader is gone before kvlog writes
      let err = "";
      child.stderr.on("data", (d) => (err += d));
      const code = await new Promise<number | null>((r) => child.on("close", r));
      expect(err, args.join(" ")).not.toMatch(/EPIPE|\n\s+at |Node\.js v/);
      expect(code, args.join(" ")).toBe(0);
    }
  });
});

describe("dry run, output and colour", () => {
  it("--dry-run resolves everything and sends no PUT", async () => {
    const before = fake.requests.length;
    const r = await run(["set", "kubelet", "8", "--dry-run"]);
    const sent = fake.requests.slice(before); // this run's requests only
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^TARGET\s+NODE\s+VIA\s+REQUEST/);
    expect(r.stdout).toMatch(/kubelet\/cp-1\s+cp-1\s+node-proxy\s+PUT "8" https:\/\/127\.0\.0\.1:\d+\/api\/v1\/nodes\/cp-1\/proxy\/debug\/flags\/v \(auth: client certificate \(kubeconfig\)\)/);
    expect(r.stderr).toMatch(/dry run: 2 of 2 target\(s\) would be set to level 8; nothing was sent/);
    expect(sent.filter((q) => q.method === "PUT")).toEqual([]);
    expect(sent.some((q) => q.method === "GET" && q.path === "/api/v1/nodes")).toBe(true);
  });

  it("--dry-run with --service-account mints nothing", async () => {
    const before = fake.requests.length;
    const r = await run(["set", "apiserver", "8", "--dry-run", "--service-account", "kvlog-e2e/kvlog", "-o", "json"]);
    expect(r.code).toBe(0);
    expect(fake.requests.slice(before).filter((q) => q.method !== "GET")).toEqual([]);
    expect(r.json().results[0]).toMatchObject({ outcome: "dry-run", request: { method: "PUT", body: "8" } });
  });

  it("JSON: one document, documented schema, hints and counts", async () => {
    const r = await run(["set", "proxy", "1", "-o", "json"]);
    const doc = r.json();
    expect(doc).toMatchObject({ apiVersion: "kvlog.dev/v1", kind: "SetResult", component: "kube-proxy", level: 1, dryRun: false, summary: { total: 2, succeeded: 1, failed: 1 } });
    for (const x of doc.results) {
      expect(typeof x.durationMs).toBe("number");
      expect(x.endpoint).toMatch(/portforward\?ports=10249 -> http:\/\/localhost:10249\/debug\/flags\/v$/);
      expect(["set", "not-installed"]).toContain(x.outcome);
    }
    expect(r.stderr).not.toBe("");
    expect(r.stdout.trim().startsWith("{") && r.stdout.trim().endsWith("}")).toBe(true);
  });

  it("colour only when forced, never with NO_COLOR or --no-color", async () => {
    expect((await run(["set", "apiserver", "1"])).stdout).not.toMatch(/\x1b\[/);
    expect((await run(["set", "apiserver", "1"], "admin", { FORCE_COLOR: "1" })).stdout).toMatch(/\x1b\[/);
    expect((await run(["set", "apiserver", "1"], "admin", { FORCE_COLOR: "1", NO_COLOR: "1" })).stdout).not.toMatch(/\x1b\[/);
    expect((await run(["set", "apiserver", "1", "--no-color"], "admin", { FORCE_COLOR: "1" })).stdout).not.toMatch(/\x1b\[/);
  });
});

// The built CLI reaches the simulated cluster only through a proxy: the kubeconfig's proxy-url
// (HTTP CONNECT and SOCKS5, with credentials), for apiserver requests, the node proxy and the
// port-forward WebSocket alike, as kubectl does.
import { readFileSync, writeFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startFakeCluster, type FakeCluster } from "../fake/cluster.ts";
import { startHttpProxy, startSocks5Proxy, type TestProxy } from "../fake/proxies.ts";
import { kvlog } from "./run.ts";

let fake: FakeCluster;
beforeAll(async () => {
  fake = await startFakeCluster();
});
afterAll(async () => {
  await fake?.close();
});

/** The admin kubeconfig with a proxy-url on its cluster. */
function withProxy(proxyUrl: string): string {
  const path = fake.kubeconfig("admin");
  const out = `${path}.proxied-${Math.random().toString(16).slice(2)}`;
  writeFileSync(out, readFileSync(path, "utf8").replace(/^(\s+)server: (.*)$/m, `$1server: $2\n$1proxy-url: ${proxyUrl}`), { mode: 0o600 });
  return out;
}

describe.each([
  ["HTTP CONNECT", startHttpProxy],
  ["SOCKS5", startSocks5Proxy],
] as const)("through a %s proxy (kubeconfig proxy-url, with a password)", (_kind, start) => {
  let proxy: TestProxy;
  beforeAll(async () => {
    proxy = await start({ auth: "kvlog:proxy-secret-42" });
  });
  afterAll(async () => {
    await proxy?.close();
  });

  it("set kubelet (lists, node proxy) and set scheduler (port-forward WebSocket) go through the proxy", async () => {
    const kc = withProxy(proxy.url);
    const apiserver = new URL(fake.url).host;
    for (const args of [["set", "kubelet", "3"], ["set", "scheduler", "3"], ["get", "scheduler"], ["status"]]) {
      proxy.tunnels.length = 0;
      const r = await kvlog([...args, "-o", "json"], { KUBECONFIG: kc });
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout + r.stderr).not.toContain("proxy-secret-42");
      expect(proxy.tunnels.length, `${args.join(" ")} opened no tunnel`).toBeGreaterThan(0);
      expect(new Set(proxy.tunnels)).toEqual(new Set([apiserver]));
    }
    expect(fake.level("kube-scheduler/kube-system/kube-scheduler-cp-1")).toBe(3);
  });

  it("a wrong proxy password: one line that names the proxy, without the password, exit 1", async () => {
    const r = await kvlog(["set", "kubelet", "3"], { KUBECONFIG: withProxy(proxy.url.replace("proxy-secret-42", "wrong-secret-77")) });
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toMatch(/^kvlog: cannot reach the apiserver at https:\/\/127\.0\.0\.1:\d+ to list nodes: proxy \S+ (refused CONNECT to \S+ \(407 Proxy Authentication Required\): the proxy )?did not accept the user and password in the proxy URL/);
    expect(r.stdout + r.stderr).not.toContain("wrong-secret-77");
  });
});

it("a proxy-url with an unsupported scheme is a configuration error (exit 2)", async () => {
  const r = await kvlog(["set", "kubelet", "3"], { KUBECONFIG: withProxy("ftp://127.0.0.1:21") });
  expect(r.code).toBe(2);
  expect(r.stderr).toMatch(/^kvlog: the proxy-url of cluster fake-cluster has scheme ftp; kvlog supports http, https and socks5 proxies; fix the kubeconfig/);
});

it("HTTPS_PROXY is not used for a loopback apiserver (as kubectl), and is for any other", async () => {
  const proxy = await startHttpProxy();
  try {
    const r = await kvlog(["set", "kubelet", "3"], { KUBECONFIG: fake.kubeconfig("admin"), HTTPS_PROXY: proxy.url });
    expect(r.code, r.stderr).toBe(0);
    expect(proxy.tunnels).toEqual([]);
    // --endpoint at a non-loopback name that only the proxy can resolve.
    const up = await startHttpProxy({ resolve: { "kube.kvlog.test": "127.0.0.1" } });
    try {
      const port = new URL(fake.url).port;
      const r2 = await kvlog(["set", "apiserver", "3", "--endpoint", `https://kube.kvlog.test:${port}`, "--insecure-skip-tls-verify", "--token", fake.tokenFor("admin")], { HTTPS_PROXY: up.url });
      expect(up.tunnels).toEqual([`kube.kvlog.test:${port}`]);
      expect(r2.stderr).toMatch(/kube-apiserver: 1 of 1 target\(s\) set to level 3/);
    } finally {
      await up.close();
    }
  } finally {
    await proxy.close();
  }
});

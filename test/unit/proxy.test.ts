// Proxies: which connections go through one (kubectl's rules), and the two tunnels (HTTP CONNECT,
// SOCKS5) against in-process proxies, with and without credentials.
import net from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { noProxyMatches, parseProxyUrl, proxiesFromEnv, proxyConnect, proxyFor, redactProxy } from "../../src/proxy.js";
import { startHttpProxy, startSocks5Proxy } from "../fake/proxies.ts";

describe("which connections go through a proxy", () => {
  const env = proxiesFromEnv({ HTTPS_PROXY: "proxy.corp:3128", http_proxy: "http://p2:8080", NO_PROXY: ".internal, 10.0.0.0/8,api.example.com:6443,fd00::/8" })!;

  it("reads the environment as Go does (a bare host:port is http://)", () => {
    expect(env.https?.href).toBe("http://proxy.corp:3128/");
    expect(env.http?.href).toBe("http://p2:8080/");
    expect(proxiesFromEnv({})).toBeUndefined();
    expect(() => parseProxyUrl("ftp://x:21", "HTTPS_PROXY")).toThrow(/kvlog supports http, https and socks5 proxies/);
  });

  it.each([
    ["https://api.example.org:6443", "http://proxy.corp:3128/"],
    ["http://api.example.org:10249", "http://p2:8080/"],
    ["wss://api.example.org:6443/api/v1/namespaces/x/pods/y/portforward", "http://proxy.corp:3128/"],
    ["https://127.0.0.1:6443", undefined], // loopback: never proxied
    ["https://localhost:6443", undefined],
    ["https://[::1]:6443", undefined],
    ["https://kube.internal:6443", undefined], // .internal
    ["https://10.96.0.1:443", undefined], // CIDR
    ["https://11.0.0.1:443", "http://proxy.corp:3128/"],
    ["https://api.example.com:6443", undefined], // host:port
    ["https://api.example.com:443", "http://proxy.corp:3128/"], // another port
    ["https://[fd00::5]:6443", undefined],
  ])("%s -> %s", (target, proxy) => expect(proxyFor(env, new URL(target))?.href).toBe(proxy));

  it("a kubeconfig proxy-url carries every connection to the cluster", () => {
    const fixed = { fixed: new URL("socks5://p:1080"), source: "proxy-url" };
    expect(proxyFor(fixed, new URL("https://127.0.0.1:6443"))?.href).toBe("socks5://p:1080");
  });

  it.each([
    ["*", "anything", "443", true],
    ["example.com", "example.com", "443", true],
    ["example.com", "a.example.com", "443", true],
    ["example.com", "badexample.com", "443", false],
    [".example.com", "a.example.com", "443", true],
    ["10.1.2.3", "10.1.2.3", "443", true],
    ["10.1.2.3", "10.1.2.4", "443", false],
    ["10.0.0.0/8", "example.com", "443", false],
  ])("NO_PROXY %s matches %s:%s: %s", (entry, host, port, yes) => expect(noProxyMatches(entry, host, port)).toBe(yes));

  it("a proxy URL in a message has no password", () => {
    expect(redactProxy(new URL("http://user:s3cret-pass@p:3128"))).toBe("http://user:redacted@p:3128");
  });
});

describe("tunnels through real proxy protocols", () => {
  let echo: net.Server;
  let port = 0;
  beforeAll(async () => {
    echo = net.createServer((s) => s.pipe(s));
    await new Promise<void>((r) => echo.listen(0, "127.0.0.1", r));
    port = (echo.address() as net.AddressInfo).port;
  });
  afterAll(() => new Promise<void>((r) => echo.close(() => r())));

  async function roundTrip(proxyUrl: string, host = "kvlog.test"): Promise<string> {
    const s = await proxyConnect(new URL(proxyUrl), host, port, 3000);
    s.resume();
    const got = new Promise<string>((r) => s.once("data", (d) => r(String(d))));
    s.write("ping");
    const answer = await got;
    s.destroy();
    return answer;
  }

  for (const [kind, start] of [["HTTP CONNECT", startHttpProxy], ["SOCKS5", startSocks5Proxy]] as const) {
    it(`${kind}: the host name goes to the proxy, which resolves it; bytes flow both ways`, async () => {
      const proxy = await start({ resolve: { "kvlog.test": "127.0.0.1" } });
      try {
        expect(await roundTrip(proxy.url)).toBe("ping");
        expect(proxy.tunnels).toEqual([`kvlog.test:${port}`]);
      } finally {
        await proxy.close();
      }
    });

    it(`${kind}: user and password from the proxy URL; a wrong one is one clear error without the password`, async () => {
      const proxy = await start({ auth: "kvlog:proxy-pass-0123", resolve: { "kvlog.test": "127.0.0.1" } });
      try {
        expect(await roundTrip(proxy.url)).toBe("ping");
        const wrong = proxy.url.replace("proxy-pass-0123", "wrong-pass-9876");
        const err = await roundTrip(wrong).then(
          () => undefined,
          (e: Error) => e,
        );
        expect(err?.message).toMatch(/did not accept the user and password in the proxy URL/);
        expect(err?.message).not.toContain("wrong-pass-9876");
      } finally {
        await proxy.close();
      }
    });

    it(`${kind}: a refused tunnel names the proxy and the target`, async () => {
      const proxy = await start({ refuse: true });
      try {
        const err = await roundTrip(proxy.url, "127.0.0.1").then(
          () => undefined,
          (e: Error) => e,
        );
        expect(err?.message).toMatch(kind === "SOCKS5" ? /could not reach 127\.0\.0\.1:\d+ \(SOCKS5: connection not allowed by ruleset\)/ : /refused CONNECT to 127\.0\.0\.1:\d+ \(403 Forbidden\)/);
        expect(err?.message).toContain(`proxy ${proxy.url}`);
      } finally {
        await proxy.close();
      }
    });
  }

  it("a proxy that is not there: the proxy's address in the error, ECONNREFUSED", async () => {
    const dead = net.createServer();
    await new Promise<void>((r) => dead.listen(0, "127.0.0.1", r));
    const p = (dead.address() as net.AddressInfo).port;
    await new Promise<void>((r) => dead.close(() => r()));
    await expect(proxyConnect(new URL(`http://127.0.0.1:${p}`), "x", 1, 2000)).rejects.toMatchObject({ code: "ECONNREFUSED", message: expect.stringContaining(`proxy http://127.0.0.1:${p}`) });
  });
});

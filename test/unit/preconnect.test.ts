// src/preconnect.ts: the apiserver's first connection, opened before the rest of kvlog loads,
// is taken by the apiserver's dispatcher only when everything matches; otherwise it is left
// alone and closed. Against the simulated cluster (its TLS, its client certificates).
import { createServer, type AddressInfo, type Server } from "node:net";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { newDispatcher, request } from "../../src/dispatch.js";
import { kubeApi, loadAccess } from "../../src/api.js";
import { dropPreconnected, preconnect, preconnectFor, preconnectPending, preconnectTarget, serverOf } from "../../src/preconnect.js";
import { startFakeCluster, type FakeCluster } from "../fake/cluster.js";

let cluster: FakeCluster;
const req = { insecureSkipTlsVerify: false, timeoutMs: 10_000 };
const until = async (ok: () => boolean): Promise<void> => {
  for (let i = 0; i < 200 && !ok(); i++) await new Promise((r) => setTimeout(r, 25));
};

beforeAll(async () => {
  cluster = await startFakeCluster({});
});
afterAll(async () => {
  await cluster.close();
});
afterEach(() => dropPreconnected());

describe("preconnect", () => {
  it("the apiserver's dispatcher takes the socket opened before it existed: no second connection", async () => {
    const env = { KUBECONFIG: cluster.kubeconfig("admin") };
    await until(() => cluster.stats().connections === 0);
    cluster.resetStats();
    const target = await preconnectTarget(req, env);
    expect(target).toMatchObject({ hostname: "127.0.0.1", servername: "", rejectUnauthorized: true });
    expect(target!.cert).toBeDefined(); // admin is a client-certificate user
    expect(serverOf(req, env)).toEqual({ hostname: target!.hostname, port: target!.port });
    await preconnectFor(req, env); // TCP from the YAML, then TLS with client-node's settings, as main() does
    expect(preconnectPending()).toBe(true);
    // The connection is there before kvlog has read its credentials or made a dispatcher.
    await until(() => cluster.stats().connections === 1);
    expect(cluster.stats().connections).toBe(1);
    const access = (await loadAccess({ ...req, optional: false, env }))!;
    try {
      expect(await kubeApi(access, { timeoutMs: 10_000, chunkSize: 500 }).whoami()).toBe("admin");
      expect(preconnectPending()).toBe(false);
      expect(cluster.stats().peakConnections).toBe(1);
    } finally {
      await access.dispatcher.close();
    }
  });

  it("certificate files named relative to the kubeconfig are read as client-node reads them: the socket is taken", async () => {
    const text = readFileSync(cluster.kubeconfig("admin"), "utf8");
    const dir = mkdtempSync(join(tmpdir(), "kvlog-preconnect-"));
    try {
      mkdirSync(join(dir, "pki"));
      let out = text;
      for (const [field, name] of [["certificate-authority", "ca.crt"], ["client-certificate", "admin.crt"], ["client-key", "admin.key"]] as const) {
        const data = new RegExp(`${field}-data: (\\S+)`).exec(text)![1]!;
        writeFileSync(join(dir, "pki", name), Buffer.from(data, "base64"));
        out = out.replace(`${field}-data: ${data}`, `${field}: pki/${name}`);
      }
      expect(out).not.toMatch(/-data:/);
      const file = join(dir, "config");
      writeFileSync(file, out);
      const env = { KUBECONFIG: file };
      await until(() => cluster.stats().connections === 0);
      cluster.resetStats();
      await preconnectFor(req, env);
      const access = (await loadAccess({ ...req, optional: false, env }))!;
      try {
        expect(await kubeApi(access, { timeoutMs: 10_000, chunkSize: 500 }).whoami()).toBe("admin");
        expect(preconnectPending()).toBe(false);
        expect(cluster.stats().peakConnections).toBe(1);
      } finally {
        await access.dispatcher.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("a token user: no client certificate on the socket, and it is taken", async () => {
    const env = { KUBECONFIG: cluster.kubeconfig("kvlog") };
    expect(await preconnectTarget(req, env)).toMatchObject({ cert: undefined, key: undefined });
    await until(() => cluster.stats().connections === 0);
    cluster.resetStats();
    await preconnectFor(req, env);
    const access = (await loadAccess({ ...req, optional: false, env }))!;
    try {
      await kubeApi(access, { timeoutMs: 10_000, chunkSize: 500 }).whoami();
      expect(preconnectPending()).toBe(false);
      expect(cluster.stats().peakConnections).toBe(1);
    } finally {
      await access.dispatcher.close();
    }
  });

  it("a socket made with other TLS settings than the dispatcher's is not taken, and is closed at the end", async () => {
    const env = { KUBECONFIG: cluster.kubeconfig("admin") };
    await until(() => cluster.stats().connections === 0);
    const target = (await preconnectTarget(req, env))!;
    await preconnect({ ...target, cert: undefined, key: undefined }, req.timeoutMs); // as if guessed without the certificate
    const access = (await loadAccess({ ...req, optional: false, env }))!;
    try {
      expect(await kubeApi(access, { timeoutMs: 10_000, chunkSize: 500 }).whoami()).toBe("admin");
      expect(preconnectPending()).toBe(true);
      await until(() => cluster.stats().connections === 2);
      expect(cluster.stats().connections).toBe(2);
      dropPreconnected();
      expect(preconnectPending()).toBe(false);
      await until(() => cluster.stats().connections === 1);
      expect(cluster.stats().connections).toBe(1);
    } finally {
      await access.dispatcher.close();
    }
  });

  it("no preconnect through a proxy, with several kubeconfig files, or for an unknown context", async () => {
    const file = cluster.kubeconfig("admin");
    expect(await preconnectTarget(req, { KUBECONFIG: file })).toBeDefined();
    expect(await preconnectTarget(req, { KUBECONFIG: file, HTTPS_PROXY: "http://127.0.0.1:9" })).toBeUndefined();
    expect(await preconnectTarget(req, { KUBECONFIG: file, http_proxy: "http://127.0.0.1:9" })).toBeUndefined();
    expect(await preconnectTarget(req, { KUBECONFIG: `${file}:${file}` })).toBeUndefined();
    expect(await preconnectTarget({ ...req, context: "nope" }, { KUBECONFIG: file })).toBeUndefined();
    expect(await preconnectTarget({ ...req, kubeconfig: "/nonexistent/kubeconfig" }, {})).toBeUndefined();
    expect(serverOf(req, { KUBECONFIG: file, HTTPS_PROXY: "http://127.0.0.1:9" })).toBeUndefined();
    expect(serverOf({ ...req, context: "nope" }, { KUBECONFIG: file })).toBeUndefined();
    expect(serverOf({ ...req, kubeconfig: "/nonexistent/kubeconfig" }, {})).toBeUndefined();
  });

  it("the kubeconfig's proxy-url (SOCKS too) means no preconnect; --insecure-skip-tls-verify drops the CA", async () => {
    const file = cluster.kubeconfig("admin");
    const text = (await import("node:fs")).readFileSync(file, "utf8");
    const proxied = `${file}.socks`;
    writeFileSync(proxied, text.replace(/(\n\s+server: [^\n]+)/, "$1\n    proxy-url: socks5://127.0.0.1:9"));
    expect(text).not.toBe((await import("node:fs")).readFileSync(proxied, "utf8"));
    expect(await preconnectTarget(req, { KUBECONFIG: proxied })).toBeUndefined();
    expect(serverOf(req, { KUBECONFIG: proxied })).toBeUndefined();
    const viaProxy = (await loadAccess({ ...req, optional: false, env: { KUBECONFIG: proxied } }))!;
    expect(viaProxy.pool.proxy?.fixed?.protocol).toBe("socks5:"); // the file is one loadAccess reads, with its proxy
    await viaProxy.dispatcher.close();
    expect(await preconnectTarget({ ...req, insecureSkipTlsVerify: true }, { KUBECONFIG: file })).toMatchObject({ ca: undefined, rejectUnauthorized: false });
    expect(await preconnectTarget({ ...req, token: "t0ken-for-the-test" }, { KUBECONFIG: file })).toMatchObject({ cert: undefined, key: undefined });
  });

  it("an HTTP/2 apiserver whose SETTINGS arrived before the dispatcher took the socket: every request goes on it", async () => {
    const http2 = await import("node:http2");
    const { selfSignedServing } = await import("../fake/x509.ts");
    const { keyPem, certChainPem } = await selfSignedServing("apiserver", ["localhost"], ["127.0.0.1"]);
    let sessions = 0;
    const server = http2.createSecureServer({ key: keyPem, cert: certChainPem, allowHTTP1: true }, (q, a) => a.end(`HTTP/${q.httpVersion}`));
    server.on("session", () => sessions++);
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const port = (server.address() as AddressInfo).port;
    const ca = Buffer.from(certChainPem);
    const dispatcher = newDispatcher({ ca, rejectUnauthorized: true }, undefined, { timeoutMs: 10_000, connections: 32 });
    try {
      await preconnect({ hostname: "127.0.0.1", port, servername: "", ca, rejectUnauthorized: true }, 10_000);
      await until(() => sessions === 1);
      await new Promise((r) => setTimeout(r, 200)); // the server's SETTINGS wait in the socket
      const url = new URL(`https://127.0.0.1:${port}/debug/flags/v`);
      const answers = await Promise.all([1, 2, 3].map(() => request(dispatcher, url, {}, { method: "GET", path: url.pathname, timeoutMs: 10_000 })));
      expect(answers.map((a) => a.body)).toEqual(["HTTP/2.0", "HTTP/2.0", "HTTP/2.0"]);
      expect(preconnectPending()).toBe(false);
      expect(sessions).toBe(1);
    } finally {
      await dispatcher.destroy();
      await new Promise((r) => server.close(r));
    }
  });

  describe("a handshake that fails", () => {
    let mute: Server;
    const held = new Set<import("node:net").Socket>();
    beforeAll(async () => {
      mute = createServer((s) => void held.add(s)); // accepts, never answers the TLS hello
      await new Promise<void>((r) => mute.listen(0, "127.0.0.1", r));
    });
    afterAll(async () => {
      for (const s of held) s.destroy();
      await new Promise((r) => mute.close(r));
    });

    it("one that does not finish within the preconnect's --request-timeout fails the connect as a timeout", async () => {
      const port = (mute.address() as AddressInfo).port;
      await preconnect({ hostname: "127.0.0.1", port, servername: "", rejectUnauthorized: true }, 500);
      const dispatcher = newDispatcher({ rejectUnauthorized: true }, undefined, { timeoutMs: 20_000 });
      const t0 = Date.now();
      try {
        const e = await request(dispatcher, new URL(`https://127.0.0.1:${port}/x`), {}, { method: "GET", path: "/x", timeoutMs: 20_000 }).catch((x: unknown) => x);
        expect((e as { code?: string }).code).toBe("UND_ERR_CONNECT_TIMEOUT");
        expect(Date.now() - t0).toBeLessThan(10_000); // the preconnect's 500 ms, not the dispatcher's 20 s
      } finally {
        await dispatcher.destroy();
      }
    });

    it("an apiserver that refuses TCP: the dispatcher connects again and reports ECONNREFUSED, as without a preconnect", async () => {
      const closed = createServer();
      await new Promise<void>((r) => closed.listen(0, "127.0.0.1", r));
      const port = (closed.address() as AddressInfo).port;
      await new Promise((r) => closed.close(r));
      const file = `${cluster.kubeconfig("admin")}.refused`;
      writeFileSync(file, readFileSync(cluster.kubeconfig("admin"), "utf8").replace(/server: \S+/g, `server: https://127.0.0.1:${port}`));
      const env = { KUBECONFIG: file };
      await preconnectFor(req, env);
      const access = (await loadAccess({ ...req, optional: false, env }))!;
      try {
        const e = await kubeApi(access, { timeoutMs: 5_000, chunkSize: 500 }).whoami().catch((x: unknown) => x);
        expect((e as Error).message).toMatch(/cannot reach the apiserver at https:\/\/127\.0\.0\.1:\d+ to ask the apiserver who you are .*ECONNREFUSED/);
        expect(preconnectPending()).toBe(false);
      } finally {
        await access.dispatcher.close();
      }
    });

    it("one refused is connected again the usual way, which reports what it meets", async () => {
      const closed = createServer();
      await new Promise<void>((r) => closed.listen(0, "127.0.0.1", r));
      const port = (closed.address() as AddressInfo).port;
      await new Promise((r) => closed.close(r));
      await preconnect({ hostname: "127.0.0.1", port, servername: "", rejectUnauthorized: true }, 5_000);
      const dispatcher = newDispatcher({ rejectUnauthorized: true }, undefined, { timeoutMs: 5_000 });
      try {
        const e = await request(dispatcher, new URL(`https://127.0.0.1:${port}/x`), {}, { method: "GET", path: "/x", timeoutMs: 5_000 }).catch((x: unknown) => x);
        expect((e as { code?: string }).code).toBe("ECONNREFUSED");
        expect(preconnectPending()).toBe(false);
      } finally {
        await dispatcher.destroy();
      }
    });
  });
});

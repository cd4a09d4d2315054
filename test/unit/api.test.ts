// apiRequest and credential renewal against a small local HTTP server that answers
// like the apiserver does for throttling (429 + Retry-After) and refused credentials (401).
import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { apiRequest } from "../../src/api.js";
import { freshCredentials, withServiceAccount, type Access } from "../../src/access.js";
import { newDispatcher } from "../../src/dispatch.js";
import type { KubeApi } from "../../src/objects.js";

const seen: { path: string; auth: string }[] = [];
let throttleNext = 0;
let retryAfter = "1";
let server: http.Server;
let base: URL;

beforeAll(async () => {
  server = http.createServer((req, res) => {
    seen.push({ path: req.url ?? "", auth: String(req.headers.authorization ?? "") });
    if (throttleNext > 0) {
      throttleNext--;
      res.writeHead(429, { "Content-Type": "application/json", "Retry-After": retryAfter });
      res.end(JSON.stringify({ kind: "Status", apiVersion: "v1", metadata: {}, status: "Failure", message: "Too many requests, please try again later.", reason: "TooManyRequests", code: 429 }));
      return;
    }
    if (req.headers.authorization !== "Bearer fresh-token-123") {
      res.writeHead(401, { "Content-Type": "application/json" });
      res.end(JSON.stringify({ kind: "Status", apiVersion: "v1", metadata: {}, status: "Failure", message: "Unauthorized", reason: "Unauthorized", code: 401 }));
      return;
    }
    res.writeHead(200, { "Content-Type": "text/plain" });
    res.end("ok");
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  base = new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
});
afterAll(async () => {
  await new Promise<void>((r) => server.close(() => r()));
});

function access(token: string, renewTo?: string): Access & { renewals: number } {
  const a: Access & { renewals: number } = {
    server: base,
    tls: { rejectUnauthorized: true },
    otherTls: { rejectUnauthorized: true },
    credentials: { kind: "bearer token (kubeconfig)", headers: { Authorization: `Bearer ${token}` } },
    dispatcher: newDispatcher({ rejectUnauthorized: true }, undefined, { timeoutMs: 5000 }),
    source: "test",
    pool: { timeoutMs: 5000 },
    renewals: 0,
  };
  if (renewTo) {
    a.renewAt = Date.now() + 60_000;
    a.renew = async () => {
      a.renewals++;
      const changed = a.credentials.headers.Authorization !== `Bearer ${renewTo}`;
      a.credentials = { ...a.credentials, headers: { Authorization: `Bearer ${renewTo}` } };
      return changed;
    };
  }
  return a;
}

describe("apiRequest", () => {
  it("waits out a 429 for its Retry-After and tries again, counting the attempts", async () => {
    const a = access("fresh-token-123");
    throttleNext = 2;
    retryAfter = "1";
    const started = Date.now();
    const ans = await apiRequest(a, "/api/v1/nodes/n1/proxy/debug/flags/v", { method: "PUT", path: "", body: "3", timeoutMs: 10_000 });
    expect(ans).toMatchObject({ status: 200, attempts: 3 });
    expect(Date.now() - started).toBeGreaterThanOrEqual(2000);
    await a.dispatcher.close();
  });

  it("never waits past its timeout: the 429 is returned when Retry-After does not fit", async () => {
    const a = access("fresh-token-123");
    throttleNext = 1;
    retryAfter = "5";
    const started = Date.now();
    const ans = await apiRequest(a, "/x", { method: "GET", path: "", timeoutMs: 2000 });
    expect(ans).toMatchObject({ status: 429, attempts: 1, retryAfter: 5 });
    expect(Date.now() - started, "returned at once: waiting out Retry-After would take 5 s").toBeLessThan(4000);
    throttleNext = 0;
    await a.dispatcher.close();
  });

  it("renews refused credentials once (401) and retries with the new ones", async () => {
    const a = access("expired-token-1", "fresh-token-123");
    seen.length = 0;
    const ans = await apiRequest(a, "/api/v1/nodes", { method: "GET", path: "", timeoutMs: 5000 });
    expect(ans).toMatchObject({ status: 200, attempts: 2 });
    expect(seen.map((s) => s.auth)).toEqual(["Bearer expired-token-1", "Bearer fresh-token-123"]);
    expect(a.renewals).toBe(1);
    await a.dispatcher.close();
  });

  it("a 401 that renewal does not change is returned, not retried in a loop", async () => {
    const a = access("wrong-token-1", "wrong-token-1");
    const ans = await apiRequest(a, "/api/v1/nodes", { method: "GET", path: "", timeoutMs: 5000 });
    expect(ans).toMatchObject({ status: 401, attempts: 1 });
    expect(a.renewals).toBe(1);
    await a.dispatcher.close();
  });

  it("renews credentials that are due before the request", async () => {
    const a = access("old-token-12", "fresh-token-123");
    a.renewAt = Date.now() - 1;
    seen.length = 0;
    await apiRequest(a, "/y", { method: "GET", path: "", timeoutMs: 5000 });
    expect(seen.map((s) => s.auth)).toEqual(["Bearer fresh-token-123"]);
    await a.dispatcher.close();
  });
});

describe("withServiceAccount", () => {
  it("mints a token with the user's identity, and mints again when it is due", async () => {
    const user = access("user-token-1");
    let minted = 0;
    const api = {
      async createToken(ns: string, name: string, seconds: number) {
        minted++;
        expect([ns, name, seconds]).toEqual(["kvlog", "bot", 600]);
        return `minted-token-${minted}`;
      },
    } as KubeApi;
    const acting = await withServiceAccount(user, api, "kvlog", "bot", newDispatcher);
    expect(acting.credentials.headers.Authorization).toBe("Bearer minted-token-1");
    expect(acting.renewAt! - Date.now()).toBeGreaterThan(7 * 60_000); // before the 10-minute token expires
    expect(acting.renewAt! - Date.now()).toBeLessThan(10 * 60_000);
    expect((await freshCredentials(acting)).headers.Authorization).toBe("Bearer minted-token-1");
    acting.renewAt = Date.now() - 1;
    expect((await freshCredentials(acting)).headers.Authorization).toBe("Bearer minted-token-2");
    expect(user.credentials.headers.Authorization).toBe("Bearer user-token-1");
    await acting.dispatcher.close();
    await user.dispatcher.close();
  });
});

describe("TLS settings belong to one host", () => {
  it("the kubeconfig's tls-server-name and insecure-skip-tls-verify apply to the apiserver, not to other hosts", async () => {
    const { mkdtempSync, writeFileSync, rmSync } = await import("node:fs");
    const { tmpdir } = await import("node:os");
    const { loadAccess } = await import("../../src/api.js");
    const dir = mkdtempSync(`${tmpdir()}/kvlog-tls-`);
    const ca = Buffer.from("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n").toString("base64");
    const file = (extra: string) => {
      const f = `${dir}/${Math.random()}.kubeconfig`;
      writeFileSync(f, `apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: https://10.0.0.1:6443\n    certificate-authority-data: ${ca}\n${extra}contexts:\n- name: x\n  context: {cluster: c, user: u}\ncurrent-context: x\nusers:\n- name: u\n  user: {token: abcdefgh12345678}\n`);
      return f;
    };
    try {
      const opts = { insecureSkipTlsVerify: false, timeoutMs: 1000, optional: false, env: {} };
      const named = (await loadAccess({ ...opts, kubeconfig: file("    tls-server-name: api.internal\n") }))!;
      expect(named.tls.servername).toBe("api.internal");
      expect(named.otherTls.servername).toBeUndefined();
      expect(named.otherTls.ca?.toString()).toBe(named.tls.ca?.toString());
      const insecure = (await loadAccess({ ...opts, kubeconfig: file("    insecure-skip-tls-verify: true\n") }))!;
      expect(insecure.tls.rejectUnauthorized).toBe(false);
      expect(insecure.otherTls.rejectUnauthorized).toBe(true);
      const flag = (await loadAccess({ ...opts, insecureSkipTlsVerify: true, kubeconfig: file("") }))!;
      expect([flag.tls.rejectUnauthorized, flag.otherTls.rejectUnauthorized]).toEqual([false, false]); // the flag is the user's choice for both
      for (const a of [named, insecure, flag]) await a.dispatcher.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("HTTP/2 GOAWAY, as the apiserver answers an unknown token", () => {
  it("requests in flight on the connection it closes are sent again, and each gets its own answer", async () => {
    const http2 = await import("node:http2");
    const { selfSignedServing } = await import("../fake/x509.ts");
    const { kubeApi } = await import("../../src/api.js");
    const { keyPem, certChainPem } = await selfSignedServing("apiserver", ["localhost"], ["127.0.0.1"]);
    // What kube-apiserver (1.29+) does with a request it cannot authenticate over HTTP/2: it answers
    // 401 with "Connection: close", and Go's HTTP/2 server retires the connection with a GOAWAY
    // (NO_ERROR) naming the last stream it took; streams it had not read yet are refused. Here
    // each connection takes its first stream only, as happens when the other requests arrive a
    // moment later: undici sends a refused request again once, on a new connection, where the
    // same happens, and then fails it ("GOAWAY frame received") although nothing answered it.
    // On the real v1.36.3 apiserver `kvlog set apiserver --token <unknown>` failed that way in 9
    // runs of 10 (e2e "a token the cluster does not know").
    let streams = 0;
    let goaways = 0;
    const server = http2.createSecureServer({ key: keyPem, cert: certChainPem, allowHTTP1: true });
    server.on("stream", (stream) => {
      streams++;
      const session = stream.session!;
      if (!session.closed) {
        goaways++;
        session.goaway(http2.constants.NGHTTP2_NO_ERROR, stream.id);
        session.close(); // once the stream it took is answered
      }
      setTimeout(() => {
        if (stream.destroyed) return;
        stream.respond({ ":status": 401, "content-type": "application/json" });
        stream.end(JSON.stringify({ kind: "Status", apiVersion: "v1", metadata: {}, status: "Failure", message: "Unauthorized", reason: "Unauthorized", code: 401 }));
      }, 5);
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const url = new URL(`https://127.0.0.1:${(server.address() as AddressInfo).port}`);
    const tls = { ca: Buffer.from(certChainPem), rejectUnauthorized: true };
    const a: Access = {
      server: url,
      tls,
      otherTls: tls,
      credentials: { kind: "bearer token (--token)", headers: { Authorization: "Bearer unknown-token-0123456789" } },
      dispatcher: newDispatcher(tls, undefined, { timeoutMs: 5000 }),
      source: "test",
      pool: { timeoutMs: 5000 },
    };
    try {
      const api = kubeApi(a, { timeoutMs: 5000, chunkSize: 500 });
      // The three requests a `set apiserver` sends at once: the identity, the record, discovery.
      const [who, record, replicas] = await Promise.allSettled([api.whoami(), api.getConfigMap("kube-system", "kvlog-kube-apiserver"), api.apiserverReplicas()]);
      expect(goaways).toBeGreaterThan(1); // a connection retired with requests still unread, more than once
      expect(streams).toBe(3); // each request taken, and answered, once
      for (const x of [who, record]) {
        expect(x.status).toBe("rejected");
        expect((x as PromiseRejectedResult).reason.message).toMatch(/^the apiserver did not accept the credentials \(401 Unauthorized\)/);
      }
      expect(replicas).toMatchObject({ status: "fulfilled", value: { refused: "401 Unauthorized" } });
    } finally {
      await a.dispatcher.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    }
  });
});

// The run's deadline (--timeout) reaches undici: a request in flight is aborted with the
// deadline's reason, `onSent` says whether it had been written whole, and an API call
// (discovery) in flight fails at once with a message that says why. Against a local HTTP
// server that reads requests and never answers, as a stuck kubelet behind the node proxy does.
import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { kubeApi } from "../../src/api.js";
import type { Access } from "../../src/access.js";
import { newDispatcher, request } from "../../src/dispatch.js";
import { cutShort } from "../../src/http.js";

let server: http.Server;
let base: URL;
const received: string[] = [];
const waiting = new Set<http.ServerResponse>();

beforeAll(async () => {
  server = http.createServer((req, res) => {
    let body = "";
    req.on("data", (d) => (body += d));
    req.on("end", () => received.push(`${req.method} ${req.url} ${body}`));
    waiting.add(res); // never answered
    res.on("close", () => waiting.delete(res));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  base = new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
});
afterAll(async () => {
  for (const res of waiting) res.destroy();
  await new Promise<void>((r) => server.close(() => r()));
});

async function until(cond: () => boolean): Promise<void> {
  while (!cond()) await new Promise((r) => setTimeout(r, 10));
}

describe("the deadline reaches undici", () => {
  it("a request sent whole, then unanswered, is aborted with the deadline's reason; onSent was told", async () => {
    const dispatcher = newDispatcher({ rejectUnauthorized: true }, undefined, { timeoutMs: 60_000 });
    const deadline = new AbortController();
    let sent = 0;
    const pending = request(dispatcher, new URL("/debug/flags/v", base), {}, { method: "PUT", path: "", body: "3", timeoutMs: 60_000, signal: deadline.signal, onSent: () => sent++ });
    const outcome = pending.then(
      () => "answered",
      (e: Error) => e.message,
    );
    await until(() => received.includes("PUT /debug/flags/v 3"));
    await until(() => sent > 0);
    deadline.abort(cutShort("--timeout 3s passed"));
    expect(await outcome).toBe("--timeout 3s passed");
    expect(sent).toBe(1);
    await until(() => waiting.size === 0); // undici closed the connection: nothing left waiting
    await dispatcher.destroy();
  });

  it("an API call in flight (discovery) fails at once, saying the deadline stopped it", async () => {
    const dispatcher = newDispatcher({ rejectUnauthorized: true }, undefined, { timeoutMs: 60_000 });
    const access: Access = {
      server: base,
      tls: { rejectUnauthorized: true },
      otherTls: { rejectUnauthorized: true },
      credentials: { kind: "none", headers: {} },
      dispatcher,
      source: "test",
      pool: { timeoutMs: 60_000 },
    };
    const deadline = new AbortController();
    const api = kubeApi(access, { timeoutMs: 60_000, chunkSize: 500, signal: deadline.signal });
    const listing = api.listNodes().then(
      () => "listed",
      (e: Error) => e.message,
    );
    await until(() => received.some((r) => r.startsWith("GET /api/v1/nodes")));
    deadline.abort(cutShort("--timeout 2s passed"));
    expect(await listing).toMatch(/^stopped before the apiserver answered \(to .*\): --timeout 2s passed$/);
    await dispatcher.destroy();
  });
});

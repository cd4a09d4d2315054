// openRead (src/logs/read.ts): the reads of capture are tried as every apiserver request is
// (retry.ts): a 401 renews once, and reads refused together renew once between them.
import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { setRenewal, type Access } from "../../src/access.js";
import { closeLogDispatcher, openRead, type LogContext } from "../../src/logs/read.js";
import { Slots } from "../../src/slots.js";

let server: http.Server;
let base: URL;
let good = "new-token";
let throttleNext = 0;
let refusals = 0;
const seen: string[] = [];

beforeAll(async () => {
  server = http.createServer((req, res) => {
    seen.push(req.headers.authorization ?? "");
    if (throttleNext > 0) {
      throttleNext--;
      res.writeHead(429, { "retry-after": "1" }).end("too many requests");
      return;
    }
    if (req.headers.authorization !== `Bearer ${good}`) {
      // Refused one after another, 100 ms apart: the first renewal is over before the later refusals.
      setTimeout(() => res.writeHead(401).end("Unauthorized"), 100 * refusals++);
      return;
    }
    res.writeHead(200, { "content-type": "text/plain" }).end("a log line\n");
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  base = new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

function context(renew: () => Promise<boolean>, access: Partial<Access> = {}): LogContext {
  const a = {
    server: base,
    tls: { rejectUnauthorized: true },
    otherTls: { rejectUnauthorized: true },
    credentials: { kind: "token", headers: { authorization: "Bearer old-token" } },
    source: "test",
    pool: { timeoutMs: 5_000 },
    renew,
    ...access,
  } as unknown as Access;
  return { access: a, api: {} as LogContext["api"], timeoutMs: 5_000, maxBytes: 1 << 20, slots: new Slots(4), now: Date.now, stop: new AbortController().signal, maxLogRequests: 4 };
}

describe("openRead", () => {
  it("a read refused after another read renewed the token goes again with it: the plugin runs once", async () => {
    seen.length = 0;
    refusals = 0;
    let loads = 0;
    const ctx = context(async () => false);
    // The real renewal (access.ts): one at a time; `load` is what runs the exec plugin.
    setRenewal(ctx.access, async () => (loads++, { kind: "token", headers: { authorization: `Bearer ${good}` } }), 600_000, () => ctx.access.dispatcher);
    // Four reads with the old token, refused 0, 100, 200, 300 ms later: the first refusal renews.
    const reads = await Promise.all([1, 2, 3, 4].map(() => openRead(ctx, "/api/v1/namespaces/kube-system/pods/p/log", {}, new AbortController().signal)));
    for (const res of reads) {
      expect(res.statusCode).toBe(200);
      expect(await res.body.text()).toBe("a log line\n");
    }
    expect(seen.filter((h) => h === "Bearer old-token")).toHaveLength(4);
    expect(seen.filter((h) => h === `Bearer ${good}`)).toHaveLength(4);
    expect(loads).toBe(1);
    await closeLogDispatcher(ctx);
  });

  it("waits out a 429 from the apiserver (Retry-After) instead of failing the read", async () => {
    seen.length = 0;
    throttleNext = 1;
    const ctx = context(async () => false, { credentials: { kind: "token", headers: { authorization: `Bearer ${good}` } } });
    const res = await openRead(ctx, "/api/v1/namespaces/kube-system/pods/p/log", {}, new AbortController().signal);
    expect(res.statusCode).toBe(200);
    await res.body.dump();
    expect(seen).toHaveLength(2);
    await closeLogDispatcher(ctx);
  });
});

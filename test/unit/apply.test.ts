import { describe, expect, it } from "vitest";
import { applyAll } from "../../src/apply.js";
import { TargetFeed } from "../../src/fanout.js";
import { classifyAnswer, classifyError, MAY_HAVE_BEEN_APPLIED, type Result } from "../../src/outcomes.js";
import { MAX_ATTEMPTS, retryAnswer, retryError } from "../../src/retry.js";
import { TunnelError, TunnelRefusedError } from "../../src/portforward.js";
import type { Target } from "../../src/target.js";
import { cutShort, type HttpAnswer } from "../../src/http.js";
import type { Channel } from "../../src/transport.js";

const sched: Target = { id: "kube-scheduler/kube-system/s-1", component: "kube-scheduler", via: "port-forward", authenticates: true, scheme: "https", port: 10259, namespace: "kube-system", pod: "s-1", node: "cp-1" };
const kubelet: Target = { id: "kubelet/n1", component: "kubelet", via: "node-proxy", authenticates: true, scheme: "https", port: 10250, node: "n1", version: "v1.34.0" };
const kcmOld: Target = { ...sched, id: "kube-controller-manager/kube-system/k", component: "kube-controller-manager", port: 10257, pod: "k", version: "v1.22.4" };
const proxy: Target = { ...sched, id: "kube-proxy/kube-system/p", component: "kube-proxy", scheme: "http", port: 10249, authenticates: false, pod: "p" };
const plain = (status: number, body: string, contentType = "text/plain"): HttpAnswer => ({ status, body, contentType });
const status = (code: number, message: string, reason = "Forbidden"): HttpAnswer =>
  plain(code, JSON.stringify({ kind: "Status", apiVersion: "v1", metadata: {}, status: "Failure", message, reason, code }), "application/json");

describe("classifyAnswer", () => {
  it("200 with the success text is set", () => {
    expect(classifyAnswer(sched, 4, plain(200, "successfully set klog.logging.verbosity to 4\n"))).toMatchObject({ outcome: "set", ok: true });
  });
  it("200 with another level is not success", () => {
    expect(classifyAnswer(sched, 4, plain(200, "successfully set klog.logging.verbosity to 5\n"))).toMatchObject({ outcome: "unexpected-answer", ok: false });
  });
  it("200 with the flags index page is not success", () => {
    const c = classifyAnswer(sched, 4, plain(200, "<html><body>/debug/flags/<br><a href=v>v</a><br></body></html>", "text/html"));
    expect(c).toMatchObject({ outcome: "unexpected-answer", ok: false });
    expect(c.message).toMatch(/index page/);
  });
  it("400 carries the component's parse error", () => {
    const c = classifyAnswer(sched, 4, plain(400, 'failed set klog.logging.verbosity 4: strconv.ParseUint: parsing "4\\n": invalid syntax\n'));
    expect(c).toMatchObject({ outcome: "rejected", ok: false });
    expect(c.message).toContain("strconv.ParseUint");
  });
  it("401 is unauthorized with a next step", () => {
    const c = classifyAnswer(sched, 4, status(401, "Unauthorized", "Unauthorized"));
    expect(c).toMatchObject({ outcome: "unauthorized", ok: false });
    expect(c.hint).toMatch(/TokenReview/);
  });
  it("403 at a component names the non-resource rule", () => {
    const c = classifyAnswer(sched, 4, status(403, 'forbidden: User "system:serviceaccount:x:y" cannot put path "/debug/flags/v"'));
    expect(c.outcome).toBe("forbidden");
    expect(c.message).toContain('cannot put path "/debug/flags/v"');
    expect(c.hint).toBe('grant nonResourceURLs ["/debug/flags/v"] verbs ["put"] (kube-scheduler asks the apiserver with SubjectAccessReview)');
  });
  it("403 through the node proxy names nodes/proxy update and warns", () => {
    const c = classifyAnswer(kubelet, 4, status(403, 'nodes "n1" is forbidden: User "u" cannot update resource "nodes/proxy" in API group "" at the cluster scope'));
    expect(c.outcome).toBe("forbidden");
    expect(c.hint).toMatch(/resources \["nodes\/proxy"\] verbs \["update"\].*with care/);
  });
  it("404 is not-installed with the gate to turn on", () => {
    const c = classifyAnswer(proxy, 4, plain(404, "404 page not found\n"));
    expect(c.outcome).toBe("not-installed");
    expect(c.hint).toMatch(/enableProfiling: true.*kube-proxy ConfigMap/);
  });
  it("404 from a too-old component is too-old", () => {
    const c = classifyAnswer(kcmOld, 4, plain(404, "404 page not found\n"));
    expect(c).toMatchObject({ outcome: "too-old", ok: false });
    expect(c.message).toMatch(/v1\.22\.4.*arrived in 1\.23/);
  });
  it("404 Status from the apiserver's node proxy is a missing node", () => {
    expect(classifyAnswer(kubelet, 4, status(404, 'nodes "n1" not found', "NotFound")).outcome).toBe("missing");
  });
  it("kubelet 405 is disabled", () => {
    const c = classifyAnswer(kubelet, 4, plain(405, "flags endpoint is disabled.\n"));
    expect(c.outcome).toBe("disabled");
    expect(c.hint).toMatch(/enableDebugFlagsHandler: true/);
  });
  it("406 is an unexpected answer", () => {
    expect(classifyAnswer(sched, 4, plain(406, "unsupported http method\n")).outcome).toBe("unexpected-answer");
  });
  it("503 from the node proxy means the kubelet is unreachable", () => {
    expect(classifyAnswer(kubelet, 4, status(503, "error trying to reach service: dial tcp 10.0.0.9:10250: connect: connection refused", "ServiceUnavailable")).outcome).toBe("unreachable");
  });
  it("anything else is error with the status", () => {
    expect(classifyAnswer(sched, 4, plain(500, "boom"))).toMatchObject({ outcome: "error", message: expect.stringContaining("answered 500: boom") });
  });
});

describe("classifyError", () => {
  const err = (code: string) => Object.assign(new Error(`connect ${code}`), { code });
  it.each([
    ["ECONNREFUSED", "connection-refused"],
    ["ECONNRESET", "connection-reset"],
    ["UND_ERR_SOCKET", "connection-reset"],
    ["ETIMEDOUT", "timeout"],
    ["UND_ERR_CONNECT_TIMEOUT", "timeout"],
    ["UND_ERR_HEADERS_TIMEOUT", "timeout"],
    ["DEPTH_ZERO_SELF_SIGNED_CERT", "tls-error"],
    ["SELF_SIGNED_CERT_IN_CHAIN", "tls-error"],
    ["ERR_TLS_CERT_ALTNAME_INVALID", "tls-error"],
    ["UNABLE_TO_VERIFY_LEAF_SIGNATURE", "tls-error"],
    ["ENOTFOUND", "unreachable"],
    ["EHOSTUNREACH", "unreachable"],
    ["EWHATEVER", "error"],
  ])("%s -> %s", (code, outcome) => {
    expect(classifyError(sched, err(code), 1000).outcome).toBe(outcome);
  });
  it("a TimeoutError (abort signal) is timeout", () => {
    expect(classifyError(sched, Object.assign(new Error("aborted"), { name: "TimeoutError" }), 1000).outcome).toBe("timeout");
  });
  it("a cause's code counts", () => {
    expect(classifyError(sched, Object.assign(new Error("fetch failed"), { cause: { code: "ECONNREFUSED" } }), 1000).outcome).toBe("connection-refused");
  });
  it("port-forward refused with 403 names pods/portforward", () => {
    const c = classifyError(sched, new TunnelRefusedError('pods "s-1" is forbidden: User "u" cannot create resource "pods/portforward"', 403), 1000);
    expect(c.outcome).toBe("forbidden");
    expect(c.hint).toBe('grant apiGroups [""] resources ["pods/portforward"] verbs ["get", "create"] in namespace kube-system');
  });
  it("port-forward 404 means the pod is gone", () => {
    expect(classifyError(sched, new TunnelRefusedError('pods "s-1" not found', 404), 1000).outcome).toBe("missing");
  });
  it("an error-channel 'connection refused' is connection-refused", () => {
    const c = classifyError(sched, new TunnelError("error forwarding port 10259 to pod abc, uid : dial tcp4 127.0.0.1:10259: connect: connection refused"), 1000);
    expect(c.outcome).toBe("connection-refused");
    expect(c.hint).toMatch(/--secure-port/);
  });
  it("a direct kubelet TLS failure suggests dropping --direct", () => {
    const direct: Target = { ...kubelet, via: "direct", url: "https://10.0.0.1:10250" };
    expect(classifyError(direct, err("SELF_SIGNED_CERT_IN_CHAIN"), 1000).hint).toMatch(/drop --direct/);
  });
});

/** A channel whose answers `fn` makes; every request and close is logged. */
const channel = (fn: () => Promise<HttpAnswer>, log: string[], id: string): Channel => ({
  url: `https://x/${id}`,
  send: async (o) => {
    log.push(`${o.method} ${o.path} ${JSON.stringify(o.body)}`);
    return fn();
  },
  close: async () => void log.push(`close ${id}`),
});

describe("applyAll", () => {
  const targets: Target[] = Array.from({ length: 7 }, (_, i) => ({ ...kubelet, id: `kubelet/n${i}`, node: `n${i}` }));

  it("never runs more than the concurrency at once, keeps order, one failure hides nothing", async () => {
    let running = 0;
    let peak = 0;
    const log: string[] = [];
    const results = await applyAll(targets, {
      level: 3,
      access: undefined,
      timeoutMs: 1000,
      concurrency: 2,
      dryRun: false,
      open: (t) =>
        channel(async () => {
          running++;
          peak = Math.max(peak, running);
          await new Promise((r) => setTimeout(r, 5));
          running--;
          if (t.node === "n3") throw Object.assign(new Error("refused"), { code: "ECONNREFUSED" });
          return plain(200, "successfully set klog.logging.verbosity to 3\n");
        }, log, t.id),
    });
    expect(peak).toBe(2);
    expect(results.map((r) => r.id)).toEqual(targets.map((t) => t.id));
    expect(results.map((r) => r.outcome)).toEqual(["set", "set", "set", "connection-refused", "set", "set", "set"]);
    expect(results[3]).toMatchObject({ ok: false, errorCode: "ECONNREFUSED", httpStatus: null });
    // The refused one was tried again while its 1 s allowed (a refused connection may pass).
    expect(results[3]!.attempts).toBe(2);
    expect(log.filter((l) => l.startsWith("PUT"))).toEqual(Array(8).fill('PUT /debug/flags/v "3"'));
    expect(log.filter((l) => l.startsWith("close"))).toHaveLength(7);
  });

  it("once interrupted, starts no new target and reports the rest as interrupted", async () => {
    const stop = new AbortController();
    const log: string[] = [];
    const results = await applyAll(targets, {
      level: 3, access: undefined, timeoutMs: 1000, concurrency: 2, dryRun: false, signal: stop.signal,
      onResult: (_r, done) => { if (done === 2) stop.abort(); },
      open: (t) => channel(async () => { await new Promise((r) => setTimeout(r, 5)); return plain(200, "successfully set klog.logging.verbosity to 3\n"); }, log, t.id),
    });
    const outcomes = results.map((r) => r.outcome);
    // Two finished, at most one more was already in flight when the second finished; none started after.
    expect(outcomes.filter((o) => o === "set").length).toBeGreaterThanOrEqual(2);
    expect(outcomes.filter((o) => o === "set").length).toBeLessThanOrEqual(3);
    expect(outcomes.slice(3)).toEqual(Array(4).fill("interrupted"));
    expect(results[6]).toMatchObject({ ok: false, httpStatus: null, message: expect.stringMatching(/not attempted/) });
    expect(log.filter((l) => l.startsWith("PUT")).length).toBe(outcomes.filter((o) => o === "set").length);
  });

  it("a feed: targets are changed as discovery hands them over, and reported in discovery's order", async () => {
    const feed = new TargetFeed();
    const log: string[] = [];
    const started: string[] = [];
    const totals: number[] = [];
    const run = applyAll(feed, {
      level: 3, access: undefined, timeoutMs: 1000, concurrency: 3, dryRun: false,
      onResult: (_r, _done, total) => totals.push(total),
      open: (t) => channel(async () => { started.push(t.id); return plain(200, "successfully set klog.logging.verbosity to 3\n"); }, log, t.id),
    });
    feed.push(targets.slice(0, 2));
    await new Promise((r) => setTimeout(r, 20));
    expect(started).toEqual(["kubelet/n0", "kubelet/n1"]); // the first page is done before the second arrives
    feed.push(targets.slice(2));
    feed.end();
    const results = await run;
    expect(results.map((r) => r.id)).toEqual(targets.map((t) => t.id));
    expect(results.every((r) => r.outcome === "set")).toBe(true);
    expect(totals.slice(0, 2)).toEqual([0, 0]); // total unknown while discovery goes on
    expect(totals.at(-1)).toBe(7);
  });

  it("a feed interrupted mid-way: what arrives later is reported as interrupted too", async () => {
    const feed = new TargetFeed();
    const stop = new AbortController();
    const run = applyAll(feed, {
      level: 3, access: undefined, timeoutMs: 1000, concurrency: 2, dryRun: false, signal: stop.signal,
      open: (t) => channel(async () => plain(200, "successfully set klog.logging.verbosity to 3\n"), [], t.id),
    });
    feed.push(targets.slice(0, 2));
    await new Promise((r) => setTimeout(r, 20));
    stop.abort();
    feed.push(targets.slice(2));
    feed.end();
    const results = await run;
    expect(results.map((r) => r.outcome)).toEqual(["set", "set", ...Array(5).fill("interrupted")]);
  });

  it("dry-run sends nothing and says what it would send", async () => {
    const log: string[] = [];
    const results = await applyAll(targets.slice(0, 1), {
      level: 3, access: undefined, timeoutMs: 1000, concurrency: 1, dryRun: true,
      open: (t) => channel(async () => plain(200, ""), log, t.id),
    });
    expect(log).toEqual(["close kubelet/n0"]);
    expect(results[0]).toMatchObject<Partial<Result>>({ outcome: "dry-run", ok: true, request: { method: "PUT", url: "https://x/kubelet/n0", body: "3", auth: "none" } });
  });

  it("a target that never answers times out", async () => {
    const results = await applyAll(targets.slice(0, 1), {
      level: 3, access: undefined, timeoutMs: 50, concurrency: 1, dryRun: false,
      open: () => ({ url: "u", send: () => new Promise<HttpAnswer>(() => {}), close: async () => {} }),
    });
    expect(results[0]!.outcome).toBe("timeout");
  });

  it("the run's deadline (--timeout) cuts a PUT in flight short: sent whole, it may have been applied; not yet sent, the level is unchanged", async () => {
    const deadline = new AbortController();
    const log: string[] = [];
    // Neither channel ever answers, nor looks at the signal: applyOne itself must stop waiting.
    const never = (sends: boolean): Channel => ({
      url: "u",
      send: (o) => {
        log.push(`send ${sends} ${o.signal === deadline.signal}`);
        if (sends) o.onSent?.();
        return new Promise<HttpAnswer>(() => {});
      },
      close: async () => void log.push("close"),
    });
    const run = applyAll([kubelet, { ...kubelet, id: "kubelet/n2", node: "n2" }], {
      level: 3, access: undefined, timeoutMs: 60_000, concurrency: 2, dryRun: false, cancel: deadline.signal,
      open: (t) => never(t.node === "n1"),
    });
    await new Promise((r) => setTimeout(r, 20));
    deadline.abort(cutShort("--timeout 3s passed"));
    const [sent, unsent] = await run;
    expect(sent).toMatchObject({ outcome: "interrupted", ok: false, attempts: 1, httpStatus: null, errorCode: null });
    expect(sent!.message).toBe(`--timeout 3s passed while kvlog waited for the answer: the PUT was sent, so ${MAY_HAVE_BEEN_APPLIED}`);
    expect(sent!.hint).toBe("run the same command again to be sure (the same level sent twice does the same)");
    expect(unsent).toMatchObject({ outcome: "interrupted", ok: false, attempts: 0, message: "--timeout 3s passed before the PUT was sent (its level is unchanged)", hint: null });
    expect(log.sort()).toEqual(["close", "close", "send false true", "send true true"]); // the signal reached the channel; both closed
  });

  it("a deadline that passes while a refused PUT waits for its next try ends it at once, level unchanged", async () => {
    const deadline = new AbortController();
    let tries = 0;
    const run = applyAll([kubelet], {
      level: 3, access: undefined, timeoutMs: 60_000, concurrency: 1, dryRun: false, cancel: deadline.signal,
      open: () => ({
        url: "u",
        send: async () => {
          tries++;
          setTimeout(() => deadline.abort(cutShort("--timeout 1s passed")), 10); // during the backoff (250 ms or more)
          throw Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" });
        },
        close: async () => {},
      }),
    });
    const [r] = await run;
    expect(tries).toBe(1);
    expect(r).toMatchObject({ outcome: "interrupted", attempts: 1, message: "--timeout 1s passed before the PUT was sent (its level is unchanged)" });
  });

  it("unavailable targets become results without a request", async () => {
    const results = await applyAll([{ ...kubelet, unavailable: { outcome: "missing", message: 'node "x" not found' } }], {
      level: 1, access: undefined, timeoutMs: 50, concurrency: 1, dryRun: false,
      open: () => { throw new Error("must not open"); },
    });
    expect(results[0]).toMatchObject({ outcome: "missing", ok: false, message: 'node "x" not found' });
  });
});

describe("retries: what is tried again, how often, within the target's time", () => {
  const t = { id: "kube-scheduler/kube-system/s", component: "kube-scheduler", via: "port-forward", authenticates: true, scheme: "https", port: 10259, namespace: "kube-system", pod: "s" } as Target;
  const proxied = { ...t, id: "kubelet/n", component: "kubelet", via: "node-proxy", node: "n" } as Target;

  it("429 always, 503 with Retry-After or from the component itself; never a node proxy's dial failure or a 4xx", () => {
    expect(retryAnswer(t, { ...plain(429, "slow down"), retryAfter: 2 }, 1, 30_000)).toBe(2000);
    expect(retryAnswer(t, plain(503, "unavailable"), 1, 30_000)).toBeGreaterThanOrEqual(250);
    expect(retryAnswer(proxied, plain(503, "error trying to reach service: dial tcp: no route to host"), 1, 30_000)).toBeUndefined();
    expect(retryAnswer(proxied, { ...plain(503, "shutting down"), retryAfter: 1 }, 1, 30_000)).toBe(1000);
    for (const status of [400, 401, 403, 404, 405, 406, 500]) expect(retryAnswer(t, plain(status, "x"), 1, 30_000), String(status)).toBeUndefined();
    expect(retryAnswer(t, { ...plain(429, "x"), retryAfter: 1 }, MAX_ATTEMPTS, 30_000), "attempts used up").toBeUndefined();
    expect(retryAnswer(t, { ...plain(429, "x"), retryAfter: 10 }, 1, 3000), "Retry-After past the deadline").toBeUndefined();
  });

  it("connection failures before an answer are tried again; a timeout is not", () => {
    for (const code of ["ECONNREFUSED", "ECONNRESET", "EPIPE", "UND_ERR_SOCKET"]) expect(retryError(Object.assign(new Error(code), { code }), 1, 30_000), code).toBeDefined();
    expect(retryError(Object.assign(new Error("t"), { code: "UND_ERR_HEADERS_TIMEOUT" }), 1, 30_000)).toBeUndefined();
    expect(retryError(Object.assign(new Error("bad cert"), { code: "ERR_TLS_CERT_ALTNAME_INVALID" }), 1, 30_000)).toBeUndefined();
    expect(retryError(Object.assign(new Error("r"), { code: "ECONNREFUSED" }), 1, 600), "no time left for another try").toBeUndefined();
  });

  it("a component that refuses once, then answers, is set, with its attempts counted", async () => {
    let n = 0;
    const log: string[] = [];
    const [r] = await applyAll([t], {
      level: 4,
      access: undefined,
      timeoutMs: 5000,
      concurrency: 1,
      dryRun: false,
      open: (x) =>
        channel(async () => {
          if (n++ === 0) throw Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" });
          return plain(200, "successfully set klog.logging.verbosity to 4\n");
        }, log, x.id),
    });
    expect(r).toMatchObject({ outcome: "set", ok: true, attempts: 2 });
  });
});

// The fake's component logs answer as upstream does (test/fake/logs.ts): pods/log and the
// kubelet's /logs/, through the fake apiserver, with plain undici.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Agent, request } from "undici";
import { startFakeCluster, type FakeCluster } from "./cluster.ts";

const SCHED = "kube-scheduler/kube-system/kube-scheduler-cp-1";
const LOG = "/api/v1/namespaces/kube-system/pods/kube-scheduler-cp-1/log";
let c: FakeCluster;
let agent: Agent;
beforeAll(async () => {
  c = await startFakeCluster({
    nodes: [{ name: "cp-1", controlPlane: true }, { name: "worker-1" }, { name: "worker-2" }],
    behaviour: { "kubelet/cp-1": { systemLogQuery: true, nodeLogQueryGate: true }, "kubelet/worker-1": { logs: { to: "file" }, systemLogQuery: true, nodeLogQueryGate: true }, "kubelet/worker-2": { logs: { to: "file" } } },
  });
  agent = new Agent({ connect: { ca: c.caPem } });
});
afterAll(async () => {
  await agent.close();
  await c.close();
});

async function get(path: string, o: { user?: string; headers?: Record<string, string> } = {}): Promise<{ status: number; type: string | undefined; body: string; headers: Record<string, unknown> }> {
  const res = await request(c.url + path, { headers: { authorization: `Bearer ${c.tokenFor(o.user ?? "admin")}`, ...o.headers }, dispatcher: agent });
  return { status: res.statusCode, type: res.headers["content-type"] as string | undefined, body: await res.body.text(), headers: res.headers };
}
const since = (msAgo: number): string => new Date(Date.now() - msAgo).toISOString().replace(/\.\d+Z$/, "Z");

describe("pods/log", () => {
  it("timestamps, sinceTime cut to whole seconds, klog lines tagged with their verbosity", async () => {
    const r = await get(`${LOG}?timestamps=true&sinceTime=${since(3000)}`);
    expect(r.status).toBe(200);
    expect(r.type).toBe("text/plain");
    const lines = r.body.trim().split("\n");
    expect(lines.length).toBeGreaterThanOrEqual(4);
    expect(lines.length).toBeLessThanOrEqual(10);
    for (const l of lines) expect(l).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z [IW]\d{4} \d\d:\d\d:\d\d\.\d{6} +1 schedule_one\.go:\d+\] ".*" node="cp-1" v=0 seq=\d+$/);
  });

  it("follow streams new lines and ends cleanly when the container restarts", async () => {
    // A cluster of its own: the restart must not cut the log the other tests read (they run in any order).
    const own = await startFakeCluster();
    const ownAgent = new Agent({ connect: { ca: own.caPem } });
    try {
      const res = await request(`${own.url}${LOG}?follow=true&timestamps=true&sinceTime=${since(0)}`, { headers: { authorization: `Bearer ${own.tokenFor("admin")}` }, dispatcher: ownAgent });
      expect(res.statusCode).toBe(200);
      const body = (async () => {
        let text = "";
        for await (const chunk of res.body) text += chunk;
        return text;
      })();
      await new Promise((r) => setTimeout(r, 1200));
      own.restart(SCHED);
      const text = await body; // ended: the restart closed the stream
      expect(text.trim().split("\n").length).toBeGreaterThanOrEqual(2);
      const prev = await request(`${own.url}${LOG}?previous=true&timestamps=true`, { headers: { authorization: `Bearer ${own.tokenFor("admin")}` }, dispatcher: ownAgent });
      expect(prev.statusCode).toBe(200); // the last terminated container
      expect(await prev.body.text()).toContain(text.trim().split("\n").at(-1)!);
    } finally {
      await ownAgent.close();
      await own.close();
    }
  });

  it("a raised level logs more, with lines that exist only at that level", async () => {
    const before = c.logLines("kubelet/cp-1", Date.now() - 2000, Date.now());
    const put = await request(`${c.url}/api/v1/nodes/cp-1/proxy/debug/flags/v`, { method: "PUT", body: "4", headers: { authorization: `Bearer ${c.tokenFor("admin")}` }, dispatcher: agent });
    expect(await put.body.text()).toBe("successfully set klog.logging.verbosity to 4\n");
    const t = Date.now();
    await new Promise((r) => setTimeout(r, 1000));
    const after = c.logLines("kubelet/cp-1", t, t + 1000);
    expect(before.every((l) => / v=0 /.test(l))).toBe(true);
    expect(after.length).toBeGreaterThan(before.length * 5);
    expect(after.filter((l) => / v=4 /.test(l)).length).toBeGreaterThan(5);
    const r = await get(`/api/v1/nodes/cp-1/proxy/logs/?query=kubelet&sinceTime=${since(900)}`);
    expect(r.body).toMatch(/ v=4 /);
  });

  it("errors as the apiserver gives them", async () => {
    const both = await get(`${LOG}?sinceTime=${since(1000)}&sinceSeconds=5`);
    expect(both.status).toBe(422);
    expect(JSON.parse(both.body)).toMatchObject({ kind: "Status", reason: "Invalid", code: 422 });
    expect(JSON.parse(both.body).message).toMatch(/at most one of `sinceTime` or `sinceSeconds` may be specified/);
    expect((await get(`${LOG}?sinceTime=yesterday`)).status).toBe(400);
    expect((await get(`${LOG}?container=nope`)).status).toBe(400);
    const forbidden = await get(LOG, { user: "nobody" });
    expect(forbidden.status).toBe(403);
    expect(JSON.parse(forbidden.body).message).toBe('pods "kube-scheduler-cp-1" is forbidden: User "nobody" cannot get resource "pods/log" in API group "" in the namespace "kube-system"');
  });
});

describe("the kubelet's /logs/ through the node proxy", () => {
  it("the node log query of a journald kubelet: journalctl short-precise lines", async () => {
    const r = await get(`/api/v1/nodes/cp-1/proxy/logs/?query=kubelet&sinceTime=${since(2000)}`);
    expect(r.status).toBe(200);
    expect(r.type).toBe("text/plain;charset=UTF-8");
    expect(r.body).toMatch(/^[A-Z][a-z]{2} \d\d \d\d:\d\d:\d\d\.\d{6} cp-1 kubelet\[1234\]: [IW]\d{4} /);
  });

  it("the query refuses options on a kubelet that logs to a file, and serves the file without them", async () => {
    const r = await get(`/api/v1/nodes/worker-1/proxy/logs/?query=kubelet&sinceTime=${since(2000)}`);
    expect(r.status).toBe(200);
    expect(r.body).toBe("\noptions present and query resolved to log files for [kubelet]\ntry without specifying options\n");
    expect((await get("/api/v1/nodes/worker-1/proxy/logs/?query=kubelet")).body).toMatch(/^[IW]\d{4} /);
    const path = await get(`/api/v1/nodes/worker-1/proxy/logs/kubelet.log?query=kubelet&sinceTime=${since(2000)}`);
    expect([path.status, path.body]).toEqual([406, "path not allowed in query mode\n"]);
    const bad = await get("/api/v1/nodes/worker-1/proxy/logs/?query=kubelet&sinceTime=nope");
    expect([bad.status, bad.body]).toEqual([400, 'sinceTime: Invalid value: "nope": invalid time format\n']);
  });

  it("without the query: a file server over /var/log/ with Range requests", async () => {
    const list = await get("/api/v1/nodes/worker-2/proxy/logs/?query=kubelet&sinceTime=2026-01-01T00:00:00Z");
    expect(list.type).toBe("text/html; charset=utf-8");
    expect(list.body).toContain('<a href="kubelet.log">kubelet.log</a>');
    const tail = await get("/api/v1/nodes/worker-2/proxy/logs/kubelet.log", { headers: { range: "bytes=-100" } });
    expect(tail.status).toBe(206);
    expect(tail.headers["content-range"]).toMatch(/^bytes \d+-\d+\/\d+$/);
    const size = Number(/\/(\d+)$/.exec(tail.headers["content-range"] as string)![1]);
    const past = await get("/api/v1/nodes/worker-2/proxy/logs/kubelet.log", { headers: { range: `bytes=${size + 100000}-` } });
    expect(past.status).toBe(416);
    expect(past.headers["content-range"]).toMatch(/^bytes \*\/\d+$/);
    expect((await get("/api/v1/nodes/cp-1/proxy/logs/kubelet.log")).status).toBe(404); // journald: no file
  });
});

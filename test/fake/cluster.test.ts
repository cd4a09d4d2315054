// Proves that the fake cluster answers the way upstream Kubernetes does, using
// plain undici / ws clients (no kvlog code).

import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as http from "node:http";
import * as net from "node:net";
import * as tls from "node:tls";
import { Duplex } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Agent, request } from "undici";
import { WebSocket } from "ws";
import { KVLOG_RULES, defaultPods, fleetNodes, startFakeCluster } from "./cluster.ts";
import type { FakeCluster } from "./cluster.ts";

const SCHED = "kube-scheduler/kube-system/kube-scheduler-cp-1";
const SUCCESS = (n: string): string => `successfully set klog.logging.verbosity to ${n}\n`;
const INDEX_HTML =
  "<html>\n<head>\n<title>/debug/flags/</title>\n</head>\n<body>\n/debug/flags/<br>\n<br>\nflags:<br>\n<table>\n\n<tr>v<br>\n\n</table>\n<br>\nfull flags configurable<br>\n</body>\n</html>\n";

function statusJSON(code: number, reason: string, message: string, details?: Record<string, unknown>): string {
  const s: Record<string, unknown> = { kind: "Status", apiVersion: "v1", metadata: {}, status: "Failure", message, reason };
  if (details) s.details = details;
  s.code = code;
  return JSON.stringify(s) + "\n";
}

interface Reply {
  status: number;
  type: string | undefined;
  body: string;
  headers: Record<string, string | string[] | undefined>;
}

const agents: Agent[] = [];
function agentFor(c: FakeCluster, user?: string, cert = false): Agent {
  const a = cert
    ? new Agent({ connect: { ca: c.caPem, cert: c.clientCertFor(user ?? "admin").certPem, key: c.clientCertFor(user ?? "admin").keyPem } })
    : new Agent({ connect: { ca: c.caPem } });
  agents.push(a);
  return a;
}
const insecure = new Agent({ connect: { rejectUnauthorized: false } });
agents.push(insecure);

async function api(
  c: FakeCluster,
  method: string,
  path: string,
  o: { user?: string; token?: string; body?: string; cert?: boolean; signal?: AbortSignal; headers?: Record<string, string> } = {},
): Promise<Reply> {
  const headers: Record<string, string> = { ...(o.headers ?? {}) };
  if (o.token) headers.authorization = `Bearer ${o.token}`;
  else if (o.user && !o.cert) headers.authorization = `Bearer ${c.tokenFor(o.user)}`;
  const res = await request(c.url + path, {
    method: method as "GET",
    headers,
    body: o.body,
    dispatcher: o.cert ? agentFor(c, o.user, true) : agentFor(c),
    signal: o.signal,
  });
  const body = await res.body.text();
  return { status: res.statusCode, type: res.headers["content-type"] as string | undefined, body, headers: res.headers };
}

async function direct(
  port: number,
  method: string,
  path: string,
  o: { token?: string; body?: string; signal?: AbortSignal; headers?: Record<string, string> } = {},
): Promise<Reply> {
  const headers: Record<string, string> = { ...(o.headers ?? {}) };
  if (o.token) headers.authorization = `Bearer ${o.token}`;
  const res = await request(`https://127.0.0.1:${port}${path}`, { method: method as "GET", headers, body: o.body, dispatcher: insecure, signal: o.signal });
  const body = await res.body.text();
  return { status: res.statusCode, type: res.headers["content-type"] as string | undefined, body, headers: res.headers };
}

// ---- port-forward client (v4.channel.k8s.io) -------------------------------

interface Tunnel {
  ws: WebSocket;
  protocol: string;
  frames: Array<{ ch: number; data: Buffer }>;
  stream: Duplex;
  closed: Promise<number>;
}

type PortForwardResult = { ok: true; tunnel: Tunnel } | { ok: false; status: number; type: string | undefined; body: string };

function portForward(
  c: FakeCluster,
  ns: string,
  pod: string,
  ports: string,
  o: { token?: string; protocols?: string[] } = {},
): Promise<PortForwardResult> {
  const url = `${c.url.replace("https:", "wss:")}/api/v1/namespaces/${ns}/pods/${pod}/portforward?ports=${ports}`;
  const ws = new WebSocket(url, o.protocols ?? ["v4.channel.k8s.io"], {
    ca: c.caPem,
    headers: o.token ? { authorization: `Bearer ${o.token}` } : {},
  });
  return new Promise((resolve, reject) => {
    const frames: Tunnel["frames"] = [];
    let seenPort = false;
    const stream = new Duplex({
      read() {},
      write(chunk: Buffer, _enc, cb) {
        ws.send(Buffer.concat([Buffer.from([0]), chunk]), cb);
      },
    });
    const closed = new Promise<number>((r) => ws.on("close", (code: number) => {
      stream.push(null);
      r(code);
    }));
    ws.on("message", (raw: Buffer, isBinary: boolean) => {
      let ch: number;
      let data: Buffer;
      if (isBinary) {
        ch = raw[0] ?? 0;
        data = raw.subarray(1);
      } else {
        const s = raw.toString();
        ch = s.charCodeAt(0) - 48;
        data = Buffer.from(s.slice(1), "base64");
      }
      frames.push({ ch, data });
      if (ch === 0) {
        if (!seenPort) seenPort = true;
        else stream.push(data);
      }
    });
    ws.on("open", () => resolve({ ok: true, tunnel: { ws, protocol: ws.protocol, frames, stream, closed } }));
    ws.on("unexpected-response", (_req, res: http.IncomingMessage) => {
      let body = "";
      res.on("data", (d: Buffer) => (body += d.toString()));
      res.on("end", () => resolve({ ok: false, status: res.statusCode ?? 0, type: res.headers["content-type"], body }));
      res.on("error", () => resolve({ ok: false, status: res.statusCode ?? 0, type: res.headers["content-type"], body }));
    });
    ws.on("error", (e) => reject(e));
  });
}

/** One HTTP request through the tunnel (HTTPS when secure), Connection: close. */
function httpThrough(
  t: Tunnel,
  secure: boolean,
  method: string,
  path: string,
  o: { token?: string; body?: string; cert?: { certPem: string; keyPem: string }; headers?: Record<string, string> } = {},
): Promise<Reply & { peer?: tls.PeerCertificate }> {
  return new Promise((resolve, reject) => {
    let peer: tls.PeerCertificate | undefined;
    const socket: Duplex = secure
      ? tls.connect({ socket: t.stream, servername: "localhost", rejectUnauthorized: false, cert: o.cert?.certPem, key: o.cert?.keyPem })
      : t.stream;
    if (secure) (socket as tls.TLSSocket).once("secureConnect", () => (peer = (socket as tls.TLSSocket).getPeerCertificate(true)));
    const headers: Record<string, string> = { host: "localhost", connection: "close", ...(o.headers ?? {}) };
    if (o.token) headers.authorization = `Bearer ${o.token}`;
    if (o.body !== undefined) headers["content-length"] = String(Buffer.byteLength(o.body));
    const req = http.request({ method, path, headers, createConnection: () => socket as net.Socket }, (res) => {
      let body = "";
      res.on("data", (d: Buffer) => (body += d.toString("latin1")));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, type: res.headers["content-type"], body, headers: res.headers, peer }));
    });
    req.on("error", reject);
    req.end(o.body);
  });
}

function sandboxId(ns: string, pod: string): string {
  return crypto.createHash("sha256").update(`${ns}/${pod}`).digest("hex");
}

afterAll(async () => {
  await Promise.all(agents.map((a) => a.close()));
});

// ---------------------------------------------------------------------------

describe("fake cluster, default kubeadm-like topology", () => {
  let c: FakeCluster;
  beforeAll(async () => {
    c = await startFakeCluster({
      users: [
        { name: "system:serviceaccount:kube-system:kvlog-sa", rules: KVLOG_RULES },
        { name: "system:serviceaccount:kube-system:empty-sa" },
        { name: "pf-get-only", rules: [{ resources: ["pods", "pods/portforward"], verbs: ["get"] }] },
      ],
    });
  });
  afterAll(async () => {
    await c.close();
  });

  it("serves /version and the topology (nodes, pods, selectors)", async () => {
    const v = await api(c, "GET", "/version");
    expect(v.status).toBe(200);
    expect(JSON.parse(v.body).gitVersion).toBe("v1.34.1");

    const nodes = await api(c, "GET", "/api/v1/nodes", { user: "kvlog" });
    expect(nodes.status).toBe(200);
    expect(nodes.type).toBe("application/json");
    const nl = JSON.parse(nodes.body);
    expect(nl.kind).toBe("NodeList");
    expect(nl.items.map((n: { metadata: { name: string } }) => n.metadata.name)).toEqual(["cp-1", "worker-1"]);
    const cp = nl.items[0];
    expect(cp.metadata.labels["node-role.kubernetes.io/control-plane"]).toBe("");
    expect(cp.status.addresses[0]).toEqual({ type: "InternalIP", address: "127.0.0.1" });
    expect(cp.status.daemonEndpoints.kubeletEndpoint.Port).toBe(c.portOf("kubelet/cp-1"));
    expect(cp.status.nodeInfo.kubeletVersion).toBe("v1.34.1");
    expect(cp.status.conditions.find((x: { type: string }) => x.type === "Ready").status).toBe("True");

    const cps = await api(c, "GET", "/api/v1/nodes?labelSelector=node-role.kubernetes.io%2Fcontrol-plane", { user: "kvlog" });
    expect(JSON.parse(cps.body).items.map((n: { metadata: { name: string } }) => n.metadata.name)).toEqual(["cp-1"]);
    const workers = await api(c, "GET", "/api/v1/nodes?labelSelector=!node-role.kubernetes.io%2Fcontrol-plane", { user: "kvlog" });
    expect(JSON.parse(workers.body).items.map((n: { metadata: { name: string } }) => n.metadata.name)).toEqual(["worker-1"]);

    const one = await api(c, "GET", "/api/v1/nodes/worker-1", { user: "kvlog" });
    expect(JSON.parse(one.body).kind).toBe("Node");
    const missing = await api(c, "GET", "/api/v1/nodes/nope", { user: "kvlog" });
    expect(missing.status).toBe(404);
    expect(missing.body).toBe(statusJSON(404, "NotFound", 'nodes "nope" not found', { name: "nope", kind: "nodes" }));

    const sched = await api(c, "GET", "/api/v1/namespaces/kube-system/pods?labelSelector=component%3Dkube-scheduler%2Ctier%3Dcontrol-plane", { user: "kvlog" });
    const sp = JSON.parse(sched.body).items;
    expect(sp).toHaveLength(1);
    expect(sp[0].metadata.name).toBe("kube-scheduler-cp-1");
    expect(sp[0].spec.nodeName).toBe("cp-1");
    expect(sp[0].spec.containers[0].image).toBe("registry.k8s.io/kube-scheduler:v1.34.1");
    expect(sp[0].status.phase).toBe("Running");

    const inSet = await api(c, "GET", "/api/v1/namespaces/kube-system/pods?labelSelector=component%20in%20(kube-scheduler%2Ckube-controller-manager)", { user: "kvlog" });
    expect(JSON.parse(inSet.body).items.map((p: { metadata: { name: string } }) => p.metadata.name)).toEqual([
      "kube-controller-manager-cp-1",
      "kube-scheduler-cp-1",
    ]);
    const notIn = await api(c, "GET", "/api/v1/namespaces/kube-system/pods?labelSelector=tier%3D%3Dcontrol-plane%2Ccomponent%20notin%20(kube-apiserver)", { user: "kvlog" });
    expect(JSON.parse(notIn.body).items).toHaveLength(2);

    const proxyOnWorker = await api(c, "GET", "/api/v1/namespaces/kube-system/pods?labelSelector=k8s-app%3Dkube-proxy&fieldSelector=spec.nodeName%3Dworker-1", { user: "kvlog" });
    expect(JSON.parse(proxyOnWorker.body).items.map((p: { metadata: { name: string } }) => p.metadata.name)).toEqual(["kube-proxy-bbbbb"]);
    const ccm = await api(c, "GET", "/api/v1/namespaces/kube-system/pods?labelSelector=k8s-app%3Dcloud-controller-manager", { user: "kvlog" });
    expect(JSON.parse(ccm.body).items[0].metadata.name).toBe("cloud-controller-manager-x2v8q");
  });

  it("rejects invalid selectors with the upstream 400 Status", async () => {
    const bad = await api(c, "GET", "/api/v1/namespaces/kube-system/pods?labelSelector=a%3D(", { user: "kvlog" });
    expect(bad.status).toBe(400);
    expect(bad.body).toBe(statusJSON(400, "BadRequest", "unable to parse requirement: found '(', expected: identifier"));
    const bad2 = await api(c, "GET", "/api/v1/nodes?labelSelector=a%20b", { user: "kvlog" });
    expect(JSON.parse(bad2.body).message).toBe("unable to parse requirement: found 'b', expected: in, notin, =, ==, !=, gt, lt");
    const badField = await api(c, "GET", "/api/v1/namespaces/kube-system/pods?fieldSelector=spec.foo%3Dx", { user: "kvlog" });
    expect(badField.body).toBe(statusJSON(400, "BadRequest", "field label not supported: spec.foo"));
  });

  it("answers 401 and 403 with upstream's Status bodies", async () => {
    const badToken = await api(c, "GET", "/api/v1/nodes", { token: "not-a-token" });
    expect(badToken.status).toBe(401);
    expect(badToken.type).toBe("application/json");
    expect(badToken.body).toBe(
      '{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"Unauthorized","reason":"Unauthorized","code":401}\n',
    );
    // --anonymous-auth=true (the default): no credentials is system:anonymous, then RBAC.
    const anon = await api(c, "GET", "/api/v1/nodes");
    expect(anon.status).toBe(403);
    expect(anon.body).toBe(
      statusJSON(403, "Forbidden", 'nodes is forbidden: User "system:anonymous" cannot list resource "nodes" in API group "" at the cluster scope', {
        kind: "nodes",
      }),
    );
    const pods = await api(c, "GET", "/api/v1/namespaces/kube-system/pods", { token: c.tokenFor("nobody") });
    expect(pods.body).toBe(
      statusJSON(403, "Forbidden", 'pods is forbidden: User "nobody" cannot list resource "pods" in API group "" in the namespace "kube-system"', {
        kind: "pods",
      }),
    );
    const flags = await api(c, "PUT", "/debug/flags/v", { user: "nobody", body: "3" });
    expect(flags.status).toBe(403);
    expect(flags.body).toBe(statusJSON(403, "Forbidden", 'forbidden: User "nobody" cannot put path "/debug/flags/v"', {}));
    const proxy = await api(c, "PUT", "/api/v1/nodes/cp-1/proxy/debug/flags/v", { user: "nobody", body: "3" });
    expect(proxy.body).toBe(
      statusJSON(403, "Forbidden", 'nodes "cp-1" is forbidden: User "nobody" cannot update resource "nodes/proxy" in API group "" at the cluster scope', {
        name: "cp-1",
        kind: "nodes",
      }),
    );
  });

  it("authenticates client certificates signed by the cluster CA (CN=user, O=groups)", async () => {
    const r = await api(c, "GET", "/api/v1/nodes", { user: "admin", cert: true });
    expect(r.status).toBe(200);
    const last = c.requests.filter((x) => x.target === "kube-apiserver").at(-1);
    expect(last).toMatchObject({ authorization: "cert", user: "admin", via: "apiserver", status: 200 });
    const kc = fs.readFileSync(c.kubeconfig("admin"), "utf8");
    expect(kc).toContain(`server: ${c.url}`);
    expect(kc).toContain("client-certificate-data: ");
    expect(kc).toContain(`certificate-authority-data: ${Buffer.from(c.caPem).toString("base64")}`);
    expect(fs.readFileSync(c.kubeconfig("kvlog"), "utf8")).toContain(`token: ${c.tokenFor("kvlog")}`);
    expect(fs.readFileSync(c.kubeconfig("kvlog", { insecure: true }), "utf8")).toContain("insecure-skip-tls-verify: true");
  });

  it("serves the apiserver's own /debug/flags/v exactly like StringFlagPutHandler", async () => {
    const get = await api(c, "GET", "/debug/flags/v", { user: "admin" });
    expect([get.status, get.type, get.body]).toEqual([406, "text/plain", "unsupported http method\n"]);
    expect(get.headers["x-content-type-options"]).toBe("nosniff");
    const post = await api(c, "POST", "/debug/flags/v", { user: "admin", body: "3" });
    expect([post.status, post.body]).toEqual([406, "unsupported http method\n"]);

    const ok = await api(c, "PUT", "/debug/flags/v", { user: "kvlog", body: "3" });
    expect([ok.status, ok.type, ok.body]).toEqual([200, "text/plain", SUCCESS("3")]);
    expect(c.level("kube-apiserver")).toBe(3);
    expect(c.level("kube-apiserver/kube-system/kube-apiserver-cp-1")).toBe(3);

    const cases: Array<[string, string]> = [
      ["3\n", 'strconv.ParseUint: parsing "3\\n": invalid syntax\n'],
      [" 3", 'strconv.ParseUint: parsing " 3": invalid syntax\n'],
      ["+3", 'strconv.ParseUint: parsing "+3": invalid syntax\n'],
      ["-1", 'strconv.ParseUint: parsing "-1": invalid syntax\n'],
      ["", 'strconv.ParseUint: parsing "": invalid syntax\n'],
      ["4294967296", 'strconv.ParseUint: parsing "4294967296": value out of range\n'],
      ["2147483648", 'failed set klog.logging.verbosity 2147483648: strconv.ParseInt: parsing "2147483648": value out of range\n'],
    ];
    for (const [body, want] of cases) {
      const r = await api(c, "PUT", "/debug/flags/v", { user: "kvlog", body });
      expect([r.status, r.type, r.body]).toEqual([400, "text/plain", want]);
    }
    expect(c.level("kube-apiserver")).toBe(3);
    const max = await api(c, "PUT", "/debug/flags/v", { user: "kvlog", body: "2147483647" });
    expect(max.body).toBe(SUCCESS("2147483647"));
    expect(c.level("kube-apiserver")).toBe(2147483647);

    for (const p of ["/debug/flags", "/debug/flags/", "/debug/flags/vmodule", "/debug/flags/v/"]) {
      const idx = await api(c, "PUT", p, { user: "admin", body: "3" });
      expect([idx.status, idx.type, idx.body]).toEqual([200, "text/html; charset=utf-8", INDEX_HTML]);
    }
    const nf = await api(c, "GET", "/nothing-here", { user: "admin" });
    expect([nf.status, nf.type, nf.body]).toEqual([404, "text/plain; charset=utf-8", "404 page not found\n"]);
  });

  it("forwards the node proxy to the kubelet with the apiserver's own identity", async () => {
    const ok = await api(c, "PUT", "/api/v1/nodes/worker-1/proxy/debug/flags/v", { user: "kvlog", body: "5" });
    expect([ok.status, ok.type, ok.body]).toEqual([200, "text/plain", SUCCESS("5")]);
    expect(c.level("kubelet/worker-1")).toBe(5);
    const atKubelet = c.requests.filter((r) => r.target === "kubelet/worker-1").at(-1);
    expect(atKubelet).toMatchObject({
      method: "PUT",
      path: "/debug/flags/v",
      body: "5",
      authorization: "cert",
      user: "kube-apiserver-kubelet-client",
      via: "node-proxy",
      status: 200,
    });
    const get = await api(c, "GET", "/api/v1/nodes/worker-1/proxy/debug/flags/v", { user: "kvlog" });
    expect([get.status, get.body]).toEqual([406, "unsupported http method\n"]);
    const bad = await api(c, "PUT", "/api/v1/nodes/worker-1/proxy/debug/flags/v", { user: "kvlog", body: "5\n" });
    expect([bad.status, bad.body]).toEqual([400, 'strconv.ParseUint: parsing "5\\n": invalid syntax\n']);
    const unknown = await api(c, "PUT", "/api/v1/nodes/nope/proxy/debug/flags/v", { user: "kvlog", body: "5" });
    expect(unknown.body).toBe(statusJSON(404, "NotFound", 'nodes "nope" not found', { name: "nope", kind: "nodes" }));
    // the kubelet serves no /debug/flags index: Go's 404
    const idx = await api(c, "GET", "/api/v1/nodes/worker-1/proxy/debug/flags/", { user: "kvlog" });
    expect([idx.status, idx.body]).toEqual([404, "404 page not found\n"]);
  });

  it("authenticates and authorizes direct kubelet requests like the kubelet's auth filter", async () => {
    const port = c.portOf("kubelet/cp-1");
    const none = await direct(port, "PUT", "/debug/flags/v", { body: "2" });
    expect([none.status, none.type, none.body]).toEqual([401, "text/plain; charset=utf-8", "Unauthorized"]);
    const nobody = await direct(port, "PUT", "/debug/flags/v", { token: c.tokenFor("nobody"), body: "2" });
    expect([nobody.status, nobody.body]).toEqual([403, "Forbidden (user=nobody, verb=update, resource=nodes, subresource=proxy)"]);
    const ok = await direct(port, "PUT", "/debug/flags/v", { token: c.tokenFor("kvlog"), body: "2" });
    expect([ok.status, ok.body]).toEqual([200, SUCCESS("2")]);
    expect(c.level("kubelet/cp-1")).toBe(2);
    expect(c.requests.filter((r) => r.target === "kubelet/cp-1").at(-1)).toMatchObject({ via: "direct", authorization: "bearer", user: "kvlog" });
    expect(c.requests.filter((r) => r.target === "kubelet/cp-1").at(-3)).toMatchObject({ authorization: "none", status: 401 });
  });

  it("answers SelfSubjectAccessReviews from the same rules", async () => {
    const review = (spec: unknown): string => JSON.stringify({ apiVersion: "authorization.k8s.io/v1", kind: "SelfSubjectAccessReview", spec });
    const path = "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews";
    const yes = await api(c, "POST", path, { user: "kvlog", body: review({ resourceAttributes: { verb: "update", resource: "nodes", subresource: "proxy", name: "cp-1" } }) });
    expect(yes.status).toBe(201);
    expect(JSON.parse(yes.body).status.allowed).toBe(true);
    const no = await api(c, "POST", path, { user: "nobody", body: review({ nonResourceAttributes: { verb: "put", path: "/debug/flags/v" } }) });
    expect(JSON.parse(no.body).status).toEqual({ allowed: false });
    const admin = await api(c, "POST", path, { user: "admin", cert: true, body: review({ nonResourceAttributes: { verb: "put", path: "/debug/flags/v" } }) });
    expect(JSON.parse(admin.body).status).toEqual({ allowed: true });
  });

  it("port-forwards (v4.channel.k8s.io) to the scheduler's HTTPS port, with delegated auth inside the tunnel", async () => {
    const r = await portForward(c, "kube-system", "kube-scheduler-cp-1", "10259", { token: c.tokenFor("kvlog") });
    if (!r.ok) throw new Error(`port-forward refused: ${r.status} ${r.body}`);
    const t = r.tunnel;
    expect(t.protocol).toBe("v4.channel.k8s.io");
    const reply = await httpThrough(t, true, "PUT", "/debug/flags/v", { token: c.tokenFor("kvlog"), body: "4" });
    expect([reply.status, reply.type, reply.body]).toEqual([200, "text/plain", SUCCESS("4")]);
    // upstream's in-memory self-signed serving cert: "localhost@<time>" issued by "localhost-ca@<time>"
    expect(reply.peer?.subject.CN).toMatch(/^localhost@\d+$/);
    expect(reply.peer?.issuer.CN).toMatch(/^localhost-ca@\d+$/);
    expect(await t.closed).toBe(1000);
    // 10259 = 0x2813: the first frame on each channel is the port, little-endian
    expect(t.frames[0]).toEqual({ ch: 0, data: Buffer.from([0x13, 0x28]) });
    expect(t.frames[1]).toEqual({ ch: 1, data: Buffer.from([0x13, 0x28]) });
    expect(t.frames.filter((f) => f.ch === 1)).toHaveLength(1);
    expect(c.level(SCHED)).toBe(4);
    expect(c.requests.filter((x) => x.target === SCHED).at(-1)).toMatchObject({ via: "port-forward", authorization: "bearer", user: "kvlog", body: "4" });
    const upgrade = c.requests.filter((x) => x.target === "kube-apiserver" && x.path.endsWith("/portforward")).at(-1);
    expect(upgrade).toMatchObject({ method: "GET", query: "?ports=10259", status: 101, user: "kvlog" });
  });

  it("applies the scheduler's delegated authn/authz (401, 403 anonymous, 403 user, system:masters)", async () => {
    const call = async (o: { token?: string; cert?: { certPem: string; keyPem: string } }, method = "PUT"): Promise<Reply> => {
      const r = await portForward(c, "kube-system", "kube-scheduler-cp-1", "10259", { token: c.tokenFor("kvlog") });
      if (!r.ok) throw new Error(`port-forward refused: ${r.status}`);
      return httpThrough(r.tunnel, true, method, "/debug/flags/v", { ...o, body: "3" });
    };
    const bad = await call({ token: "bogus" });
    expect([bad.status, bad.type, bad.body]).toEqual([
      401,
      "application/json",
      '{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"Unauthorized","reason":"Unauthorized","code":401}\n',
    ]);
    const anon = await call({});
    expect([anon.status, anon.body]).toEqual([403, statusJSON(403, "Forbidden", 'forbidden: User "system:anonymous" cannot put path "/debug/flags/v"', {})]);
    const nobody = await call({ token: c.tokenFor("nobody") });
    expect(nobody.body).toBe(statusJSON(403, "Forbidden", 'forbidden: User "nobody" cannot put path "/debug/flags/v"', {}));
    const nobodyGet = await call({ token: c.tokenFor("nobody") }, "GET");
    expect(nobodyGet.body).toBe(statusJSON(403, "Forbidden", 'forbidden: User "nobody" cannot get path "/debug/flags/v"', {}));
    // kvlog's role has get for doctor's probe: the scheduler's own handler answers the GET.
    const kvlogGet = await call({ token: c.tokenFor("kvlog") }, "GET");
    expect([kvlogGet.status, kvlogGet.body]).toEqual([406, "unsupported http method\n"]);
    const admin = await call({ cert: c.clientCertFor("admin") }, "GET");
    expect([admin.status, admin.body]).toEqual([406, "unsupported http method\n"]);
    const index = await (async () => {
      const r = await portForward(c, "kube-system", "kube-scheduler-cp-1", "10259", { token: c.tokenFor("kvlog") });
      if (!r.ok) throw new Error("refused");
      return httpThrough(r.tunnel, true, "GET", "/debug/flags/", { cert: c.clientCertFor("admin") });
    })();
    expect([index.status, index.type, index.body]).toEqual([200, "text/html; charset=utf-8", INDEX_HTML]);
  });

  it("port-forwards to kube-proxy's plain-HTTP 10249 (profiling off by default: 404)", async () => {
    const r = await portForward(c, "kube-system", "kube-proxy-aaaaa", "10249", { token: c.tokenFor("kvlog") });
    if (!r.ok) throw new Error(`port-forward refused: ${r.status}`);
    const reply = await httpThrough(r.tunnel, false, "PUT", "/debug/flags/v", { body: "4" });
    expect([reply.status, reply.type, reply.body]).toEqual([404, "text/plain; charset=utf-8", "404 page not found\n"]);
    expect(r.tunnel.frames[0]).toEqual({ ch: 0, data: Buffer.from([0x09, 0x28]) }); // 10249 = 0x2809
  });

  it("speaks v4.base64.channel.k8s.io too and reaches the apiserver pod's 6443", async () => {
    const r = await portForward(c, "kube-system", "kube-apiserver-cp-1", "6443", { token: c.tokenFor("kvlog"), protocols: ["v4.base64.channel.k8s.io"] });
    if (!r.ok) throw new Error(`port-forward refused: ${r.status}`);
    expect(r.tunnel.protocol).toBe("v4.base64.channel.k8s.io");
    const s = r.tunnel.stream;
    // base64 mode: client frames are text too
    s._write = (chunk: Buffer, _e: BufferEncoding, cb: (e?: Error | null) => void) => r.tunnel.ws.send("0" + chunk.toString("base64"), cb);
    const reply = await httpThrough(r.tunnel, true, "GET", "/version", {});
    expect(reply.status).toBe(200);
    expect(JSON.parse(reply.body).gitVersion).toBe("v1.34.1");
    expect(c.requests.filter((x) => x.target === "kube-apiserver" && x.path === "/version").at(-1)?.via).toBe("port-forward");
  });

  it("rejects port-forward before the upgrade with upstream's Status (403 get, 403 create, 404, 400)", async () => {
    const nobody = await portForward(c, "kube-system", "kube-scheduler-cp-1", "10259", { token: c.tokenFor("nobody") });
    expect(nobody).toEqual({
      ok: false,
      status: 403,
      type: "application/json",
      body: statusJSON(
        403,
        "Forbidden",
        'pods "kube-scheduler-cp-1" is forbidden: User "nobody" cannot get resource "pods/portforward" in API group "" in the namespace "kube-system"',
        { name: "kube-scheduler-cp-1", kind: "pods" },
      ),
    });
    // 1.35+: a WebSocket upgrade also needs "create" (AuthorizePodWebsocketUpgradeCreatePermission); RBAC gives no reason.
    const getOnly = await portForward(c, "kube-system", "kube-scheduler-cp-1", "10259", { token: c.tokenFor("pf-get-only") });
    expect(getOnly).toMatchObject({
      ok: false,
      status: 403,
      body: statusJSON(403, "Forbidden", 'pods "kube-scheduler-cp-1" is forbidden: ', { name: "kube-scheduler-cp-1", kind: "pods" }),
    });
    const missing = await portForward(c, "kube-system", "nope", "10259", { token: c.tokenFor("kvlog") });
    expect(missing).toMatchObject({ ok: false, status: 404, body: statusJSON(404, "NotFound", 'pods "nope" not found', { name: "nope", kind: "pods" }) });
    const badPort = await portForward(c, "kube-system", "kube-scheduler-cp-1", "70000", { token: c.tokenFor("kvlog") });
    expect(badPort).toMatchObject({
      ok: false,
      status: 400,
      body: statusJSON(400, "BadRequest", 'cannot convert to []int32: strconv.ParseUint: parsing "70000": value out of range'),
    });
    const anonymous = await portForward(c, "kube-system", "kube-scheduler-cp-1", "10259", {});
    expect(anonymous).toMatchObject({ ok: false, status: 403 });
    expect((anonymous as { body: string }).body).toContain('User \\"system:anonymous\\" cannot get resource \\"pods/portforward\\"');
  });

  it("sends the error channel when nothing listens on the forwarded port", async () => {
    const r = await portForward(c, "kube-system", "kube-scheduler-cp-1", "10251", { token: c.tokenFor("kvlog") });
    if (!r.ok) throw new Error(`port-forward refused: ${r.status}`);
    expect(await r.tunnel.closed).toBe(1000);
    const id = sandboxId("kube-system", "kube-scheduler-cp-1");
    expect(r.tunnel.frames).toEqual([
      { ch: 0, data: Buffer.from([0x0b, 0x28]) },
      { ch: 1, data: Buffer.from([0x0b, 0x28]) },
      {
        ch: 1,
        data: Buffer.from(
          `error forwarding port 10251 to pod ${id}, uid : failed to execute portforward in network namespace "host": ` +
            `failed to connect to localhost:10251 inside namespace "${id}", IPv4: dial tcp4 127.0.0.1:10251: connect: connection refused ` +
            `IPv6 dial tcp6 [::1]:10251: connect: connection refused `,
        ),
      },
    ]);
  });

  it("mints ServiceAccount tokens with TokenRequest, which then authenticate", async () => {
    const body = JSON.stringify({ apiVersion: "authentication.k8s.io/v1", kind: "TokenRequest", spec: { expirationSeconds: 600 } });
    const denied = await api(c, "POST", "/api/v1/namespaces/kube-system/serviceaccounts/kvlog-sa/token", { user: "nobody", body });
    expect(denied.body).toBe(
      statusJSON(
        403,
        "Forbidden",
        'serviceaccounts "kvlog-sa" is forbidden: User "nobody" cannot create resource "serviceaccounts/token" in API group "" in the namespace "kube-system"',
        { name: "kvlog-sa", kind: "serviceaccounts" },
      ),
    );
    const unknown = await api(c, "POST", "/api/v1/namespaces/kube-system/serviceaccounts/nope/token", { user: "admin", body });
    expect(unknown.body).toBe(statusJSON(404, "NotFound", 'serviceaccounts "nope" not found', { name: "nope", kind: "serviceaccounts" }));

    const minted = await api(c, "POST", "/api/v1/namespaces/kube-system/serviceaccounts/kvlog-sa/token", { user: "admin", body });
    expect(minted.status).toBe(201);
    const tr = JSON.parse(minted.body);
    expect(tr.kind).toBe("TokenRequest");
    expect(tr.spec.expirationSeconds).toBe(600);
    const exp = Date.parse(tr.status.expirationTimestamp);
    expect(exp - Date.now()).toBeGreaterThan(590_000);
    expect(exp - Date.now()).toBeLessThan(610_000);
    const token: string = tr.status.token;

    const pods = await api(c, "GET", "/api/v1/namespaces/kube-system/pods", { token });
    expect(pods.status).toBe(200);
    expect(c.requests.at(-1)).toMatchObject({ user: "system:serviceaccount:kube-system:kvlog-sa", authorization: "bearer" });
    const put = await api(c, "PUT", "/api/v1/nodes/cp-1/proxy/debug/flags/v", { token, body: "6" });
    expect(put.body).toBe(SUCCESS("6"));

    const emptyTok = JSON.parse((await api(c, "POST", "/api/v1/namespaces/kube-system/serviceaccounts/empty-sa/token", { user: "admin", body })).body).status.token;
    const empty = await api(c, "GET", "/api/v1/namespaces/kube-system/pods", { token: emptyTok });
    expect(empty.body).toBe(
      statusJSON(
        403,
        "Forbidden",
        'pods is forbidden: User "system:serviceaccount:kube-system:empty-sa" cannot list resource "pods" in API group "" in the namespace "kube-system"',
        { kind: "pods" },
      ),
    );
    // TokenREST.Create validates before it looks the ServiceAccount up
    const tooShort = await api(c, "POST", "/api/v1/namespaces/kube-system/serviceaccounts/nope/token", {
      user: "admin",
      body: JSON.stringify({ spec: { expirationSeconds: 60 } }),
    });
    expect([tooShort.status, JSON.parse(tooShort.body).message]).toEqual([
      422,
      'TokenRequest.authentication.k8s.io "" is invalid: spec.expirationSeconds: Invalid value: 60: may not specify a duration less than 10 minutes',
    ]);
  });

  it("follows runtime behaviour changes: reset, refuse, hang, pre-1.27 parsing", async () => {
    // The tests share the cluster and run in any order: the kubelet is put back as it started.
    try {
      await c.setBehaviour("kubelet/worker-1", { mode: "reset" });
      const reset = await api(c, "PUT", "/api/v1/nodes/worker-1/proxy/debug/flags/v", { user: "kvlog", body: "1" });
      expect([reset.status, reset.body]).toEqual([503, statusJSON(503, "ServiceUnavailable", "error trying to reach service: EOF")]);

      await c.setBehaviour("kubelet/worker-1", { mode: "refuse" });
      const port = c.portOf("kubelet/worker-1");
      const refused = await api(c, "PUT", "/api/v1/nodes/worker-1/proxy/debug/flags/v", { user: "kvlog", body: "1" });
      expect(refused.body).toBe(statusJSON(503, "ServiceUnavailable", `error trying to reach service: dial tcp 127.0.0.1:${port}: connect: connection refused`));
      await expect(direct(port, "PUT", "/debug/flags/v", { token: c.tokenFor("kvlog"), body: "1" })).rejects.toThrow();
      const pf = await portForward(c, "kube-system", "kube-proxy-bbbbb", "10249", { token: c.tokenFor("kvlog") });
      expect(pf).toMatchObject({
        ok: false,
        status: 500,
        body: JSON.stringify({
          kind: "Status",
          apiVersion: "v1",
          metadata: {},
          status: "Failure",
          message: `error dialing backend: dial tcp 127.0.0.1:${port}: connect: connection refused`,
          code: 500,
        }) + "\n",
      });

      await c.setBehaviour("kubelet/worker-1", { mode: "hang" });
      await expect(direct(port, "PUT", "/debug/flags/v", { token: c.tokenFor("kvlog"), body: "1", signal: AbortSignal.timeout(300) })).rejects.toThrow();

      await c.setBehaviour("kubelet/worker-1", { mode: "normal", version: "v1.26.3" });
      expect(c.portOf("kubelet/worker-1")).toBe(port);
      const neg = await api(c, "PUT", "/api/v1/nodes/worker-1/proxy/debug/flags/v", { user: "kvlog", body: "-1" });
      expect(neg.body).toBe(SUCCESS("-1"));
      expect(c.level("kubelet/worker-1")).toBe(-1);
      const nl = await api(c, "PUT", "/api/v1/nodes/worker-1/proxy/debug/flags/v", { user: "kvlog", body: "3\n" });
      expect([nl.status, nl.body]).toEqual([400, 'failed set klog.logging.verbosity 3\n: strconv.ParseInt: parsing "3\\n": invalid syntax\n']);
      const node = JSON.parse((await api(c, "GET", "/api/v1/nodes/worker-1", { user: "kvlog" })).body);
      expect(node.status.nodeInfo.kubeletVersion).toBe("v1.26.3");
    } finally {
      await c.setBehaviour("kubelet/worker-1", { mode: "normal", version: undefined });
    }
  });
});

describe("fake cluster, component behaviour overrides", () => {
  let c: FakeCluster;
  beforeAll(async () => {
    c = await startFakeCluster({
      behaviour: {
        "kube-apiserver": { mode: "index" },
        "kubelet/cp-1": { debugFlagsHandler: false },
        "kubelet/worker-1": { debuggingHandlers: false },
        [SCHED]: { mode: "refuse" },
        "kube-controller-manager/kube-system/kube-controller-manager-cp-1": { version: "v1.22.0" },
        "cloud-controller-manager/kube-system/cloud-controller-manager-x2v8q": { profiling: false },
        "kube-proxy/kube-system/kube-proxy-aaaaa": { profiling: true, version: "v1.21.0" },
      },
    });
  });
  afterAll(async () => {
    await c.close();
  });

  const tunnelTo = async (pod: string, port: string): Promise<Tunnel> => {
    const r = await portForward(c, "kube-system", pod, port, { token: c.tokenFor("kvlog") });
    if (!r.ok) throw new Error(`port-forward refused: ${r.status} ${r.body}`);
    return r.tunnel;
  };

  it("mode index: the HTML flags index answers at /debug/flags/v (200 but not success)", async () => {
    const r = await api(c, "PUT", "/debug/flags/v", { user: "kvlog", body: "3" });
    expect([r.status, r.type, r.body]).toEqual([200, "text/html; charset=utf-8", INDEX_HTML]);
    expect(c.level("kube-apiserver")).toBeUndefined();
  });

  it("kubelet enableDebugFlagsHandler=false: 405 flags endpoint is disabled.", async () => {
    const r = await api(c, "PUT", "/api/v1/nodes/cp-1/proxy/debug/flags/v", { user: "kvlog", body: "3" });
    expect([r.status, r.type, r.body]).toEqual([405, "text/plain; charset=utf-8", "flags endpoint is disabled.\n"]);
  });

  it("kubelet enableDebuggingHandlers=false: 404 page not found, and 405 on the port-forward endpoint", async () => {
    const r = await api(c, "PUT", "/api/v1/nodes/worker-1/proxy/debug/flags/v", { user: "kvlog", body: "3" });
    expect([r.status, r.type, r.body]).toEqual([404, "text/plain; charset=utf-8", "404 page not found\n"]);
    const unauth = await direct(c.portOf("kubelet/worker-1"), "PUT", "/debug/flags/v", { body: "3" });
    expect(unauth.status).toBe(404); // not registered: Go's NotFound runs before the auth filter
    const pf = await portForward(c, "kube-system", "kube-proxy-bbbbb", "10249", { token: c.tokenFor("kvlog") });
    expect(pf).toEqual({ ok: false, status: 405, type: "text/plain; charset=utf-8", body: "Debug endpoints are disabled.\n" });
  });

  it("mode refuse: the port-forward's error channel carries the dial error, then the stream closes", async () => {
    const t = await tunnelTo("kube-scheduler-cp-1", "10259");
    expect(await t.closed).toBe(1000);
    const id = sandboxId("kube-system", "kube-scheduler-cp-1");
    const errors = t.frames.filter((f) => f.ch === 1).map((f) => f.data);
    expect(errors[0]).toEqual(Buffer.from([0x13, 0x28]));
    expect(errors[1]?.toString()).toBe(
      `error forwarding port 10259 to pod ${id}, uid : failed to execute portforward in network namespace "host": ` +
        `failed to connect to localhost:10259 inside namespace "${id}", IPv4: dial tcp4 127.0.0.1:10259: connect: connection refused ` +
        `IPv6 dial tcp6 [::1]:10259: connect: connection refused `,
    );
  });

  it("kube-controller-manager < 1.23 and --profiling=false have no /debug/flags/v (404)", async () => {
    const kcm = await httpThrough(await tunnelTo("kube-controller-manager-cp-1", "10257"), true, "PUT", "/debug/flags/v", { token: c.tokenFor("kvlog"), body: "3" });
    expect([kcm.status, kcm.body]).toEqual([404, "404 page not found\n"]);
    const ccm = await httpThrough(await tunnelTo("cloud-controller-manager-x2v8q", "10258"), true, "PUT", "/debug/flags/v", { token: c.tokenFor("kvlog"), body: "3" });
    expect([ccm.status, ccm.body]).toEqual([404, "404 page not found\n"]);
    const pods = JSON.parse((await api(c, "GET", "/api/v1/namespaces/kube-system/pods", { user: "kvlog" })).body).items;
    const kcmPod = pods.find((p: { metadata: { name: string } }) => p.metadata.name === "kube-controller-manager-cp-1");
    expect(kcmPod.spec.containers[0].image).toBe("registry.k8s.io/kube-controller-manager:v1.22.0");
    const ccmPod = pods.find((p: { metadata: { name: string } }) => p.metadata.name === "cloud-controller-manager-x2v8q");
    expect(ccmPod.spec.containers[0].command).toContain("--profiling=false");
  });

  it("levelSyntax pre-1.27 on its own, and reset / hang behind a port-forward", async () => {
    // The tests share the cluster and run in any order: the controller-manager is put back as it started.
    try {
      const kcm = "kube-controller-manager/kube-system/kube-controller-manager-cp-1";
      await c.setBehaviour(kcm, { version: "v1.34.1", levelSyntax: "pre-1.27" });
      const plus = await httpThrough(await tunnelTo("kube-controller-manager-cp-1", "10257"), true, "PUT", "/debug/flags/v", { token: c.tokenFor("kvlog"), body: "+3" });
      expect([plus.status, plus.body]).toEqual([200, SUCCESS("+3")]);
      expect(c.level(kcm)).toBe(3);
      await c.setBehaviour(kcm, { mode: "reset" });
      await expect(httpThrough(await tunnelTo("kube-controller-manager-cp-1", "10257"), true, "PUT", "/debug/flags/v", { token: c.tokenFor("kvlog"), body: "3" })).rejects.toThrow();
      await c.setBehaviour(kcm, { mode: "hang" });
      const t = await tunnelTo("kube-controller-manager-cp-1", "10257");
      const outcome = await Promise.race([
        httpThrough(t, true, "PUT", "/debug/flags/v", { token: c.tokenFor("kvlog"), body: "3" }).then(() => "answered"),
        new Promise<string>((r) => setTimeout(() => r("no answer"), 300)),
      ]);
      expect(outcome).toBe("no answer");
      t.ws.close();
      const seen = c.requests.filter((r) => r.target === kcm).slice(-3);
      expect(seen.map((r) => [r.body, r.via, r.status])).toEqual([
        ["+3", "port-forward", 200],
        ["3", "port-forward", undefined], // reset: read, then the socket was destroyed
        ["3", "port-forward", undefined], // hang: never answered
      ]);
    } finally {
      await c.setBehaviour("kube-controller-manager/kube-system/kube-controller-manager-cp-1", { version: "v1.22.0", levelSyntax: undefined, mode: "normal" });
    }
  });

  it("kube-proxy: < 1.22 has no endpoint; with enableProfiling it answers over plain HTTP without auth", async () => {
    const id = "kube-proxy/kube-system/kube-proxy-aaaaa";
    const old = await httpThrough(await tunnelTo("kube-proxy-aaaaa", "10249"), false, "PUT", "/debug/flags/v", { body: "3" });
    expect([old.status, old.body]).toEqual([404, "404 page not found\n"]);
    await c.setBehaviour(id, { version: "v1.22.0" });
    const t = await tunnelTo("kube-proxy-aaaaa", "10249");
    const ok = await httpThrough(t, false, "PUT", "/debug/flags/v", { body: "7" });
    expect([ok.status, ok.type, ok.body]).toEqual([200, "text/plain", SUCCESS("7")]);
    expect(c.level(id)).toBe(7);
    expect(c.requests.filter((r) => r.target === id).at(-1)).toMatchObject({ via: "port-forward", authorization: "none" });
    const get = await httpThrough(await tunnelTo("kube-proxy-aaaaa", "10249"), false, "GET", "/debug/flags/v", {});
    expect([get.status, get.body]).toEqual([406, "unsupported http method\n"]);
    const idx = await httpThrough(await tunnelTo("kube-proxy-aaaaa", "10249"), false, "GET", "/debug/flags/", {});
    expect([idx.status, idx.body]).toEqual([200, INDEX_HTML]);
  });

});

describe("fake cluster with --anonymous-auth=false", () => {
  it("answers 401 without credentials and releases its ports on close", async () => {
    const c = await startFakeCluster({ anonymousAuth: false });
    const r = await api(c, "GET", "/version");
    expect([r.status, r.body]).toEqual([
      401,
      '{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"Unauthorized","reason":"Unauthorized","code":401}\n',
    ]);
    const port = Number(new URL(c.url).port);
    const kubeletPort = c.portOf("kubelet/cp-1");
    const dir = c.dir;
    await c.close();
    expect(fs.existsSync(dir)).toBe(false);
    for (const p of [port, kubeletPort]) {
      const err = await new Promise<string>((resolve) => {
        const s = net.connect({ host: "127.0.0.1", port: p });
        s.on("connect", () => {
          s.destroy();
          resolve("connected");
        });
        s.on("error", (e: NodeJS.ErrnoException) => resolve(e.code ?? "error"));
      });
      expect(err).toBe("ECONNREFUSED");
    }
  });
});

// ---------------------------------------------------------------------------
// Real clusters are big: object sizes, paging, fleets, nodes that are down, APF.
// ---------------------------------------------------------------------------

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const PAGE_EXPIRED =
  "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, " +
  "or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an " +
  "inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list.";

const decodeToken = (t: string): { v: string; rv: number; start: string } => JSON.parse(Buffer.from(t, "base64url").toString());
const encodeToken = (o: unknown): string => Buffer.from(JSON.stringify(o)).toString("base64url");

/** GET every page of a list with one undici agent; returns the pages' bodies parsed. */
async function allPages(c: FakeCluster, agent: Agent, path: string, limit: number, sizes?: number[]): Promise<Obj[]> {
  const pages: Obj[] = [];
  let cont = "";
  for (;;) {
    const sep = path.includes("?") ? "&" : "?";
    const res = await request(`${c.url}${path}${sep}limit=${limit}${cont ? `&continue=${encodeURIComponent(cont)}` : ""}`, {
      headers: { authorization: `Bearer ${c.tokenFor("kvlog")}` },
      dispatcher: agent,
    });
    const body = await res.body.text();
    if (res.statusCode !== 200) throw new Error(`${path}: ${res.statusCode} ${body}`);
    sizes?.push(body.length);
    const page = JSON.parse(body) as Obj;
    pages.push(page);
    cont = page.metadata.continue ?? "";
    if (!cont) return pages;
  }
}
const namesOf = (pages: Obj[]): string[] => pages.flatMap((p) => p.items.map((i: Obj) => i.metadata.name as string));

describe("real object sizes", () => {
  let c: FakeCluster;
  beforeAll(async () => {
    c = await startFakeCluster();
  });
  afterAll(async () => {
    await c.close();
  });

  it("a Node is 10-20 KB of JSON (50 images, managedFields, CNI/CSI/autoscaler annotations), a kube-proxy pod 7-12 KB", async () => {
    for (const name of ["cp-1", "worker-1"]) {
      const r = await api(c, "GET", `/api/v1/nodes/${name}`, { user: "kvlog" });
      expect(r.status).toBe(200);
      expect(r.body.length).toBeGreaterThanOrEqual(10 * 1024);
      expect(r.body.length).toBeLessThanOrEqual(20 * 1024);
      const n = JSON.parse(r.body) as Obj;
      const images = n.status.images as Array<{ names: string[]; sizeBytes: number }>;
      expect(images.length).toBeGreaterThan(30);
      expect(images.length).toBeLessThanOrEqual(50); // kubelet nodeStatusMaxImages
      expect(images[0]?.names[0]).toMatch(/^[a-z0-9.-]+(\/[a-z0-9._-]+)+@sha256:[0-9a-f]{64}$/);
      expect(images.some((i) => i.names.length === 2 && /:[^/@]+$/.test(i.names[1] ?? ""))).toBe(true);
      const bySize = images.map((i) => i.sizeBytes);
      expect(bySize).toEqual([...bySize].sort((a, b) => b - a)); // largest first
      expect(images.some((i) => i.names.includes("registry.k8s.io/kube-proxy:v1.34.1"))).toBe(true);
      expect(Object.keys(n.metadata.annotations)).toEqual(
        expect.arrayContaining([
          "csi.volume.kubernetes.io/nodeid",
          "flannel.alpha.coreos.com/public-ip",
          "node.alpha.kubernetes.io/ttl",
          "volumes.kubernetes.io/controller-managed-attach-detach",
          "cluster-autoscaler.kubernetes.io/scale-down-disabled",
        ]),
      );
      const managers = (n.metadata.managedFields as Obj[]).map((m) => `${m.manager}${m.subresource ? "/" + m.subresource : ""}`);
      expect(managers).toEqual(expect.arrayContaining(["kubeadm", "kubelet", "kubelet/status", "kube-controller-manager", "flanneld"]));
      expect(JSON.stringify(n.metadata.managedFields).length).toBeGreaterThan(2500);
      expect(n.status.conditions.map((x: Obj) => x.type)).toEqual(["NetworkUnavailable", "MemoryPressure", "DiskPressure", "PIDPressure", "Ready"]);
      expect(n.status.nodeInfo.kubeletVersion).toBe("v1.34.1");
    }
    // Deterministic per node name: another cluster reports the same images for worker-1.
    const other = await startFakeCluster();
    try {
      const a = JSON.parse((await api(c, "GET", "/api/v1/nodes/worker-1", { user: "kvlog" })).body).status.images;
      const b = JSON.parse((await api(other, "GET", "/api/v1/nodes/worker-1", { user: "kvlog" })).body).status.images;
      expect(b).toEqual(a);
      const cp = JSON.parse((await api(c, "GET", "/api/v1/nodes/cp-1", { user: "kvlog" })).body).status.images;
      expect(cp).not.toEqual(a);
    } finally {
      await other.close();
    }

    const pods = JSON.parse((await api(c, "GET", "/api/v1/namespaces/kube-system/pods", { user: "kvlog" })).body).items as Obj[];
    for (const p of pods) {
      const size = JSON.stringify(p).length;
      if ((p.metadata.name as string).startsWith("kube-proxy-")) {
        expect(size).toBeGreaterThanOrEqual(7 * 1024);
        expect(size).toBeLessThanOrEqual(12 * 1024);
        expect(p.metadata.ownerReferences[0]).toMatchObject({ kind: "DaemonSet", name: "kube-proxy", controller: true });
        expect(p.spec.volumes.map((v: Obj) => v.name)).toEqual(["kube-proxy", "xtables-lock", "lib-modules", expect.stringMatching(/^kube-api-access-[a-z0-9]{5}$/)]);
        expect(p.spec.containers[0].env).toEqual([{ name: "NODE_NAME", valueFrom: { fieldRef: { apiVersion: "v1", fieldPath: "spec.nodeName" } } }]);
        expect(p.spec.containers[0].securityContext).toEqual({ privileged: true });
        expect(p.spec.tolerations).toContainEqual({ operator: "Exists" });
        expect(p.spec.nodeSelector).toEqual({ "kubernetes.io/os": "linux" });
        expect(p.spec.priorityClassName).toBe("system-node-critical");
        expect(p.status.containerStatuses[0]).toMatchObject({ name: "kube-proxy", ready: true, started: true, image: "registry.k8s.io/kube-proxy:v1.34.1" });
      } else {
        // kubeadm static (mirror) pods and the CCM DaemonSet pod: realistic too
        expect(size).toBeGreaterThanOrEqual(5 * 1024);
      }
    }
    const sched = pods.find((p) => p.metadata.name === "kube-scheduler-cp-1") as Obj;
    expect(sched.metadata.annotations["kubernetes.io/config.source"]).toBe("file");
    expect(sched.spec.volumes).toEqual([{ name: "kubeconfig", hostPath: { path: "/etc/kubernetes/scheduler.conf", type: "FileOrCreate" } }]);
  });
});

describe("LIST paging (limit / continue), as the apiserver's watch cache cuts pages", () => {
  let c: FakeCluster;
  const agent = new Agent({ connect: { rejectUnauthorized: false } });
  agents.push(agent);
  beforeAll(async () => {
    // 1 control-plane node + 1,233 virtual workers, a kube-proxy pod on each.
    c = await startFakeCluster({ nodes: fleetNodes(1234) });
  });
  afterAll(async () => {
    await c.close();
  });

  it("pages nodes: complete, no duplicates, one resourceVersion, remainingItemCount, upstream's token", async () => {
    const pages = await allPages(c, agent, "/api/v1/nodes", 500);
    expect(pages).toHaveLength(3);
    const names = namesOf(pages);
    expect(names).toHaveLength(1234);
    expect(new Set(names).size).toBe(1234);
    expect(names).toEqual([...names].sort());
    expect(names[0]).toBe("cp-1");
    expect(names[1233]).toBe("node-01233");
    const rvs = new Set(pages.map((p) => p.metadata.resourceVersion));
    expect(rvs.size).toBe(1);
    const rv = Number([...rvs][0]);
    expect(pages.map((p) => p.metadata.remainingItemCount)).toEqual([734, 234, undefined]);
    expect(pages[2]?.metadata).toEqual({ resourceVersion: String(rv) });
    // storage.EncodeContinue: base64url (no padding) of {"v","rv","start": last key + "\0"}
    const token = pages[0]?.metadata.continue as string;
    expect(token).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(Buffer.from(token, "base64url").toString()).toBe(`{"v":"meta.k8s.io/v1","rv":${rv},"start":"node-00499\\u0000"}`);
    expect(Object.keys(pages[0]?.metadata ?? {})).toEqual(["resourceVersion", "continue", "remainingItemCount"]);

    // a limit above the total, limit=0, and resourceVersion=0 (served whole from the watch cache) give everything at once
    for (const q of ["limit=5000", "limit=0", "limit=10&resourceVersion=0"]) {
      const whole = JSON.parse((await api(c, "GET", `/api/v1/nodes?${q}`, { user: "kvlog" })).body);
      expect(whole.items).toHaveLength(1234);
      expect(whole.metadata.continue).toBeUndefined();
      expect(whole.metadata.remainingItemCount).toBeUndefined();
    }
  });

  it("pages with label and field selectors: matches only, no remainingItemCount", async () => {
    const everything = JSON.parse((await api(c, "GET", "/api/v1/nodes?labelSelector=topology.kubernetes.io%2Fzone%3Deu-west-1b", { user: "kvlog" })).body);
    const want = everything.items.map((n: Obj) => n.metadata.name);
    expect(want.length).toBeGreaterThan(300);
    const pages = await allPages(c, agent, "/api/v1/nodes?labelSelector=topology.kubernetes.io%2Fzone%3Deu-west-1b", 100);
    expect(pages.length).toBe(Math.ceil(want.length / 100) + (want.length % 100 === 0 ? 1 : 0));
    expect(namesOf(pages)).toEqual(want);
    expect(pages.every((p) => p.metadata.remainingItemCount === undefined)).toBe(true);
    expect(pages.every((p) => p.items.every((n: Obj) => n.metadata.labels["topology.kubernetes.io/zone"] === "eu-west-1b"))).toBe(true);

    // cacher.GetList: a full page of matches with keys left after it gets a token, even if nothing else matches.
    const one = JSON.parse((await api(c, "GET", "/api/v1/nodes?fieldSelector=metadata.name%3Dnode-00010&limit=1", { user: "kvlog" })).body);
    expect(one.items.map((n: Obj) => n.metadata.name)).toEqual(["node-00010"]);
    expect(decodeToken(one.metadata.continue).start).toBe("node-00010\u0000");
    const rest = JSON.parse((await api(c, "GET", `/api/v1/nodes?fieldSelector=metadata.name%3Dnode-00010&limit=1&continue=${one.metadata.continue}`, { user: "kvlog" })).body);
    expect(rest.items).toEqual([]);
    expect(rest.metadata.continue).toBeUndefined();

    // kube-proxy pods of every namespace, 500 a page: one per node
    const proxies = await allPages(c, agent, "/api/v1/pods?labelSelector=k8s-app%3Dkube-proxy", 500);
    expect(proxies).toHaveLength(3);
    const nodesOfProxies = proxies.flatMap((p) => p.items.map((i: Obj) => i.spec.nodeName));
    expect(nodesOfProxies).toHaveLength(1234);
    expect(new Set(nodesOfProxies).size).toBe(1234);
    expect(decodeToken(proxies[0]?.metadata.continue).start).toMatch(/^kube-system\/kube-proxy-[a-z0-9]{5}\u0000$/);
    // namespaced: the key is the name alone
    const ns = await allPages(c, agent, "/api/v1/namespaces/kube-system/pods", 400);
    expect(namesOf(ns)).toHaveLength(1238);
    expect(decodeToken(ns[0]?.metadata.continue).start).toMatch(/^[a-z-]+-[a-z0-9]+\u0000$/);
    expect(ns.map((p) => p.metadata.remainingItemCount)).toEqual([838, 438, 38, undefined]);
    // spec.nodeName is served from the watch cache's index: the page holds that node's pods only, no token
    const onNode = JSON.parse((await api(c, "GET", "/api/v1/pods?fieldSelector=spec.nodeName%3Dnode-00007&limit=1", { user: "kvlog" })).body);
    expect(onNode.items.map((p: Obj) => p.spec.nodeName)).toEqual(["node-00007"]);
    expect(onNode.metadata.continue).toBeUndefined();
    const cpPods = await allPages(c, agent, "/api/v1/namespaces/kube-system/pods?fieldSelector=spec.nodeName%3Dcp-1", 2);
    expect(namesOf(cpPods).sort()).toEqual(
      ["cloud-controller-manager-x2v8q", "kube-apiserver-cp-1", "kube-controller-manager-cp-1", "kube-proxy-aaaaa", "kube-scheduler-cp-1"].sort(),
    );
  });

  it("rejects a bad continue token with upstream's 400", async () => {
    const cases: Array<[string, string]> = [
      ["not*valid", "invalid continue token: continue key is not valid: illegal base64 data at input byte 3"],
      ["abcde", "invalid continue token: continue key is not valid: illegal base64 data at input byte 4"],
      [encodeToken({ v: "meta.k8s.io/v2", rv: 5, start: "a" }), "invalid continue token: continue key is not valid: server does not recognize this encoded version meta.k8s.io/v2"],
      [encodeToken({ v: "meta.k8s.io/v1", rv: 0, start: "a" }), "invalid continue token: continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)"],
      [encodeToken({ v: "meta.k8s.io/v1", rv: 5, start: "" }), "invalid continue token: continue key is not valid: encoded start key empty (version meta.k8s.io/v1)"],
      [encodeToken({ v: "meta.k8s.io/v1", rv: 5, start: "../secrets/x" }), "invalid continue token: continue key is not valid: ../secrets/x"],
      // Not JSON of the token's shape: one text of the fake's own (kvlog only sends tokens back as given).
      [encodeToken({ v: "meta.k8s.io/v1", rv: "5", start: "a" }), 'invalid continue token: continue key is not valid: not a continue token (fake: JSON {"v","rv","start"} expected)'],
      [Buffer.from("{not json").toString("base64url"), 'invalid continue token: continue key is not valid: not a continue token (fake: JSON {"v","rv","start"} expected)'],
    ];
    for (const [token, message] of cases) {
      const r = await api(c, "GET", `/api/v1/nodes?limit=10&continue=${encodeURIComponent(token)}`, { user: "kvlog" });
      expect([r.status, r.body]).toEqual([400, statusJSON(400, "BadRequest", message)]);
    }
    const page = JSON.parse((await api(c, "GET", "/api/v1/nodes?limit=10", { user: "kvlog" })).body);
    const withRv = await api(c, "GET", `/api/v1/nodes?limit=10&resourceVersion=5&continue=${page.metadata.continue}`, { user: "kvlog" });
    expect(withRv.body).toBe(statusJSON(400, "BadRequest", "specifying resource version is not allowed when using continue"));
  });

  it("answers 410 Expired after compact(), with a token that continues inconsistently", async () => {
    const page1 = JSON.parse((await api(c, "GET", "/api/v1/nodes?limit=500", { user: "kvlog" })).body);
    const token = page1.metadata.continue as string;
    c.compact();
    const r = await api(c, "GET", `/api/v1/nodes?limit=500&continue=${token}`, { user: "kvlog" });
    expect(r.status).toBe(410);
    expect(r.type).toBe("application/json");
    const st = JSON.parse(r.body);
    // etcd3 handleCompactedErrorForPaging: the same start key at rv -1 (the latest revision)
    const again = encodeToken({ v: "meta.k8s.io/v1", rv: -1, start: "node-00499\u0000" });
    expect(st.metadata.continue).toBe(again);
    expect(r.body).toBe(
      JSON.stringify({ kind: "Status", apiVersion: "v1", metadata: { continue: again }, status: "Failure", message: PAGE_EXPIRED, reason: "Expired", code: 410 }) + "\n",
    );
    // The inconsistent continuation works, at the latest resourceVersion, and pages on from there.
    const cont = JSON.parse((await api(c, "GET", `/api/v1/nodes?limit=500&continue=${again}`, { user: "kvlog" })).body);
    expect(cont.items[0].metadata.name).toBe("node-00500");
    expect(Number(cont.metadata.resourceVersion)).toBeGreaterThan(Number(page1.metadata.resourceVersion));
    const last = JSON.parse((await api(c, "GET", `/api/v1/nodes?limit=500&continue=${cont.metadata.continue}`, { user: "kvlog" })).body);
    expect(last.items).toHaveLength(234);
    // A list started after the compaction pages normally.
    expect(namesOf(await allPages(c, agent, "/api/v1/nodes", 500))).toHaveLength(1234);
  });

  it("expireContinue: N answers 410 to the first N continued lists only", async () => {
    const c2 = await startFakeCluster({ nodes: fleetNodes(30), expireContinue: 2 });
    try {
      const page = JSON.parse((await api(c2, "GET", "/api/v1/pods?limit=10", { user: "kvlog" })).body);
      expect(page.metadata.remainingItemCount).toBe(24); // 30 kube-proxy + 4 control-plane pods
      for (let i = 0; i < 2; i++) {
        const r = await api(c2, "GET", `/api/v1/pods?limit=10&continue=${page.metadata.continue}`, { user: "kvlog" });
        expect(r.status).toBe(410);
        expect(JSON.parse(r.body)).toMatchObject({ reason: "Expired", message: PAGE_EXPIRED, code: 410 });
        expect(decodeToken(JSON.parse(r.body).metadata.continue)).toEqual({ ...decodeToken(page.metadata.continue), rv: -1 });
      }
      const ok = await api(c2, "GET", `/api/v1/pods?limit=10&continue=${page.metadata.continue}`, { user: "kvlog" });
      expect(ok.status).toBe(200);
      expect(JSON.parse(ok.body).metadata.resourceVersion).toBe(page.metadata.resourceVersion);
    } finally {
      await c2.close();
    }
  });
});

describe("a 5,000-node fleet (virtual nodes served in process)", () => {
  let c: FakeCluster;
  let startMs = 0;
  const agent = new Agent({ connect: { rejectUnauthorized: false } });
  agents.push(agent);
  beforeAll(async () => {
    const t0 = performance.now();
    c = await startFakeCluster({
      nodes: fleetNodes(5000),
      defaultBehaviour: { kubelet: { delayMs: 20 }, "kube-proxy": { profiling: true } },
      behaviour: { "kubelet/node-00003": { delayMs: 1500 } },
    });
    startMs = performance.now() - t0;
  });
  afterAll(async () => {
    await c.close();
  });

  it("starts in well under 3 s with 5,000 nodes and a kube-proxy pod on each", async () => {
    expect(startMs).toBeLessThan(3000);
    expect(c.targets().filter((t) => t.startsWith("kubelet/"))).toHaveLength(5000);
    expect(c.targets().filter((t) => t.startsWith("kube-proxy/"))).toHaveLength(5000);
    expect(() => c.portOf("kubelet/node-00001")).toThrow(/virtual/);
    expect(c.portOf("kubelet/cp-1")).toBeGreaterThan(0); // control-plane nodes stay real
    const n = JSON.parse((await api(c, "GET", "/api/v1/nodes/node-04999", { user: "kvlog" })).body);
    expect(n.status.daemonEndpoints.kubeletEndpoint.Port).toBe(10250);
    expect(defaultPods(fleetNodes(5000)).filter((p) => p.component === "kube-proxy")).toHaveLength(5000);
  });

  it("serves 5,000 node-proxy PUTs, each kubelet waiting delayMs, and records 10,000 requests", async () => {
    const token = c.tokenFor("kvlog");
    const dispatcher = new Agent({ connect: { ca: c.caPem }, connections: 32 });
    agents.push(dispatcher);
    const names = fleetNodes(5000).map((n) => n.name);
    const before = c.requests.length;
    c.resetStats();
    const open = c.stats().connections; // keep-alive connections of earlier tests
    let next = 0;
    const failures: string[] = [];
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: 32 }, async () => {
        while (next < names.length) {
          const name = names[next++] as string;
          const r = await request(`${c.url}/api/v1/nodes/${name}/proxy/debug/flags/v`, { method: "PUT", body: "4", headers: { authorization: `Bearer ${token}` }, dispatcher });
          const body = await r.body.text();
          if (r.statusCode !== 200 || body !== SUCCESS("4")) failures.push(`${name}: ${r.statusCode} ${body}`);
        }
      }),
    );
    const ms = performance.now() - t0;
    expect(failures).toEqual([]);
    // 5,000 × 20 ms ÷ 32 in flight = 3.1 s of answers at least
    expect(ms).toBeGreaterThan(3000);
    expect(names.every((n) => c.level(`kubelet/${n}`) === 4)).toBe(true);
    const recorded = c.requests.slice(before);
    expect(recorded).toHaveLength(10_000);
    expect(recorded.filter((r) => r.target === "kubelet/node-02500")).toEqual([
      expect.objectContaining({ method: "PUT", path: "/debug/flags/v", body: "4", via: "node-proxy", authorization: "cert", user: "kube-apiserver-kubelet-client", status: 200 }),
    ]);
    const st = c.stats();
    expect(st.requests).toBe(5000);
    expect(st.peakConnections).toBeLessThanOrEqual(32 + open);
    expect(st.peakConnections).toBeGreaterThan(0);
    process.stderr.write(`fake fleet: started in ${Math.round(startMs)} ms; 5,000 node-proxy PUTs (20 ms each, 32 in flight) in ${Math.round(ms)} ms\n`);
  });

  it("delayMs: a per-target delay overrides the kind's default", async () => {
    // Both at once: the one with the kind's default (20 ms) answers first, the one with its own
    // delay (1.5 s) after it. Lower bounds and order only: an upper bound flakes on a busy machine.
    const order: string[] = [];
    const t0 = performance.now();
    const timed = async (name: string, p: Promise<{ status: number; body: string }>) => {
      const r = await p;
      order.push(name);
      return { ...r, ms: performance.now() - t0 };
    };
    const [slow, fast] = await Promise.all([
      timed("slow", api(c, "PUT", "/api/v1/nodes/node-00003/proxy/debug/flags/v", { user: "kvlog", body: "2" })),
      timed("fast", api(c, "GET", "/api/v1/nodes/node-00004/proxy/debug/flags/v", { user: "kvlog" })),
    ]);
    expect(slow.body).toBe(SUCCESS("2"));
    expect([fast.status, fast.body]).toEqual([406, "unsupported http method\n"]);
    expect(order).toEqual(["fast", "slow"]);
    expect(slow.ms).toBeGreaterThanOrEqual(1495);
    expect(fast.ms).toBeGreaterThanOrEqual(18);
  });

  it("port-forwards to virtual kube-proxy pods (plain HTTP) and to a virtual kubelet's 10250 (TLS) in process", async () => {
    const pods = JSON.parse((await api(c, "GET", "/api/v1/pods?fieldSelector=spec.nodeName%3Dnode-04321", { user: "kvlog" })).body).items;
    expect(pods).toHaveLength(1);
    const podName = pods[0].metadata.name as string;
    const kp = `kube-proxy/kube-system/${podName}`;
    for (const level of ["5", "6"]) {
      const r = await portForward(c, "kube-system", podName, "10249", { token: c.tokenFor("kvlog") });
      if (!r.ok) throw new Error(`port-forward refused: ${r.status} ${r.body}`);
      const reply = await httpThrough(r.tunnel, false, "PUT", "/debug/flags/v", { body: level });
      expect([reply.status, reply.type, reply.body]).toEqual([200, "text/plain", SUCCESS(level)]);
      expect(await r.tunnel.closed).toBe(1000);
    }
    expect(c.level(kp)).toBe(6);
    expect(c.requests.filter((x) => x.target === kp).at(-1)).toMatchObject({ via: "port-forward", authorization: "none", status: 200 });
    // the kubelet's host port, through the same hostNetwork pod: TLS and the kubelet's own auth filter
    const k = await portForward(c, "kube-system", podName, "10250", { token: c.tokenFor("kvlog") });
    if (!k.ok) throw new Error("refused");
    const put = await httpThrough(k.tunnel, true, "PUT", "/debug/flags/v", { token: c.tokenFor("kvlog"), body: "7" });
    expect([put.status, put.body]).toEqual([200, SUCCESS("7")]);
    expect(c.level("kubelet/node-04321")).toBe(7);
    const k2 = await portForward(c, "kube-system", podName, "10250", { token: c.tokenFor("kvlog") });
    if (!k2.ok) throw new Error("refused");
    const anon = await httpThrough(k2.tunnel, true, "PUT", "/debug/flags/v", { body: "7" });
    expect([anon.status, anon.body]).toEqual([401, "Unauthorized"]);
    const k3 = await portForward(c, "kube-system", podName, "10250", { token: c.tokenFor("kvlog") });
    if (!k3.ok) throw new Error("refused");
    const cert = await httpThrough(k3.tunnel, true, "PUT", "/debug/flags/v", { cert: c.clientCertFor("admin"), body: "1" });
    expect([cert.status, cert.body]).toEqual([200, SUCCESS("1")]);
    expect(c.requests.filter((x) => x.target === "kubelet/node-04321").at(-1)).toMatchObject({ via: "port-forward", authorization: "cert", user: "admin" });
  });

  it("lists the 5,000 real-size nodes page by page (about 80 MB)", async () => {
    const sizes: number[] = [];
    const pages = await allPages(c, agent, "/api/v1/nodes", 500, sizes);
    expect(pages).toHaveLength(10);
    const names = namesOf(pages);
    expect(new Set(names).size).toBe(5000);
    const bytes = sizes.reduce((n, x) => n + x, 0);
    expect(bytes).toBeGreaterThan(50 * 1024 * 1024);
    expect(bytes).toBeLessThan(100 * 1024 * 1024);
  });
});

describe("nodes that are down (readyCondition)", () => {
  let c: FakeCluster;
  const nodes = [
    { name: "cp-1", controlPlane: true },
    { name: "up" },
    { name: "notready", readyCondition: "False" as const },
    { name: "gone", readyCondition: "Unknown" as const },
    { name: "legacy-gone", ready: false },
    { name: "never", readyCondition: "absent" as const },
    { name: "gone-virtual", readyCondition: "Unknown" as const, virtual: true },
  ];
  beforeAll(async () => {
    c = await startFakeCluster({ nodes, kubeletDialTimeoutMs: 300 });
  });
  afterAll(async () => {
    await c.close();
  });
  const node = async (name: string): Promise<Obj> => JSON.parse((await api(c, "GET", `/api/v1/nodes/${name}`, { user: "kvlog" })).body);
  const proxyPod = async (nodeName: string): Promise<Obj> =>
    JSON.parse((await api(c, "GET", `/api/v1/pods?labelSelector=k8s-app%3Dkube-proxy&fieldSelector=spec.nodeName%3D${nodeName}`, { user: "kvlog" })).body).items[0];
  const cond = (o: Obj, type: string): Obj | undefined => (o.status.conditions as Obj[] | undefined)?.find((x) => x.type === type);

  it("False: KubeletNotReady, not-ready taints, and the kubelet still answers", async () => {
    const n = await node("notready");
    expect(cond(n, "Ready")).toMatchObject({
      status: "False",
      reason: "KubeletNotReady",
      message: expect.stringContaining("container runtime network not ready: NetworkReady=false reason:NetworkPluginNotReady"),
    });
    expect(n.spec.taints).toEqual([
      { key: "node.kubernetes.io/not-ready", effect: "NoSchedule", timeAdded: expect.any(String) },
      { key: "node.kubernetes.io/not-ready", effect: "NoExecute", timeAdded: expect.any(String) },
    ]);
    const r = await api(c, "PUT", "/api/v1/nodes/notready/proxy/debug/flags/v", { user: "kvlog", body: "3" });
    expect(r.body).toBe(SUCCESS("3"));
    expect(cond(await proxyPod("notready"), "Ready")?.status).toBe("True");
  });

  it("Unknown: every kubelet condition Unknown, unreachable taints, pods marked Ready=False", async () => {
    for (const name of ["gone", "legacy-gone", "gone-virtual"]) {
      const n = await node(name);
      for (const t of ["MemoryPressure", "DiskPressure", "PIDPressure", "Ready"]) {
        expect(cond(n, t)).toMatchObject({ status: "Unknown", reason: "NodeStatusUnknown", message: "Kubelet stopped posting node status." });
      }
      expect(Date.parse(cond(n, "Ready")?.lastHeartbeatTime)).toBeLessThan(Date.parse(cond(n, "Ready")?.lastTransitionTime));
      expect(n.spec.taints.map((t: Obj) => `${t.key}:${t.effect}`)).toEqual(["node.kubernetes.io/unreachable:NoSchedule", "node.kubernetes.io/unreachable:NoExecute"]);
      const p = await proxyPod(name);
      expect(cond(p, "Ready")?.status).toBe("False"); // MarkPodsNotReady
      expect(cond(p, "ContainersReady")?.status).toBe("True");
      expect(p.status.phase).toBe("Running");
    }
    expect(cond(await proxyPod("up"), "Ready")?.status).toBe("True");
  });

  it("absent: registered, no conditions, no images", async () => {
    const n = await node("never");
    expect(n.status.conditions).toBeUndefined();
    expect(n.status.images).toBeUndefined();
    expect(n.status.nodeInfo.kubeletVersion).toBe("v1.34.1");
  });

  it("the node proxy to a kubelet that is gone waits for the dial timeout, then 503 i/o timeout", async () => {
    for (const [name, port] of [
      ["gone", c.portOf("kubelet/gone")],
      ["legacy-gone", c.portOf("kubelet/legacy-gone")],
      ["never", c.portOf("kubelet/never")],
      ["gone-virtual", 10250],
    ] as const) {
      const t0 = performance.now();
      const r = await api(c, "PUT", `/api/v1/nodes/${name}/proxy/debug/flags/v`, { user: "kvlog", body: "3" });
      expect(performance.now() - t0).toBeGreaterThanOrEqual(280);
      expect([r.status, r.body]).toEqual([503, statusJSON(503, "ServiceUnavailable", `error trying to reach service: dial tcp 127.0.0.1:${port}: i/o timeout`)]);
    }
    expect(c.requests.some((r) => r.target === "kubelet/gone")).toBe(false); // nothing reached it
    // a port-forward to a pod on it fails the same way: the apiserver cannot dial the kubelet
    const pod = (await proxyPod("gone")).metadata.name;
    const t0 = performance.now();
    const pf = await portForward(c, "kube-system", pod, "10249", { token: c.tokenFor("kvlog") });
    expect(performance.now() - t0).toBeGreaterThanOrEqual(280);
    expect(pf).toEqual({
      ok: false,
      status: 500,
      type: "application/json",
      body: JSON.stringify({
        kind: "Status",
        apiVersion: "v1",
        metadata: {},
        status: "Failure",
        message: `error dialing backend: dial tcp 127.0.0.1:${c.portOf("kubelet/gone")}: i/o timeout`,
        code: 500,
      }) + "\n",
    });
    // an explicit behaviour wins over the node's state
    await c.setBehaviour("kubelet/gone", { mode: "normal" });
    expect((await api(c, "PUT", "/api/v1/nodes/gone/proxy/debug/flags/v", { user: "kvlog", body: "3" })).body).toBe(SUCCESS("3"));
  });
});

describe("API Priority and Fairness: throttle() and the APF headers", () => {
  let c: FakeCluster;
  beforeAll(async () => {
    c = await startFakeCluster({ users: [{ name: "system:serviceaccount:ops:bot", rules: KVLOG_RULES }] });
  });
  afterAll(async () => {
    await c.close();
  });
  const UID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

  it("answers 429 like tooManyRequests(): plain text, Retry-After, the FlowSchema / PriorityLevel uids", async () => {
    const mark = c.requests.length; // this test's requests only (the tests share the cluster, in any order)
    c.throttle(2, { retryAfterSeconds: 3, match: (p) => p.startsWith("/api/v1/nodes") });
    const bad = await api(c, "GET", "/api/v1/nodes", { token: "wrong" }); // authentication comes first
    expect(bad.status).toBe(401);
    const other = await api(c, "GET", "/api/v1/namespaces/kube-system/pods", { user: "kvlog" }); // not matched
    expect(other.status).toBe(200);
    for (let i = 0; i < 2; i++) {
      const r = await api(c, "GET", "/api/v1/nodes?limit=500", { user: "kvlog" });
      expect([r.status, r.type, r.body]).toEqual([429, "text/plain; charset=utf-8", "Too many requests, please try again later.\n"]);
      expect(r.headers["retry-after"]).toBe("3");
      expect(r.headers["x-content-type-options"]).toBe("nosniff");
      expect(r.headers["x-kubernetes-pf-flowschema-uid"]).toMatch(UID);
      expect(r.headers["x-kubernetes-pf-prioritylevel-uid"]).toMatch(UID);
      expect(r.headers["audit-id"]).toMatch(UID);
    }
    const after = await api(c, "GET", "/api/v1/nodes", { user: "kvlog" });
    expect(after.status).toBe(200);
    // every APF-handled answer carries the classification, not only 429s
    expect(after.headers["x-kubernetes-pf-flowschema-uid"]).toMatch(UID);
    expect(c.requests.slice(mark).filter((r) => r.path === "/api/v1/nodes").map((r) => r.status)).toEqual([401, 429, 429, 200]);
  });

  it("defaults to Retry-After: 1; exempts system:masters, probes and long-running requests (node proxy, port-forward)", async () => {
    c.throttle(1);
    const admin = await api(c, "GET", "/api/v1/nodes", { user: "admin", cert: true });
    expect(admin.status).toBe(200);
    const adminFS = admin.headers["x-kubernetes-pf-flowschema-uid"];
    const healthz = await api(c, "GET", "/healthz", { user: "kvlog" });
    expect(healthz.status).toBe(200);
    const proxied = await api(c, "PUT", "/api/v1/nodes/worker-1/proxy/debug/flags/v", { user: "kvlog", body: "2" });
    expect(proxied.body).toBe(SUCCESS("2"));
    expect(proxied.headers["x-kubernetes-pf-flowschema-uid"]).toBeUndefined(); // long-running: APF never saw it
    const pf = await portForward(c, "kube-system", "kube-proxy-aaaaa", "10249", { token: c.tokenFor("kvlog") });
    expect(pf.ok).toBe(true);
    if (pf.ok) pf.tunnel.ws.close();
    const flags = await api(c, "PUT", "/debug/flags/v", { user: "kvlog", body: "2" });
    expect([flags.status, flags.headers["retry-after"], flags.body]).toEqual([429, "1", "Too many requests, please try again later.\n"]);
    expect(flags.headers["x-kubernetes-pf-flowschema-uid"]).not.toBe(adminFS); // global-default, not exempt
    const sa = await api(c, "GET", "/api/v1/nodes", { token: c.tokenFor("system:serviceaccount:ops:bot") });
    expect(sa.headers["x-kubernetes-pf-prioritylevel-uid"]).not.toBe(flags.headers["x-kubernetes-pf-prioritylevel-uid"]); // workload-low
    c.throttle(1, { includeExempt: true });
    const forced = await api(c, "GET", "/api/v1/nodes", { user: "admin", cert: true });
    expect(forced.status).toBe(429);
  });
});

describe("stats() and the request record", () => {
  it("counts client connections (not the fake's own) and requests; keeps at most maxRecordedRequests", async () => {
    const c = await startFakeCluster({ maxRecordedRequests: 100 });
    const dispatcher = new Agent({ connect: { ca: c.caPem }, connections: 3 });
    try {
      expect(c.stats()).toEqual({ connections: 0, peakConnections: 0, requests: 0 });
      const token = c.tokenFor("kvlog");
      await Promise.all(
        Array.from({ length: 12 }, async () => {
          const r = await request(`${c.url}/api/v1/nodes`, { headers: { authorization: `Bearer ${token}` }, dispatcher });
          await r.body.text();
        }),
      );
      const s1 = c.stats();
      expect(s1.requests).toBe(12);
      expect(s1.peakConnections).toBeGreaterThanOrEqual(1);
      expect(s1.peakConnections).toBeLessThanOrEqual(3);
      expect(s1.connections).toBe(s1.peakConnections); // keep-alive: still open
      // A port-forward to the apiserver pod: the WebSocket is one client connection; the
      // tunnel's own connection to the apiserver is internal and not counted.
      const pf = await portForward(c, "kube-system", "kube-apiserver-cp-1", "6443", { token });
      if (!pf.ok) throw new Error("refused");
      const v = await httpThrough(pf.tunnel, true, "GET", "/version", {});
      expect(v.status).toBe(200);
      const s2 = c.stats();
      expect(s2.connections).toBe(s1.connections + 1);
      expect(s2.requests).toBe(14); // the upgrade and the tunnelled GET
      await pf.tunnel.closed;
      await dispatcher.close();
      for (let i = 0; i < 50 && c.stats().connections > 0; i++) await new Promise((r) => setTimeout(r, 20));
      expect(c.stats().connections).toBe(0);
      expect(c.stats().peakConnections).toBe(s2.connections);
      c.resetStats();
      expect(c.stats()).toEqual({ connections: 0, peakConnections: 0, requests: 0 });
      // the record keeps the newest maxRecordedRequests (trimmed in batches)
      for (let i = 0; i < 150; i++) await api(c, "GET", `/version?i=${i}`);
      expect(c.requests.length).toBeLessThanOrEqual(110);
      expect(c.requests.length).toBeGreaterThanOrEqual(100);
      expect(c.requests.at(-1)?.query).toBe("?i=149");
    } finally {
      await dispatcher.close().catch(() => undefined);
      await c.close();
    }
  });
});

describe("a virtual node answers like a real one", () => {
  it("node proxy and port-forward give the same answers in every mode", async () => {
    const c = await startFakeCluster({
      nodes: [{ name: "cp-1", controlPlane: true }, { name: "real" }, { name: "virt", virtual: true }],
      defaultBehaviour: { "kube-proxy": { profiling: true } },
    });
    try {
      const port = (name: string): string => (name === "real" ? String(c.portOf("kubelet/real")) : "10250");
      const outcome = async (name: string, body = "3"): Promise<string> => {
        const r = await api(c, "PUT", `/api/v1/nodes/${name}/proxy/debug/flags/v`, { user: "kvlog", body, signal: AbortSignal.timeout(400) }).catch(() => undefined);
        return r ? `${r.status} ${r.type} ${r.body.replaceAll(port(name), "PORT")}` : "no answer";
      };
      const both = async (): Promise<[string, string]> => [await outcome("real"), await outcome("virt")];
      const cases: Array<[Record<string, unknown>, string]> = [
        [{}, `200 text/plain ${SUCCESS("3")}`],
        [{ debugFlagsHandler: false }, "405 text/plain; charset=utf-8 flags endpoint is disabled.\n"],
        [{ debugFlagsHandler: true, debuggingHandlers: false }, "404 text/plain; charset=utf-8 404 page not found\n"],
        [{ debuggingHandlers: true, version: "v1.26.0" }, `200 text/plain ${SUCCESS("3")}`],
        [{ mode: "reset" }, `503 application/json ${statusJSON(503, "ServiceUnavailable", "error trying to reach service: EOF")}`],
        [{ mode: "refuse" }, `503 application/json ${statusJSON(503, "ServiceUnavailable", "error trying to reach service: dial tcp 127.0.0.1:PORT: connect: connection refused")}`],
        [{ mode: "hang" }, "no answer"],
      ];
      for (const [patch, want] of cases) {
        await c.setBehaviour("kubelet/real", patch);
        await c.setBehaviour("kubelet/virt", patch);
        expect(await both()).toEqual([want, want]);
      }
      const pre127 = await api(c, "GET", "/api/v1/nodes/virt", { user: "kvlog" });
      expect(JSON.parse(pre127.body).status.nodeInfo.kubeletVersion).toBe("v1.26.0");
      await c.setBehaviour("kubelet/real", { mode: "normal" });
      await c.setBehaviour("kubelet/virt", { mode: "normal" });
      // kube-proxy through a port-forward, then the pods' error channel when nothing listens
      // kube-proxy-bbbbb is on the real node, kube-proxy-ccccc on the virtual one
      for (const pod of ["kube-proxy-bbbbb", "kube-proxy-ccccc"]) {
        const r = await portForward(c, "kube-system", pod, "10249", { token: c.tokenFor("kvlog") });
        if (!r.ok) throw new Error("refused");
        expect((await httpThrough(r.tunnel, false, "PUT", "/debug/flags/v", { body: "8" })).body).toBe(SUCCESS("8"));
        expect(c.level(`kube-proxy/kube-system/${pod}`)).toBe(8);
        expect(c.requests.filter((x) => x.target === `kube-proxy/kube-system/${pod}`).at(-1)?.via).toBe("port-forward");
        await c.setBehaviour(`kube-proxy/kube-system/${pod}`, { mode: "refuse" });
        const refused = await portForward(c, "kube-system", pod, "10249", { token: c.tokenFor("kvlog") });
        if (!refused.ok) throw new Error("refused");
        expect(await refused.tunnel.closed).toBe(1000);
        expect(refused.tunnel.frames.at(-1)?.data.toString()).toContain("failed to connect to localhost:10249 inside namespace");
      }
    } finally {
      await c.close();
    }
  });
});

describe("several kube-apiserver replicas and the default/kubernetes Endpoints", () => {
  let c: FakeCluster;
  let P: number;
  const EP_READER = "ep-reader";
  const DEPRECATED = '299 - "v1 Endpoints is deprecated in v1.33+; use discovery.k8s.io/v1 EndpointSlice"';
  beforeAll(async () => {
    c = await startFakeCluster({
      apiserverReplicas: 3,
      unreachableApiserverReplicas: 1,
      users: [
        {
          name: EP_READER,
          rules: [
            { apiGroups: [""], resources: ["endpoints"], verbs: ["get"], resourceNames: ["kubernetes"] },
            { nonResourceURLs: ["/debug/flags/v"], verbs: ["put"] },
          ],
        },
      ],
    });
    P = c.portOf("kube-apiserver");
  });
  afterAll(async () => {
    await c.close();
  });

  /** A request to one replica's own address, verifying its certificate against caPem (IP SAN). */
  async function at(ip: string, method: string, path: string, o: { user?: string; body?: string } = {}): Promise<Reply> {
    const headers: Record<string, string> = {};
    if (o.user) headers.authorization = `Bearer ${c.tokenFor(o.user)}`;
    const res = await request(`https://${ip}:${P}${path}`, { method: method as "GET", headers, body: o.body, dispatcher: agentFor(c) });
    const body = await res.body.text();
    return { status: res.statusCode, type: res.headers["content-type"] as string | undefined, body, headers: res.headers };
  }
  const refused = (ip: string): Promise<string> =>
    new Promise((resolve) => {
      const s = net.connect({ host: ip, port: P });
      s.on("connect", () => {
        s.destroy();
        resolve("connected");
      });
      s.on("error", (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
    });

  it("starts 3 replicas on 127.0.0.1-3 with one port; 127.0.0.4 (unreachable) refuses connections", async () => {
    expect(c.url).toBe(`https://127.0.0.1:${P}`);
    expect(c.apiserverReplicas).toEqual([
      { id: `kube-apiserver/127.0.0.1:${P}`, ip: "127.0.0.1", port: P, reachable: true },
      { id: `kube-apiserver/127.0.0.2:${P}`, ip: "127.0.0.2", port: P, reachable: true },
      { id: `kube-apiserver/127.0.0.3:${P}`, ip: "127.0.0.3", port: P, reachable: true },
      { id: `kube-apiserver/127.0.0.4:${P}`, ip: "127.0.0.4", port: P, reachable: false },
    ]);
    const ids = c.targets().filter((t) => t.startsWith("kube-apiserver"));
    expect(ids).toEqual(["kube-apiserver", `kube-apiserver/127.0.0.2:${P}`, `kube-apiserver/127.0.0.3:${P}`]);
    for (const ip of ["127.0.0.1", "127.0.0.2", "127.0.0.3"]) {
      expect(c.portOf(`kube-apiserver/${ip}:${P}`)).toBe(P);
      const v = await at(ip, "GET", "/version");
      expect([v.status, JSON.parse(v.body).gitVersion]).toEqual([200, "v1.34.1"]);
      // The same API on every replica: same objects, same users.
      const nodes = await at(ip, "GET", "/api/v1/nodes", { user: "kvlog" });
      expect(JSON.parse(nodes.body).items.map((n: { metadata: { name: string } }) => n.metadata.name)).toEqual(["cp-1", "worker-1"]);
      const apis = await at(ip, "GET", "/api", { user: "kvlog" });
      expect(JSON.parse(apis.body).serverAddressByClientCIDRs).toEqual([{ clientCIDR: "0.0.0.0/0", serverAddress: `${ip}:${P}` }]);
    }
    expect(await refused("127.0.0.4")).toBe("ECONNREFUSED");
    await expect(at("127.0.0.4", "GET", "/version")).rejects.toMatchObject({ code: "ECONNREFUSED" });
  });

  it("serves default/kubernetes exactly as the lease endpoint reconciler writes it (GET and LIST, every replica)", async () => {
    const r = await api(c, "GET", "/api/v1/namespaces/default/endpoints/kubernetes", { user: "admin", cert: true });
    expect([r.status, r.type]).toEqual([200, "application/json"]);
    expect(r.headers.warning).toBe(DEPRECATED);
    const ep = JSON.parse(r.body);
    expect(Object.keys(ep)).toEqual(["kind", "apiVersion", "metadata", "subsets"]);
    expect(Object.keys(ep.metadata)).toEqual(["name", "namespace", "uid", "resourceVersion", "creationTimestamp", "labels", "managedFields"]);
    expect(ep.metadata.uid).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    expect(ep.metadata.resourceVersion).toMatch(/^\d+$/);
    expect(ep.metadata.creationTimestamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(ep).toEqual({
      kind: "Endpoints",
      apiVersion: "v1",
      metadata: {
        name: "kubernetes",
        namespace: "default",
        uid: ep.metadata.uid,
        resourceVersion: ep.metadata.resourceVersion,
        creationTimestamp: ep.metadata.creationTimestamp,
        labels: { "endpointslice.kubernetes.io/skip-mirror": "true" },
        managedFields: [
          {
            manager: "kube-apiserver",
            operation: "Update",
            apiVersion: "v1",
            time: ep.metadata.managedFields[0].time,
            fieldsType: "FieldsV1",
            fieldsV1: { "f:metadata": { "f:labels": { ".": {}, "f:endpointslice.kubernetes.io/skip-mirror": {} } }, "f:subsets": {} },
          },
        ],
      },
      subsets: [
        {
          addresses: [{ ip: "127.0.0.1" }, { ip: "127.0.0.2" }, { ip: "127.0.0.3" }, { ip: "127.0.0.4" }],
          ports: [{ name: "https", port: P, protocol: "TCP" }],
        },
      ],
    });
    expect(r.body).toContain(`"subsets":[{"addresses":[{"ip":"127.0.0.1"},{"ip":"127.0.0.2"},{"ip":"127.0.0.3"},{"ip":"127.0.0.4"}],"ports":[{"name":"https","port":${P},"protocol":"TCP"}]}]}\n`);
    // Every replica answers the same object.
    for (const ip of ["127.0.0.2", "127.0.0.3"]) expect((await at(ip, "GET", "/api/v1/namespaces/default/endpoints/kubernetes", { user: "admin" })).body).toBe(r.body);

    const list = await api(c, "GET", "/api/v1/namespaces/default/endpoints", { user: "admin" });
    expect(list.headers.warning).toBe(DEPRECATED);
    const el = JSON.parse(list.body);
    expect(el.kind).toBe("EndpointsList");
    expect(el.metadata).toEqual({ resourceVersion: ep.metadata.resourceVersion });
    const { kind: _k, apiVersion: _a, ...inList } = ep;
    expect(el.items).toEqual([inList]);
    const names = async (q: string): Promise<string[]> =>
      JSON.parse((await api(c, "GET", q, { user: "admin" })).body).items.map((x: { metadata: { name: string } }) => x.metadata.name);
    expect(await names("/api/v1/endpoints")).toEqual(["kubernetes"]);
    expect(await names("/api/v1/namespaces/kube-system/endpoints")).toEqual([]);
    expect(await names("/api/v1/namespaces/default/endpoints?labelSelector=endpointslice.kubernetes.io%2Fskip-mirror%3Dtrue")).toEqual(["kubernetes"]);
    expect(await names("/api/v1/namespaces/default/endpoints?labelSelector=endpointslice.kubernetes.io%2Fskip-mirror%3Dfalse")).toEqual([]);
    expect(await names("/api/v1/endpoints?fieldSelector=metadata.name%3Dkubernetes%2Cmetadata.namespace%3Ddefault")).toEqual(["kubernetes"]);
    expect(await names("/api/v1/endpoints?fieldSelector=metadata.name%3Dother")).toEqual([]);
    const badField = await api(c, "GET", "/api/v1/namespaces/default/endpoints?fieldSelector=subsets.foo%3Dx", { user: "admin" });
    expect(badField.body).toBe(statusJSON(400, "BadRequest", "field label not supported: subsets.foo"));

    const other = await api(c, "GET", "/api/v1/namespaces/default/endpoints/other", { user: "admin" });
    expect([other.status, other.body]).toEqual([404, statusJSON(404, "NotFound", 'endpoints "other" not found', { name: "other", kind: "endpoints" })]);
    const elsewhere = await api(c, "GET", "/api/v1/namespaces/kube-system/endpoints/kubernetes", { user: "admin" });
    expect(elsewhere.body).toBe(statusJSON(404, "NotFound", 'endpoints "kubernetes" not found', { name: "kubernetes", kind: "endpoints" }));
    const discovery = JSON.parse((await api(c, "GET", "/api/v1", { user: "kvlog" })).body);
    expect(discovery.resources.find((x: { name: string }) => x.name === "endpoints")).toMatchObject({ namespaced: true, kind: "Endpoints", shortNames: ["ep"] });
  });

  it("authorizes endpoints with RBAC: resourceNames [kubernetes] allows exactly that GET", async () => {
    const ok = await api(c, "GET", "/api/v1/namespaces/default/endpoints/kubernetes", { user: EP_READER });
    expect(ok.status).toBe(200);
    const other = await api(c, "GET", "/api/v1/namespaces/default/endpoints/other", { user: EP_READER });
    expect([other.status, other.type]).toEqual([403, "application/json"]);
    expect(other.headers.warning).toBeUndefined();
    expect(other.body).toBe(
      statusJSON(403, "Forbidden", 'endpoints "other" is forbidden: User "ep-reader" cannot get resource "endpoints" in API group "" in the namespace "default"', {
        name: "other",
        kind: "endpoints",
      }),
    );
    // A rule with resourceNames never matches a list (no name).
    const list = await api(c, "GET", "/api/v1/namespaces/default/endpoints", { user: EP_READER });
    expect(list.body).toBe(
      statusJSON(403, "Forbidden", 'endpoints is forbidden: User "ep-reader" cannot list resource "endpoints" in API group "" in the namespace "default"', {
        kind: "endpoints",
      }),
    );
    // A user without the rule, through another replica (same RBAC everywhere); KVLOG_RULES (the README role) has it.
    expect((await at("127.0.0.2", "GET", "/api/v1/namespaces/default/endpoints/kubernetes", { user: "kvlog" })).status).toBe(200);
    const kvlog = await at("127.0.0.2", "GET", "/api/v1/namespaces/default/endpoints/kubernetes", { user: "nobody" });
    expect(kvlog.body).toBe(
      statusJSON(403, "Forbidden", 'endpoints "kubernetes" is forbidden: User "nobody" cannot get resource "endpoints" in API group "" in the namespace "default"', {
        name: "kubernetes",
        kind: "endpoints",
      }),
    );
    const ssar = await api(c, "POST", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", {
      user: EP_READER,
      body: JSON.stringify({ spec: { resourceAttributes: { verb: "get", resource: "endpoints", namespace: "default", name: "kubernetes" } } }),
    });
    expect(JSON.parse(ssar.body).status.allowed).toBe(true);
  });

  it("each replica's /debug/flags/v sets only its own level; the record names the replica", async () => {
    const r2 = `kube-apiserver/127.0.0.2:${P}`;
    const r3 = `kube-apiserver/127.0.0.3:${P}`;
    // The tests share the cluster and run in any order: replicas 2 and 3 start from no level set
    // (a replica has no pod: restart() only forgets its level).
    c.restart(r2);
    c.restart(r3);
    expect((await at("127.0.0.1", "PUT", "/debug/flags/v", { user: EP_READER, body: "3" })).body).toBe(SUCCESS("3"));
    expect(c.level("kube-apiserver")).toBe(3);
    expect(c.level(`kube-apiserver/127.0.0.1:${P}`)).toBe(3);
    expect(c.level("kube-apiserver/kube-system/kube-apiserver-cp-1")).toBe(3);
    expect(c.level(r2)).toBeUndefined();
    expect(c.level(r3)).toBeUndefined();
    expect((await at("127.0.0.2", "PUT", "/debug/flags/v", { user: EP_READER, body: "5" })).body).toBe(SUCCESS("5"));
    expect((await at("127.0.0.3", "PUT", "/debug/flags/v", { user: EP_READER, body: "7" })).body).toBe(SUCCESS("7"));
    expect([c.level("kube-apiserver"), c.level(r2), c.level(r3), c.level("kube-apiserver/127.0.0.2")]).toEqual([3, 5, 7, 5]);
    expect(c.level(`kube-apiserver/127.0.0.4:${P}`)).toBeUndefined();
    const last = (target: string) => c.requests.filter((x) => x.target === target && x.path === "/debug/flags/v").at(-1);
    expect(last("kube-apiserver")).toMatchObject({ method: "PUT", body: "3", user: EP_READER, via: "apiserver", status: 200 });
    expect(last(r2)).toMatchObject({ method: "PUT", body: "5", user: EP_READER, via: "apiserver", status: 200 });
    expect(last(r3)).toMatchObject({ method: "PUT", body: "7", status: 200 });
    // API requests name their replica too (replica 1 stays "kube-apiserver").
    await at("127.0.0.3", "GET", "/api/v1/nodes/cp-1", { user: "kvlog" });
    expect(c.requests.at(-1)).toMatchObject({ target: r3, path: "/api/v1/nodes/cp-1", status: 200 });
    // A replica's 403 comes from the same RBAC.
    const denied = await at("127.0.0.2", "PUT", "/debug/flags/v", { user: "nobody", body: "9" });
    expect(denied.body).toBe(statusJSON(403, "Forbidden", 'forbidden: User "nobody" cannot put path "/debug/flags/v"', {}));
    expect(c.level(r2)).toBe(5);
  });

  it("per-replica behaviour: index, reset, hang affect one replica's /debug/flags/v; refuse closes replicas 2..n only", async () => {
    const r2 = `kube-apiserver/127.0.0.2:${P}`;
    const put = (ip: string, body: string): Promise<string> =>
      Promise.race([
        at(ip, "PUT", "/debug/flags/v", { user: "admin", body }).then(
          (r) => `${r.status} ${r.body}`,
          (e: NodeJS.ErrnoException) => `error ${e.code ?? e.message}`,
        ),
        new Promise<string>((resolve) => setTimeout(() => resolve("no answer"), 400)),
      ]);
    try {
      await c.setBehaviour(r2, { mode: "index" });
      expect(await put("127.0.0.2", "4")).toBe(`200 ${INDEX_HTML}`);
      expect(await put("127.0.0.3", "4")).toBe(`200 ${SUCCESS("4")}`);
      expect(await put("127.0.0.1", "4")).toBe(`200 ${SUCCESS("4")}`);
      await c.setBehaviour(r2, { mode: "reset" });
      expect(await put("127.0.0.2", "4")).toMatch(/^error /);
      // The API on that replica keeps working.
      expect((await at("127.0.0.2", "GET", "/version")).status).toBe(200);
      await c.setBehaviour(r2, { mode: "hang" });
      expect(await put("127.0.0.2", "4")).toBe("no answer");
      await c.setBehaviour(r2, { mode: "refuse" });
      expect(await refused("127.0.0.2")).toBe("ECONNREFUSED");
      expect(await refused("127.0.0.3")).toBe("connected");
      await c.setBehaviour("kube-apiserver/127.0.0.2", { mode: "normal" });
      expect(await put("127.0.0.2", "6")).toBe(`200 ${SUCCESS("6")}`);
      expect(c.level(r2)).toBe(6);
      await expect(c.setBehaviour("kube-apiserver", { mode: "refuse" })).rejects.toThrow(/not supported/);
      await expect(c.setBehaviour(r2, { mode: "unreachable" })).rejects.toThrow(/not supported/);
      await expect(c.setBehaviour(`kube-apiserver/127.0.0.4:${P}`, { mode: "normal" })).rejects.toThrow(/unknown target/);
    } finally {
      await c.setBehaviour(r2, { mode: "normal" });
    }
  });

  it("one serving certificate verifies against caPem for every replica IP (and the service IP)", async () => {
    for (const ip of ["127.0.0.1", "127.0.0.2", "127.0.0.3"]) {
      const cert = await new Promise<tls.PeerCertificate>((resolve, reject) => {
        const s = tls.connect({ host: ip, port: P, ca: c.caPem }, () => {
          resolve(s.getPeerCertificate());
          s.destroy();
        });
        s.on("error", reject);
      });
      for (const want of ["127.0.0.1", "127.0.0.2", "127.0.0.3", "127.0.0.4", "10.96.0.1"]) expect(tls.checkServerIdentity(want, cert)).toBeUndefined();
      expect(tls.checkServerIdentity("127.0.0.5", cert)).toBeInstanceOf(Error);
    }
  });
});

describe("kube-apiserver replica options", () => {
  it("defaults to one replica; orders addresses as Go's sort.Strings; names replicas without the port in `behaviour`", async () => {
    const one = await startFakeCluster();
    try {
      const ep = JSON.parse((await api(one, "GET", "/api/v1/namespaces/default/endpoints/kubernetes", { user: "admin" })).body);
      expect(ep.subsets).toEqual([{ addresses: [{ ip: "127.0.0.1" }], ports: [{ name: "https", port: one.portOf("kube-apiserver"), protocol: "TCP" }] }]);
      expect(one.apiserverReplicas).toHaveLength(1);
    } finally {
      await one.close();
    }
    const c = await startFakeCluster({ apiserverReplicas: 2, unreachableApiserverReplicas: 9, behaviour: { "kube-apiserver/127.0.0.2": { version: "v1.26.0" } } });
    try {
      const P = c.portOf("kube-apiserver");
      const ep = JSON.parse((await api(c, "GET", "/api/v1/namespaces/default/endpoints/kubernetes", { user: "admin" })).body);
      expect(ep.subsets[0].addresses.map((a: { ip: string }) => a.ip)).toEqual(
        ["1", "10", "11", "2", "3", "4", "5", "6", "7", "8", "9"].map((x) => `127.0.0.${x}`),
      );
      // pre-1.27 parsing on replica 2 only
      const res = await request(`https://127.0.0.2:${P}/debug/flags/v`, { method: "PUT", body: "-1", headers: { authorization: `Bearer ${c.tokenFor("kvlog")}` }, dispatcher: agentFor(c) });
      expect(await res.body.text()).toBe(SUCCESS("-1"));
      expect(c.level(`kube-apiserver/127.0.0.2:${P}`)).toBe(-1);
      expect((await api(c, "PUT", "/debug/flags/v", { user: "kvlog", body: "-1" })).status).toBe(400);
    } finally {
      await c.close();
    }
    await expect(startFakeCluster({ apiserverReplicas: 0 })).rejects.toThrow(/apiserverReplicas/);
    await expect(startFakeCluster({ apiserverReplicas: 2, behaviour: { "kube-apiserver/127.0.0.2:6443": {} } })).rejects.toThrow(/without the port/);
    await expect(startFakeCluster({ apiserverReplicas: 2, behaviour: { "kube-apiserver/127.0.0.3": {} } })).rejects.toThrow(/unknown target/);
  });

  it("fails loudly when the shared port is taken on a replica's address", async () => {
    const c = await startFakeCluster({ apiserverReplicas: 2 });
    const P = c.portOf("kube-apiserver");
    const blocker = net.createServer();
    try {
      await c.setBehaviour("kube-apiserver/127.0.0.2", { mode: "refuse" });
      await new Promise<void>((resolve, reject) => {
        blocker.once("error", reject);
        blocker.listen(P, "127.0.0.2", () => resolve());
      });
      await expect(c.setBehaviour("kube-apiserver/127.0.0.2", { mode: "normal" })).rejects.toThrow(
        `fake cluster: kube-apiserver replica 127.0.0.2:${P}: the port is not free there`,
      );
    } finally {
      await new Promise<void>((r) => (blocker.listening ? blocker.close(() => r()) : r()));
      await c.close();
    }
  });
});

// ---------------------------------------------------------------------------
// ConfigMaps, SelfSubjectReview, startup levels, /flagz, the kubelet's /configz, restarts
// (answers captured from a v1.36.3 cluster).

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const RFC3339 = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/;
const CM = "/api/v1/namespaces/kube-system/configmaps";
const RECORD_NAMES = ["kvlog-kube-apiserver", "kvlog-kube-scheduler", "kvlog-kube-controller-manager", "kvlog-cloud-controller-manager", "kvlog-kubelet", "kvlog-kube-proxy"];

describe("ConfigMaps (core v1)", () => {
  let c: FakeCluster;
  beforeAll(async () => {
    c = await startFakeCluster({
      version: "v1.36.3",
      serviceAccounts: ["team/builder"],
      users: [
        { name: "team-writer", rules: [{ resources: ["configmaps"], verbs: ["*"], namespaces: ["team"] }, { nonResourceURLs: ["/flagz"], verbs: ["get"], namespace: "team" }] },
        { name: "record-reader", rules: [{ resources: ["configmaps"], verbs: ["get", "list"], namespace: "kube-system" }] },
      ],
    });
  });
  afterAll(async () => {
    await c.close();
  });
  const cm = (name: string, data: Record<string, string>, extra: Record<string, unknown> = {}): string =>
    JSON.stringify({ apiVersion: "v1", kind: "ConfigMap", metadata: { name, ...extra }, data });

  it("creates (201), reads, refuses a second create (409 AlreadyExists) and a missing one (404), as upstream", async () => {
    const mark = c.requests.length; // this test's requests only: the others share the cluster, in any order
    const missing = await api(c, "GET", `${CM}/kvlog-nothere`, { user: "admin" });
    expect([missing.status, missing.type]).toEqual([404, "application/json"]);
    expect(missing.body).toBe(statusJSON(404, "NotFound", 'configmaps "kvlog-nothere" not found', { name: "kvlog-nothere", kind: "configmaps" }));

    const rvBefore = Number(JSON.parse((await api(c, "GET", "/api/v1/nodes", { user: "admin" })).body).metadata.resourceVersion);
    const created = await api(c, "POST", CM, { user: "admin", body: cm("kvlog-sample", { a: "1" }), headers: { "user-agent": "kvlog/0.1.0 (linux/amd64)" } });
    expect([created.status, created.type]).toEqual([201, "application/json"]);
    expect(created.headers["x-kubernetes-pf-flowschema-uid"]).toBeDefined();
    expect(created.body.endsWith("}\n")).toBe(true);
    const o = JSON.parse(created.body);
    expect(Object.keys(o)).toEqual(["kind", "apiVersion", "metadata", "data"]);
    expect(Object.keys(o.metadata)).toEqual(["name", "namespace", "uid", "resourceVersion", "creationTimestamp", "managedFields"]);
    expect(o).toMatchObject({ kind: "ConfigMap", apiVersion: "v1", metadata: { name: "kvlog-sample", namespace: "kube-system" }, data: { a: "1" } });
    expect(o.metadata.uid).toMatch(UUID);
    expect(o.metadata.creationTimestamp).toMatch(RFC3339);
    expect(Number(o.metadata.resourceVersion)).toBeGreaterThan(rvBefore);
    // the field manager is the User-Agent's product
    expect(o.metadata.managedFields).toEqual([
      { manager: "kvlog", operation: "Update", apiVersion: "v1", time: o.metadata.creationTimestamp, fieldsType: "FieldsV1", fieldsV1: { "f:data": { ".": {}, "f:a": {} } } },
    ]);
    expect(c.configMap("kube-system", "kvlog-sample")).toEqual(o);
    expect(c.configMap("kube-system", "nope")).toBeUndefined();
    const got = await api(c, "GET", `${CM}/kvlog-sample`, { user: "admin" });
    expect([got.status, JSON.parse(got.body)]).toEqual([200, o]);
    // the cluster's counter: what lists say next is at least the write's revision
    expect(Number(JSON.parse((await api(c, "GET", "/api/v1/nodes", { user: "admin" })).body).metadata.resourceVersion)).toBeGreaterThanOrEqual(Number(o.metadata.resourceVersion));

    const again = await api(c, "POST", CM, { user: "admin", body: cm("kvlog-sample", { a: "2" }) });
    expect([again.status, again.type]).toEqual([409, "application/json"]);
    expect(again.body).toBe(statusJSON(409, "AlreadyExists", 'configmaps "kvlog-sample" already exists', { name: "kvlog-sample", kind: "configmaps" }));
    expect(c.configMap("kube-system", "kvlog-sample")?.data).toEqual({ a: "1" });

    const rec = c.requests.slice(mark).filter((r) => r.method === "POST" && r.path === CM);
    expect(rec.map((r) => r.status)).toEqual([201, 409]);
    expect(rec[0]).toMatchObject({ target: "kube-apiserver", user: "admin", via: "apiserver", body: cm("kvlog-sample", { a: "1" }) });
  });

  it("updates with optimistic concurrency: a stale resourceVersion is 409 Conflict, none is an unconditional update", async () => {
    const first = JSON.parse((await api(c, "POST", CM, { user: "admin", body: cm("kvlog-occ", { level: "1" }) })).body);
    const rv1 = first.metadata.resourceVersion as string;
    const put = (data: Record<string, string>, rv?: string, name = "kvlog-occ"): Promise<Reply> =>
      api(c, "PUT", `${CM}/${name}`, { user: "admin", body: cm(name, data, rv === undefined ? {} : { resourceVersion: rv }) });

    const ok = await put({ level: "2" }, rv1);
    expect([ok.status, ok.type]).toEqual([200, "application/json"]);
    const o2 = JSON.parse(ok.body);
    expect(o2.data).toEqual({ level: "2" });
    expect(Number(o2.metadata.resourceVersion)).toBeGreaterThan(Number(rv1));
    expect([o2.metadata.uid, o2.metadata.creationTimestamp]).toEqual([first.metadata.uid, first.metadata.creationTimestamp]);

    const stale = await put({ level: "3" }, rv1);
    expect([stale.status, stale.type]).toEqual([409, "application/json"]);
    expect(stale.body).toBe(
      statusJSON(
        409,
        "Conflict",
        'Operation cannot be fulfilled on configmaps "kvlog-occ": the object has been modified; please apply your changes to the latest version and try again',
        { name: "kvlog-occ", kind: "configmaps" },
      ),
    );
    expect(c.configMap("kube-system", "kvlog-occ")?.data).toEqual({ level: "2" });

    // configMapStrategy.AllowUnconditionalUpdate: no resourceVersion, no check
    const blind = await put({ level: "4" });
    expect(blind.status).toBe(200);
    const o3 = JSON.parse(blind.body);
    expect(Number(o3.metadata.resourceVersion)).toBeGreaterThan(Number(o2.metadata.resourceVersion));
    // a write that changes nothing is not written: same resourceVersion
    const same = await put({ level: "4" }, o3.metadata.resourceVersion);
    expect(JSON.parse(same.body).metadata.resourceVersion).toBe(o3.metadata.resourceVersion);

    // putConfigMap (a test writing behind kvlog's back) bumps the resourceVersion: kvlog's next PUT conflicts
    const seeded = c.putConfigMap("kube-system", { metadata: { name: "kvlog-occ", labels: { x: "y" } }, data: { level: "9" } });
    expect(Number((seeded.metadata as { resourceVersion: string }).resourceVersion)).toBeGreaterThan(Number(o3.metadata.resourceVersion));
    expect((seeded.metadata as { uid: string }).uid).toBe(first.metadata.uid);
    expect((await put({ level: "5" }, o3.metadata.resourceVersion)).status).toBe(409);
    expect(JSON.parse((await api(c, "GET", `${CM}/kvlog-occ`, { user: "admin" })).body)).toEqual(seeded);

    const missing = await put({ level: "1" }, undefined, "kvlog-gone");
    expect(missing.body).toBe(statusJSON(404, "NotFound", 'configmaps "kvlog-gone" not found', { name: "kvlog-gone", kind: "configmaps" }));
    const wrongName = await api(c, "PUT", `${CM}/kvlog-occ`, { user: "admin", body: cm("other", { a: "1" }) });
    expect(wrongName.body).toBe(statusJSON(400, "BadRequest", "the name of the object (other) does not match the name on the URL (kvlog-occ)"));
  });

  it("refuses more than 1 MiB of data + binaryData with upstream's 422 Invalid", async () => {
    const big = "x".repeat(1048576);
    const tooBig = await api(c, "POST", CM, { user: "admin", body: cm("kvlog-big", { a: big, b: "y" }) });
    expect([tooBig.status, tooBig.type]).toEqual([422, "application/json"]);
    expect(tooBig.body).toBe(
      statusJSON(422, "Invalid", 'ConfigMap "kvlog-big" is invalid: []: Too long: may not be more than 1048576 bytes', {
        name: "kvlog-big",
        kind: "ConfigMap",
        causes: [{ reason: "FieldValueTooLong", message: "Too long: may not be more than 1048576 bytes", field: "[]" }],
      }),
    );
    expect(c.configMap("kube-system", "kvlog-big")).toBeUndefined();
    // exactly 1 MiB (data and binaryData together) is fine; one more byte in binaryData is not
    const half = "y".repeat(524288);
    const bin = Buffer.alloc(524288, 1).toString("base64");
    const exact = await api(c, "POST", CM, { user: "admin", body: JSON.stringify({ metadata: { name: "kvlog-exact" }, data: { a: half }, binaryData: { b: bin } }) });
    expect(exact.status).toBe(201);
    const over = await api(c, "PUT", `${CM}/kvlog-exact`, {
      user: "admin",
      body: JSON.stringify({ metadata: { name: "kvlog-exact" }, data: { a: half }, binaryData: { b: Buffer.alloc(524289, 1).toString("base64") } }),
    });
    expect([over.status, JSON.parse(over.body).message]).toEqual([422, 'ConfigMap "kvlog-exact" is invalid: []: Too long: may not be more than 1048576 bytes']);
    // other validation, the same way
    const noName = await api(c, "POST", CM, { user: "admin", body: JSON.stringify({ data: { a: "1" } }) });
    expect(noName.body).toBe(
      statusJSON(422, "Invalid", 'ConfigMap "" is invalid: metadata.name: Required value: name or generateName is required', {
        kind: "ConfigMap",
        causes: [{ reason: "FieldValueRequired", message: "Required value: name or generateName is required", field: "metadata.name" }],
      }),
    );
    const badKey = await api(c, "POST", CM, { user: "admin", body: cm("kvlog-key", { "a b": "1" }) });
    expect(JSON.parse(badKey.body).message).toBe(
      `ConfigMap "kvlog-key" is invalid: data[a b]: Invalid value: "a b": a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')`,
    );
    const noNs = await api(c, "POST", "/api/v1/namespaces/nowhere/configmaps", { user: "admin", body: cm("x", {}) });
    expect(noNs.body).toBe(statusJSON(404, "NotFound", 'namespaces "nowhere" not found', { name: "nowhere", kind: "namespaces" }));
    const rvSet = await api(c, "POST", CM, { user: "admin", body: cm("kvlog-rv", {}, { resourceVersion: "5" }) });
    expect(rvSet.body).toBe('{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"resourceVersion should not be set on objects to be created","code":500}\n');
  });

  it("lists with label selectors (ConfigMapList), deletes (200 Success Status), and records every request", async () => {
    const mark = c.requests.length;
    for (const [name, labels] of [
      ["kvlog-l1", { app: "kvlog", n: "1" }],
      ["kvlog-l2", { app: "kvlog", n: "2" }],
      ["other-l3", { app: "other" }],
    ] as const)
      expect((await api(c, "POST", CM, { user: "admin", body: cm(name, { k: "v" }, { labels }) })).status).toBe(201);
    const l = await api(c, "GET", `${CM}?labelSelector=app%3Dkvlog`, { user: "admin" });
    expect([l.status, l.type]).toEqual([200, "application/json"]);
    const list = JSON.parse(l.body);
    expect(list.kind).toBe("ConfigMapList");
    expect(list.apiVersion).toBe("v1");
    expect(list.items.map((x: { metadata: { name: string } }) => x.metadata.name)).toEqual(["kvlog-l1", "kvlog-l2"]);
    expect(list.items[0].kind).toBeUndefined();
    const fields = JSON.parse((await api(c, "GET", `/api/v1/configmaps?fieldSelector=metadata.name%3Dother-l3`, { user: "admin" })).body);
    expect(fields.items.map((x: { metadata: { namespace: string; name: string } }) => `${x.metadata.namespace}/${x.metadata.name}`)).toEqual(["kube-system/other-l3"]);
    const paged = JSON.parse((await api(c, "GET", `${CM}?limit=1&labelSelector=app`, { user: "admin" })).body);
    expect(paged.items).toHaveLength(1);
    expect(paged.metadata.continue).toBeDefined();

    const del = await api(c, "DELETE", `${CM}/kvlog-l1`, { user: "admin" });
    const uid = (c.configMap("kube-system", "kvlog-l2")?.metadata as { uid: string }).uid;
    expect(uid).toMatch(UUID);
    expect([del.status, del.type]).toEqual([200, "application/json"]);
    expect(JSON.parse(del.body)).toMatchObject({ kind: "Status", apiVersion: "v1", metadata: {}, status: "Success", details: { name: "kvlog-l1", kind: "configmaps" } });
    expect(JSON.parse(del.body).code).toBeUndefined();
    expect(c.configMap("kube-system", "kvlog-l1")).toBeUndefined();
    expect((await api(c, "GET", `${CM}/kvlog-l1`, { user: "admin" })).status).toBe(404);
    expect((await api(c, "DELETE", `${CM}/kvlog-l1`, { user: "admin" })).status).toBe(404);
    const pre = await api(c, "DELETE", `${CM}/kvlog-l2`, { user: "admin", body: JSON.stringify({ preconditions: { resourceVersion: "1" } }) });
    expect([pre.status, JSON.parse(pre.body).reason]).toEqual([409, "Conflict"]);
    expect(c.requests.slice(mark).filter((r) => r.method === "DELETE").map((r) => r.status)).toEqual([200, 404, 409]);
  });

  it("authorizes with RBAC: resourceNames for get/update/delete, create without a name, namespaced rules", async () => {
    // KVLOG_RULES: get+update on the six record names in kube-system, create in kube-system
    expect((await api(c, "GET", `${CM}/kvlog-kubelet`, { user: "kvlog" })).status).toBe(404);
    const created = await api(c, "POST", CM, { user: "kvlog", body: cm("kvlog-kubelet", { "cp-1": "3" }) });
    expect(created.status).toBe(201);
    const rv = JSON.parse(created.body).metadata.resourceVersion as string;
    const upd = await api(c, "PUT", `${CM}/kvlog-kubelet`, { user: "kvlog", body: cm("kvlog-kubelet", { "cp-1": "4" }, { resourceVersion: rv }) });
    expect(upd.status).toBe(200);
    expect((await api(c, "GET", `${CM}/kvlog-kubelet`, { user: "kvlog" })).status).toBe(200);

    const other = await api(c, "GET", `${CM}/kvlog-x`, { user: "kvlog" });
    expect([other.status, other.type, other.headers["x-content-type-options"]]).toEqual([403, "application/json", "nosniff"]);
    expect(other.body).toBe(
      statusJSON(403, "Forbidden", 'configmaps "kvlog-x" is forbidden: User "kvlog" cannot get resource "configmaps" in API group "" in the namespace "kube-system"', {
        name: "kvlog-x",
        kind: "configmaps",
      }),
    );
    const putOther = await api(c, "PUT", `${CM}/kvlog-sample`, { user: "kvlog", body: cm("kvlog-sample", {}) });
    expect(JSON.parse(putOther.body).message).toBe(
      'configmaps "kvlog-sample" is forbidden: User "kvlog" cannot update resource "configmaps" in API group "" in the namespace "kube-system"',
    );
    const del = await api(c, "DELETE", `${CM}/kvlog-kubelet`, { user: "kvlog" });
    expect(del.status).toBe(403);
    const list = await api(c, "GET", CM, { user: "kvlog" });
    expect(list.body).toBe(
      statusJSON(403, "Forbidden", 'configmaps is forbidden: User "kvlog" cannot list resource "configmaps" in API group "" in the namespace "kube-system"', { kind: "configmaps" }),
    );
    const elsewhere = await api(c, "POST", "/api/v1/namespaces/default/configmaps", { user: "kvlog", body: cm("kvlog-kubelet", {}) });
    expect(elsewhere.body).toBe(
      statusJSON(403, "Forbidden", 'configmaps is forbidden: User "kvlog" cannot create resource "configmaps" in API group "" in the namespace "default"', { kind: "configmaps" }),
    );
    const inDefault = await api(c, "GET", "/api/v1/namespaces/default/configmaps/kvlog-kubelet", { user: "kvlog" });
    expect(inDefault.status).toBe(403);
    for (const name of RECORD_NAMES) expect((await api(c, "GET", `${CM}/${name}`, { user: "kvlog" })).status).not.toBe(403);

    // the built-in user "recordless": every kvlog rule but the configmaps ones
    const rl = await api(c, "GET", `${CM}/kvlog-kubelet`, { user: "recordless" });
    expect(JSON.parse(rl.body).message).toBe(
      'configmaps "kvlog-kubelet" is forbidden: User "recordless" cannot get resource "configmaps" in API group "" in the namespace "kube-system"',
    );
    expect((await api(c, "POST", CM, { user: "recordless", body: cm("kvlog-new", {}) })).status).toBe(403);
    expect((await api(c, "PUT", "/api/v1/nodes/cp-1/proxy/debug/flags/v", { user: "recordless", body: "2" })).body).toBe(SUCCESS("2"));
    expect((await api(c, "GET", "/flagz", { user: "recordless" })).status).toBe(200);

    // namespaced rules (RoleBindings): only in their namespace, never a non-resource URL
    expect((await api(c, "POST", "/api/v1/namespaces/team/configmaps", { user: "team-writer", body: cm("t", { a: "1" }) })).status).toBe(201);
    expect((await api(c, "DELETE", "/api/v1/namespaces/team/configmaps/t", { user: "team-writer" })).status).toBe(200);
    expect((await api(c, "GET", `${CM}/kvlog-kubelet`, { user: "team-writer" })).status).toBe(403);
    expect((await api(c, "GET", "/flagz", { user: "team-writer" })).status).toBe(403);
    expect((await api(c, "GET", CM, { user: "record-reader" })).status).toBe(200);
    expect((await api(c, "GET", "/api/v1/configmaps", { user: "record-reader" })).status).toBe(403);
  });
});

describe("SelfSubjectReview (authentication.k8s.io/v1)", () => {
  let c: FakeCluster;
  beforeAll(async () => {
    c = await startFakeCluster({ version: "v1.36.3", users: [{ name: "system:serviceaccount:kvlog-e2e:nobody" }] });
  });
  afterAll(async () => {
    await c.close();
  });
  const PATH = "/apis/authentication.k8s.io/v1/selfsubjectreviews";
  const BODY = JSON.stringify({ apiVersion: "authentication.k8s.io/v1", kind: "SelfSubjectReview" });

  it("answers 201 with the caller as the authenticator saw it, to every authenticated user", async () => {
    const r = await api(c, "POST", PATH, { user: "nobody", body: BODY });
    expect([r.status, r.type]).toEqual([201, "application/json"]);
    expect(r.headers["x-kubernetes-pf-flowschema-uid"]).toBeDefined();
    const o = JSON.parse(r.body);
    expect(Object.keys(o)).toEqual(["kind", "apiVersion", "metadata", "status"]);
    expect(o.kind).toBe("SelfSubjectReview");
    expect(o.apiVersion).toBe("authentication.k8s.io/v1");
    expect(o.metadata.creationTimestamp).toMatch(RFC3339);
    // a static token: no uid, no extra
    expect(o.status).toEqual({ userInfo: { username: "nobody", groups: ["system:authenticated"] } });

    // a ServiceAccount (TokenRequest): its uid, its groups in upstream's order, the token's JTI
    const tr = await api(c, "POST", "/api/v1/namespaces/kvlog-e2e/serviceaccounts/nobody/token", { user: "admin", body: JSON.stringify({ spec: {} }) });
    const token = JSON.parse(tr.body).status.token as string;
    const claims = JSON.parse(Buffer.from(token.split(".")[1] ?? "", "base64url").toString());
    const sa = JSON.parse((await api(c, "POST", PATH, { token, body: BODY })).body);
    expect(sa.status.userInfo).toEqual({
      username: "system:serviceaccount:kvlog-e2e:nobody",
      uid: claims["kubernetes.io"].serviceaccount.uid,
      groups: ["system:serviceaccounts", "system:serviceaccounts:kvlog-e2e", "system:authenticated"],
      extra: { "authentication.kubernetes.io/credential-id": [`JTI=${claims.jti}`] },
    });
    expect(sa.status.userInfo.uid).toMatch(UUID);
    const staticSa = JSON.parse((await api(c, "POST", PATH, { user: "system:serviceaccount:kvlog-e2e:nobody", body: BODY })).body);
    expect(staticSa.status.userInfo.uid).toBe(claims["kubernetes.io"].serviceaccount.uid);

    // a client certificate: its SHA-256 as the credential id
    const cert = new crypto.X509Certificate(c.clientCertFor("admin").certPem);
    const admin = JSON.parse((await api(c, "POST", PATH, { user: "admin", cert: true, body: "" })).body);
    expect(admin.status.userInfo).toEqual({
      username: "admin",
      groups: ["system:masters", "system:authenticated"],
      extra: { "authentication.kubernetes.io/credential-id": [`X509SHA256=${cert.fingerprint256.replace(/:/g, "").toLowerCase()}`] },
    });
  });

  it("refuses system:anonymous (403, as RBAC binds system:basic-user to system:authenticated only) and other methods", async () => {
    const mark = c.requests.length;
    const anon = await api(c, "POST", PATH, { body: BODY });
    expect(anon.body).toBe(
      statusJSON(
        403,
        "Forbidden",
        'selfsubjectreviews.authentication.k8s.io is forbidden: User "system:anonymous" cannot create resource "selfsubjectreviews" in API group "authentication.k8s.io" at the cluster scope',
        { group: "authentication.k8s.io", kind: "selfsubjectreviews" },
      ),
    );
    // a GET is a "list": RBAC first, then no such route
    expect((await api(c, "GET", PATH, { user: "kvlog" })).status).toBe(403);
    expect((await api(c, "GET", PATH, { user: "admin", cert: true })).status).toBe(405);
    expect(c.requests.slice(mark).filter((r) => r.path === PATH).map((r) => r.status)).toEqual([403, 403, 405]);
  });
});

describe("startup levels, /flagz and the kubelet's /configz", () => {
  const KP = "kube-proxy/kube-system/kube-proxy-aaaaa";
  const KCM = "kube-controller-manager/kube-system/kube-controller-manager-cp-1";
  const CCM = "cloud-controller-manager/kube-system/cloud-controller-manager-x2v8q";
  const BETA = "application/json;as=Flagz;v=v1beta1;g=config.k8s.io";
  const ALPHA = "application/json;as=Flagz;v=v1alpha1;g=config.k8s.io";
  const WARNING = "Warning: This endpoint is not meant to be machine parseable, has no formatting compatibility guarantees and is for debugging purposes only.\n";
  const OPTIONS = {
    version: "v1.36.3",
    behaviour: {
      "kube-apiserver": { startupLevel: 4 },
      [SCHED]: { startupLevel: 2 },
      "kubelet/worker-1": { startupLevel: 3 },
      [KP]: { startupLevel: 1 },
    },
  };
  let c: FakeCluster;
  beforeAll(async () => {
    c = await startFakeCluster(OPTIONS);
  });
  afterAll(async () => {
    await c.close();
  });
  const podOf = async (cluster: FakeCluster, name: string): Promise<{ metadata: { resourceVersion: string }; spec: { containers: Array<{ command: string[] }> }; status: { containerStatuses: Array<Record<string, unknown> & { restartCount: number; state: { running: { startedAt: string } } }> } }> =>
    JSON.parse((await api(cluster, "GET", `/api/v1/namespaces/kube-system/pods/${name}`, { user: "admin" })).body);
  const pod = (name: string) => podOf(c, name);

  it("level() starts at the startup level; pods carry --v=N only when it is set", async () => {
    // A cluster of its own: the other tests PUT levels and restart targets, in any order.
    const c = await startFakeCluster(OPTIONS);
    const pod = (name: string) => podOf(c, name);
    try {
      expect(c.level("kube-apiserver")).toBe(4);
      expect(c.level(SCHED)).toBe(2);
      expect(c.level("kubelet/worker-1")).toBe(3);
      expect(c.level(KP)).toBe(1);
      // not set: klog's default, nothing reported until a PUT
      expect(c.level(KCM)).toBeUndefined();
      expect(c.level("kubelet/cp-1")).toBeUndefined();
      expect((await pod("kube-scheduler-cp-1")).spec.containers[0]?.command.at(-1)).toBe("--v=2");
      expect((await pod("kube-apiserver-cp-1")).spec.containers[0]?.command.at(-1)).toBe("--v=4");
      expect((await pod("kube-proxy-aaaaa")).spec.containers[0]?.command).toEqual([
        "/usr/local/bin/kube-proxy",
        "--config=/var/lib/kube-proxy/config.conf",
        "--hostname-override=$(NODE_NAME)",
        "--v=1",
      ]);
      for (const p of ["kube-controller-manager-cp-1", "kube-proxy-bbbbb", "cloud-controller-manager-x2v8q"])
        expect((await pod(p)).spec.containers[0]?.command.some((a) => /^--?v=/.test(a))).toBe(false);
      // every pod carries the container status a real one has
      const st = (await pod("kube-scheduler-cp-1")).status.containerStatuses[0];
      expect(st?.restartCount).toBe(0);
      expect(st?.state.running.startedAt).toMatch(RFC3339);
    } finally {
      await c.close();
    }
    await expect(startFakeCluster({ behaviour: { [SCHED]: { startupLevel: 1.5 } } })).rejects.toThrow(/startupLevel/);
  });

  it("kube-apiserver /flagz: Flagz v1beta1 (v1alpha1 deprecated), text by default, 406 for plain JSON, 403 without the rule", async () => {
    const beta = await api(c, "GET", "/flagz", { user: "kvlog", headers: { accept: BETA } });
    expect([beta.status, beta.type]).toEqual([200, "application/json;g=config.k8s.io;v=v1beta1;as=Flagz"]);
    expect(beta.headers.warning).toBeUndefined();
    expect(beta.headers["x-kubernetes-pf-prioritylevel-uid"]).toBeDefined();
    expect(beta.body.endsWith("}\n")).toBe(true);
    const o = JSON.parse(beta.body);
    expect(Object.keys(o)).toEqual(["kind", "apiVersion", "metadata", "flags"]);
    expect(o).toMatchObject({ kind: "Flagz", apiVersion: "config.k8s.io/v1beta1", metadata: { name: "apiserver" } });
    expect(o.flags).toMatchObject({ v: "4", "secure-port": "6443", "authorization-mode": "[Node,RBAC]", "advertise-address": "127.0.0.1", vmodule: "" });
    const keys = Object.keys(o.flags);
    expect(keys).toEqual([...keys].sort());
    expect(Object.values(o.flags).every((v) => typeof v === "string")).toBe(true);

    const alpha = await api(c, "GET", "/flagz", { user: "kvlog", headers: { accept: ALPHA } });
    expect([alpha.status, alpha.type, alpha.headers.warning]).toEqual([
      200,
      "application/json;g=config.k8s.io;v=v1alpha1;as=Flagz",
      '299 - "This version of the flagz endpoint is deprecated. Please use a newer version."',
    ]);
    expect(JSON.parse(alpha.body).apiVersion).toBe("config.k8s.io/v1alpha1");
    // what kvlog sends: both, v1beta1 first
    const both = await api(c, "GET", "/flagz", { user: "kvlog", headers: { accept: `${BETA}, ${ALPHA}` } });
    expect(both.type).toBe("application/json;g=config.k8s.io;v=v1beta1;as=Flagz");

    const plain = await api(c, "GET", "/flagz", { user: "kvlog", headers: { accept: "application/json" } });
    expect([plain.status, plain.type, plain.headers["x-content-type-options"]]).toEqual([406, "application/json", undefined]);
    expect(plain.body).toBe(
      '{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"only the following media types are accepted: application/json, application/yaml, text/plain","reason":"NotAcceptable","code":406}\n',
    );
    expect((await api(c, "GET", "/flagz", { user: "kvlog", headers: { accept: "application/json;as=Flagz;v=v1;g=config.k8s.io" } })).status).toBe(406);

    for (const accept of [undefined, "text/plain", "*/*"]) {
      const text = await api(c, "GET", "/flagz", { user: "kvlog", headers: accept ? { accept } : {} });
      expect([text.status, text.type]).toEqual([200, "text/plain; charset=utf-8"]);
      expect(text.body.startsWith(`\napiserver flagz\n${WARNING}admission-control: []\n`)).toBe(true);
      expect(text.body).toContain("\nv: 4\n");
      expect(text.body.endsWith("\n")).toBe(true);
    }

    const denied = await api(c, "GET", "/flagz", { user: "nobody", headers: { accept: BETA } });
    expect([denied.status, denied.type, denied.headers["x-content-type-options"]]).toEqual([403, "application/json", "nosniff"]);
    expect(denied.body).toBe(statusJSON(403, "Forbidden", 'forbidden: User "nobody" cannot get path "/flagz"', {}));
  });

  it("/flagz shows the startup level, never the one /debug/flags/v set since", async () => {
    expect((await api(c, "PUT", "/debug/flags/v", { user: "kvlog", body: "7" })).body).toBe(SUCCESS("7"));
    expect(c.level("kube-apiserver")).toBe(7);
    expect(JSON.parse((await api(c, "GET", "/flagz", { user: "kvlog", headers: { accept: BETA } })).body).flags.v).toBe("4");
    expect((await api(c, "PUT", "/api/v1/nodes/worker-1/proxy/debug/flags/v", { user: "kvlog", body: "8" })).status).toBe(200);
    expect(c.level("kubelet/worker-1")).toBe(8);
    expect(JSON.parse((await api(c, "GET", "/api/v1/nodes/worker-1/proxy/flagz", { user: "kvlog", headers: { accept: BETA } })).body).flags.v).toBe("3");
    const cz = JSON.parse((await api(c, "GET", "/api/v1/nodes/worker-1/proxy/configz", { user: "kvlog" })).body);
    expect(cz.kubeletconfig.logging.verbosity).toBe(3);
  });

  it("the kubelet: /flagz and /configz through the node proxy (nodes/proxy get) and directly (its auth filter)", async () => {
    const f = await api(c, "GET", "/api/v1/nodes/worker-1/proxy/flagz", { user: "kvlog", headers: { accept: BETA } });
    expect([f.status, f.type]).toEqual([200, "application/json;g=config.k8s.io;v=v1beta1;as=Flagz"]);
    // long-running (proxy): no APF headers
    expect(f.headers["x-kubernetes-pf-flowschema-uid"]).toBeUndefined();
    expect(JSON.parse(f.body)).toMatchObject({ kind: "Flagz", apiVersion: "config.k8s.io/v1beta1", metadata: { name: "kubelet" }, flags: { v: "3", port: "10250" } });
    expect(c.requests.filter((r) => r.target === "kubelet/worker-1").at(-1)).toMatchObject({ path: "/flagz", via: "node-proxy", user: "kube-apiserver-kubelet-client", status: 200 });
    expect(JSON.parse((await api(c, "GET", "/api/v1/nodes/cp-1/proxy/flagz", { user: "kvlog", headers: { accept: BETA } })).body).flags.v).toBe("0");
    const text = await api(c, "GET", "/api/v1/nodes/worker-1/proxy/flagz", { user: "kvlog" });
    expect(text.body.startsWith(`\nkubelet flagz\n${WARNING}`)).toBe(true);

    const denied = await api(c, "GET", "/api/v1/nodes/worker-1/proxy/flagz", { user: "nobody" });
    expect(denied.body).toBe(
      statusJSON(403, "Forbidden", 'nodes "worker-1" is forbidden: User "nobody" cannot get resource "nodes/proxy" in API group "" at the cluster scope', {
        name: "worker-1",
        kind: "nodes",
      }),
    );
    const cz = await api(c, "GET", "/api/v1/nodes/worker-1/proxy/configz", { user: "kvlog" });
    expect([cz.status, cz.type, cz.headers["x-content-type-options"]]).toEqual([200, "application/json", "nosniff"]);
    expect(cz.body.startsWith('{"kubeletconfig":{"kind":"KubeletConfiguration","apiVersion":"kubelet.config.k8s.io/v1beta1",')).toBe(true);
    expect(cz.body.endsWith("}}")).toBe(true);
    const czDenied = await api(c, "GET", "/api/v1/nodes/worker-1/proxy/configz", { user: "nobody" });
    expect(JSON.parse(czDenied.body).message).toBe('nodes "worker-1" is forbidden: User "nobody" cannot get resource "nodes/proxy" in API group "" at the cluster scope');

    const port = c.portOf("kubelet/worker-1");
    const direct1 = await direct(port, "GET", "/flagz", { token: c.tokenFor("kvlog"), headers: { accept: BETA } });
    expect(JSON.parse(direct1.body).flags.v).toBe("3");
    const noAuth = await direct(port, "GET", "/flagz", { headers: { accept: BETA } });
    expect([noAuth.status, noAuth.body]).toEqual([401, "Unauthorized"]);
    const nobody = await direct(port, "GET", "/configz", { token: c.tokenFor("nobody") });
    expect([nobody.status, nobody.body]).toEqual([403, "Forbidden (user=nobody, verb=get, resource=nodes, subresource=proxy)"]);
  });

  it("scheduler, controller-managers (delegated auth) and kube-proxy (no auth) serve /flagz under their own names", async () => {
    const through = async (podName: string, port: string, secure: boolean, token?: string, accept = BETA): Promise<Reply> => {
      const r = await portForward(c, "kube-system", podName, port, { token: c.tokenFor("kvlog") });
      if (!r.ok) throw new Error(`port-forward refused: ${r.status}`);
      return httpThrough(r.tunnel, secure, "GET", "/flagz", { token, headers: { accept } });
    };
    const sched = await through("kube-scheduler-cp-1", "10259", true, c.tokenFor("kvlog"));
    expect([sched.status, sched.type]).toEqual([200, "application/json;g=config.k8s.io;v=v1beta1;as=Flagz"]);
    expect(JSON.parse(sched.body)).toMatchObject({ metadata: { name: "kube-scheduler" }, flags: { v: "2", "secure-port": "10259" } });
    const schedDenied = await through("kube-scheduler-cp-1", "10259", true, c.tokenFor("nobody"));
    expect([schedDenied.status, schedDenied.body]).toEqual([403, statusJSON(403, "Forbidden", 'forbidden: User "nobody" cannot get path "/flagz"', {})]);
    const kcm = await through("kube-controller-manager-cp-1", "10257", true, c.tokenFor("kvlog"));
    expect(JSON.parse(kcm.body)).toMatchObject({ metadata: { name: "kube-controller-manager" }, flags: { v: "0" } });
    const ccm = await through("cloud-controller-manager-x2v8q", "10258", true, c.tokenFor("kvlog"), "text/plain");
    expect(ccm.body.startsWith(`\ncloud-controller-manager flagz\n${WARNING}`)).toBe(true);
    const kp = await through("kube-proxy-aaaaa", "10249", false);
    expect(JSON.parse(kp.body)).toMatchObject({ metadata: { name: "kube-proxy" }, flags: { v: "1", "hostname-override": "cp-1" } });
    const kp406 = await through("kube-proxy-aaaaa", "10249", false, undefined, "application/json");
    expect([kp406.status, JSON.parse(kp406.body).reason]).toEqual([406, "NotAcceptable"]);
    expect(c.requests.filter((r) => r.target === KP && r.path === "/flagz").map((r) => r.status)).toEqual([200, 406]);
    expect(c.level(CCM)).toBeUndefined();
  });

  it("restart(): back to the startup level; the pod's restartCount and startedAt change", async () => {
    expect((await api(c, "PUT", "/api/v1/nodes/cp-1/proxy/debug/flags/v", { user: "kvlog", body: "6" })).status).toBe(200);
    const r = await portForward(c, "kube-system", "kube-scheduler-cp-1", "10259", { token: c.tokenFor("kvlog") });
    if (!r.ok) throw new Error("port-forward refused");
    expect((await httpThrough(r.tunnel, true, "PUT", "/debug/flags/v", { token: c.tokenFor("kvlog"), body: "5" })).body).toBe(SUCCESS("5"));
    expect(c.level(SCHED)).toBe(5);
    const before = await pod("kube-scheduler-cp-1");
    const st0 = before.status.containerStatuses[0];
    await new Promise((res) => setTimeout(res, 1100));
    c.restart(SCHED);
    expect(c.level(SCHED)).toBe(2);
    const after = await pod("kube-scheduler-cp-1");
    const st1 = after.status.containerStatuses[0];
    expect(st1?.restartCount).toBe(1);
    expect(Date.parse(st1?.state.running.startedAt ?? "")).toBeGreaterThan(Date.parse(st0?.state.running.startedAt ?? ""));
    expect(Math.abs(Date.parse(st1?.state.running.startedAt ?? "") - Date.now())).toBeLessThan(5000);
    expect(st1?.lastState).toMatchObject({ terminated: { startedAt: st0?.state.running.startedAt, containerID: st0?.containerID } });
    expect(st1?.containerID).not.toBe(st0?.containerID);
    expect(Number(after.metadata.resourceVersion)).toBeGreaterThan(Number(before.metadata.resourceVersion));
    // the command line did not change: still the startup level
    expect(after.spec.containers[0]?.command.at(-1)).toBe("--v=2");
    c.restart(SCHED);
    expect((await pod("kube-scheduler-cp-1")).status.containerStatuses[0]?.restartCount).toBe(2);

    // the kubelet (no pod): only the level; without a startup level it is untouched again
    c.restart("kubelet/cp-1");
    expect(c.level("kubelet/cp-1")).toBeUndefined();
    c.restart("kubelet/worker-1");
    expect(c.level("kubelet/worker-1")).toBe(3);
    // the apiserver: its (first) pod
    c.restart("kube-apiserver");
    expect(c.level("kube-apiserver")).toBe(4);
    expect((await pod("kube-apiserver-cp-1")).status.containerStatuses[0]?.restartCount).toBe(1);
    expect(() => c.restart("kubelet/nope")).toThrow(/unknown target/);
  });
});

describe("/flagz before 1.36 and with the gates", () => {
  it("is not installed by default before 1.36 (404); 1.35 serves v1alpha1 only; configz needs the debugging handlers", async () => {
    const c = await startFakeCluster({
      behaviour: {
        "kubelet/worker-1": { flagz: true, version: "v1.35.2", debuggingHandlers: false },
        [SCHED]: { flagz: true, version: "v1.35.2" },
      },
    });
    try {
      const nf = await api(c, "GET", "/flagz", { user: "admin" });
      expect([nf.status, nf.body]).toEqual([404, "404 page not found\n"]);
      expect((await api(c, "GET", "/api/v1/nodes/cp-1/proxy/flagz", { user: "admin" })).body).toBe("404 page not found\n");
      // the kubelet on 1.34 still has /configz (startup level 0)
      expect(JSON.parse((await api(c, "GET", "/api/v1/nodes/cp-1/proxy/configz", { user: "admin" })).body).kubeletconfig.logging.verbosity).toBe(0);
      expect((await api(c, "GET", "/api/v1/nodes/worker-1/proxy/configz", { user: "admin" })).body).toBe("404 page not found\n");
      const alpha = await api(c, "GET", "/api/v1/nodes/worker-1/proxy/flagz", {
        user: "admin",
        headers: { accept: "application/json;as=Flagz;v=v1beta1;g=config.k8s.io, application/json;as=Flagz;v=v1alpha1;g=config.k8s.io" },
      });
      expect([alpha.status, alpha.type, alpha.headers.warning]).toEqual([200, "application/json;g=config.k8s.io;v=v1alpha1;as=Flagz", undefined]);
      const beta = await api(c, "GET", "/api/v1/nodes/worker-1/proxy/flagz", { user: "admin", headers: { accept: "application/json;as=Flagz;v=v1beta1;g=config.k8s.io" } });
      expect(beta.status).toBe(406);
    } finally {
      await c.close();
    }
  });
});

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
import { KVLOG_RULES, startFakeCluster } from "./cluster.ts";
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
  o: { user?: string; token?: string; body?: string; cert?: boolean; signal?: AbortSignal } = {},
): Promise<Reply> {
  const headers: Record<string, string> = {};
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

async function direct(port: number, method: string, path: string, o: { token?: string; body?: string; signal?: AbortSignal } = {}): Promise<Reply> {
  const headers: Record<string, string> = {};
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
  o: { token?: string; body?: string; cert?: { certPem: string; keyPem: string } } = {},
): Promise<Reply & { peer?: tls.PeerCertificate }> {
  return new Promise((resolve, reject) => {
    let peer: tls.PeerCertificate | undefined;
    const socket: Duplex = secure
      ? tls.connect({ socket: t.stream, servername: "localhost", rejectUnauthorized: false, cert: o.cert?.certPem, key: o.cert?.keyPem })
      : t.stream;
    if (secure) (socket as tls.TLSSocket).once("secureConnect", () => (peer = (socket as tls.TLSSocket).getPeerCertificate(true)));
    const headers: Record<string, string> = { host: "localhost", connection: "close" };
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
    const kvlogGet = await call({ token: c.tokenFor("kvlog") }, "GET");
    expect(kvlogGet.body).toBe(statusJSON(403, "Forbidden", 'forbidden: User "kvlog" cannot get path "/debug/flags/v"', {}));
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

// The fake apiserver's pod port-forward (SIMULATED, test-only): the checks the apiserver and the
// kubelet make before a stream starts (ports, the KEP-4006 create check, the kubelet's modes and
// debugging handlers), and the CRI streaming server's WebSocket protocol (v4.channel.k8s.io,
// v4.base64.channel.k8s.io) relayed to what listens on the pod's port: a real listener over TCP,
// or a virtual target / the apiserver itself in process. SPDY is refused (README: deliberate differences).

import type * as http from "node:http";
import * as net from "node:net";
import type { Duplex } from "node:stream";
import { WebSocketServer } from "ws";
import type { WebSocket } from "ws";
import { goQuote, parseUint } from "./goparse.ts";
import type { Attrs, Identity, Pod, StatusObj, Target } from "./internal.ts";
import { apiHeaders, badRequest, forbidden, internalError, newForbidden, notFound, rawResponse, statusBody, unauthorized } from "./status.ts";
import { requestInfo } from "./auth.ts";
import type { Auth } from "./auth.ts";
import type { Components } from "./components.ts";
import type { Resources } from "./resources.ts";
import type { World } from "./state.ts";

export type PortForward = ReturnType<typeof createPortForward>;

export function createPortForward(w: World, auth: Auth, comps: Components, res: Resources) {
  const { anonymousAuth, createCheck, dialTimeoutMs, counters, anonymous, nodes, podsByKey, targetsByNode, originPorts, later, track, record, viaFor } = w;
  const { authorize, authenticate } = auth;
  const { dialInProcess } = comps;
  const { kubeletPortOf } = res;

  type PortForwardPlan =
    | { kind: "status"; status: StatusObj }
    | { kind: "relay"; code: number; headers: Record<string, string>; body: string }
    | { kind: "hang" }
    | { kind: "timeout"; status: StatusObj }
    | { kind: "ok"; pod: Pod; ports: number[] };

  /** Everything the apiserver and the kubelet check before a port-forward stream starts. */
  function preparePortForward(attrs: Attrs, user: Identity, q: URLSearchParams, isUpgrade: boolean): PortForwardPlan {
    // getRequestOptions: Convert_Slice_string_To_Slice_int32
    const ports: number[] = [];
    for (const v of q.getAll("ports")) {
      for (const part of v.split(",")) {
        const r = parseUint(Buffer.from(part), 16);
        if (!r.ok) return { kind: "status", status: badRequest(`cannot convert to []int32: ${r.message}`) };
        ports.push(Number(r.value));
      }
    }
    // PortForwardREST.Connect: synthetic "create" check (KEP-4006, 1.35+)
    if (createCheck && attrs.verb !== "create" && !authorize(user, { ...attrs, verb: "create" }).allowed) {
      return { kind: "status", status: newForbidden("", "pods", attrs.name, "") };
    }
    const pod = podsByKey.get(`${attrs.namespace}/${attrs.name}`);
    if (!pod) return { kind: "status", status: notFound("", "pods", attrs.name) };
    if (!pod.spec.nodeName) return { kind: "status", status: badRequest(`pod ${attrs.name} does not have a host assigned`) };
    if (!isUpgrade) return { kind: "status", status: badRequest("Upgrade request required") };
    const kubelet = nodes.get(pod.spec.nodeName)?.kubelet;
    if (!kubelet) return { kind: "status", status: internalError(`nodes ${goQuote(pod.spec.nodeName)} not found`) };
    const kport = kubeletPortOf(pod.spec.nodeName);
    switch (kubelet.behaviour.mode) {
      case "refuse":
        return { kind: "status", status: internalError(`error dialing backend: dial tcp 127.0.0.1:${kport}: connect: connection refused`) };
      case "reset":
        return { kind: "status", status: internalError("unexpected EOF") };
      case "hang":
        return { kind: "hang" };
      case "unreachable":
        return { kind: "timeout", status: internalError(`error dialing backend: dial tcp 127.0.0.1:${kport}: i/o timeout`) };
    }
    const plain = { "Content-Type": "text/plain; charset=utf-8" };
    if (!kubelet.behaviour.debuggingHandlers)
      return { kind: "relay", code: 405, headers: { ...plain, "X-Content-Type-Options": "nosniff" }, body: "Debug endpoints are disabled.\n" };
    // kubelet: portforward.NewV4Options
    if (ports.length === 0) return { kind: "relay", code: 400, headers: plain, body: 'query parameter "port" is required' };
    for (const p of ports) if (p < 1) return { kind: "relay", code: 400, headers: plain, body: `port ${goQuote(String(p))} must be > 0` };
    return { kind: "ok", pod, ports };
  }

  type PodDial = { kind: "tcp"; port: number } | { kind: "in-process"; target: Target };

  /** What a connection to localhost:port inside the pod's network namespace reaches. */
  function resolvePodPort(pod: Pod, port: number): PodDial | undefined {
    // mode "refuse": nothing listens. Not dialled: the closed port number could by then belong
    // to another listener on this machine, and the test would hang instead of being refused.
    const reach = (t: Target): PodDial | undefined => {
      if (t.kind === "kube-apiserver") return { kind: "in-process", target: t };
      if (t.behaviour.mode === "refuse") return undefined;
      return t.virtual ? { kind: "in-process", target: t } : { kind: "tcp", port: t.port };
    };
    if (pod.spec.hostNetwork ?? true) {
      const t = (targetsByNode.get(pod.spec.nodeName ?? "") ?? []).find((x) => x.hostPort === port);
      return t ? reach(t) : undefined;
    }
    const own = pod.spec.ports?.[port];
    if (own !== undefined) return { kind: "tcp", port: own };
    if (pod.target && pod.target.hostPort === port) return reach(pod.target);
    return undefined;
  }

  function forwardError(pod: Pod, port: number): string {
    const hostNet = pod.spec.hostNetwork ?? true;
    const netns = hostNet ? "host" : `/var/run/netns/cni-${pod.uid}`;
    return (
      `error forwarding port ${port} to pod ${pod.sandboxId}, uid : ` +
      `failed to execute portforward in network namespace ${goQuote(netns)}: ` +
      `failed to connect to localhost:${port} inside namespace ${goQuote(pod.sandboxId)}, ` +
      `IPv4: dial tcp4 127.0.0.1:${port}: connect: connection refused IPv6 dial tcp6 [::1]:${port}: connect: connection refused `
    );
  }

  /** The CRI streaming server's WebSocket port-forward (k8s.io/kubelet/pkg/cri/streaming/portforward/websocket.go). */
  function runTunnel(ws: WebSocket, pod: Pod, ports: number[], protocol: string): void {
    const binary = protocol !== "v4.base64.channel.k8s.io";
    const sendFrame = (ch: number, data: Buffer): void => {
      if (ws.readyState !== ws.OPEN) return;
      if (binary) ws.send(Buffer.concat([Buffer.from([ch]), data]), { binary: true });
      else ws.send(String.fromCharCode(48 + ch) + data.toString("base64"));
    };
    const streams = ports.map(() => ({ socket: undefined as Duplex | undefined, connected: false, pending: [] as Buffer[], done: false }));
    const finish = (i: number): void => {
      const s = streams[i];
      if (!s || s.done) return;
      s.done = true;
      if (streams.every((x) => x.done) && ws.readyState === ws.OPEN) ws.close(1000);
    };
    ports.forEach((p, i) => {
      const pb = Buffer.alloc(2);
      pb.writeUInt16LE(p);
      sendFrame(2 * i, pb);
      sendFrame(2 * i + 1, pb);
    });
    ws.on("message", (raw: Buffer | ArrayBuffer | Buffer[], isBinary: boolean) => {
      const buf = Buffer.isBuffer(raw) ? raw : Array.isArray(raw) ? Buffer.concat(raw) : Buffer.from(raw);
      if (buf.length === 0) return;
      let ch: number;
      let data: Buffer;
      if (binary || isBinary) {
        ch = buf[0] ?? 0;
        data = buf.subarray(1);
      } else {
        ch = (buf[0] ?? 48) - 48;
        data = Buffer.from(buf.subarray(1).toString(), "base64");
      }
      if (ch % 2 !== 0) return;
      const s = streams[ch / 2];
      if (!s || s.done) return;
      if (s.connected && s.socket) s.socket.write(data);
      else s.pending.push(data);
    });
    ws.on("close", () => {
      for (const s of streams) s.socket?.destroy();
    });
    ports.forEach((p, i) => {
      const s = streams[i];
      if (!s) return;
      const fail = (): void => {
        sendFrame(2 * i + 1, Buffer.from(forwardError(pod, p)));
        finish(i);
      };
      const local = resolvePodPort(pod, p);
      if (local === undefined) return fail();
      if (local.kind === "in-process") {
        const sock = dialInProcess(local.target, "port-forward", { tls: local.target.secure });
        s.socket = sock;
        s.connected = true;
        for (const d of s.pending) sock.write(d);
        s.pending = [];
        sock.on("data", (d: Buffer) => sendFrame(2 * i, d));
        sock.on("error", () => undefined);
        sock.on("close", () => finish(i));
        return;
      }
      const sock = track(net.connect({ host: "127.0.0.1", port: local.port }));
      s.socket = sock;
      sock.on("connect", () => {
        if (sock.localPort) originPorts.tunnel.add(sock.localPort);
        s.connected = true;
        for (const d of s.pending) sock.write(d);
        s.pending = [];
      });
      sock.on("data", (d: Buffer) => sendFrame(2 * i, d));
      sock.on("error", () => {
        if (!s.connected) fail();
      });
      sock.on("close", () => {
        if (sock.localPort) originPorts.tunnel.delete(sock.localPort);
        finish(i);
      });
    });
  }

  const wss = new WebSocketServer({
    noServer: true,
    perMessageDeflate: false,
    handleProtocols: (_protocols: Set<string>, req: http.IncomingMessage) => (req as http.IncomingMessage & { chosenProtocol?: string }).chosenProtocol || false,
  });

  async function apiserverUpgrade(replica: Target, req: http.IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    track(socket);
    const u = new URL(req.url ?? "/", "https://apiserver");
    const offered = String(req.headers["sec-websocket-protocol"] ?? "")
      .split(",")
      .map((s) => s.trim())
      .filter((s) => s);
    let wsToken: string | undefined;
    const protocols: string[] = [];
    for (const p of offered) {
      const m = /^base64url\.bearer\.authorization\.k8s\.io\.(.*)$/.exec(p);
      if (m) wsToken = Buffer.from(m[1] ?? "", "base64url").toString();
      else protocols.push(p);
    }
    const authn = authenticate(req, anonymousAuth, wsToken);
    counters.requests++;
    const rec = record({
      target: replica.id,
      method: req.method ?? "",
      path: u.pathname,
      query: u.search,
      body: "",
      authorization: authn.cred,
      user: authn.kind === "user" ? authn.user.name : authn.kind === "anonymous" ? anonymous.name : undefined,
      via: viaFor(req) === "port-forward" ? "port-forward" : "apiserver",
    });
    const reject = (code: number, headers: Record<string, string>, body: string): void => {
      rec.status = code;
      socket.end(rawResponse(code, { ...apiHeaders(), ...headers }, body));
    };
    const rejectStatus = (s: StatusObj, extra: Record<string, string> = {}): void =>
      reject(s.code, { ...extra, "Content-Type": "application/json" }, statusBody(s));
    if (authn.kind === "error") return rejectStatus(unauthorized());
    const user = authn.kind === "user" ? authn.user : anonymous;
    const attrs = requestInfo(req.method ?? "GET", u.pathname, u.searchParams);
    if (!authorize(user, attrs).allowed) return rejectStatus(forbidden(attrs, user.name), { "X-Content-Type-Options": "nosniff" });
    const isPortForward = attrs.resourceRequest && attrs.apiGroup === "" && attrs.resource === "pods" && attrs.subresource === "portforward" && attrs.name !== "";
    if (!isPortForward) return rejectStatus(badRequest("fake apiserver: only pods/portforward accepts upgrade requests"));
    const isWebSocket = String(req.headers.upgrade ?? "").toLowerCase() === "websocket";
    const plan = preparePortForward(attrs, user, u.searchParams, true);
    if (plan.kind === "status") return rejectStatus(plan.status);
    if (!isWebSocket)
      return rejectStatus(badRequest("fake apiserver: SPDY port-forward is not implemented; use WebSocket v4.channel.k8s.io"));
    if (protocols.includes("SPDY/3.1+portforward.k8s.io"))
      return rejectStatus(badRequest("fake apiserver: SPDY-over-WebSocket tunneling (SPDY/3.1+portforward.k8s.io) is not implemented; use v4.channel.k8s.io"));
    if (plan.kind === "hang") return;
    if (plan.kind === "timeout") {
      // upstream's dialer gives up on a kubelet that is gone (net.Dialer Timeout, 30 s).
      later(dialTimeoutMs, () => {
        if (!socket.destroyed) rejectStatus(plan.status);
      });
      return;
    }
    if (plan.kind === "relay") {
      rec.status = plan.code;
      socket.end(rawResponse(plan.code, plan.headers, plan.body));
      return;
    }
    const supported = ["v4.channel.k8s.io", "v4.base64.channel.k8s.io"];
    let chosen = "";
    if (protocols.length > 0) {
      const hit = protocols.find((p) => supported.includes(p));
      if (!hit) {
        // golang.org/x/net/websocket handshake failure, relayed by the apiserver.
        rec.status = 403;
        socket.end("HTTP/1.1 403 Forbidden\r\n\r\n");
        return;
      }
      chosen = hit;
    }
    (req as http.IncomingMessage & { chosenProtocol?: string }).chosenProtocol = chosen;
    if (protocols.length > 0) req.headers["sec-websocket-protocol"] = protocols.join(", ");
    else delete req.headers["sec-websocket-protocol"];
    wss.handleUpgrade(req, socket, head, (ws) => {
      rec.status = 101;
      runTunnel(ws, plan.pod, plan.ports, chosen);
    });
  }

  return { preparePortForward, apiserverUpgrade, wss };
}

// A port-forward tunnel to one port of a pod, over the apiserver's
// pods/portforward WebSocket with the v4.channel.k8s.io subprotocol.
//
// Wire format (kubernetes-facts.md): for the one forwarded port, channel 0 carries
// data and channel 1 carries errors. Every binary frame begins with its channel
// byte; the first frame on each channel carries the port as 2 bytes little-endian;
// after that, data frames carry raw TCP bytes and error frames carry text.
//
// The tunnel is returned as a Duplex so undici (or tls.connect) can run HTTP over it
// without any local listening port.

import net from "node:net";
import { Duplex } from "node:stream";
import tls from "node:tls";
import type WebSocket from "ws";
import { secureContextFor, type ApiTls, type Credentials } from "./access.js";
import { readBody, retryAfterSeconds, statusMessage } from "./http.js";
import { proxyConnect, proxyFor, type Proxies } from "./proxy.js";

export const PORT_FORWARD_PROTOCOL = "v4.channel.k8s.io";

/** The apiserver refused to open the tunnel (before the upgrade): carries its HTTP status and Status message. */
export class TunnelRefusedError extends Error {
  override name = "TunnelRefusedError";
  readonly status: number;
  /** Seconds from the answer's Retry-After header (429 from API Priority and Fairness). */
  readonly retryAfter: number | undefined;
  constructor(message: string, status: number, retryAfter?: number) {
    super(message);
    this.status = status;
    this.retryAfter = retryAfter;
  }
}

/** The far end reported an error on the error channel (e.g. the pod's port refused). */
export class TunnelError extends Error {
  override name = "TunnelError";
}

export interface TunnelOptions {
  server: URL;
  tls: ApiTls;
  credentials: Credentials;
  namespace: string;
  pod: string;
  port: number;
  timeoutMs: number;
  /** Cuts the opening short (--timeout passed): rejects with the signal's reason. */
  signal?: AbortSignal | undefined;
  /**
   * A TLS session of an earlier connection to the same apiserver, resumed so that each of a
   * fleet's thousands of tunnels skips the certificate exchange; `onSession` gets the new one.
   */
  session?: Buffer | undefined;
  onSession?: ((session: Buffer) => void) | undefined;
  /** The proxies to reach the apiserver through (kubeconfig proxy-url, HTTPS_PROXY). */
  proxy?: Proxies | undefined;
}

export function portForwardUrl(server: URL, namespace: string, pod: string, port: number): URL {
  const u = new URL(server.href);
  u.protocol = u.protocol === "http:" ? "ws:" : "wss:";
  const base = u.pathname.replace(/\/+$/, "");
  u.pathname = `${base}/api/v1/namespaces/${encodeURIComponent(namespace)}/pods/${encodeURIComponent(pod)}/portforward`;
  u.search = `?ports=${port}`;
  return u;
}

/** Opens the tunnel; resolves once the WebSocket is open, rejects on refusal or timeout. */
export async function openTunnel(opts: TunnelOptions): Promise<Duplex> {
  const url = portForwardUrl(opts.server, opts.namespace, opts.pod, opts.port);
  const started = Date.now();
  if (opts.signal?.aborted) throw opts.signal.reason;
  // Through a proxy, the WebSocket's TLS runs on the proxy's tunnel (HTTP CONNECT or SOCKS5).
  const via = proxyFor(opts.proxy, url);
  const raw = via ? await proxyConnect(via, url.hostname, Number(url.port) || (url.protocol === "ws:" ? 80 : 443), opts.timeoutMs) : undefined;
  // ws is loaded by the first tunnel: a run that needs none (the apiserver, kubelets) skips it.
  const { default: WebSocketClass } = await import("ws");
  const timeoutMs = Math.max(1, opts.timeoutMs - (Date.now() - started));
  return new Promise<Duplex>((resolve, reject) => {
    let settled = false;
    const wsOptions: WebSocket.ClientOptions & { servername?: string | undefined } = {
      ca: opts.tls.ca,
      rejectUnauthorized: opts.tls.rejectUnauthorized,
      servername: opts.tls.servername,
      cert: opts.credentials.cert,
      key: opts.credentials.key,
      headers: { ...opts.credentials.headers },
      handshakeTimeout: timeoutMs,
      perMessageDeflate: false,
      followRedirects: false,
      // ws's own TLS connect, plus session resumption.
      createConnection: (o: tls.ConnectionOptions) => {
        if (raw && url.protocol === "ws:") return raw.resume();
        const servername = o.servername ?? (net.isIP(o.host ?? "") ? "" : o.host);
        const secureContext = secureContextFor(opts.credentials, opts.tls.ca);
        const socket = tls.connect({ ...o, path: undefined, servername, session: opts.session, secureContext, ...(raw ? { socket: raw } : {}) });
        if (opts.onSession) socket.once("session", opts.onSession);
        return socket;
      },
    } as WebSocket.ClientOptions;
    // ws passes TLS options through to tls.connect; servername is one (kubeconfig tls-server-name).
    const ws = new WebSocketClass(url, [PORT_FORWARD_PROTOCOL], wsOptions);
    const fail = (err: Error): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      opts.signal?.removeEventListener("abort", onAbort);
      ws.terminate();
      reject(err);
    };
    const onAbort = (): void => {
      raw?.destroy();
      fail(opts.signal!.reason as Error);
    };
    const timer = setTimeout(() => {
      raw?.destroy();
      const e = new Error(`port-forward to ${opts.namespace}/${opts.pod}:${opts.port} did not open within ${opts.timeoutMs} ms`);
      (e as NodeJS.ErrnoException).code = "ETIMEDOUT";
      fail(e);
    }, opts.timeoutMs);
    if (opts.signal?.aborted) onAbort();
    else opts.signal?.addEventListener("abort", onAbort, { once: true });

    ws.on("unexpected-response", (_req, res) => {
      const retryAfter = retryAfterSeconds(String(res.headers["retry-after"] ?? ""));
      readBody(res).then(
        (body) => fail(new TunnelRefusedError(statusMessage(body) ?? `HTTP ${res.statusCode}`, res.statusCode ?? 0, retryAfter)),
        (e: Error) => fail(e),
      );
    });
    ws.on("error", (e) => fail(e));
    ws.on("open", () => {
      if (settled) return;
      if (ws.protocol !== PORT_FORWARD_PROTOCOL) {
        fail(new Error(`the apiserver did not agree to ${PORT_FORWARD_PROTOCOL} (got "${ws.protocol}"); it is too old for kvlog's port-forward`));
        return;
      }
      settled = true;
      clearTimeout(timer);
      opts.signal?.removeEventListener("abort", onAbort);
      resolve(tunnelStream(ws));
    });
  });
}

/** A component's answer is one line: more than this through a tunnel is not an answer. */
const MAX_TUNNEL_DATA = 1024 * 1024;
/** The error channel carries one message. */
const MAX_TUNNEL_ERROR = 4096;

function tunnelStream(ws: WebSocket): Duplex {
  let received = 0;
  const seenPortHeader = [false, false];
  let errorText = "";
  const stream = new Duplex({
    read() {
      // Answers are small: no flow control beyond the WebSocket's own.
    },
    write(chunk: Buffer, _enc, cb) {
      if (ws.readyState !== ws.OPEN) {
        // The kubelet reports a failed dial in the pod ("connection refused") and closes the
        // tunnel within milliseconds of opening it, often before the first write: fail with its
        // words (once the close has delivered them), not with a bare "closed".
        const closed = (): void => cb(new TunnelError(errorText.trim() || "port-forward tunnel is closed"));
        if (ws.readyState === ws.CLOSED) closed();
        else ws.once("close", closed);
        return;
      }
      ws.send(Buffer.concat([Buffer.from([0]), chunk]), { binary: true }, cb);
    },
    final(cb) {
      // Half-close is not expressible in v4; the response still arrives, so keep the socket open.
      cb();
    },
    destroy(err, cb) {
      // The HTTP exchange is over (or failed): no need to wait for the peer's close frame.
      ws.terminate();
      cb(err);
    },
  });
  ws.on("message", (data: Buffer, isBinary: boolean) => {
    const frame = isBinary ? data : Buffer.from(data);
    if (frame.length === 0) return;
    const channel = frame[0]!;
    let payload = frame.subarray(1);
    if (channel === 0 || channel === 1) {
      if (!seenPortHeader[channel]) {
        seenPortHeader[channel] = true;
        payload = payload.subarray(2);
      }
    }
    if (payload.length === 0) return;
    if (channel === 0) {
      received += payload.length;
      if (received > MAX_TUNNEL_DATA) {
        stream.destroy(new TunnelError(`the pod sent more than ${MAX_TUNNEL_DATA / 1024 / 1024} MiB through the port-forward; no component answers that much`));
        return;
      }
      stream.push(payload);
    } else if (channel === 1 && errorText.length < MAX_TUNNEL_ERROR) {
      errorText = (errorText + payload.toString("utf8")).slice(0, MAX_TUNNEL_ERROR);
    }
  });
  ws.on("close", () => {
    if (errorText) stream.destroy(new TunnelError(errorText.trim()));
    else stream.push(null);
  });
  ws.on("error", (e) => stream.destroy(e));
  return stream;
}

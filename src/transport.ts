// Ways to send one HTTP request to a target, each a function of the same shape:
// direct (the apiserver itself, --endpoint, kubelet --direct), node-proxy (the
// apiserver's /api/v1/nodes/NODE/proxy) and port-forward (a v4.channel.k8s.io
// tunnel to a pod's port, with HTTP or HTTPS run inside it, no local port).
// Every way can send any method, so `get`-style probes fit the same code.

import tls from "node:tls";
import { Agent, Client, type Dispatcher } from "undici";
import { openTunnel } from "./portforward.js";
import type { Target } from "./plan.js";

export interface ApiTls {
  ca?: Buffer | undefined;
  rejectUnauthorized: boolean;
  servername?: string | undefined;
}

/** How kvlog authenticates. Never printed: only `kind` is shown to users. */
export interface Credentials {
  kind: string;
  headers: Record<string, string>;
  cert?: Buffer | undefined;
  key?: Buffer | undefined;
}

/** Everything needed to talk to the apiserver: its URL, TLS, credentials and a pooled dispatcher. */
export interface Access {
  server: URL;
  tls: ApiTls;
  credentials: Credentials;
  dispatcher: Dispatcher;
  /** Where the settings came from, for messages: `kubeconfig ~/.kube/config, context kind-kind`. */
  source: string;
}

export interface HttpAnswer {
  status: number;
  contentType: string;
  body: string;
}

export interface SendOptions {
  method: string;
  path: string;
  body?: string;
  timeoutMs: number;
}

/** One opened way to a target. `describe` is what `--dry-run` and the table show. */
export interface Channel {
  url: string;
  send(opts: SendOptions): Promise<HttpAnswer>;
  close(): Promise<void>;
}

export type Via = Target["via"];
export type Way = (target: Target, access: Access | undefined, timeoutMs: number) => Channel;

const MAX_BODY = 64 * 1024;

export function newApiDispatcher(tlsConf: ApiTls, credentials: Credentials, timeoutMs: number): Dispatcher {
  return new Agent({
    connect: {
      ca: tlsConf.ca,
      rejectUnauthorized: tlsConf.rejectUnauthorized,
      servername: tlsConf.servername,
      cert: credentials.cert,
      key: credentials.key,
      timeout: timeoutMs,
    },
    headersTimeout: timeoutMs,
    bodyTimeout: timeoutMs,
    connections: 32,
  });
}

/** Sends one request through a dispatcher and reads at most 64 KiB of the answer. */
export async function request(
  dispatcher: Dispatcher,
  url: URL,
  headers: Record<string, string>,
  opts: SendOptions,
): Promise<HttpAnswer> {
  const res = await dispatcher.request({
    origin: url.origin,
    path: url.pathname + url.search,
    method: opts.method as Dispatcher.HttpMethod,
    headers: {
      "user-agent": "kvlog",
      ...(opts.body !== undefined ? { "content-type": "text/plain" } : {}),
      ...headers,
    },
    body: opts.body,
    headersTimeout: opts.timeoutMs,
    bodyTimeout: opts.timeoutMs,
    signal: AbortSignal.timeout(opts.timeoutMs),
  });
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of res.body) {
    const b = chunk as Buffer;
    if (size < MAX_BODY) chunks.push(b.subarray(0, MAX_BODY - size));
    size += b.length;
  }
  const ct = res.headers["content-type"];
  return {
    status: res.statusCode,
    contentType: Array.isArray(ct) ? (ct[0] ?? "") : (ct ?? ""),
    body: Buffer.concat(chunks).toString("utf8"),
  };
}

/** Appends a path to a base URL, keeping any path prefix of the base (e.g. a Rancher proxy URL). */
export function joinUrl(base: URL, path: string): URL {
  const u = new URL(base.href);
  const [p, q] = path.split("?", 2) as [string, string | undefined];
  u.pathname = u.pathname.replace(/\/+$/, "") + p;
  u.search = q ? `?${q}` : "";
  return u;
}

/** Credentials go only to endpoints that authenticate, and never over plain HTTP. */
function headersFor(target: Target, access: Access | undefined, scheme: string): Record<string, string> {
  if (!access || !target.authenticates || scheme !== "https") return {};
  return access.credentials.headers;
}

const direct: Way = (target, access, timeoutMs) => {
  const url = new URL(target.url!);
  const isApiserver = access !== undefined && url.origin === access.server.origin;
  const https = url.protocol === "https:";
  const sendCreds = access !== undefined && target.authenticates && https;
  const dispatcher = isApiserver
    ? access.dispatcher
    : new Agent({
        connect: {
          ca: access?.tls.ca,
          rejectUnauthorized: access?.tls.rejectUnauthorized ?? true,
          cert: sendCreds ? access.credentials.cert : undefined,
          key: sendCreds ? access.credentials.key : undefined,
          timeout: timeoutMs,
        },
      });
  return {
    url: url.href,
    send: (opts) => request(dispatcher, joinUrl(url, opts.path), headersFor(target, access, url.protocol.slice(0, -1)), opts),
    close: async () => {
      if (!isApiserver) await dispatcher.destroy();
    },
  };
};

const nodeProxy: Way = (target, access) => {
  if (!access) throw new Error("the node proxy needs an apiserver");
  const base = joinUrl(access.server, `/api/v1/nodes/${encodeURIComponent(target.node!)}/proxy`);
  return {
    url: joinUrl(base, "/debug/flags/v").href,
    send: (opts) => request(access.dispatcher, joinUrl(base, opts.path), access.credentials.headers, opts),
    close: async () => {},
  };
};

const portForward: Way = (target, access, timeoutMs) => {
  if (!access) throw new Error("port-forward needs an apiserver");
  const https = target.scheme === "https";
  const sendCreds = target.authenticates && https;
  const origin = `${target.scheme}://localhost:${target.port}`;
  const client = new Client(origin, {
    pipelining: 0,
    headersTimeout: timeoutMs,
    bodyTimeout: timeoutMs,
    connect: (_options, callback) => {
      openTunnel({
        server: access.server,
        tls: access.tls,
        credentials: access.credentials,
        namespace: target.namespace!,
        pod: target.pod!,
        port: target.port,
        timeoutMs,
      }).then(
        (stream) => {
          if (!https) {
            callback(null, stream as never);
            return;
          }
          // The component's serving certificate is self-signed (kubernetes-facts.md), so it is
          // not verified; the tunnel itself is authenticated and verified by the apiserver's TLS.
          const socket = tls.connect({
            socket: stream,
            rejectUnauthorized: false,
            servername: "localhost",
            cert: sendCreds ? access.credentials.cert : undefined,
            key: sendCreds ? access.credentials.key : undefined,
            ALPNProtocols: ["http/1.1"],
          });
          const timer = setTimeout(() => socket.destroy(Object.assign(new Error("TLS handshake inside the port-forward timed out"), { code: "ETIMEDOUT" })), timeoutMs);
          socket.once("secureConnect", () => {
            clearTimeout(timer);
            callback(null, socket as never);
          });
          socket.once("error", (err) => {
            clearTimeout(timer);
            callback(err, null);
          });
        },
        (err: Error) => callback(err, null),
      );
    },
  });
  const headers = sendCreds ? access.credentials.headers : {};
  return {
    url: `${joinUrl(access.server, `/api/v1/namespaces/${target.namespace}/pods/${target.pod}/portforward?ports=${target.port}`).href} -> ${origin}/debug/flags/v`,
    send: (opts) => request(client, new URL(opts.path, origin), headers, opts),
    close: async () => {
      await client.destroy();
    },
  };
};

export const WAYS: Record<Via, Way> = {
  direct,
  "node-proxy": nodeProxy,
  "port-forward": portForward,
};

export function openChannel(target: Target, access: Access | undefined, timeoutMs: number): Channel {
  return WAYS[target.via](target, access, timeoutMs);
}

// Ways to send one HTTP request to a target, each a function of the same shape:
// direct (the apiserver itself, --endpoint, kubelet --direct), node-proxy (the
// apiserver's /api/v1/nodes/NODE/proxy) and port-forward (a v4.channel.k8s.io
// tunnel to a pod's port, with HTTP or HTTPS run inside it, no local port).
// Every way can send any method, so `get`-style probes fit the same code.

import tls from "node:tls";
import { Agent, Client, type Dispatcher } from "undici";
import { displayUrl, FLAGS_PATH, readLimited } from "./http.js";
import { openTunnel, portForwardUrl } from "./portforward.js";
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

/** One opened way to a target. `url` is what `--dry-run`, the table and the JSON show. */
export interface Channel {
  url: string;
  send(opts: SendOptions): Promise<HttpAnswer>;
  close(): Promise<void>;
}

export type Via = Target["via"];
export type Way = (target: Target, access: Access | undefined, timeoutMs: number) => Channel;

/** An undici Agent with kvlog's TLS settings; client certificate only when credentials are given. */
export function newDispatcher(tlsConf: ApiTls, credentials: Credentials | undefined, timeoutMs: number): Dispatcher {
  return new Agent({
    connect: {
      ca: tlsConf.ca,
      rejectUnauthorized: tlsConf.rejectUnauthorized,
      servername: tlsConf.servername,
      cert: credentials?.cert,
      key: credentials?.key,
      timeout: timeoutMs,
    },
    headersTimeout: timeoutMs,
    bodyTimeout: timeoutMs,
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
  const body = await readLimited(res.body);
  const ct = res.headers["content-type"];
  return {
    status: res.statusCode,
    contentType: Array.isArray(ct) ? (ct[0] ?? "") : (ct ?? ""),
    body,
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
function sendsCredentials(target: Target, access: Access | undefined, https: boolean): access is Access {
  return access !== undefined && target.authenticates && https;
}

const direct: Way = (target, access, timeoutMs) => {
  const base = new URL(target.url!);
  const isApiserver = access !== undefined && base.origin === access.server.origin;
  const creds = sendsCredentials(target, access, base.protocol === "https:") ? access!.credentials : undefined;
  const dispatcher = isApiserver ? access.dispatcher : newDispatcher(access?.tls ?? { rejectUnauthorized: true }, creds, timeoutMs);
  return {
    url: displayUrl(joinUrl(base, FLAGS_PATH)),
    send: (opts) => request(dispatcher, joinUrl(base, opts.path), creds?.headers ?? {}, opts),
    close: async () => {
      if (!isApiserver) await dispatcher.destroy();
    },
  };
};

const nodeProxy: Way = (target, access) => {
  if (!access) throw new Error("the node proxy needs an apiserver");
  const base = joinUrl(access.server, `/api/v1/nodes/${encodeURIComponent(target.node!)}/proxy`);
  return {
    url: displayUrl(joinUrl(base, FLAGS_PATH)),
    send: (opts) => request(access.dispatcher, joinUrl(base, opts.path), access.credentials.headers, opts),
    close: async () => {},
  };
};

const portForward: Way = (target, access, timeoutMs) => {
  if (!access) throw new Error("port-forward needs an apiserver");
  const https = target.scheme === "https";
  const creds = sendsCredentials(target, access, https) ? access.credentials : undefined;
  const origin = `${target.scheme}://localhost:${target.port}`;
  const client = new Client(origin, {
    pipelining: 0,
    headersTimeout: timeoutMs,
    bodyTimeout: timeoutMs,
    connect: (_options, callback) => {
      let settled = false;
      const settle = (err: Error | null, socket: unknown): void => {
        if (settled) return;
        settled = true;
        if (err) callback(err, null);
        else callback(null, socket as never);
      };
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
            settle(null, stream);
            return;
          }
          try {
            // The component's serving certificate is self-signed (kubernetes-facts.md), so it is
            // not verified; the tunnel itself is authenticated and verified by the apiserver's TLS.
            const socket = tls.connect({
              socket: stream,
              rejectUnauthorized: false,
              servername: "localhost",
              cert: creds?.cert,
              key: creds?.key,
              ALPNProtocols: ["http/1.1"],
            });
            const timer = setTimeout(
              () => socket.destroy(Object.assign(new Error("TLS handshake inside the port-forward timed out"), { code: "ETIMEDOUT" })),
              timeoutMs,
            );
            socket.once("secureConnect", () => {
              clearTimeout(timer);
              settle(null, socket);
            });
            socket.once("error", (err) => {
              clearTimeout(timer);
              settle(err, null);
            });
          } catch (err) {
            stream.destroy();
            settle(err as Error, null);
          }
        },
        (err: Error) => settle(err, null),
      );
    },
  });
  const tunnel = portForwardUrl(access.server, target.namespace!, target.pod!, target.port);
  tunnel.protocol = access.server.protocol;
  return {
    url: `${displayUrl(tunnel)} -> ${origin}${FLAGS_PATH}`,
    send: (opts) => request(client, new URL(opts.path, origin), creds?.headers ?? {}, opts),
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

// dispatch: sending one request with undici. A pooled dispatcher per identity (TLS settings,
// client certificate, connection cap, proxy, TCP keep-alive once connected) and one request with
// a bounded read. The only module besides transport.ts (port-forward's own client) and logs.ts
// that loads undici: credentials.ts does not, so a kubeconfig can be read before undici loads.

import type { Dispatcher } from "undici";
import Agent from "undici/lib/dispatcher/agent.js";
import buildConnector from "undici/lib/core/connect.js";
import dispatchRequest from "undici/lib/api/api-request.js";
import type { ApiTls, Credentials, Pool } from "./access.js";
import { header, readBody, retryAfterSeconds, type HttpAnswer, type SendOptions } from "./http.js";
import { withPreconnected, type Connector } from "./preconnect.js";
import { proxyConnect, proxyFor, type Proxies } from "./proxy.js";

/** An undici Agent with kvlog's TLS settings; client certificate only when credentials are given. */
export function newDispatcher(tlsConf: ApiTls, credentials: Credentials | undefined, pool: Pool): Dispatcher {
  const timeoutMs = pool.timeoutMs;
  const tlsOptions = {
    ca: tlsConf.ca,
    rejectUnauthorized: tlsConf.rejectUnauthorized,
    servername: tlsConf.servername,
    cert: credentials?.cert,
    key: credentials?.key,
    timeout: timeoutMs,
    keepAlive: false, // turned on once connected: keepAliveOnceConnected
  };
  return new Agent({
    ...(pool.connections ? { connections: pool.connections } : {}),
    connect: keepAliveOnceConnected(pool.proxy ? proxiedConnector(tlsOptions, pool.proxy, timeoutMs) : (withPreconnected(buildConnector(tlsOptions) as Connector, tlsOptions) as buildConnector.connector)),
    headersTimeout: timeoutMs,
    bodyTimeout: timeoutMs,
  });
}

/** TCP keep-alive after this long idle: undici's own default. */
const KEEP_ALIVE_MS = 60_000;

/**
 * TCP keep-alive, turned on once the socket is connected. undici's connector turns it on before
 * the connect, so libuv sets it while creating the socket and fails the connect when the system
 * refuses one of its options: Wine 8 does not know Windows' TCP_KEEPALIVE (IPPROTO_TCP option 3)
 * and every connection failed with "connect UNKNOWN" (docs/install.md). On a connected socket
 * Node ignores such a refusal; on Linux, macOS and Windows the socket ends up the same.
 */
function keepAliveOnceConnected(connector: buildConnector.connector): buildConnector.connector {
  return (opts, callback) =>
    connector(opts, (...args) => {
      if (args[1]) args[1].setKeepAlive(true, KEEP_ALIVE_MS);
      callback(...args);
    });
}

/**
 * undici's own connector (TLS, sessions), on a socket the proxy opened when `proxies` says the
 * host goes through one; directly otherwise.
 */
function proxiedConnector(tlsOptions: buildConnector.BuildOptions, proxies: Proxies, timeoutMs: number): buildConnector.connector {
  const connector = buildConnector(tlsOptions);
  return (opts, callback) => {
    const target = new URL(`${opts.protocol}//${opts.host}`);
    const proxy = proxyFor(proxies, target);
    if (!proxy) return connector(opts, callback);
    const port = Number(opts.port) || (opts.protocol === "http:" ? 80 : 443);
    proxyConnect(proxy, opts.hostname, port, timeoutMs).then(
      (socket) => {
        if (opts.protocol !== "https:") {
          socket.resume();
          callback(null, socket);
        } else connector({ ...opts, httpSocket: socket }, callback);
      },
      (e: Error) => callback(e, null),
    );
  };
}

/** Sends one request through a dispatcher and reads its answer, bounded by `opts.maxBytes`. */
export async function request(dispatcher: Dispatcher, url: URL, headers: Record<string, string>, opts: SendOptions): Promise<HttpAnswer> {
  const timeout = AbortSignal.timeout(opts.timeoutMs);
  const res = await dispatchRequest.call(opts.onSent ? watchSent(dispatcher, opts.onSent) : dispatcher, {
    origin: url.origin,
    path: url.pathname + url.search,
    method: opts.method as Dispatcher.HttpMethod,
    headers: {
      "user-agent": "kvlog",
      ...(opts.body !== undefined ? { "content-type": "text/plain" } : {}),
      ...opts.headers,
      ...headers,
    },
    body: opts.body,
    headersTimeout: opts.timeoutMs,
    bodyTimeout: opts.timeoutMs,
    signal: opts.signal ? AbortSignal.any([timeout, opts.signal]) : timeout,
  });
  const ok = res.statusCode >= 200 && res.statusCode < 300;
  let value: unknown;
  let body = "";
  if (ok && opts.readOk) {
    try {
      value = await opts.readOk(res.body);
    } finally {
      res.body.destroy(); // stop reading whatever is left after a failure
    }
  } else body = await readBody(res.body, opts.maxBytes);
  return {
    status: res.statusCode,
    contentType: header(res.headers["content-type"]),
    body,
    retryAfter: retryAfterSeconds(header(res.headers["retry-after"])),
    ...(value !== undefined ? { value } : {}),
  };
}

/** The dispatcher, with `onSent` told when a request has been written whole (undici's onRequestSent). */
function watchSent(dispatcher: Dispatcher, onSent: () => void): Dispatcher {
  const dispatch = (o: Dispatcher.DispatchOptions, h: Dispatcher.DispatchHandler): boolean => dispatcher.dispatch(o, new SentWatch(h, onSent));
  return { dispatch } as unknown as Dispatcher;
}

/** Passes every event on to the request's own handler, and tells `onSent` when the request is written. */
class SentWatch implements Dispatcher.DispatchHandler {
  private readonly h: Dispatcher.DispatchHandler;
  private readonly sent: () => void;
  constructor(h: Dispatcher.DispatchHandler, sent: () => void) {
    this.h = h;
    this.sent = sent;
  }
  onRequestStart(c: Dispatcher.DispatchController, context: unknown): void {
    this.h.onRequestStart?.(c, context);
  }
  onRequestUpgrade(c: Dispatcher.DispatchController, status: number, headers: Parameters<NonNullable<Dispatcher.DispatchHandler["onRequestUpgrade"]>>[2], socket: Parameters<NonNullable<Dispatcher.DispatchHandler["onRequestUpgrade"]>>[3]): void {
    this.h.onRequestUpgrade?.(c, status, headers, socket);
  }
  onResponseStart(c: Dispatcher.DispatchController, status: number, headers: Parameters<NonNullable<Dispatcher.DispatchHandler["onResponseStart"]>>[2], message?: string): void {
    this.h.onResponseStart?.(c, status, headers, message);
  }
  onResponseData(c: Dispatcher.DispatchController, chunk: Buffer): void {
    this.h.onResponseData?.(c, chunk);
  }
  onResponseEnd(c: Dispatcher.DispatchController, trailers: Parameters<NonNullable<Dispatcher.DispatchHandler["onResponseEnd"]>>[1]): void {
    this.h.onResponseEnd?.(c, trailers);
  }
  onResponseError(c: Dispatcher.DispatchController, e: Error): void {
    this.h.onResponseError?.(c, e);
  }
  onBodySent(chunk: Buffer): void {
    this.h.onBodySent?.(chunk);
  }
  onRequestSent(): void {
    this.sent();
    this.h.onRequestSent?.();
  }
}

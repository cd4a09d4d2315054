// Ways to send one HTTP request to a target, each a function of the same shape:
// direct (the apiserver itself, --endpoint, kubelet --direct), node-proxy (the
// apiserver's /api/v1/nodes/NODE/proxy) and port-forward (a v4.channel.k8s.io
// tunnel to a pod's port, with HTTP or HTTPS run inside it, no local port).
// Every way can send any method, so `get`-style probes fit the same code. Each takes the
// target variant its `via` names (target.ts), which carries the address that way needs.

import tls from "node:tls";
import Client from "undici/lib/dispatcher/client.js";
import { secureContextFor, type Access, type Credentials } from "./access.js";
import { apiRequest } from "./api.js";
import { newDispatcher, request } from "./dispatch.js";
import { displayUrl, FLAGS_PATH, joinUrl, type HttpAnswer, type SendOptions } from "./http.js";
import { openTunnel, portForwardUrl, TunnelRefusedError } from "./portforward.js";
import { renewingThrottled } from "./retry.js";
import type { DirectTarget, NodeProxyTarget, PortForwardTarget, Reachable } from "./target.js";

/** One opened way to a target. `url` is what `--dry-run`, the table and the JSON show. */
export interface Channel {
  url: string;
  send(opts: SendOptions): Promise<HttpAnswer>;
  close(): Promise<void>;
}

/** `signal`: cuts the opening of a port-forward tunnel short (--timeout passed); each request takes its own. */
export type Way<T extends Reachable = Reachable> = (target: T, access: Access | undefined, timeoutMs: number, signal?: AbortSignal) => Channel;

/** Credentials go only to endpoints that authenticate, and never over plain HTTP. */
function sendsCredentials(target: { authenticates: boolean }, access: Access | undefined, https: boolean): access is Access {
  return access !== undefined && target.authenticates && https;
}

/**
 * What a direct target gets. An address a node reports about itself (kubelet --direct) is written
 * by that node's kubelet: a compromised node can point it at a listener of its own, with a
 * certificate the cluster CA signed for it. A client certificate cannot be replayed from there, a
 * bearer token can: it goes only when minted for this run (--service-account) or with
 * --send-token-to-nodes.
 */
export function directCredentials(target: Pick<DirectTarget, "authenticates" | "nodeReported" | "tokenToNodes"> & { url?: string | undefined }, access: Access | undefined): Credentials | undefined {
  if (!target.url || !sendsCredentials(target, access, new URL(target.url).protocol === "https:")) return undefined;
  const c = access.credentials;
  if (!target.nodeReported || c.minted || target.tokenToNodes) return c;
  const headers = Object.fromEntries(Object.entries(c.headers).filter(([k]) => k.toLowerCase() !== "authorization"));
  if (Object.keys(headers).length === Object.keys(c.headers).length) return c;
  const kind = c.cert ? "client certificate (kubeconfig); bearer token withheld from a node-reported address" : "none: bearer token withheld from a node-reported address";
  return { ...c, kind, headers };
}

const direct: Way<DirectTarget> = (target, access, timeoutMs) => {
  const base = new URL(target.url);
  const url = displayUrl(joinUrl(base, FLAGS_PATH));
  const creds = directCredentials(target, access);
  if (access !== undefined && creds === access.credentials && base.origin === access.server.origin) {
    // The apiserver itself: its pooled connections, renewed credentials, 429s waited out.
    return { url, send: (opts) => apiRequest(access, opts.path, opts), close: async () => {} };
  }
  // A replica is an apiserver: the apiserver's CA and insecure setting, checked under its own address.
  const tlsConf = target.replica && access ? { ...access.tls, servername: undefined } : (access?.otherTls ?? { rejectUnauthorized: true });
  const dispatcher = newDispatcher(tlsConf, creds, { timeoutMs, proxy: access?.pool.proxy });
  return {
    url,
    send: (opts) => request(dispatcher, joinUrl(base, opts.path), creds?.headers ?? {}, opts),
    close: async () => {
      await dispatcher.destroy();
    },
  };
};

const nodeProxy: Way<NodeProxyTarget> = (target, access) => {
  if (!access) throw new Error("the node proxy needs an apiserver");
  const base = `/api/v1/nodes/${encodeURIComponent(target.node)}/proxy`;
  return {
    url: displayUrl(joinUrl(joinUrl(access.server, base), FLAGS_PATH)),
    send: (opts) => apiRequest(access, base + opts.path, opts),
    close: async () => {},
  };
};

const portForward: Way<PortForwardTarget> = (target, access, timeoutMs, signal) => {
  if (!access) throw new Error("port-forward needs an apiserver");
  const https = target.scheme === "https";
  // Read at each use: the credentials may be renewed during a long run.
  const creds = sendsCredentials(target, access, https);
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
      // undici's abort does not reach a custom connector (libraries.md): the signal is passed in.
      openTunnelRetrying(access, target, timeoutMs, signal).then(
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
              secureContext: secureContextFor(creds ? access.credentials : undefined, undefined),
              ALPNProtocols: ["http/1.1"],
            });
            const timer = setTimeout(
              () => socket.destroy(Object.assign(new Error("TLS handshake inside the port-forward timed out"), { code: "ETIMEDOUT" })),
              timeoutMs,
            );
            const onAbort = (): void => void socket.destroy(signal!.reason as Error);
            signal?.addEventListener("abort", onAbort, { once: true });
            if (signal?.aborted) onAbort(); // --timeout passed while the tunnel was opening
            const done = (): void => {
              clearTimeout(timer);
              signal?.removeEventListener("abort", onAbort);
            };
            socket.once("secureConnect", () => {
              done();
              settle(null, socket);
            });
            socket.once("error", (err) => {
              done();
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
  const tunnel = portForwardUrl(access.server, target.namespace, target.pod, target.port);
  tunnel.protocol = access.server.protocol;
  return {
    url: `${displayUrl(tunnel)} -> ${origin}${FLAGS_PATH}`,
    send: (opts) => request(client, new URL(opts.path, origin), creds ? access.credentials.headers : {}, opts),
    close: async () => {
      await client.destroy();
    },
  };
};

/** Opens the way `target.via` names. */
export function openChannel(target: Reachable, access: Access | undefined, timeoutMs: number, signal?: AbortSignal): Channel {
  switch (target.via) {
    case "direct":
      return direct(target, access, timeoutMs, signal);
    case "node-proxy":
      return nodeProxy(target, access, timeoutMs, signal);
    case "port-forward":
      return portForward(target, access, timeoutMs, signal);
  }
}

/**
 * Opens the port-forward the way every apiserver request is made (retry.ts): fresh credentials,
 * renewed once on a 401, a 429 from API Priority and Fairness waited out, within the step's timeout.
 */
async function openTunnelRetrying(access: Access, target: PortForwardTarget, timeoutMs: number, signal: AbortSignal | undefined) {
  const deadline = Date.now() + timeoutMs;
  const { value } = await renewingThrottled(
    access,
    deadline,
    signal,
    (credentials) =>
      openTunnel({
        server: access.server,
        tls: access.tls,
        credentials,
        namespace: target.namespace,
        pod: target.pod,
        port: target.port,
        timeoutMs: Math.max(1, deadline - Date.now()),
        signal,
        session: access.tlsSession,
        proxy: access.pool.proxy,
        onSession: (session) => {
          if (access.credentials === credentials) access.tlsSession = session;
        },
      }).then(
        (stream) => ({ stream }),
        (e: unknown) => {
          if (e instanceof TunnelRefusedError) return { refused: e };
          throw e;
        },
      ),
    (tried) => ("refused" in tried ? tried.refused : undefined),
  );
  if ("refused" in value) throw value.refused;
  return value.stream;
}

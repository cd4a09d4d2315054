// preconnect: the first connection to the apiserver, opened while the rest of kvlog loads.
//
// A run spends ~50 ms loading Node's TLS/HTTP/HTTP2 modules and undici before it can send its
// first request; over a real link the TCP and TLS handshakes and the apiserver's HTTP/2 SETTINGS
// then cost three more round trips before the identity, the record and the change can go. So
// main() (src/cli.ts) reads the kubeconfig's cluster as soon as the command line is parsed and
// starts the TLS connection with node:tls alone; when the dispatcher of the same apiserver
// (src/dispatch.ts newDispatcher) opens its first connection, it takes this one instead, already
// handshaken. Nothing is sent on it but the TLS handshake (no credentials, no request) until the
// dispatcher has it.
//
// It is a guess made early, checked late: the socket is taken only by a dispatcher for the same
// host, port and server name with the same CA, client certificate and key and verification as
// the preconnect used (byte for byte); any other dispatcher, or the same one when anything
// differs, connects the usual way and the socket is closed at the end of the run. No preconnect
// when the apiserver is reached through a proxy (HTTPS_PROXY, HTTP_PROXY, a kubeconfig
// proxy-url, SOCKS included), with several kubeconfig files or in a pod, or when the kubeconfig
// cannot be read (loadAccess then says why). A handshake that fails is not reported here: the
// dispatcher connects again the usual way and reports what that connection meets. One that does
// not finish within --request-timeout fails the dispatcher's connect as a connect timeout.
// The kubeconfig is read from its YAML alone (client-node, a plugin or a token are for loadAccess).
// Imports nothing that loads undici (that is the point).

import { channel } from "node:diagnostics_channel";
import { readFileSync } from "node:fs";
import net from "node:net";
import { dirname, isAbsolute, join } from "node:path";
import type tls from "node:tls";
import { load as loadYaml } from "js-yaml";
import type { AccessOptions } from "./credentials.js";
import { kubeconfigFiles } from "./home.js";

/** What the early read of the kubeconfig gives: where and how to connect. */
export interface PreconnectTarget {
  hostname: string;
  port: number;
  /** tls-server-name, else the host name (none for an IP address), as undici picks it. */
  servername: string;
  ca?: Buffer | undefined;
  cert?: Buffer | undefined;
  key?: Buffer | undefined;
  rejectUnauthorized: boolean;
}

/** The TLS options a dispatcher connects with (src/dispatch.ts newDispatcher). */
export interface DispatcherTls {
  ca?: Buffer | undefined;
  cert?: Buffer | undefined;
  key?: Buffer | undefined;
  rejectUnauthorized?: boolean | undefined;
  servername?: string | undefined;
}

/** undici's connector: its options and callback (kept structural: this module loads no undici). */
export interface ConnectOptions {
  hostname: string;
  host?: string;
  protocol: string;
  port: string | number;
  servername?: string | undefined | null;
  httpSocket?: unknown;
}
export type Connector = (opts: ConnectOptions, callback: (...args: [Error, null] | [null, net.Socket]) => void) => unknown;

interface Pending {
  target: PreconnectTarget;
  socket: tls.TLSSocket;
  /** The handshaken socket, or the error the handshake met (a timeout: code UND_ERR_CONNECT_TIMEOUT). */
  ready: Promise<tls.TLSSocket | Error>;
  taken: boolean;
}

let pending: Pending | undefined;

/** Published when a preconnect starts and when its handshake ends (test/bench/trace.mjs shows both). */
const traced = channel("kvlog:preconnect");

/** What a request needs of the access flags to preconnect. */
export type PreconnectRequest = Pick<AccessOptions, "kubeconfig" | "context" | "insecureSkipTlsVerify" | "token" | "tokenFile" | "timeoutMs">;

/** The kubeconfig's current cluster and user, as its YAML says (client-node's field names in comments). */
interface KubeconfigYaml {
  "current-context"?: unknown;
  contexts?: { name?: unknown; context?: { cluster?: unknown; user?: unknown } }[];
  clusters?: { name?: unknown; cluster?: Record<string, unknown> }[];
  users?: { name?: unknown; user?: Record<string, unknown> }[];
}

/**
 * The apiserver the kubeconfig names, and the TLS settings loadAccess will use for it (what
 * client-node's applyToHTTPSOptions gives: a file before inline data, paths relative to the
 * kubeconfig), read from its YAML alone: no client-node, no credential plugin. Undefined when
 * there is to be no preconnect. A wrong guess costs nothing but the socket: see the header.
 */
export async function preconnectTarget(req: PreconnectRequest, env: NodeJS.ProcessEnv): Promise<PreconnectTarget | undefined> {
  return targetOf(req, env);
}

function targetOf(req: PreconnectRequest, env: NodeJS.ProcessEnv): PreconnectTarget | undefined {
  for (const name of ["HTTPS_PROXY", "HTTP_PROXY"]) if ((env[name] ?? env[name.toLowerCase()])?.trim()) return undefined;
  const files = kubeconfigFiles(req.kubeconfig, env);
  if (files.length !== 1) return undefined; // in a pod, or KUBECONFIG's merge rules: loadAccess alone
  const file = files[0]!;
  try {
    const doc = loadYaml(readFileSync(file, "utf8")) as KubeconfigYaml;
    const contextName = req.context ?? doc["current-context"];
    const context = doc.contexts?.find((c) => c.name === contextName)?.context;
    const cluster = doc.clusters?.find((c) => c.name === context?.cluster)?.cluster;
    if (!context || typeof cluster?.server !== "string" || cluster["proxy-url"]) return undefined;
    const server = new URL(cluster.server);
    if (server.protocol !== "https:") return undefined;
    const user = doc.users?.find((u) => u.name === context.user)?.user;
    const root = dirname(file);
    /** client-node's bufferFromFileOrString after makePathsAbsolute. */
    const bytes = (path: unknown, data: unknown): Buffer | undefined =>
      typeof path === "string" && path ? readFileSync(isAbsolute(path) ? path : join(root, path)) : typeof data === "string" && data ? Buffer.from(data, "base64") : undefined;
    // The token flags replace the user (no certificate); an exec plugin or auth provider may bring
    // a certificate only when it runs: then the socket, made without one, is simply not taken.
    const ownCert = !req.token && !req.tokenFile && user !== undefined && !user.exec && !user["auth-provider"];
    const hostname = server.hostname.replace(/^\[|\]$/g, "");
    const tlsServerName = typeof cluster["tls-server-name"] === "string" ? cluster["tls-server-name"] : "";
    return {
      hostname,
      port: Number(server.port) || 443,
      servername: tlsServerName || (net.isIP(hostname) ? "" : hostname),
      ca: req.insecureSkipTlsVerify ? undefined : bytes(cluster["certificate-authority"], cluster["certificate-authority-data"]),
      cert: ownCert ? bytes(user["client-certificate"], user["client-certificate-data"]) : undefined,
      key: ownCert ? bytes(user["client-key"], user["client-key-data"]) : undefined,
      rejectUnauthorized: !(req.insecureSkipTlsVerify || cluster["insecure-skip-tls-verify"] === true),
    };
  } catch {
    return undefined; // loadAccess reads it again and says what is wrong
  }
}

/** The apiserver's host and port the preconnect would use (tests). */
export function serverOf(req: PreconnectRequest, env: NodeJS.ProcessEnv): { hostname: string; port: number } | undefined {
  const t = targetOf(req, env);
  return t && { hostname: t.hostname, port: t.port };
}

/**
 * Starts the preconnect for a run (main(), before the run's modules load). Never throws.
 */
export async function preconnectFor(req: PreconnectRequest & { runTimeoutMs?: number | undefined }, env: NodeJS.ProcessEnv): Promise<void> {
  const target = targetOf(req, env);
  if (target) await preconnect(target, Math.min(req.timeoutMs, req.runTimeoutMs ?? Infinity));
}

/**
 * Starts the TLS connection to `target` (as undici's connector would make it). The handshake
 * must finish within `timeoutMs` (--request-timeout). The socket holds no reference on the event
 * loop until a dispatcher takes it.
 */
export async function preconnect(target: PreconnectTarget, timeoutMs: number): Promise<void> {
  dropPreconnected();
  const tlsModule = await import("node:tls");
  const socket = tlsModule.connect({
    host: target.hostname,
    port: target.port,
    ...(target.servername ? { servername: target.servername } : {}),
    ...(target.ca ? { ca: target.ca } : {}),
    ...(target.cert ? { cert: target.cert } : {}),
    ...(target.key ? { key: target.key } : {}),
    rejectUnauthorized: target.rejectUnauthorized,
    // undici's own offer (core/connect.js, allowH2 by default): the apiserver picks h2.
    ALPNProtocols: ["http/1.1", "h2"],
  });
  socket.setNoDelay(true);
  socket.unref();
  traced.publish({ event: "start", hostname: target.hostname, port: target.port });
  const ready = new Promise<tls.TLSSocket | Error>((resolve) => {
    const timer = setTimeout(() => {
      const e = Object.assign(new Error(`Connect Timeout Error (attempted address: ${target.hostname}:${target.port}, timeout: ${timeoutMs}ms)`), { code: "UND_ERR_CONNECT_TIMEOUT", name: "ConnectTimeoutError" });
      socket.destroy();
      resolve(e);
    }, timeoutMs);
    timer.unref();
    socket.once("secureConnect", () => {
      clearTimeout(timer);
      resolve(socket);
    });
    socket.once("error", (e) => {
      clearTimeout(timer);
      resolve(e);
    });
  });
  void ready.then((r) => traced.publish({ event: r instanceof Error ? `failed: ${r.message}` : "ready", hostname: target.hostname, port: target.port }));
  // An error before a dispatcher takes the socket is its to report (connecting again): never unhandled here.
  socket.on("error", () => {});
  pending = { target, socket, ready, taken: false };
}

const sameBuffer = (a: Buffer | undefined, b: Buffer | undefined): boolean => (a === undefined || b === undefined ? a === b : a.equals(b));

function matches(t: PreconnectTarget, opts: ConnectOptions, tlsOptions: DispatcherTls): boolean {
  const host = opts.hostname.replace(/^\[|\]$/g, "");
  const servername = opts.servername || tlsOptions.servername || (net.isIP(host) ? "" : host);
  return (
    opts.protocol === "https:" &&
    !opts.httpSocket &&
    host === t.hostname &&
    (Number(opts.port) || 443) === t.port &&
    servername === t.servername &&
    (tlsOptions.rejectUnauthorized !== false) === t.rejectUnauthorized &&
    sameBuffer(tlsOptions.ca, t.ca) &&
    sameBuffer(tlsOptions.cert, t.cert) &&
    sameBuffer(tlsOptions.key, t.key)
  );
}

/**
 * A connector that hands out the preconnected socket for the first connection that matches it
 * (see the header), and connects with `connector` otherwise.
 */
export function withPreconnected(connector: Connector, tlsOptions: DispatcherTls): Connector {
  return (opts, callback) => {
    const p = pending;
    if (!p || p.taken || !matches(p.target, opts, tlsOptions)) return connector(opts, callback);
    p.taken = true;
    pending = undefined;
    p.socket.ref(); // the run now waits on it (an unreferenced socket would let the process end)
    void p.ready.then((r) => {
      if (r instanceof Error) {
        // A timeout is the answer a new connection would give too; anything else: connect again, and report what that meets.
        if ((r as NodeJS.ErrnoException).code === "UND_ERR_CONNECT_TIMEOUT") callback(r, null);
        else connector(opts, callback);
      } else if (r.destroyed || !r.writable) {
        connector(opts, callback); // closed since (the server let an idle connection go)
      } else {
        callback(null, r);
      }
    });
    return p.socket;
  };
}

/** Closes a preconnected socket no dispatcher took (the end of a run). */
export function dropPreconnected(): void {
  if (pending && !pending.taken) pending.socket.destroy();
  pending = undefined;
}

/** Whether a preconnected socket is waiting for its dispatcher (tests). */
export function preconnectPending(): boolean {
  return pending !== undefined && !pending.taken;
}

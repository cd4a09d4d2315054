// proxy: reaching the cluster through a proxy, as kubectl does. A kubeconfig cluster's
// `proxy-url` (http://, https:// or socks5://) carries every request to that cluster; otherwise
// HTTPS_PROXY / HTTP_PROXY / NO_PROXY from the environment, with Go's rules (net/http's
// ProxyFromEnvironment: loopback and localhost never go through a proxy). One dialer opens the
// tunnel (HTTP CONNECT or SOCKS5) for undici's requests and for the port-forward WebSocket.

import net from "node:net";
import tls from "node:tls";
import { bracketHost, ProxyError } from "./http.js";

export interface Proxies {
  /** kubeconfig proxy-url: every connection to the cluster. */
  fixed?: URL | undefined;
  /** From the environment: by the scheme of the URL reached, unless NO_PROXY says otherwise. */
  https?: URL | undefined;
  http?: URL | undefined;
  noProxy?: string[] | undefined;
  /** Where the setting came from, for messages: "proxy-url in the kubeconfig", "HTTPS_PROXY". */
  source: string;
}

const SCHEMES = new Set(["http:", "https:", "socks5:", "socks5h:"]);

/** A proxy URL as Go parses one: a bare host:port means http://. Throws a one-line reason. */
export function parseProxyUrl(value: string, where: string): URL {
  const v = value.trim();
  let u: URL;
  try {
    u = new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(v) ? v : `http://${v}`);
  } catch {
    throw new Error(`${where} "${redactProxy(v)}" is not a URL`);
  }
  if (!SCHEMES.has(u.protocol)) throw new Error(`${where} has scheme ${u.protocol.replace(/:$/, "")}; kvlog supports http, https and socks5 proxies`);
  return u;
}

/** The proxies the environment asks for (upper case wins over lower case, as in Go). */
export function proxiesFromEnv(env: NodeJS.ProcessEnv): Proxies | undefined {
  const get = (name: string): string | undefined => (env[name] ?? env[name.toLowerCase()])?.trim() || undefined;
  const https = get("HTTPS_PROXY");
  const http = get("HTTP_PROXY");
  if (!https && !http) return undefined;
  const noProxy = get("NO_PROXY")
    ?.split(",")
    .map((s) => s.trim().toLowerCase())
    .filter(Boolean);
  return {
    https: https ? parseProxyUrl(https, "HTTPS_PROXY") : undefined,
    http: http ? parseProxyUrl(http, "HTTP_PROXY") : undefined,
    noProxy,
    source: https ? "HTTPS_PROXY" : "HTTP_PROXY",
  };
}

/** The proxy to reach `target` through, or undefined to connect directly. */
export function proxyFor(p: Proxies | undefined, target: URL): URL | undefined {
  if (!p) return undefined;
  if (p.fixed) return p.fixed;
  const host = target.hostname.replace(/^\[|\]$/g, "").toLowerCase();
  const port = target.port || (target.protocol === "http:" || target.protocol === "ws:" ? "80" : "443");
  if (host === "localhost" || isLoopback(host)) return undefined;
  if (p.noProxy?.some((entry) => noProxyMatches(entry, host, port))) return undefined;
  return target.protocol === "https:" || target.protocol === "wss:" ? p.https : p.http;
}

function isLoopback(host: string): boolean {
  if (net.isIPv4(host)) return host.startsWith("127.");
  if (net.isIPv6(host)) return host === "::1" || host === "0:0:0:0:0:0:0:1";
  return false;
}

/** One NO_PROXY entry, as golang.org/x/net/http/httpproxy reads it: *, an IP, a CIDR, or a domain (and its subdomains), with an optional port. */
export function noProxyMatches(entry: string, host: string, port: string): boolean {
  if (entry === "*") return true;
  if (entry.includes("/")) {
    const [net0, bits] = entry.split("/");
    return net.isIP(host) !== 0 && inCidr(host, net0!, Number(bits));
  }
  let name = entry;
  let wantPort: string | undefined;
  const m = /^\[?([^\]]*?)\]?(?::(\d+))?$/.exec(entry);
  if (m && !net.isIPv6(entry)) {
    name = m[1]!;
    wantPort = m[2];
  }
  if (wantPort && wantPort !== port) return false;
  if (net.isIP(name)) return name === host;
  const domain = name.replace(/^\*?\./, "");
  return host === domain || host.endsWith(`.${domain}`);
}

function inCidr(ip: string, base: string, bits: number): boolean {
  const a = toBits(ip);
  const b = toBits(base);
  if (!a || !b || a.length !== b.length || !(bits >= 0 && bits <= a.length)) return false;
  return a.slice(0, bits) === b.slice(0, bits);
}

function toBits(ip: string): string | undefined {
  if (net.isIPv4(ip)) return ip.split(".").map((x) => Number(x).toString(2).padStart(8, "0")).join("");
  if (!net.isIPv6(ip)) return undefined;
  const [head, tail] = ip.split("::");
  const h = head ? head.split(":") : [];
  const t = tail !== undefined && tail ? tail.split(":") : [];
  const groups = tail === undefined ? h : [...h, ...Array(8 - h.length - t.length).fill("0"), ...t];
  return groups.map((g) => parseInt(g || "0", 16).toString(2).padStart(16, "0")).join("");
}

/** A proxy URL fit for a message: without its password. */
export function redactProxy(u: URL | string): string {
  try {
    const x = new URL(String(u));
    if (x.password) x.password = "redacted";
    return x.href.replace(/\/$/, "");
  } catch {
    return String(u).replace(/\/\/([^:/@]+):[^@]*@/, "//$1:redacted@");
  }
}

/**
 * A socket to host:port through the proxy: HTTP CONNECT (over TLS for an https:// proxy) or
 * SOCKS5 (the host name is sent to the proxy, which resolves it, as Go's SOCKS5 dialer does).
 * Credentials in the proxy URL are sent as Proxy-Authorization: Basic / SOCKS5 user and password.
 */
export function proxyConnect(proxy: URL, host: string, port: number, timeoutMs: number): Promise<net.Socket> {
  const bare = host.replace(/^\[|\]$/g, "");
  const socks = proxy.protocol.startsWith("socks5");
  const proxyPort = Number(proxy.port) || (socks ? 1080 : proxy.protocol === "https:" ? 443 : 80);
  const where = `proxy ${redactProxy(proxy)}`;
  return new Promise((resolve, reject) => {
    let done = false;
    const socket: net.Socket =
      proxy.protocol === "https:"
        ? tls.connect({ host: proxy.hostname, port: proxyPort, servername: net.isIP(proxy.hostname) ? undefined : proxy.hostname, ALPNProtocols: ["http/1.1"] })
        : net.connect({ host: proxy.hostname.replace(/^\[|\]$/g, ""), port: proxyPort });
    const finish = (err: Error | undefined): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.removeAllListeners("data");
      socket.removeListener("error", onError);
      if (err) {
        socket.destroy();
        reject(err);
      } else {
        socket.pause();
        resolve(socket);
      }
    };
    const onError = (e: NodeJS.ErrnoException): void => finish(Object.assign(new ProxyError(`${where}: ${e.message}`, e.code ?? "EPROXY"), { cause: e }));
    socket.on("error", onError);
    const timer = setTimeout(() => finish(new ProxyError(`${where}: no tunnel to ${bare}:${port} within ${timeoutMs} ms`, "ETIMEDOUT")), timeoutMs);
    socket.once(proxy.protocol === "https:" ? "secureConnect" : "connect", () => {
      if (socks) socks5(socket, proxy, bare, port, where, finish);
      else httpConnect(socket, proxy, bare, port, where, finish);
    });
  });
}

function httpConnect(socket: net.Socket, proxy: URL, host: string, port: number, where: string, finish: (e?: Error) => void): void {
  const authority = `${bracketHost(host)}:${port}`;
  const auth = proxy.username ? `Proxy-Authorization: Basic ${Buffer.from(`${decodeURIComponent(proxy.username)}:${decodeURIComponent(proxy.password)}`).toString("base64")}\r\n` : "";
  socket.write(`CONNECT ${authority} HTTP/1.1\r\nHost: ${authority}\r\nUser-Agent: kvlog\r\n${auth}\r\n`);
  let head = Buffer.alloc(0);
  socket.on("data", (chunk: Buffer) => {
    head = Buffer.concat([head, chunk]);
    const end = head.indexOf("\r\n\r\n");
    if (end < 0) {
      if (head.length > 16 * 1024) finish(new ProxyError(`${where}: its answer to CONNECT has no end`));
      return;
    }
    const status = /^HTTP\/1\.[01] (\d{3})([^\r\n]*)/.exec(head.subarray(0, end).toString("latin1"));
    const rest = head.subarray(end + 4);
    if (status?.[1] === "200") {
      if (rest.length) socket.unshift(rest);
      finish(undefined);
    } else {
      const what = status ? `${status[1]}${status[2]}` : "no HTTP status";
      const hint = status?.[1] === "407" ? (proxy.username ? ": the proxy did not accept the user and password in the proxy URL" : ": put user:password in the proxy URL") : "";
      finish(new ProxyError(`${where} refused CONNECT to ${authority} (${what.trim()})${hint}`));
    }
  });
}

const SOCKS_REPLIES: Record<number, string> = {
  1: "general SOCKS server failure",
  2: "connection not allowed by ruleset",
  3: "network unreachable",
  4: "host unreachable",
  5: "connection refused",
  6: "TTL expired",
  7: "command not supported",
  8: "address type not supported",
};

/** RFC 1928 (and RFC 1929 user/password), one step per answer. */
function socks5(socket: net.Socket, proxy: URL, host: string, port: number, where: string, finish: (e?: Error) => void): void {
  const user = decodeURIComponent(proxy.username);
  const pass = decodeURIComponent(proxy.password);
  let step: "method" | "auth" | "reply" = "method";
  let buf = Buffer.alloc(0);
  const connectRequest = (): Buffer => {
    const p = Buffer.from([port >> 8, port & 0xff]);
    if (net.isIPv4(host)) return Buffer.concat([Buffer.from([5, 1, 0, 1]), Buffer.from(host.split(".").map(Number)), p]);
    if (net.isIPv6(host)) {
      const bits = toBits(host)!;
      const bytes = Buffer.from(Array.from({ length: 16 }, (_, i) => parseInt(bits.slice(i * 8, i * 8 + 8), 2)));
      return Buffer.concat([Buffer.from([5, 1, 0, 4]), bytes, p]);
    }
    const name = Buffer.from(host);
    return Buffer.concat([Buffer.from([5, 1, 0, 3, name.length]), name, p]);
  };
  socket.write(Buffer.from(user ? [5, 2, 0, 2] : [5, 1, 0]));
  socket.on("data", (chunk: Buffer) => {
    buf = Buffer.concat([buf, chunk]);
    if (step === "method") {
      if (buf.length < 2) return;
      const method = buf[1]!;
      buf = buf.subarray(2);
      if (method === 2 && user) {
        step = "auth";
        const u = Buffer.from(user);
        const pw = Buffer.from(pass);
        socket.write(Buffer.concat([Buffer.from([1, u.length]), u, Buffer.from([pw.length]), pw]));
      } else if (method === 0) {
        step = "reply";
        socket.write(connectRequest());
      } else {
        finish(new ProxyError(`${where} accepts no authentication kvlog offers${user ? "" : " (put user:password in the proxy URL)"}`));
        return;
      }
    }
    if (step === "auth") {
      if (buf.length < 2) return;
      if (buf[1] !== 0) {
        finish(new ProxyError(`${where} did not accept the user and password in the proxy URL`));
        return;
      }
      buf = buf.subarray(2);
      step = "reply";
      socket.write(connectRequest());
    }
    if (step === "reply") {
      if (buf.length < 5) return;
      const atyp = buf[3];
      const len = atyp === 1 ? 10 : atyp === 4 ? 22 : 7 + buf[4]!;
      if (buf.length < len) return;
      if (buf[1] !== 0) {
        finish(new ProxyError(`${where} could not reach ${host}:${port} (SOCKS5: ${SOCKS_REPLIES[buf[1]!] ?? `reply ${buf[1]}`})`, buf[1] === 5 ? "ECONNREFUSED" : "EPROXY"));
        return;
      }
      const rest = buf.subarray(len);
      if (rest.length) socket.unshift(rest);
      finish(undefined);
    }
  });
}

// In-process proxies for tests: an HTTP CONNECT proxy (as squid or tinyproxy answer it) and a
// SOCKS5 proxy (RFC 1928, with RFC 1929 user/password), both on 127.0.0.1, each recording the
// host:port every tunnel was asked for. `resolve` maps names only the proxy knows.
import http from "node:http";
import net from "node:net";

export interface TestProxy {
  url: string;
  /** host:port of every tunnel asked for, in order. */
  tunnels: string[];
  close(): Promise<void>;
}

export interface ProxyOptions {
  /** user:password the proxy requires (407 / SOCKS auth failure otherwise). */
  auth?: string;
  /** Names the proxy resolves itself (the client could not). */
  resolve?: Record<string, string>;
  /** Refuse every tunnel: HTTP 403 / SOCKS5 reply 2 (not allowed by ruleset). */
  refuse?: boolean;
}

function pipeTo(client: net.Socket, host: string, port: number, onOk: () => void, onFail: (code: string) => void): void {
  const upstream = net.connect({ host, port });
  upstream.once("connect", () => {
    onOk();
    upstream.pipe(client);
    client.pipe(upstream);
  });
  upstream.on("error", (e: NodeJS.ErrnoException) => {
    onFail(e.code ?? "ERROR");
    client.destroy();
  });
  client.on("error", () => upstream.destroy());
  client.on("close", () => upstream.destroy());
}

export async function startHttpProxy(opts: ProxyOptions = {}): Promise<TestProxy> {
  const tunnels: string[] = [];
  const server = http.createServer((_req, res) => {
    res.writeHead(405).end();
  });
  server.on("connect", (req: http.IncomingMessage, client: net.Socket, head: Buffer) => {
    const target = req.url ?? "";
    tunnels.push(target);
    const want = opts.auth ? `Basic ${Buffer.from(opts.auth).toString("base64")}` : undefined;
    if (want && req.headers["proxy-authorization"] !== want) {
      client.end('HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm="test"\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    if (opts.refuse) {
      client.end("HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n");
      return;
    }
    const m = /^\[?([^\]]+?)\]?:(\d+)$/.exec(target);
    if (!m) {
      client.end("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n");
      return;
    }
    if (head.length) client.unshift(head);
    pipeTo(
      client,
      opts.resolve?.[m[1]!] ?? m[1]!,
      Number(m[2]),
      () => client.write("HTTP/1.1 200 Connection established\r\n\r\n"),
      () => client.end("HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n"),
    );
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as net.AddressInfo).port;
  return {
    url: `http://${opts.auth ? `${opts.auth}@` : ""}127.0.0.1:${port}`,
    tunnels,
    close: () =>
      new Promise((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

export async function startSocks5Proxy(opts: ProxyOptions = {}): Promise<TestProxy> {
  const tunnels: string[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    sockets.add(client);
    client.on("close", () => sockets.delete(client));
    client.on("error", () => {});
    let buf = Buffer.alloc(0);
    let step: "greeting" | "auth" | "request" | "done" = "greeting";
    const onData = (chunk: Buffer): void => {
      buf = Buffer.concat([buf, chunk]);
      if (step === "greeting") {
        if (buf.length < 2 || buf.length < 2 + buf[1]!) return;
        const methods = [...buf.subarray(2, 2 + buf[1]!)];
        buf = buf.subarray(2 + buf[1]!);
        if (opts.auth) {
          if (!methods.includes(2)) return void client.end(Buffer.from([5, 0xff]));
          client.write(Buffer.from([5, 2]));
          step = "auth";
        } else {
          client.write(Buffer.from([5, 0]));
          step = "request";
        }
      }
      if (step === "auth") {
        if (buf.length < 2) return;
        const ulen = buf[1]!;
        if (buf.length < 3 + ulen) return;
        const plen = buf[2 + ulen]!;
        if (buf.length < 3 + ulen + plen) return;
        const given = `${buf.subarray(2, 2 + ulen).toString()}:${buf.subarray(3 + ulen, 3 + ulen + plen).toString()}`;
        buf = buf.subarray(3 + ulen + plen);
        if (given !== opts.auth) return void client.end(Buffer.from([1, 1]));
        client.write(Buffer.from([1, 0]));
        step = "request";
      }
      if (step === "request") {
        if (buf.length < 5) return;
        const atyp = buf[3];
        const len = atyp === 1 ? 10 : atyp === 4 ? 22 : 7 + buf[4]!;
        if (buf.length < len) return;
        const host =
          atyp === 1
            ? [...buf.subarray(4, 8)].join(".")
            : atyp === 4
              ? Array.from({ length: 8 }, (_, i) => buf.readUInt16BE(4 + i * 2).toString(16)).join(":")
              : buf.subarray(5, 5 + buf[4]!).toString();
        const port = buf.readUInt16BE(len - 2);
        tunnels.push(`${host}:${port}`);
        step = "done";
        client.removeListener("data", onData);
        const reply = (rep: number): Buffer => Buffer.from([5, rep, 0, 1, 0, 0, 0, 0, 0, 0]);
        if (opts.refuse) return void client.end(reply(2));
        const rest = buf.subarray(len);
        if (rest.length) client.unshift(rest);
        pipeTo(client, opts.resolve?.[host] ?? host, port, () => client.write(reply(0)), (code) => client.end(reply(code === "ECONNREFUSED" ? 5 : 4)));
      }
    };
    client.on("data", onData);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as net.AddressInfo).port;
  return {
    url: `socks5://${opts.auth ? `${opts.auth}@` : ""}127.0.0.1:${port}`,
    tunnels,
    close: () =>
      new Promise((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

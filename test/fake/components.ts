// The fake's kubelets and components (SIMULATED, test-only): what answers on a kubelet's 10250 and on
// a kube-scheduler / kube-controller-manager / cloud-controller-manager / kube-proxy port.
//
//   - /debug/flags/v (and the HTML index), /flagz, the kubelet's /configz, the health endpoints;
//   - the failure modes (reset, hang, unreachable) and delayMs;
//   - the three auth models: delegated (SubjectAccessReview, non-resource attributes), the kubelet's
//     webhook filter (nodes/proxy, nodes/configz...), kube-proxy (none);
//   - their listeners (startTarget / stopTarget) and in-process serving: virtual targets and tunnels
//     reach the same handlers over in-memory streams (dialInProcess).
// The apiserver's own /debug/flags/v reuses serveDebugFlags / serveFlagz / applyMode (apiserver.ts).

import * as http from "node:http";
import * as https from "node:https";
import * as net from "node:net";
import * as tls from "node:tls";
import { duplexPair } from "node:stream";
import type { Duplex } from "node:stream";
import { glogSetter } from "./goparse.ts";
import { FLAGZ_NOT_ACCEPTABLE, flagsFor, flagzObject, flagzText, kubeletConfigz, negotiateFlagz } from "./zpages.ts";
import type { RecordedRequest } from "./types.ts";
import { SINCE, TAG, listen, minorAtLeast, reservePort, tagOf } from "./internal.ts";
import type { Attrs, Identity, Tagged, Target } from "./internal.ts";
import { INDEX_HTML, forbidden, goJSON, httpError, readBody, restfulError, send, sendStatus, status, unauthorized, writePlainText } from "./status.ts";
import { requestInfo, verbForMethod } from "./auth.ts";
import type { Auth } from "./auth.ts";
import type { World } from "./state.ts";

export type Components = ReturnType<typeof createComponents>;

export function createComponents(w: World, auth: Auth) {
  const { anonymousAuth, ca, apiserverCert, caX509, virtualServing, anonymous, levels, fakeLogs, hangingResponses, sleep, track, record, viaFor } = w;
  const { authorize, authenticate } = auth;

  // ---- /debug/flags handlers shared by every component ----------------------

  function serveDebugFlags(t: Target, req: http.IncomingMessage, res: http.ServerResponse, pathname: string, body: Buffer, registersIndex: boolean): boolean {
    if (pathname === "/debug/flags/v") {
      if (t.behaviour.mode === "index") {
        send(res, 200, { "Content-Type": "text/html; charset=utf-8" }, INDEX_HTML);
        return true;
      }
      if (req.method !== "PUT") {
        writePlainText(res, 406, "unsupported http method");
        return true;
      }
      const r = glogSetter(body, t.behaviour.levelSyntax);
      if (!r.ok) {
        writePlainText(res, 400, r.message);
        return true;
      }
      fakeLogs.setLevel(t.id, r.level);
      levels.set(t.id, r.level);
      writePlainText(res, 200, r.message);
      return true;
    }
    if (registersIndex && (pathname === "/debug/flags" || pathname.startsWith("/debug/flags/"))) {
      send(res, 200, { "Content-Type": "text/html; charset=utf-8" }, INDEX_HTML);
      return true;
    }
    return false;
  }

  // ---- /flagz (every component) and the kubelet's /configz ------------------

  /**
   * /flagz as flagz.Install serves it (1.35+ negotiation): the flags the process started with,
   * so "v" is the startup level whatever /debug/flags/v set since.
   */
  function serveFlagz(t: Target, req: http.IncomingMessage, res: http.ServerResponse): void {
    const b = t.behaviour;
    // Structured Flagz: v1alpha1 from 1.35; v1beta1 from 1.36, where v1alpha1 is deprecated.
    const structured = minorAtLeast(b.version, 36) ? ["v1beta1", "v1alpha1"] : minorAtLeast(b.version, 35) ? ["v1alpha1"] : [];
    const host = t.kind === "kube-apiserver" ? (t.host ?? "127.0.0.1") : t.node;
    const flags = flagsFor({ kind: t.kind, startupLevel: b.startupLevel, profiling: b.profiling, host, anonymousAuth });
    const choice = negotiateFlagz(req.headers.accept, structured);
    if (choice.kind === "text") return send(res, 200, { "Content-Type": "text/plain; charset=utf-8" }, flagzText(t.kind, flags));
    // responsewriters.ErrorNegotiated: a Status, no nosniff.
    if (choice.kind === "406") return sendStatus(res, status(406, "NotAcceptable", FLAGZ_NOT_ACCEPTABLE));
    const headers: Record<string, string> = { "Content-Type": `application/json;g=config.k8s.io;v=${choice.version};as=Flagz` };
    if (choice.version === "v1alpha1" && minorAtLeast(b.version, 36))
      headers.Warning = '299 - "This version of the flagz endpoint is deprecated. Please use a newer version."';
    send(res, 200, headers, goJSON(flagzObject(t.kind, choice.version, flags)) + "\n");
  }

  /** The kubelet's /configz (component-base configz.write: json.Marshal, no newline). */
  function serveKubeletConfigz(t: Target, res: http.ServerResponse): void {
    const b = t.behaviour;
    const cfg = kubeletConfigz({ startupLevel: b.startupLevel, debuggingHandlers: b.debuggingHandlers, debugFlagsHandler: b.debugFlagsHandler, profiling: b.profiling });
    send(res, 200, { "Content-Type": "application/json", "X-Content-Type-Options": "nosniff" }, goJSON(cfg));
  }

  /** Returns true when the request was swallowed by a failure mode. */
  function applyMode(t: Target, req: http.IncomingMessage, res: http.ServerResponse): boolean {
    if (t.behaviour.mode === "reset") {
      req.socket.destroy();
      return true;
    }
    // "unreachable" can only be approximated for a client that dials a real listener: it hangs.
    if (t.behaviour.mode === "hang" || t.behaviour.mode === "unreachable") {
      hangingResponses.add(res);
      res.once("close", () => hangingResponses.delete(res));
      return true;
    }
    return false;
  }

  const debugFlagsInstalled = (t: Target): boolean => t.behaviour.profiling && minorAtLeast(t.behaviour.version, SINCE[t.kind]);
  /** mode "index": something answers the HTML index at /debug/flags/v whatever the gates say. */
  const indexLookAlike = (t: Target, p: string): boolean => t.behaviour.mode === "index" && p === "/debug/flags/v";

  // ---- delegated-auth components (scheduler, controller-managers) -----------

  async function delegatedHandler(t: Target, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const u = new URL(req.url ?? "/", "https://component");
    const body = await readBody(req);
    const authn = authenticate(req, anonymousAuth);
    const rec = record({
      target: t.id,
      method: req.method ?? "",
      path: u.pathname,
      query: u.search,
      body: body.toString(),
      authorization: authn.cred,
      user: authn.kind === "user" ? authn.user.name : authn.kind === "anonymous" ? anonymous.name : undefined,
      via: viaFor(req),
    });
    res.once("finish", () => (rec.status = res.statusCode));
    if (applyMode(t, req, res)) return;
    if (u.pathname === "/debug/flags/v" && t.behaviour.delayMs > 0) await sleep(t.behaviour.delayMs);
    const cache = { "Cache-Control": "no-cache, private" };
    if (authn.kind === "error") return sendStatus(res, unauthorized(), cache);
    const user = authn.kind === "user" ? authn.user : anonymous;
    const attrs = requestInfo(req.method ?? "GET", u.pathname, u.searchParams);
    const alwaysAllow = ["/healthz", "/readyz", "/livez"].includes(u.pathname) || user.groups.includes("system:masters");
    // Delegated authorization is a SubjectAccessReview; non-resource attributes for every path.
    const nonResource: Attrs = { ...attrs, resourceRequest: false, verb: (req.method ?? "").toLowerCase(), path: u.pathname };
    if (!alwaysAllow && !authorize(user, nonResource).allowed) return sendStatus(res, forbidden(nonResource, user.name), { ...cache, "X-Content-Type-Options": "nosniff" });
    res.setHeader("Cache-Control", "no-cache, private");
    if (u.pathname === "/flagz" && t.behaviour.flagz) return serveFlagz(t, req, res);
    if ((debugFlagsInstalled(t) || indexLookAlike(t, u.pathname)) && serveDebugFlags(t, req, res, u.pathname, body, true)) return;
    if (["/healthz", "/livez", "/readyz"].includes(u.pathname)) return send(res, 200, { "Content-Type": "text/plain; charset=utf-8", "X-Content-Type-Options": "nosniff" }, "ok");
    httpError(res, 404, "404 page not found");
  }

  // ---- kube-proxy (plain HTTP, no auth) -------------------------------------

  async function kubeProxyHandler(t: Target, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const u = new URL(req.url ?? "/", "http://component");
    const body = await readBody(req);
    const rec = record({
      target: t.id,
      method: req.method ?? "",
      path: u.pathname,
      query: u.search,
      body: body.toString(),
      authorization: req.headers.authorization ? "bearer" : "none",
      via: viaFor(req),
    });
    res.once("finish", () => (rec.status = res.statusCode));
    if (applyMode(t, req, res)) return;
    if (u.pathname === "/debug/flags/v" && t.behaviour.delayMs > 0) await sleep(t.behaviour.delayMs);
    if (u.pathname === "/flagz" && t.behaviour.flagz) return serveFlagz(t, req, res);
    if ((debugFlagsInstalled(t) || indexLookAlike(t, u.pathname)) && serveDebugFlags(t, req, res, u.pathname, body, true)) return;
    if (u.pathname === "/healthz") return send(res, 200, { "Content-Type": "text/plain; charset=utf-8", "X-Content-Type-Options": "nosniff" }, "ok");
    httpError(res, 404, "404 page not found");
  }

  // ---- kubelet ---------------------------------------------------------------

  const DEBUG_DISABLED_PREFIXES = ["/run/", "/exec/", "/attach/", "/portForward/", "/containerLogs/", "/runningpods/", "/debug/pprof/", "/logs/"];

  /** The kubelet's auth filter (pkg/kubelet/server/server.go InstallAuthFilter). Returns the user or undefined after answering. */
  function kubeletAuth(t: Target, req: http.IncomingMessage, res: http.ServerResponse, pathname: string): Identity | undefined {
    const authn = authenticate(req, false);
    if (authn.kind !== "user") {
      restfulError(res, 401, "Unauthorized");
      return undefined;
    }
    const verb = verbForMethod(req.method ?? "");
    let sub = "proxy";
    if (pathname === "/stats" || pathname.startsWith("/stats/")) sub = "stats";
    else if (pathname === "/metrics" || pathname.startsWith("/metrics/")) sub = "metrics";
    else if (pathname === "/logs" || pathname.startsWith("/logs/")) sub = "log";
    const attrs: Attrs = {
      resourceRequest: true,
      verb,
      path: pathname,
      apiGroup: "",
      apiVersion: "v1",
      namespace: "",
      resource: "nodes",
      subresource: sub,
      name: t.node,
      parts: [],
    };
    // KubeletFineGrainedAuthz (beta, on by default from 1.33): /configz and /healthz are allowed
    // by nodes/configz, nodes/healthz, else by nodes/proxy.
    const fine = minorAtLeast(t.behaviour.version, 33) ? (pathname === "/configz" ? "configz" : pathname === "/healthz" || pathname.startsWith("/healthz/") ? "healthz" : "") : "";
    if (fine && authorize(authn.user, { ...attrs, subresource: fine }).allowed) return authn.user;
    if (!authorize(authn.user, attrs).allowed) {
      restfulError(res, 403, `Forbidden (user=${authn.user.name}, verb=${verb}, resource=nodes, subresource=${sub})`);
      return undefined;
    }
    return authn.user;
  }

  async function kubeletHandler(t: Target, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const u = new URL(req.url ?? "/", "https://kubelet");
    const body = await readBody(req);
    const authn = authenticate(req, false);
    const rec = record({
      target: t.id,
      method: req.method ?? "",
      path: u.pathname,
      query: u.search,
      body: body.toString(),
      authorization: authn.cred,
      user: authn.kind === "user" ? authn.user.name : undefined,
      via: viaFor(req),
    });
    res.once("finish", () => (rec.status = res.statusCode));
    if (applyMode(t, req, res)) return;
    const p = u.pathname;
    const b = t.behaviour;
    if (p === "/debug/flags/v" && b.delayMs > 0) await sleep(b.delayMs);
    if (p === "/flagz" && b.flagz) {
      if (!kubeletAuth(t, req, res, p)) return;
      return serveFlagz(t, req, res);
    }
    // configz is installed with the debugging handlers (InstallDebuggingHandlers).
    if (p === "/configz" && b.debuggingHandlers) {
      if (!kubeletAuth(t, req, res, p)) return;
      return serveKubeletConfigz(t, res);
    }
    if (b.debuggingHandlers && (p === "/logs" || p.startsWith("/logs/"))) {
      if (!kubeletAuth(t, req, res, p)) return;
      return fakeLogs.serveKubeletLogs(t.id, { version: b.version, systemLogHandler: b.systemLogHandler, systemLogQuery: b.systemLogQuery, nodeLogQueryGate: b.nodeLogQueryGate }, req, res);
    }
    if (!b.debuggingHandlers) {
      if (DEBUG_DISABLED_PREFIXES.some((x) => p.startsWith(x))) {
        if (!kubeletAuth(t, req, res, p)) return;
        return httpError(res, 405, "Debug endpoints are disabled.");
      }
    } else if (p === "/debug/flags/v") {
      if (!kubeletAuth(t, req, res, p)) return;
      if (!b.debugFlagsHandler) return httpError(res, 405, "flags endpoint is disabled.");
      serveDebugFlags(t, req, res, p, body, false);
      return;
    }
    if (p === "/healthz") {
      if (!kubeletAuth(t, req, res, p)) return;
      return send(res, 200, { "Content-Type": "text/plain; charset=utf-8", "X-Content-Type-Options": "nosniff" }, "ok");
    }
    // Not registered on the kubelet's ServeMux: Go's NotFound, before any filter.
    httpError(res, 404, "404 page not found");
  }

  // ---- servers for kubelets and components -----------------------------------

  async function startTarget(t: Target): Promise<void> {
    if (t.kind === "kube-apiserver" || t.virtual) return;
    const wantPort = t.port || 0;
    if (t.behaviour.mode === "refuse") {
      if (!t.port) t.port = await reservePort();
      return;
    }
    let server: http.Server;
    const handler = (req: http.IncomingMessage, res: http.ServerResponse): void => {
      const fn = t.kind === "kubelet" ? kubeletHandler : t.kind === "kube-proxy" ? kubeProxyHandler : delegatedHandler;
      fn(t, req, res).catch((e: unknown) => {
        if (!res.headersSent) httpError(res, 500, String(e));
      });
    };
    if (t.tls) {
      server = https.createServer(
        { key: t.tls.keyPem, cert: t.tls.certChainPem, ca: [ca.certPem], requestCert: true, rejectUnauthorized: false },
        handler,
      );
    } else server = http.createServer(handler);
    server.on("connection", (s: net.Socket) => track(s));
    server.on("secureConnection", (s: tls.TLSSocket) => track(s));
    server.on("tlsClientError", () => undefined);
    server.on("clientError", (_e: Error, s: Duplex) => s.destroy());
    t.port = await listen(server, wantPort);
    t.server = server;
  }

  function stopServer(s: net.Server): Promise<void> {
    return new Promise<void>((resolve) => {
      if (!s.listening) return resolve();
      s.close(() => resolve());
      (s as http.Server).closeAllConnections?.();
    });
  }

  async function stopTarget(t: Target): Promise<void> {
    const s = t.server;
    t.server = undefined;
    if (!s) return;
    await new Promise<void>((resolve) => {
      s.close(() => resolve());
      s.closeAllConnections?.();
    });
  }

  // ---- in-process serving: virtual targets, and tunnels to the apiserver ----------

  const handlerFor = (t: Target): typeof kubeletHandler => (t.kind === "kubelet" ? kubeletHandler : t.kind === "kube-proxy" ? kubeProxyHandler : delegatedHandler);
  /** One non-listening server for every virtual target; the stream's tag says which one. */
  const inProcess = http.createServer((req, res) => {
    const t = tagOf(req.socket)?.target;
    if (!t) return void req.socket.destroy();
    handlerFor(t)(t, req, res).catch((e: unknown) => {
      if (!res.headersSent) httpError(res, 500, String(e));
    });
  });
  inProcess.on("clientError", (_e: Error, s: Duplex) => s.destroy());
  let virtualTLS: tls.SecureContext | undefined;
  const apiserverTLS = tls.createSecureContext({ key: apiserverCert.keyPem, cert: apiserverCert.certPem, ca: [ca.certPem] });

  /** What a TLS server with requestCert and the cluster CA decides (authorized). */
  function verifyPeer(t: tls.TLSSocket): boolean {
    const pc = t.getPeerX509Certificate();
    if (!pc) return false;
    const now = Date.now();
    return pc.checkIssued(caX509) && pc.verify(caX509.publicKey) && Date.parse(pc.validFrom) <= now && now <= Date.parse(pc.validTo);
  }

  /**
   * Connects to a target without TCP: a duplexPair whose server end (wrapped in TLS when
   * the target speaks TLS) is tagged and handed to a non-listening server. Returns the
   * client end.
   */
  function dialInProcess(t: Target, via: RecordedRequest["via"], o: { tls: boolean; identity?: Identity }): Duplex {
    const [client, server] = duplexPair();
    track(client);
    track(server);
    // Like a TCP socket without allowHalfOpen: the end of one direction ends the other.
    for (const side of [client, server]) side.on("end", () => side.end());
    let sock: Duplex = server;
    if (o.tls) {
      let ctx = apiserverTLS;
      if (t.kind !== "kube-apiserver") {
        // Virtual targets have no certificate of their own: one shared self-signed "localhost" pair.
        if (!virtualTLS) {
          const c = virtualServing;
          if (!c) throw new Error(`fake cluster: ${t.id} is not on a virtual node`);
          virtualTLS = tls.createSecureContext({ key: c.keyPem, cert: c.certChainPem, ca: [ca.certPem] });
        }
        ctx = virtualTLS;
      }
      const ts = new tls.TLSSocket(server, { isServer: true, secureContext: ctx, requestCert: true, rejectUnauthorized: false });
      ts.on("secure", () => {
        ts.authorized = verifyPeer(ts);
      });
      ts.on("error", () => ts.destroy());
      track(ts);
      sock = ts;
    }
    (sock as Duplex & Tagged)[TAG] = { target: t, via, identity: o.identity };
    (t.kind === "kube-apiserver" ? w.apiserverInProcess! : inProcess).emit("connection", sock);
    return client;
  }

  return { serveDebugFlags, serveFlagz, serveKubeletConfigz, applyMode, debugFlagsInstalled, indexLookAlike, startTarget, stopServer, stopTarget, dialInProcess };
}

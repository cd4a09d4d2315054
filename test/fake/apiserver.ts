// The fake kube-apiserver's request path (SIMULATED, test-only): one handler for every replica.
// Filter order as DefaultBuildHandlerChain: authentication, API Priority and Fairness (long-running
// requests bypass it; throttle() makes 429s), RBAC; then routing: non-resource paths (/debug/flags/v,
// /flagz, /version, /healthz, discovery), SelfSubjectAccessReview, SelfSubjectReview, ConfigMaps,
// nodes (and the node proxy to the kubelets), pods (pods/log, portforward without upgrade),
// endpoints, TokenRequest. Resources are rendered by resources.ts, port-forward upgrades are
// portforward.ts, authentication and RBAC auth.ts. Also the HTTPS listener of each replica.

import * as http from "node:http";
import * as https from "node:https";
import type * as net from "node:net";
import * as tls from "node:tls";
import type { Duplex } from "node:stream";
import { labelsMatch, fieldsMatch, nodeFieldLabels, podFieldLabels } from "./selectors.ts";
import { listen, minorAtLeast, probeFree, uidFrom } from "./internal.ts";
import type { Attrs, Identity, Node, Pod, Target } from "./internal.ts";
import {
  HOP_BY_HOP,
  apiHeaders,
  badRequest,
  forbidden,
  fromStatusError,
  goDialError,
  goJSON,
  httpError,
  internalError,
  notFound,
  parseJSONBody,
  readBody,
  rfc3339,
  send,
  sendStatus,
  status,
  unauthorized,
} from "./status.ts";
import { requestInfo } from "./auth.ts";
import type { Auth } from "./auth.ts";
import type { Components } from "./components.ts";
import type { PortForward } from "./portforward.ts";
import { ENDPOINTS_LABELS } from "./resources.ts";
import type { Resources } from "./resources.ts";
import type { World } from "./state.ts";

export type Apiserver = ReturnType<typeof createApiserver>;

export function createApiserver(w: World, auth: Auth, comps: Components, pf: PortForward, res: Resources) {
  const { version, anonymousAuth, dialTimeoutMs, counters, ca, apiserverCert, kubeletClient, kubeletClientIdentity, anonymous, nodes, nodesSorted, podsByKey, configMaps, podsSorted, podsByNamespace, podsByNode, fakeLogs, hangingResponses, originPorts, later, sleep, track, apiserverTarget, record, viaFor } = w;
  const { authorize, authenticate, tokenRequest } = auth;
  const { serveDebugFlags, serveFlagz, applyMode, debugFlagsInstalled, indexLookAlike, dialInProcess } = comps;
  const { preparePortForward, apiserverUpgrade } = pf;
  const { kubeletPortOf, nodeObject, podObject, podFields, listSelectors, versionInfo, listPaged, endpointsObject } = res;

  function proxyToKubelet(req: http.IncomingMessage, res: http.ServerResponse, node: Node, subpath: string, search: string, body: Buffer): void {
    const kubelet = node.kubelet;
    const port = kubeletPortOf(node.spec.name);
    const headers: Record<string, string | string[]> = {};
    for (const [k, v] of Object.entries(req.headers)) {
      if (v === undefined || HOP_BY_HOP.has(k) || k === "authorization" || k === "host" || k.startsWith("impersonate-")) continue;
      headers[k] = v;
    }
    headers.host = `127.0.0.1:${port}`;
    headers["x-forwarded-for"] = "127.0.0.1";
    headers["x-forwarded-uri"] = new URL(req.url ?? "/", "https://apiserver").pathname;
    headers["x-forwarded-proto"] = "https";
    headers["content-length"] = String(body.length);
    if (kubelet?.behaviour.mode === "refuse") {
      // Not dialled: the closed port number could by then belong to another listener here.
      sendStatus(res, status(503, "ServiceUnavailable", `error trying to reach service: dial tcp 127.0.0.1:${port}: connect: connection refused`));
      return;
    }
    if (kubelet?.behaviour.mode === "unreachable") {
      // The kubelet's host is gone: the dial never completes; upstream's dialer gives up
      // after its timeout (30 s) and the proxy's error responder answers 503.
      hangingResponses.add(res);
      res.once("close", () => hangingResponses.delete(res));
      later(dialTimeoutMs, () =>
        sendStatus(res, status(503, "ServiceUnavailable", `error trying to reach service: dial tcp 127.0.0.1:${port}: i/o timeout`)),
      );
      return;
    }
    const up = kubelet?.virtual
      ? // No listener: hand the request to the kubelet's handler over an in-memory stream
        // that carries the identity the apiserver's kubelet-client certificate has.
        http.request({
          method: req.method,
          path: subpath + search,
          headers,
          createConnection: () => dialInProcess(kubelet, "node-proxy", { tls: false, identity: kubeletClientIdentity }) as net.Socket,
        })
      : https.request({
          host: "127.0.0.1",
          port,
          method: req.method,
          path: subpath + search,
          headers,
          createConnection: () => {
            const s = track(tls.connect({ host: "127.0.0.1", port, key: kubeletClient.keyPem, cert: kubeletClient.certPem, rejectUnauthorized: false }));
            s.on("connect", () => s.localPort && originPorts.nodeProxy.add(s.localPort));
            s.on("close", () => s.localPort && originPorts.nodeProxy.delete(s.localPort));
            return s;
          },
        });
    up.on("response", (r) => {
      const out: Record<string, string | string[]> = {};
      for (const [k, v] of Object.entries(r.headers)) if (v !== undefined && !HOP_BY_HOP.has(k)) out[k] = v;
      res.writeHead(r.statusCode ?? 502, out);
      r.pipe(res);
    });
    up.on("error", (e: NodeJS.ErrnoException) => {
      if (!res.headersSent) sendStatus(res, status(503, "ServiceUnavailable", `error trying to reach service: ${goDialError(e, port)}`));
      else res.destroy();
    });
    res.once("close", () => {
      if (!up.destroyed) up.destroy();
    });
    up.end(body);
  }

  // ---- API Priority and Fairness ----------------------------------------------------

  /**
   * WithPriorityAndFairness: long-running requests (watch, proxy, portforward, exec...)
   * bypass it; the others are classified (response headers carry the FlowSchema and
   * PriorityLevel uids) and, while throttle() has budget, rejected with
   * tooManyRequests(). Returns true when the request was answered.
   */
  function priorityAndFairness(req: http.IncomingMessage, res: http.ServerResponse, user: Identity, attrs: Attrs): boolean {
    // BasicLongRunningRequestCheck(verbs {watch, proxy}, subresources {attach, exec, proxy, log, portforward})
    const longRunning =
      attrs.resourceRequest && (["watch", "proxy"].includes(attrs.verb) || ["attach", "exec", "proxy", "log", "portforward"].includes(attrs.subresource));
    if (longRunning) return false;
    const probe = !attrs.resourceRequest && ["/healthz", "/livez", "/readyz"].some((p) => attrs.path === p || attrs.path.startsWith(p + "/"));
    let fs: string;
    let pl: string;
    if (user.groups.includes("system:masters")) [fs, pl] = ["exempt", "exempt"];
    else if (probe) [fs, pl] = ["probes", "exempt"];
    else if (user.name.startsWith("system:serviceaccount:kube-system:")) [fs, pl] = ["kube-system-service-accounts", "workload-high"];
    else if (user.name.startsWith("system:serviceaccount:")) [fs, pl] = ["service-accounts", "workload-low"];
    else [fs, pl] = ["global-default", "global-default"];
    // setResponseHeaders: the uids, not the names.
    res.setHeader("X-Kubernetes-PF-FlowSchema-UID", uidFrom("flowschema/" + fs));
    res.setHeader("X-Kubernetes-PF-PriorityLevel-UID", uidFrom("prioritylevel/" + pl));
    if (w.throttleLeft <= 0) return false;
    if (pl === "exempt" && !w.throttleOpts.includeExempt) return false;
    if (w.throttleOpts.match && !w.throttleOpts.match(req.url ?? "/")) return false;
    w.throttleLeft--;
    // tooManyRequests(): Retry-After, then http.Error (plain text, not a Status).
    res.setHeader("Retry-After", String(w.throttleOpts.retryAfterSeconds ?? 1));
    httpError(res, 429, "Too many requests, please try again later.");
    return true;
  }

  /** Every replica serves the same API; `replica` decides whose /debug/flags/v and address. */
  async function apiserverRequest(replica: Target, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const u = new URL(req.url ?? "/", "https://apiserver");
    const body = await readBody(req);
    const authn = authenticate(req, anonymousAuth);
    counters.requests++;
    const rec = record({
      target: replica.id,
      method: req.method ?? "",
      path: u.pathname,
      query: u.search,
      body: body.toString(),
      authorization: authn.cred,
      user: authn.kind === "user" ? authn.user.name : authn.kind === "anonymous" ? anonymous.name : undefined,
      via: viaFor(req) === "port-forward" ? "port-forward" : "apiserver",
    });
    res.once("finish", () => (rec.status = res.statusCode));
    for (const [k, v] of Object.entries(apiHeaders())) res.setHeader(k, v);
    if (authn.kind === "error") return sendStatus(res, unauthorized());
    const user = authn.kind === "user" ? authn.user : anonymous;
    const method = req.method ?? "GET";
    const attrs = requestInfo(method, u.pathname, u.searchParams);
    // Filter order (DefaultBuildHandlerChain): authentication, then APF, then authorization.
    if (priorityAndFairness(req, res, user, attrs)) return;
    if (!authorize(user, attrs).allowed) return sendStatus(res, forbidden(attrs, user.name), { "X-Content-Type-Options": "nosniff" });
    const q = u.searchParams;
    const json = (code: number, obj: unknown): void => send(res, code, { "Content-Type": "application/json" }, goJSON(obj) + "\n");

    if (!attrs.resourceRequest) {
      const p = u.pathname;
      const t = replica;
      // Modes of a kube-apiserver replica only affect its /debug/flags/v (the fake API must keep working).
      if (p === "/debug/flags/v" && (t.behaviour.mode === "reset" || t.behaviour.mode === "hang")) {
        applyMode(t, req, res);
        return;
      }
      if (p === "/debug/flags/v" && t.behaviour.delayMs > 0) await sleep(t.behaviour.delayMs);
      if ((debugFlagsInstalled(t) || indexLookAlike(t, p)) && serveDebugFlags(t, req, res, p, body, true)) return;
      if (p === "/flagz" && t.behaviour.flagz) return serveFlagz(t, req, res);
      if ((p === "/version" || p === "/version/") && method === "GET") {
        return send(res, 200, { "Content-Type": "application/json" }, JSON.stringify(versionInfo(), null, 2));
      }
      if (["/healthz", "/livez", "/readyz"].includes(p)) return send(res, 200, { "Content-Type": "text/plain; charset=utf-8", "X-Content-Type-Options": "nosniff" }, "ok");
      if (p === "/api" || p === "/api/") return json(200, { kind: "APIVersions", versions: ["v1"], serverAddressByClientCIDRs: [{ clientCIDR: "0.0.0.0/0", serverAddress: `${replica.host ?? "127.0.0.1"}:${replica.port}` }] });
      if (p === "/api/v1" || p === "/api/v1/") {
        return json(200, {
          kind: "APIResourceList",
          groupVersion: "v1",
          resources: [
            { name: "configmaps", singularName: "configmap", namespaced: true, kind: "ConfigMap", verbs: ["create", "delete", "get", "list", "update"], shortNames: ["cm"] },
            { name: "endpoints", singularName: "endpoints", namespaced: true, kind: "Endpoints", verbs: ["get", "list"], shortNames: ["ep"] },
            { name: "nodes", singularName: "node", namespaced: false, kind: "Node", verbs: ["get", "list"], shortNames: ["no"] },
            { name: "nodes/proxy", singularName: "", namespaced: false, kind: "NodeProxyOptions", verbs: ["create", "delete", "get", "patch", "update"] },
            { name: "pods", singularName: "pod", namespaced: true, kind: "Pod", verbs: ["get", "list"], shortNames: ["po"] },
            { name: "pods/portforward", singularName: "", namespaced: true, kind: "PodPortForwardOptions", verbs: ["create", "get"] },
            { name: "serviceaccounts/token", singularName: "", namespaced: true, group: "authentication.k8s.io", version: "v1", kind: "TokenRequest", verbs: ["create"] },
          ],
        });
      }
      return httpError(res, 404, "404 page not found");
    }

    const restful404 = (): void =>
      sendStatus(
        res,
        status(404, "NotFound", "the server could not find the requested resource", { causes: [{ reason: "UnexpectedServerResponse", message: "404: Page Not Found" }] }),
      );
    const methodNotAllowed = (): void =>
      sendStatus(res, status(405, "MethodNotAllowed", "the server does not allow this method on the requested resource", {}));

    if (attrs.apiGroup === "authorization.k8s.io" && attrs.apiVersion === "v1" && attrs.resource === "selfsubjectaccessreviews" && !attrs.name) {
      if (method !== "POST") return methodNotAllowed();
      let review: { spec?: { resourceAttributes?: Record<string, string>; nonResourceAttributes?: Record<string, string> } };
      try {
        review = JSON.parse(body.toString() || "{}");
      } catch (e) {
        return sendStatus(res, badRequest(`json: ${(e as Error).message}`));
      }
      const ra = review.spec?.resourceAttributes;
      const na = review.spec?.nonResourceAttributes;
      const a: Attrs = ra
        ? { resourceRequest: true, verb: ra.verb ?? "", path: "", apiGroup: ra.group ?? "", apiVersion: ra.version ?? "", namespace: ra.namespace ?? "", resource: ra.resource ?? "", subresource: ra.subresource ?? "", name: ra.name ?? "", parts: [] }
        : { resourceRequest: false, verb: na?.verb ?? "", path: na?.path ?? "", apiGroup: "", apiVersion: "", namespace: "", resource: "", subresource: "", name: "", parts: [] };
      const d = authorize(user, a);
      return json(201, {
        kind: "SelfSubjectAccessReview",
        apiVersion: "authorization.k8s.io/v1",
        metadata: {},
        spec: review.spec ?? {},
        status: d.reason ? { allowed: d.allowed, reason: d.reason } : { allowed: d.allowed },
      });
    }
    // SelfSubjectReview (GA 1.28): who the caller is, as the authenticator saw it. RBAC allows it
    // to every authenticated user (system:basic-user); system:anonymous was refused above.
    if (attrs.apiGroup === "authentication.k8s.io" && attrs.apiVersion === "v1" && attrs.resource === "selfsubjectreviews" && !attrs.name && minorAtLeast(version, 28)) {
      if (method !== "POST") return methodNotAllowed();
      const parsed = parseJSONBody(body);
      if (!parsed.ok) return sendStatus(res, parsed.status);
      const userInfo: Record<string, unknown> = { username: user.name };
      if (user.uid) userInfo.uid = user.uid;
      if (user.groups.length) userInfo.groups = user.groups;
      if (user.extra && Object.keys(user.extra).length) userInfo.extra = user.extra;
      return json(201, { kind: "SelfSubjectReview", apiVersion: "authentication.k8s.io/v1", metadata: { creationTimestamp: rfc3339(new Date()) }, status: { userInfo } });
    }
    if (attrs.apiGroup !== "" || attrs.apiVersion !== "v1") return restful404();

    if (attrs.resource === "configmaps" && !attrs.subresource) {
      const ns = attrs.namespace;
      const done = (r: ReturnType<typeof configMaps.create>): void => (r.ok ? json(r.code, r.obj) : sendStatus(res, fromStatusError(r.error)));
      // fieldManager, else the User-Agent's product (managerOrUserAgent / prefixFromUserAgent)
      const manager = (q.get("fieldManager") ?? String(req.headers["user-agent"] ?? "").split("/")[0] ?? "").slice(0, 128);
      if (!attrs.name) {
        if (attrs.verb === "list") {
          const sel = listSelectors(q, ["metadata.name", "metadata.namespace"]);
          if ("code" in sel) return sendStatus(res, sel);
          type CM = Record<string, unknown> & { metadata: { name: string; namespace: string; labels?: Record<string, string> } };
          const all = configMaps.list(ns || undefined) as CM[];
          const empty = sel.labels.length === 0 && sel.fields.length === 0;
          const match = empty
            ? undefined
            : (o: CM): boolean =>
                labelsMatch(sel.labels, o.metadata.labels ?? {}) && fieldsMatch(sel.fields, { "metadata.name": o.metadata.name, "metadata.namespace": o.metadata.namespace });
          // etcd keys /registry/configmaps/NS/NAME
          const keyOf = ns ? (o: CM): string => o.metadata.name : (o: CM): string => `${o.metadata.namespace}/${o.metadata.name}`;
          return listPaged(res, q, "ConfigMapList", all, keyOf, match, (o) => {
            const { kind: _k, apiVersion: _v, ...item } = o;
            return goJSON(item);
          });
        }
        if (attrs.verb === "create" && ns) {
          const parsed = parseJSONBody(body);
          if (!parsed.ok) return sendStatus(res, parsed.status);
          return done(configMaps.create(ns, parsed.obj, manager));
        }
        return methodNotAllowed();
      }
      if (!ns) return restful404();
      if (attrs.verb === "get") {
        const cm = configMaps.get(ns, attrs.name);
        return cm ? json(200, cm) : sendStatus(res, notFound("", "configmaps", attrs.name));
      }
      if (attrs.verb === "update") {
        const parsed = parseJSONBody(body);
        if (!parsed.ok) return sendStatus(res, parsed.status);
        return done(configMaps.update(ns, attrs.name, parsed.obj, manager));
      }
      if (attrs.verb === "delete") {
        const parsed = parseJSONBody(body);
        if (!parsed.ok) return sendStatus(res, parsed.status);
        return done(configMaps.delete(ns, attrs.name, parsed.obj));
      }
      return methodNotAllowed();
    }

    if (attrs.resource === "nodes" && !attrs.namespace) {
      if (!attrs.name) {
        if (attrs.verb !== "list") return methodNotAllowed();
        const sel = listSelectors(q, nodeFieldLabels);
        if ("code" in sel) return sendStatus(res, sel);
        const empty = sel.labels.length === 0 && sel.fields.length === 0;
        const match = empty
          ? undefined
          : (n: Node): boolean => labelsMatch(sel.labels, n.labels) && fieldsMatch(sel.fields, { "metadata.name": n.spec.name, "spec.unschedulable": "false" });
        return listPaged(res, q, "NodeList", nodesSorted, (n) => n.spec.name, match, (n) => goJSON(nodeObject(n, true)));
      }
      const nodeName = attrs.name.replace(/^https?:/, "").replace(/:\d+$/, "");
      if (!attrs.subresource) {
        if (attrs.verb !== "get") return methodNotAllowed();
        const n = nodes.get(attrs.name);
        if (!n) return sendStatus(res, notFound("", "nodes", attrs.name));
        return json(200, nodeObject(n, false));
      }
      if (attrs.subresource === "proxy") {
        const n = nodes.get(nodeName);
        if (!n) return sendStatus(res, notFound("", "nodes", nodeName));
        const prefix = `/api/v1/nodes/${attrs.name}/proxy`;
        let sub = u.pathname.startsWith(prefix) ? u.pathname.slice(prefix.length) : "/";
        if (!sub.startsWith("/")) sub = "/" + sub;
        return proxyToKubelet(req, res, n, sub, u.search, body);
      }
      return restful404();
    }
    if (attrs.resource === "pods") {
      if (!attrs.name) {
        if (attrs.verb !== "list") return methodNotAllowed();
        const sel = listSelectors(q, podFieldLabels);
        if ("code" in sel) return sendStatus(res, sel);
        const ns = attrs.namespace;
        const all = ns ? (podsByNamespace.get(ns) ?? []) : podsSorted;
        // The key after the list's prefix: /registry/pods/ (all namespaces) or /registry/pods/NS/.
        const keyOf = ns ? (p: Pod): string => p.spec.name : (p: Pod): string => p.key;
        const empty = sel.labels.length === 0 && sel.fields.length === 0;
        const match = empty ? undefined : (p: Pod): boolean => labelsMatch(sel.labels, p.labels) && fieldsMatch(sel.fields, podFields(p));
        // The watch cache's spec.nodeName index serves a consistent (first-page) list.
        const onNode = sel.fields.find((t) => t.field === "spec.nodeName" && !t.negate)?.value;
        const indexed =
          onNode === undefined ? undefined : (): readonly Pod[] => (podsByNode.get(onNode) ?? []).filter((p) => !ns || p.namespace === ns);
        return listPaged(res, q, "PodList", all, keyOf, match, (p) => goJSON(podObject(p, true)), indexed);
      }
      if (!attrs.subresource) {
        if (attrs.verb !== "get") return methodNotAllowed();
        const p = podsByKey.get(`${attrs.namespace}/${attrs.name}`);
        if (!p) return sendStatus(res, notFound("", "pods", attrs.name));
        return json(200, podObject(p, false));
      }
      if (attrs.subresource === "log") {
        if (attrs.verb !== "get") return methodNotAllowed();
        const p = podsByKey.get(`${attrs.namespace}/${attrs.name}`);
        if (!p) return sendStatus(res, notFound("", "pods", attrs.name));
        const container = p.spec.component ?? p.spec.name;
        // The apiserver reads the log from the pod's kubelet (GET /containerLogs/...).
        const n = nodes.get(p.spec.nodeName ?? "");
        const port = kubeletPortOf(p.spec.nodeName ?? "");
        const logUrl = `https://127.0.0.1:${port}/containerLogs/${p.namespace}/${p.spec.name}/${container}${u.search}`;
        if (!n) return sendStatus(res, badRequest(`pod ${p.spec.name} does not have a host assigned`));
        if (n.kubelet?.behaviour.mode === "refuse") return sendStatus(res, internalError(`Get "${logUrl}": dial tcp 127.0.0.1:${port}: connect: connection refused`));
        if (n.kubelet?.behaviour.mode === "unreachable") {
          hangingResponses.add(res);
          res.once("close", () => hangingResponses.delete(res));
          return later(dialTimeoutMs, () => sendStatus(res, internalError(`Get "${logUrl}": dial tcp 127.0.0.1:${port}: i/o timeout`)));
        }
        return fakeLogs.servePodLog(p.target?.id, p.spec.name, container, q, res, (code, reason, message) => sendStatus(res, status(code, reason, message)));
      }
      if (attrs.subresource === "portforward") {
        if (method !== "GET" && method !== "POST") return methodNotAllowed();
        const plan = preparePortForward(attrs, user, q, false);
        if (plan.kind === "status") return sendStatus(res, plan.status);
        return sendStatus(res, badRequest("Upgrade request required"));
      }
      return restful404();
    }
    if (attrs.resource === "endpoints" && !attrs.subresource) {
      // KEP-4974: every read or write of v1 Endpoints warns from 1.33 on.
      if (minorAtLeast(version, 33)) res.setHeader("Warning", '299 - "v1 Endpoints is deprecated in v1.33+; use discovery.k8s.io/v1 EndpointSlice"');
      if (!attrs.name) {
        if (attrs.verb !== "list") return methodNotAllowed();
        const sel = listSelectors(q, ["metadata.name", "metadata.namespace"]);
        if ("code" in sel) return sendStatus(res, sel);
        const ns = attrs.namespace;
        const all = !ns || ns === "default" ? ["kubernetes"] : [];
        const empty = sel.labels.length === 0 && sel.fields.length === 0;
        const match = empty
          ? undefined
          : (_n: string): boolean =>
              labelsMatch(sel.labels, ENDPOINTS_LABELS) && fieldsMatch(sel.fields, { "metadata.name": "kubernetes", "metadata.namespace": "default" });
        // etcd keys /registry/services/endpoints/default/kubernetes.
        return listPaged(res, q, "EndpointsList", all, (n) => (ns ? n : `default/${n}`), match, () => goJSON(endpointsObject(true)));
      }
      if (attrs.verb !== "get") return methodNotAllowed();
      if (attrs.namespace !== "default" || attrs.name !== "kubernetes") return sendStatus(res, notFound("", "endpoints", attrs.name));
      return json(200, endpointsObject(false));
    }
    if (attrs.resource === "serviceaccounts" && attrs.subresource === "token" && attrs.namespace && attrs.name) {
      if (method !== "POST") return methodNotAllowed();
      return tokenRequest(res, attrs, body, json);
    }
    return restful404();
  }

  /** One HTTPS listener per replica: the same handler, the replica's own target. */
  function apiserverServer(replica: Target): https.Server {
    const server = https.createServer(
      { key: apiserverCert.keyPem, cert: apiserverCert.certPem, ca: [ca.certPem], requestCert: true, rejectUnauthorized: false },
      (req, res) => {
        apiserverRequest(replica, req, res).catch((e: unknown) => {
          if (!res.headersSent) sendStatus(res, internalError(String(e)));
        });
      },
    );
    server.on("upgrade", (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
      apiserverUpgrade(replica, req, socket, head).catch(() => socket.destroy());
    });
    server.on("connection", (s: net.Socket) => {
      track(s);
      counters.connections++;
      if (counters.connections > counters.peakConnections) counters.peakConnections = counters.connections;
      s.once("close", () => counters.connections--);
    });
    server.on("secureConnection", (s: tls.TLSSocket) => track(s));
    server.on("tlsClientError", () => undefined);
    server.on("clientError", (_e: Error, s: Duplex) => s.destroy());
    return server;
  }

  /** Replica i >= 2 (mode "refuse": nothing listens). Fails loudly when its address:port is taken. */
  async function startReplica(t: Target): Promise<void> {
    const host = t.host ?? "127.0.0.1";
    try {
      if (t.behaviour.mode === "refuse") return await probeFree(host, t.port);
      const server = apiserverServer(t);
      await listen(server, t.port, host);
      t.server = server;
    } catch (e) {
      throw new Error(`fake cluster: kube-apiserver replica ${host}:${t.port}: the port is not free there (${(e as Error).message})`);
    }
  }

  // The same apiserver (replica 1) for port-forwards to a kube-apiserver pod's 6443: in
  // process, so that stats() counts client connections only.
  const apiserverInProcess = http.createServer((req, res) => {
    apiserverRequest(apiserverTarget, req, res).catch((e: unknown) => {
      if (!res.headersSent) sendStatus(res, internalError(String(e)));
    });
  });
  apiserverInProcess.on("upgrade", (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
    apiserverUpgrade(apiserverTarget, req, socket, head).catch(() => socket.destroy());
  });
  apiserverInProcess.on("clientError", (_e: Error, s: Duplex) => s.destroy());
  w.apiserverInProcess = apiserverInProcess;

  return { apiserverServer, startReplica };
}

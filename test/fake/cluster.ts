// An in-process fake Kubernetes cluster for kvlog's tests (SIMULATED, test-only).
//
// It runs, on 127.0.0.1 and random ports:
//   - a fake kube-apiserver (HTTPS): authentication (bearer tokens, client
//     certificates, anonymous), RBAC-like authorization, API Priority and Fairness
//     headers and 429s on demand, nodes and pods (real-size objects, label/field
//     selectors, limit/continue paging with 410 Expired), ConfigMaps (create, read, update with
//     optimistic concurrency, delete, list), TokenRequest, SelfSubjectReview,
//     SelfSubjectAccessReview, the default/kubernetes Endpoints, its own
//     /debug/flags/v and /flagz, the node proxy (nodes/NAME/proxy/...) and pod port-forward over WebSocket
//     (v4.channel.k8s.io, v4.base64.channel.k8s.io); with apiserverReplicas > 1,
//     more listeners on 127.0.0.2, 127.0.0.3, ... (same port, same API, each with its
//     own /debug/flags/v level and behaviour);
//   - one fake kubelet per node (HTTPS, webhook-style auth, self-signed cert; /debug/flags/v,
//     /flagz, /configz);
//   - one fake component server per control-plane / kube-proxy pod: kube-scheduler,
//     kube-controller-manager, cloud-controller-manager (HTTPS, self-signed,
//     delegated auth) and kube-proxy (plain HTTP, no auth).
// Nodes marked `virtual` (fleets of thousands: fleetNodes()) have no listener and no
// certificate: their kubelet and component pods are served in process, over in-memory
// streams, by the same handlers.
//
// Every answer (status code, Content-Type, body, trailing newline) follows the
// upstream source; see README.md in this directory for the references and for
// the places where the fake deliberately differs.
//
// Certificates are generated in memory at start (./x509.ts); nothing is fetched
// and no external binary is used.
//
// The code is split by concern (each file's header says what it holds):
//   types.ts       the public API (options, FakeCluster, defaultNodes / fleetNodes / defaultPods, KVLOG_RULES)
//   state.ts       options -> the cluster's state: PKI, users, nodes, pods, targets, shared bookkeeping
//   auth.ts        request attributes, RBAC rules, authenticators, client certificates, TokenRequest
//   components.ts  kubelets and component servers: /debug/flags/v, /flagz, /configz, modes, listeners
//   apiserver.ts   the apiserver's filters (authn, APF, RBAC), routing, node proxy, replica listeners
//   resources.ts   Nodes, Pods, Endpoints, /version and paged LISTs
//   portforward.ts pods/portforward over WebSocket
//   internal.ts, status.ts  shared shapes, Status objects and response writers
// and, older: objects.ts (object bodies), paging.ts, selectors.ts, goparse.ts, zpages.ts (/flagz,
// /configz), logs.ts, configmaps.ts, x509.ts.

import * as fs from "node:fs";
import type * as http from "node:http";
import * as os from "node:os";
import * as path from "node:path";
import { containerId } from "./objects.ts";
import type { ComponentBehaviour, FakeCluster, FakeClusterOptions, FakeClusterStats, ThrottleOptions } from "./types.ts";
import type { Pod, Target } from "./internal.ts";
import { listen, probeFree } from "./internal.ts";
import { rfc3339 } from "./status.ts";
import { createWorld } from "./state.ts";
import { createAuth } from "./auth.ts";
import { createComponents } from "./components.ts";
import { createResources } from "./resources.ts";
import { createPortForward } from "./portforward.ts";
import { createApiserver } from "./apiserver.ts";

export * from "./types.ts";

/** Folders of clusters not closed yet: removed when the process exits (a test process ended early, a killed server). */
const openDirs = new Set<string>();
let exitHook = false;
function removeAtExit(dir: string): void {
  if (!exitHook) {
    exitHook = true;
    process.once("exit", () => {
      for (const d of openDirs) fs.rmSync(d, { recursive: true, force: true });
    });
  }
  openDirs.add(dir);
}

export async function startFakeCluster(opts: FakeClusterOptions = {}): Promise<FakeCluster> {
  // Its kubeconfigs and token files; removed by close(), or here when the start fails (a bad
  // option), else when the process exits.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "kvlog-fake-"));
  removeAtExit(dir);
  try {
    return await startIn(dir, opts);
  } catch (e) {
    fs.rmSync(dir, { recursive: true, force: true });
    openDirs.delete(dir);
    throw e;
  }
}

async function startIn(dir: string, opts: FakeClusterOptions): Promise<FakeCluster> {
  const w = await createWorld(dir, opts);
  const auth = createAuth(w);
  const comps = createComponents(w, auth);
  const res = createResources(w);
  const pf = createPortForward(w, auth, comps, res);
  const api = createApiserver(w, auth, comps, pf, res);
  const { version, counters, replicaCount, replicaIPs, ca, users, nodes, podsByKey, namespaces, configMaps, layered, resolveBehaviour, targets, levels, fakeLogs, requests, sockets, hangingResponses, pendingTimers, apiserverPod, apiserverAliases, apiserverTarget, replicaPlans } = w;
  const { certFor } = auth;
  const { startTarget, stopServer, stopTarget } = comps;
  const { wss } = pf;
  const { apiserverServer, startReplica } = api;
  let closed = false;

  apiserverTarget.host = "127.0.0.1";
  const apiserver = apiserverServer(apiserverTarget);
  apiserverTarget.server = apiserver;
  const replicaTargets: Target[] = [];
  // Every replica listens on the same port P, as real replicas share --secure-port: pick P on
  // 127.0.0.1, then bind it on 127.0.0.2..n (and check it is free on the unreachable
  // addresses). A port another process holds on one of those addresses: try another P, a few
  // times, then fail loudly.
  for (let attempt = 1; ; attempt++) {
    apiserverTarget.port = await listen(apiserver);
    replicaTargets.length = 0;
    try {
      for (const plan of replicaPlans) {
        const t: Target = {
          id: `kube-apiserver/${plan.host}:${apiserverTarget.port}`,
          kind: "kube-apiserver",
          node: "",
          behaviour: plan.behaviour,
          explicit: plan.explicit,
          port: apiserverTarget.port,
          hostPort: 6443,
          virtual: false,
          secure: true,
          host: plan.host,
        };
        replicaTargets.push(t);
        await startReplica(t);
      }
      for (const ip of replicaIPs.slice(replicaCount)) {
        try {
          await probeFree(ip, apiserverTarget.port);
        } catch (e) {
          throw new Error(`fake cluster: unreachable kube-apiserver replica ${ip}:${apiserverTarget.port} must have no listener, but the port is not free there (${(e as Error).message})`);
        }
      }
      break;
    } catch (e) {
      await Promise.all([apiserver, ...replicaTargets.map((t) => t.server)].map((sv) => sv && stopServer(sv)));
      for (const t of replicaTargets) t.server = undefined;
      if (attempt >= 5) {
        fs.rmSync(dir, { recursive: true, force: true });
        throw e;
      }
    }
  }
  apiserverAliases.push(`kube-apiserver/127.0.0.1:${apiserverTarget.port}`);
  for (const t of replicaTargets) targets.set(t.id, t);
  for (const t of targets.values()) await startTarget(t);

  const url = `https://127.0.0.1:${apiserverTarget.port}`;

  function kubeconfig(user = "admin", extra: { insecure?: boolean; server?: string; auth?: "token" | "cert" } = {}): string {
    const u = users.get(user);
    if (!u) throw new Error(`fake cluster: unknown user ${JSON.stringify(user)}`);
    const mode = extra.auth ?? u.kubeconfigAuth ?? "token";
    const cluster = extra.insecure
      ? `    insecure-skip-tls-verify: true\n`
      : `    certificate-authority-data: ${Buffer.from(ca.certPem).toString("base64")}\n`;
    let cred: string;
    if (mode === "cert") {
      const c = certFor(user);
      cred =
        `    client-certificate-data: ${Buffer.from(c.certPem).toString("base64")}\n` +
        `    client-key-data: ${Buffer.from(c.keyPem).toString("base64")}\n`;
    } else cred = `    token: ${u.token}\n`;
    const ctx = `${user}@fake-cluster`;
    const text =
      `apiVersion: v1\nkind: Config\nclusters:\n- cluster:\n${cluster}    server: ${extra.server ?? url}\n  name: fake-cluster\n` +
      `contexts:\n- context:\n    cluster: fake-cluster\n    user: ${JSON.stringify(user)}\n  name: ${JSON.stringify(ctx)}\n` +
      `current-context: ${JSON.stringify(ctx)}\npreferences: {}\nusers:\n- name: ${JSON.stringify(user)}\n  user:\n${cred}`;
    const safe = user.replace(/[^A-Za-z0-9_.-]/g, "_");
    const suffix = [extra.insecure ? "insecure" : "", extra.server ? "server" : "", extra.auth ?? ""].filter((x) => x).join("-");
    const file = path.join(dir, `${safe}${suffix ? "-" + suffix : ""}.kubeconfig`);
    fs.writeFileSync(file, text, { mode: 0o600 });
    return file;
  }

  /** A target by id or alias: "kube-apiserver" and its pod / address aliases are replica 1; "kube-apiserver/127.0.0.i" (no port) replica i. */
  function resolveTarget(id: string): Target | undefined {
    const t = targets.get(id) ?? (apiserverAliases.includes(id) ? apiserverTarget : undefined);
    if (t) return t;
    const m = /^kube-apiserver\/(127\.0\.0\.\d+)$/.exec(id);
    return m ? replicaTargets.find((r) => r.host === m[1]) : undefined;
  }

  async function setBehaviour(id: string, patch: ComponentBehaviour): Promise<void> {
    const t = resolveTarget(id);
    if (!t) throw new Error(`fake cluster: unknown target ${JSON.stringify(id)}`);
    // Replica 1 serves the fake's API (and the kubeconfig URL): it cannot go away. Other
    // replicas may refuse (their listener closes).
    if (t.kind === "kube-apiserver" && (patch.mode === "unreachable" || (patch.mode === "refuse" && t === apiserverTarget)))
      throw new Error(`fake cluster: mode ${JSON.stringify(patch.mode)} is not supported for ${t === apiserverTarget ? "kube-apiserver (replica 1)" : "kube-apiserver replicas"}`);
    t.explicit = { ...t.explicit, ...patch };
    const fallback = t.kind === "kubelet" ? (nodes.get(t.node)?.spec.kubeletVersion ?? version) : version;
    const wasRefusing = t.behaviour.mode === "refuse";
    t.behaviour = resolveBehaviour(t.kind, layered(t.kind, t.kind === "kube-apiserver" ? "" : t.node, t.explicit), fallback);
    if (t.kind === "kube-apiserver" && t !== apiserverTarget) {
      if (t.behaviour.mode === "refuse" && !wasRefusing && t.server) {
        const sv = t.server;
        t.server = undefined;
        await stopServer(sv);
      } else if (t.behaviour.mode !== "refuse" && wasRefusing) await startReplica(t);
      return;
    }
    if (t.kind === "kube-apiserver" || t.virtual) return;
    if (t.behaviour.mode === "refuse" && !wasRefusing) await stopTarget(t);
    else if (t.behaviour.mode !== "refuse" && wasRefusing) await startTarget(t);
    w.resourceVersion++;
  }

  /** The process behind a target restarts: back to its startup level; its pod's container restarts. */
  function restart(id: string): void {
    const t = resolveTarget(id);
    if (!t) throw new Error(`fake cluster: unknown target ${JSON.stringify(id)}`);
    levels.delete(t.id);
    fakeLogs.restarted(t.id, t.behaviour.startupLevel);
    let pod: Pod | undefined = t.pod;
    if (t === apiserverTarget) {
      // Replica 1 backs every kube-apiserver pod: the pod named by the id, else the first.
      const named = /^kube-apiserver\/([^/]+)\/([^/]+)$/.exec(id);
      pod = (named ? podsByKey.get(`${named[1]}/${named[2]}`) : undefined) ?? apiserverPod;
    }
    if (!pod) return; // the kubelet, replicas 2..n: no pod of their own
    const now = rfc3339(new Date());
    pod.lastTerminated = { startedAt: pod.startedAt, finishedAt: now, containerID: containerId(pod.uid, pod.restartCount) };
    pod.restartCount++;
    pod.startedAt = now;
    w.resourceVersion++;
  }

  async function close(): Promise<void> {
    if (closed) return;
    closed = true;
    fakeLogs.close();
    for (const c of wss.clients) c.terminate();
    for (const t of pendingTimers) clearTimeout(t);
    pendingTimers.clear();
    for (const r of hangingResponses) r.destroy();
    for (const s of sockets) s.destroy();
    const servers = [apiserver, ...[...targets.values()].map((t) => t.server).filter((s): s is http.Server => !!s && s !== apiserver)];
    await Promise.all(
      servers.map(
        (s) =>
          new Promise<void>((resolve) => {
            if (!s.listening) return resolve();
            s.close(() => resolve());
            s.closeAllConnections?.();
          }),
      ),
    );
    await new Promise<void>((resolve) => wss.close(() => resolve()));
    for (const s of sockets) s.destroy();
    fs.rmSync(dir, { recursive: true, force: true });
    openDirs.delete(dir);
  }

  return {
    url,
    caPem: ca.certPem,
    dir,
    kubeconfig,
    tokenFor(user: string): string {
      const u = users.get(user);
      if (!u?.token) throw new Error(`fake cluster: unknown user ${JSON.stringify(user)}`);
      return u.token;
    },
    clientCertFor(user: string) {
      if (!users.has(user)) throw new Error(`fake cluster: unknown user ${JSON.stringify(user)}`);
      const c = certFor(user);
      return { certPem: c.certPem, keyPem: c.keyPem };
    },
    requests,
    level(targetId: string): number | undefined {
      const t = resolveTarget(targetId);
      if (!t) return levels.get(targetId);
      // Set since the last (re)start, else the explicit startup level (undefined: klog's default 0, untouched).
      return levels.get(t.id) ?? (t.behaviour.startupExplicit ? t.behaviour.startupLevel : undefined);
    },
    targets: () => [...targets.keys()],
    apiserverReplicas: replicaIPs.map((ip, i) => ({
      id: i === 0 ? `kube-apiserver/127.0.0.1:${apiserverTarget.port}` : `kube-apiserver/${ip}:${apiserverTarget.port}`,
      ip,
      port: apiserverTarget.port,
      reachable: i < replicaCount,
    })),
    portOf(targetId: string): number {
      const t = resolveTarget(targetId);
      if (!t) throw new Error(`fake cluster: unknown target ${JSON.stringify(targetId)}`);
      if (t.virtual) throw new Error(`fake cluster: ${targetId} is on a virtual node: it has no listener (no direct connection)`);
      return t.port;
    },
    setBehaviour,
    compact(): void {
      // Tokens carry the revision of their first page; everything below the new one is gone.
      w.resourceVersion++;
      w.compactedBelow = w.resourceVersion;
    },
    throttle(n: number, o: ThrottleOptions = {}): void {
      w.throttleLeft = Math.max(0, Math.floor(n));
      w.throttleOpts = { ...o };
    },
    stats: (): FakeClusterStats => ({ ...counters }),
    resetStats(): void {
      counters.requests = 0;
      counters.peakConnections = counters.connections;
    },
    configMap: (ns: string, name: string) => configMaps.get(ns, name),
    putConfigMap(ns: string, obj: Record<string, unknown>): Record<string, unknown> {
      namespaces.add(ns);
      return configMaps.put(ns, obj);
    },
    restart,
    logLines(targetId: string, fromMs: number, toMs: number): string[] {
      const t = resolveTarget(targetId);
      if (!t) throw new Error(`fake cluster: unknown target ${JSON.stringify(targetId)}`);
      return fakeLogs.lines(t.id, fromMs, toMs);
    },
    cutLogStreams: (targetId?: string): number => fakeLogs.cut(targetId === undefined ? undefined : resolveTarget(targetId)?.id),
    close,
  };
}

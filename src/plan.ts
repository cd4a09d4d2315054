// plan: a validated request + what the cluster lists -> the targets to change.
// Listing goes through the narrow KubeApi interface; choosing targets from what
// was listed is pure (selectPodTargets, nodeTargets) and tested with plain data.

import type { Component, ComponentName } from "./components.js";
import { NothingMatchedError } from "./errors.js";
import { mapLimit } from "./fanout.js";
import { bracketHost } from "./http.js";
import { MIRROR_ANNOTATION, type KubeApi, type Node, type Pod } from "./objects.js";
import { podIncarnation, podStartup } from "./levels.js";
import type { DirectTarget, Target, UnavailableTarget } from "./target.js";

export interface Selection {
  component: Component;
  /** --node, repeatable. */
  nodes: string[];
  /** -l: node selector for kubelet/kube-proxy, pod selector for the control-plane components. */
  selector?: string | undefined;
  /** kube-proxy's pod selector (--pod-selector), defaulting to the catalog's. */
  podSelector?: string | undefined;
  /** -n: overrides the catalog namespace for pod-based components. */
  namespace?: string | undefined;
  /** --endpoint: bypass discovery. */
  endpoint?: URL | undefined;
  /** --direct: kubelet at its node address instead of the node proxy. */
  direct: boolean;
  /** --include-not-ready: also try nodes whose kubelet stopped reporting (they are skipped by default). */
  includeNotReady?: boolean | undefined;
  /** --pod: these pods (by name) and no others; the user vouches for them. */
  pods?: string[] | undefined;
  /** --send-token-to-nodes: a bearer token may go to the addresses nodes report (--direct). */
  tokenToNodes?: boolean | undefined;
  /** Told what discovery could not see: the run then cannot count as a full success. */
  warn?: ((message: string) => void) | undefined;
}

/** How many single GETs (named nodes, one node's pods) discovery sends at once. */
const LOOKUP_CONCURRENCY = 16;
/** Past this many named nodes, kube-proxy's pods are listed once rather than node by node. */
const PER_NODE_POD_QUERIES = 20;

/**
 * The targets of a selection. With `emit`, every target is also handed to it exactly once, as
 * soon as it is known: a node list's targets page by page (so a fleet's fan-out starts with the
 * first page), the others when discovery is done.
 */
export async function planTargets(sel: Selection, api: KubeApi | undefined, server: URL | undefined, emit?: (targets: Target[]) => void): Promise<Target[]> {
  if (sel.component.discovery === "node" && sel.nodes.length === 0 && api && !sel.endpoint && emit) {
    return streamNodeTargets(sel, api, emit);
  }
  const targets = await findTargets(sel, api, server);
  emit?.(targets);
  return targets;
}

/** Every node (or every node matching -l), emitted page by page. */
async function streamNodeTargets(sel: Selection, api: KubeApi, emit: (targets: Target[]) => void): Promise<Target[]> {
  const seen = new Set<string>(); // a list that starts again after a 410 sends its first pages twice
  const all: Target[] = [];
  await api.listNodes(sel.selector, (page) => {
    const fresh = page.filter((n) => !seen.has(n.metadata.name));
    for (const n of fresh) seen.add(n.metadata.name);
    const targets = skipNotReady(nodeTargets(sel.component, fresh, sel.direct, sel.tokenToNodes), fresh, sel);
    all.push(...targets);
    if (targets.length > 0) emit(targets);
  });
  if (all.length === 0) throw new NothingMatchedError(noNodesMessage(sel));
  return all;
}

async function findTargets(sel: Selection, api: KubeApi | undefined, server: URL | undefined): Promise<Target[]> {
  const c = sel.component;
  if (sel.endpoint) return [endpointTarget(c, sel.endpoint)];
  if (!api || !server) throw new Error("discovery needs an apiserver");
  switch (c.discovery) {
    case "apiserver":
      return apiserverTargets(c, sel, api, server);
    case "pod": {
      const ns = sel.namespace ?? c.namespace!;
      const selector = sel.selector ?? c.podSelector!;
      const named = sel.pods ?? [];
      if (named.length > 0) {
        // The user names the pods: each is fetched, and trusted because the user vouches for it.
        const got = await mapLimit(named, LOOKUP_CONCURRENCY, async (name) => ({ name, pod: await api.getPod(ns, name) }));
        return [
          ...selectPodTargets(c, got.flatMap((g) => (g.pod ? [g.pod] : [])), undefined),
          ...got.filter((g) => !g.pod).map((g) => ({ ...missingTarget(c, g.name, `pod ${ns}/${g.name} not found`), id: `${c.name}/${ns}/${g.name}`, node: undefined, namespace: ns, pod: g.name })),
        ];
      }
      const [pods, controlPlane] = await inOrder(api.listPods(ns, { labelSelector: selector }), controlPlaneNodes(api));
      const targets = vouch(selectPodTargets(c, pods, undefined), pods, controlPlane);
      if (targets.length === 0) {
        throw new NothingMatchedError(
          `no ${c.name} pods in namespace ${ns} with labels ${selector}. A managed control plane (EKS, GKE, AKS) runs ${c.name} out of reach; on other clusters pass -n and -l to match how its pods are labelled`,
        );
      }
      return targets;
    }
    case "node": {
      const { nodes, missing } = await findNodes(sel, api);
      if (nodes.length === 0 && missing.length === 0) throw new NothingMatchedError(noNodesMessage(sel));
      return [...skipNotReady(nodeTargets(c, nodes, sel.direct, sel.tokenToNodes), nodes, sel), ...missing];
    }
    case "node-pod": {
      const ns = sel.namespace ?? c.namespace!;
      const podSelector = sel.podSelector ?? c.podSelector!;
      const filtering = sel.nodes.length > 0 || sel.selector !== undefined;
      // Nodes are listed for the selection and for their readiness (not needed with --include-not-ready alone).
      const noNodes = Promise.resolve({ nodes: [] as Node[], missing: [] as Target[] });
      const fewNamed = sel.selector === undefined && sel.nodes.length > 0 && sel.nodes.length <= PER_NODE_POD_QUERIES;
      let found: { nodes: Node[]; missing: Target[] };
      let pods: Pod[];
      if (fewNamed) {
        // A few named nodes: ask for each node's pod (field selector) rather than every pod of the cluster.
        found = await findNodes(sel, api);
        const perNode = await mapLimit(found.nodes, LOOKUP_CONCURRENCY, (n) =>
          api.listPods(ns, { labelSelector: podSelector, fieldSelector: `spec.nodeName=${n.metadata.name}` }),
        );
        pods = perNode.flat();
      } else {
        [found, pods] = await inOrder(filtering || !sel.includeNotReady ? findNodes(sel, api) : noNodes, api.listPods(ns, { labelSelector: podSelector }));
      }
      const nodeNames = new Set(found.nodes.map((n) => n.metadata.name));
      const targets = selectPodTargets(c, pods, filtering ? nodeNames : undefined);
      // A node named with --node that has no pod of this component is reported, not hidden.
      const withPod = new Set(targets.map((t) => t.node));
      const missing = [
        ...found.missing,
        ...sel.nodes
          .filter((n) => nodeNames.has(n) && !withPod.has(n))
          .map((n) => missingTarget(c, n, `no ${c.name} pod (namespace ${ns}, labels ${podSelector}) on node ${n}`)),
      ];
      if (targets.length === 0 && missing.length === 0) {
        throw new NothingMatchedError(
          filtering
            ? `no ${c.name} pods on the selected nodes (namespace ${ns}, labels ${podSelector})`
            : `no ${c.name} pods in namespace ${ns} with labels ${podSelector}; if kube-proxy runs under other labels pass --pod-selector (GKE uses component=kube-proxy), and if the cluster runs without kube-proxy (e.g. Cilium kube-proxy replacement) there is nothing to change`,
        );
      }
      return [...skipNotReady(targets, found.nodes, sel), ...missing];
    }
  }
}

function noNodesMessage(sel: Selection): string {
  return sel.selector ? `no nodes match the selector ${sel.selector}` : "the cluster has no nodes";
}

/**
 * Whether a node's kubelet is answering, from its Ready condition. Unknown (the node lifecycle
 * controller's verdict after the kubelet stopped posting status) or no condition at all (registered,
 * never reported) means nobody answers: a request to it waits for the full timeout. Ready=False
 * means the kubelet is up and reporting a problem, often the very node being debugged: it is tried.
 */
export function kubeletDown(n: Node): string | undefined {
  const ready = n.status?.conditions?.find((c) => c.type === "Ready");
  if (!ready) return "node has no Ready condition: its kubelet never reported";
  if (ready.status !== "Unknown") return undefined;
  const why = [ready.reason, ready.message].filter(Boolean).join(": ");
  return `node is not Ready (Ready=Unknown${why ? `, ${why}` : ""})`;
}

/**
 * Targets on nodes whose kubelet is down become `node-not-ready` without any request, so a
 * fleet run never waits on them; nodes named with --node, and --include-not-ready, are tried.
 */
export function skipNotReady(targets: Target[], nodes: Node[], sel: Selection): Target[] {
  if (sel.includeNotReady) return targets;
  const named = new Set(sel.nodes);
  const down = new Map<string, string>();
  for (const n of nodes) {
    const why = named.has(n.metadata.name) ? undefined : kubeletDown(n);
    if (why) down.set(n.metadata.name, why);
  }
  return targets.map((t) => {
    const why = t.node && !t.unavailable ? down.get(t.node) : undefined;
    if (!why) return t;
    const message = `${why}; skipped without waiting on it (name it with --node, or pass --include-not-ready, to try it)`;
    return { ...t, unavailable: { outcome: "node-not-ready" as const, message, skipped: true } };
  });
}

/**
 * Labels that mark a control-plane node. The NodeRestriction admission plugin forbids a kubelet to
 * set node-role.kubernetes.io/* labels on its own Node, so a compromised worker cannot claim them.
 */
export const CONTROL_PLANE_LABELS = ["node-role.kubernetes.io/control-plane", "node-role.kubernetes.io/master"];
const CONTROLLERS = new Set(["DaemonSet", "ReplicaSet", "StatefulSet"]);

/** The names of the control-plane nodes (a server-side filtered list: a handful of small answers). */
async function controlPlaneNodes(api: KubeApi): Promise<Set<string>> {
  const lists = await Promise.all(CONTROL_PLANE_LABELS.map((l) => api.listNodes(l)));
  return new Set(lists.flat().map((n) => n.metadata.name));
}

/**
 * Credentials travel through a port-forward to whatever listens in the pod, and its TLS cannot be
 * verified (the serving certificate is self-signed). So a control-plane component's pod is only
 * used when the cluster vouches for it: it runs on a control-plane node (a label its kubelet
 * cannot set) and is a static pod's mirror or owned by a controller. A worker's kubelet may
 * publish a mirror pod labelled component=kube-scheduler for its own node; it is reported as
 * `untrusted`, and nothing is sent to it. The user can still name a pod with --pod.
 */
export function vouch(targets: Target[], pods: Pod[], controlPlane: Set<string>): Target[] {
  const byName = new Map(pods.map((p) => [`${p.metadata.namespace}/${p.metadata.name}`, p]));
  return targets.map((t) => {
    const p = byName.get(`${t.namespace}/${t.pod}`);
    if (!p || t.unavailable || !t.authenticates) return t;
    const mirror = p.metadata.annotations?.[MIRROR_ANNOTATION] !== undefined;
    const controlled = p.metadata.ownerReferences?.some((o) => o.controller && CONTROLLERS.has(o.kind)) === true;
    const node = p.spec?.nodeName;
    let why: string | undefined;
    if (!node || !controlPlane.has(node)) {
      why = `pod runs on node ${node ?? "(none)"}, which is not a control-plane node (no ${CONTROL_PLANE_LABELS[0]} label, which a kubelet cannot set on its own Node)`;
    } else if (!mirror && !controlled) {
      why = "pod is neither a static pod's mirror nor owned by a controller";
    }
    if (!why) return t;
    const message = `${why}: whoever controls that node could read the credentials sent through the tunnel, so kvlog sends none; if you trust it, name it with --pod ${t.pod}`;
    return { ...t, unavailable: { outcome: "untrusted" as const, message } };
  });
}

/**
 * Both results of two requests made at once; when both fail, the first one's error, so the one
 * line a user sees does not depend on which answer came back first.
 */
async function inOrder<A, B>(a: Promise<A>, b: Promise<B>): Promise<[A, B]> {
  const [ra, rb] = await Promise.allSettled([a, b]);
  if (ra.status === "rejected") throw ra.reason;
  if (rb.status === "rejected") throw rb.reason;
  return [ra.value, rb.value];
}

/** The nodes to act on: named ones (each fetched, a few at a time), or all/selected ones (one paged list). */
async function findNodes(sel: Selection, api: KubeApi): Promise<{ nodes: Node[]; missing: Target[] }> {
  if (sel.nodes.length > 0 && sel.selector === undefined) {
    const got = await mapLimit(sel.nodes, LOOKUP_CONCURRENCY, async (name) => ({ name, node: await api.getNode(name) }));
    return {
      nodes: got.flatMap((g) => (g.node ? [g.node] : [])),
      missing: got.filter((g) => !g.node).map((g) => missingTarget(sel.component, g.name, `node "${g.name}" not found`)),
    };
  }
  const listed = await api.listNodes(sel.selector);
  if (sel.nodes.length === 0) return { nodes: listed, missing: [] };
  const byName = new Map(listed.map((n) => [n.metadata.name, n]));
  return {
    nodes: sel.nodes.flatMap((n) => (byName.has(n) ? [byName.get(n)!] : [])),
    missing: sel.nodes
      .filter((n) => !byName.has(n))
      .map((n) => missingTarget(sel.component, n, `node "${n}" not found or does not match ${sel.selector}`)),
  };
}

function missingTarget(c: Component, node: string, message: string): UnavailableTarget {
  return {
    id: `${c.name}/${node}`,
    component: c.name,
    via: c.discovery === "node" ? "node-proxy" : "port-forward",
    authenticates: c.authenticates,
    scheme: c.scheme,
    port: c.port,
    node,
    unavailable: { outcome: "missing", message },
  };
}

export function endpointTarget(c: Component, url: URL): DirectTarget {
  const u = new URL(url.href);
  // A bare origin means the standard path; the sender appends /debug/flags/v to this base.
  u.pathname = u.pathname.replace(/\/debug\/flags\/v\/?$/, "").replace(/\/+$/, "");
  u.search = "";
  const port = Number(u.port) || (u.protocol === "http:" ? 80 : 443);
  return {
    id: `${c.name}/${u.hostname}:${port}`,
    component: c.name,
    via: "direct",
    authenticates: c.authenticates,
    scheme: u.protocol === "http:" ? "http" : "https",
    port,
    url: u.href,
  };
}

/**
 * Every kube-apiserver replica, each at the address it lists in default/kubernetes. Behind a load
 * balancer the cluster URL reaches one replica per request, so it cannot change them all. With one
 * replica the cluster URL reaches it (its listed address may be private, as kind's is on macOS).
 * When the replicas cannot be read, the cluster URL is changed and the run says it is incomplete.
 */
async function apiserverTargets(c: Component, sel: Selection, api: KubeApi, server: URL): Promise<Target[]> {
  const found = await api.apiserverReplicas();
  if ("refused" in found || found.addresses.length === 0) {
    const why = "refused" in found ? `could not read the endpoints default/kubernetes (${found.refused})` : "the endpoints default/kubernetes list no address";
    sel.warn?.(
      `${why}: only the replica behind ${server.origin} was changed, other kube-apiserver replicas may be unchanged; grant get on endpoints "kubernetes" in namespace default (README RBAC)`,
    );
    return [endpointTarget(c, server)];
  }
  if (found.addresses.length === 1) {
    // Named by its own address, as with several replicas, so the record names it the same way
    // whichever URL reaches it (a laptop's kubeconfig, the in-cluster service address).
    const ip = found.addresses[0]!;
    return [{ ...endpointTarget(c, server), id: `${c.name}/${bracketHost(ip)}:${found.port}` }];
  }
  return [...new Set(found.addresses)].sort().map((ip) => {
    const url = new URL(`https://${bracketHost(ip)}:${found.port}`);
    return { ...endpointTarget(c, url.origin === server.origin ? server : url), replica: true };
  });
}

/** Pods -> targets; pods not running are kept as unavailable targets so they are reported. */
export function selectPodTargets(c: Component, pods: Pod[], onNodes: Set<string> | undefined): Target[] {
  return pods
    .filter((p) => !onNodes || (p.spec?.nodeName !== undefined && onNodes.has(p.spec.nodeName)))
    .map((p): Target => {
      const ns = p.metadata.namespace ?? c.namespace ?? "default";
      const running = p.status?.phase === "Running" && !p.metadata.deletionTimestamp;
      const target: Target = {
        id: `${c.name}/${ns}/${p.metadata.name}`,
        component: c.name,
        via: "port-forward" as const,
        authenticates: c.authenticates,
        scheme: c.scheme,
        port: c.port,
        node: p.spec?.nodeName,
        namespace: ns,
        pod: p.metadata.name,
        version: imageVersion(p, c),
        startup: podStartup(p, c.name),
        incarnation: podIncarnation(p),
        unavailable: undefined,
      };
      if (running) return target;
      const message = p.metadata.deletionTimestamp ? `pod is terminating` : `pod is ${p.status?.phase ?? "in an unknown phase"}, not Running`;
      return { ...target, unavailable: { outcome: "pod-not-running" as const, message } };
    })
    .sort((a, b) => a.id.localeCompare(b.id));
}

/** The tag of the container image named after the component, e.g. registry.k8s.io/kube-proxy:v1.34.1 -> v1.34.1. */
export function imageVersion(p: Pod, c: Component): string | undefined {
  const containers = p.spec?.containers ?? [];
  const img = (containers.find((x) => c.image && x.image?.includes(c.image)) ?? containers[0])?.image;
  const tag = img?.split("@")[0]?.split("/").pop()?.split(":")[1];
  return tag && /^v?\d+\.\d+/.test(tag) ? tag : undefined;
}

export function nodeTargets(c: Component, nodes: Node[], direct: boolean, tokenToNodes = false): Target[] {
  return nodes
    .map((n): Target => {
      const name = n.metadata.name;
      const base = {
        id: `${c.name}/${name}`,
        component: c.name,
        authenticates: c.authenticates,
        scheme: c.scheme,
        node: name,
        version: n.status?.nodeInfo?.kubeletVersion,
      };
      if (!direct) return { ...base, via: "node-proxy", port: c.port };
      const port = n.status?.daemonEndpoints?.kubeletEndpoint?.Port ?? c.port;
      const address = nodeAddress(n);
      if (!address) {
        return {
          ...base,
          via: "direct",
          port,
          unavailable: { outcome: "missing", message: `node ${name} reports no InternalIP, ExternalIP or Hostname address` },
        };
      }
      return { ...base, via: "direct", port, url: `https://${bracketHost(address)}:${port}`, nodeReported: true, tokenToNodes };
    })
    .sort((a, b) => a.id.localeCompare(b.id));
}

/** The address to reach a node at, preferring InternalIP like --kubelet-preferred-address-types. */
export function nodeAddress(n: Node): string | undefined {
  const addrs = n.status?.addresses ?? [];
  for (const type of ["InternalIP", "ExternalIP", "Hostname"]) {
    const a = addrs.find((x) => x.type === type)?.address;
    if (a) return a;
  }
  return undefined;
}

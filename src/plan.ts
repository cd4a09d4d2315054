// plan: a validated request + what the cluster lists -> the targets to change.
// Listing goes through the narrow KubeApi interface; choosing targets from what
// was listed is pure (selectPodTargets, nodeTargets) and tested with plain data.

import type { Component, ComponentName } from "./components.js";
import { NothingMatchedError } from "./errors.js";
import type { KubeApi, Node, Pod } from "./kube.js";

export interface Target {
  /** Stable id: `kubelet/node-a`, `kube-scheduler/kube-system/kube-scheduler-cp-1`, `kube-apiserver/10.0.0.1:6443`. */
  id: string;
  component: ComponentName;
  via: "direct" | "node-proxy" | "port-forward";
  authenticates: boolean;
  scheme: "https" | "http";
  port: number;
  node?: string | undefined;
  namespace?: string | undefined;
  pod?: string | undefined;
  /** For via=direct: the URL of the endpoint's origin (path is added by the sender). */
  url?: string | undefined;
  /** The component's version when known (pod image tag, node info), to explain a 404. */
  version?: string | undefined;
  /** Set when the target is not to be contacted (pod not running, named node missing, run interrupted). */
  unavailable?: { outcome: "missing" | "pod-not-running" | "interrupted"; message: string } | undefined;
  /** The level the target had before kvlog changed it, when known (for a later revert). */
  previousLevel?: number | undefined;
}

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
}

export async function planTargets(sel: Selection, api: KubeApi | undefined, server: URL | undefined): Promise<Target[]> {
  const c = sel.component;
  if (sel.endpoint) return [endpointTarget(c, sel.endpoint)];
  if (!api || !server) throw new Error("discovery needs an apiserver");
  switch (c.discovery) {
    case "apiserver":
      return [endpointTarget(c, server)];
    case "pod": {
      const ns = sel.namespace ?? c.namespace!;
      const selector = sel.selector ?? c.podSelector!;
      const pods = await api.listPods(ns, selector);
      const targets = selectPodTargets(c, pods, undefined);
      if (targets.length === 0) {
        throw new NothingMatchedError(
          `no ${c.name} pods in namespace ${ns} with labels ${selector}. A managed control plane (EKS, GKE, AKS) runs ${c.name} out of reach; on other clusters pass -n and -l to match how its pods are labelled`,
        );
      }
      return targets;
    }
    case "node": {
      const { nodes, missing } = await findNodes(sel, api);
      const targets = [...nodeTargets(c, nodes, sel.direct), ...missing];
      if (nodes.length === 0 && missing.length === 0) throw new NothingMatchedError(noNodesMessage(sel));
      return targets;
    }
    case "node-pod": {
      const ns = sel.namespace ?? c.namespace!;
      const podSelector = sel.podSelector ?? c.podSelector!;
      const filtering = sel.nodes.length > 0 || sel.selector !== undefined;
      const [pods, found] = await Promise.all([
        api.listPods(ns, podSelector),
        filtering ? findNodes(sel, api) : Promise.resolve(undefined),
      ]);
      const nodeNames = found ? new Set(found.nodes.map((n) => n.metadata.name)) : undefined;
      const targets = selectPodTargets(c, pods, nodeNames);
      // A node named with --node that has no pod of this component is reported, not hidden.
      const withPod = new Set(targets.map((t) => t.node));
      const missing = [
        ...(found?.missing ?? []),
        ...sel.nodes
          .filter((n) => nodeNames?.has(n) && !withPod.has(n))
          .map((n) => missingTarget(c, n, `no ${c.name} pod (namespace ${ns}, labels ${podSelector}) on node ${n}`)),
      ];
      if (targets.length === 0 && missing.length === 0) {
        throw new NothingMatchedError(
          filtering
            ? `no ${c.name} pods on the selected nodes (namespace ${ns}, labels ${podSelector})`
            : `no ${c.name} pods in namespace ${ns} with labels ${podSelector}; if kube-proxy runs under other labels pass --pod-selector (GKE uses component=kube-proxy), and if the cluster runs without kube-proxy (e.g. Cilium kube-proxy replacement) there is nothing to change`,
        );
      }
      return [...targets, ...missing];
    }
  }
}

function noNodesMessage(sel: Selection): string {
  return sel.selector ? `no nodes match the selector ${sel.selector}` : "the cluster has no nodes";
}

/** The nodes to act on: named ones (each fetched), or all/selected ones (one list). */
async function findNodes(sel: Selection, api: KubeApi): Promise<{ nodes: Node[]; missing: Target[] }> {
  if (sel.nodes.length > 0 && sel.selector === undefined) {
    const got = await Promise.all(sel.nodes.map(async (name) => ({ name, node: await api.getNode(name) })));
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

function missingTarget(c: Component, node: string, message: string): Target {
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

export function endpointTarget(c: Component, url: URL): Target {
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

/** Pods -> targets; pods not running are kept as unavailable targets so they are reported. */
export function selectPodTargets(c: Component, pods: Pod[], onNodes: Set<string> | undefined): Target[] {
  return pods
    .filter((p) => !onNodes || (p.spec?.nodeName !== undefined && onNodes.has(p.spec.nodeName)))
    .map((p) => {
      const ns = p.metadata.namespace ?? c.namespace ?? "default";
      const running = p.status?.phase === "Running" && !p.metadata.deletionTimestamp;
      return {
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
        unavailable: running
          ? undefined
          : {
              outcome: "pod-not-running" as const,
              message: p.metadata.deletionTimestamp
                ? `pod is terminating`
                : `pod is ${p.status?.phase ?? "in an unknown phase"}, not Running`,
            },
      };
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

export function nodeTargets(c: Component, nodes: Node[], direct: boolean): Target[] {
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
      const host = address.includes(":") ? `[${address}]` : address;
      return { ...base, via: "direct", port, url: `https://${host}:${port}` };
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

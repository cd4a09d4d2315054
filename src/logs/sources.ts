// logs/sources: where a target's log can be read through the API (kubernetes-facts.md, "Reading a
// component's logs through the API"): pods/log for pod-backed targets and apiserver static pods,
// the kubelet's /logs/ through the node proxy, or none (with what would make it available).

import type { KubeApi } from "../objects.js";
import type { Target } from "../target.js";
import type { LogSource } from "./writer.js";

const API_POD_LOG = (ns: string, pod: string): string => `/api/v1/namespaces/${encodeURIComponent(ns)}/pods/${encodeURIComponent(pod)}/log`;
export const NODE_LOGS = (node: string): string => `/api/v1/nodes/${encodeURIComponent(node)}/proxy/logs/`;

/** The kubelet configuration that makes its log readable through the API. */
export const KUBELET_LOG_CONFIG =
  "set enableSystemLogQuery: true in the kubelet's KubeletConfiguration (with the NodeLogQuery feature gate on 1.30-1.35; it is GA from 1.36) and restart the kubelet, or have it write /var/log/kubelet.log; enableDebuggingHandlers and enableSystemLogHandler must stay true (the defaults)";

/**
 * Where a target's log is read. `apiserverPods` maps a kube-apiserver replica's address to its
 * static pod (namespace/name), when one was found.
 */
export function sourceFor(t: Target, hasApi: boolean, apiserverPods: Map<string, { namespace: string; pod: string }>): LogSource {
  if (!hasApi) {
    return { kind: "none", where: "-", unavailable: `${t.component} is reached only by its address (--endpoint, no kubeconfig): its log is on that host (journalctl -u ${t.component}, or /var/log/${t.component}.log), or in the cloud's logging service on a managed control plane` };
  }
  if (t.namespace && t.pod) return { kind: "pods/log", where: API_POD_LOG(t.namespace, t.pod) };
  if (t.component === "kubelet" && t.node) return { kind: "node-log-query", where: NODE_LOGS(t.node) };
  if (t.component === "kube-apiserver") {
    const host = hostOf(t);
    const pod = host ? apiserverPods.get(host) : undefined;
    if (pod) return { kind: "pods/log", where: API_POD_LOG(pod.namespace, pod.pod) };
    return {
      kind: "none",
      where: "-",
      unavailable: `no kube-apiserver static pod (kube-system, component=kube-apiserver) runs at ${host ?? "this address"}, so its log cannot be read through the API: on a managed control plane (EKS, GKE, AKS) it is in the cloud's logging service (e.g. CloudWatch control-plane logging, Cloud Logging); on your own hosts, journalctl -u kube-apiserver or /var/log/kube-apiserver.log`,
    };
  }
  return { kind: "none", where: "-", unavailable: `${t.component} is reached only by its address: its log is on that host, or in the cloud's logging service on a managed control plane` };
}

/** The host part of a direct target's id (`kube-apiserver/10.0.0.1:6443` -> `10.0.0.1`). */
function hostOf(t: Target): string | undefined {
  const addr = t.id.slice(t.component.length + 1);
  const m = /^\[([^\]]+)\](?::\d+)?$/.exec(addr) ?? /^([^:]+)(?::\d+)?$/.exec(addr);
  return m?.[1];
}

/** kube-apiserver static pods by host IP (the address default/kubernetes lists for that replica). */
export async function apiserverPodsByHost(api: KubeApi): Promise<Map<string, { namespace: string; pod: string }>> {
  const out = new Map<string, { namespace: string; pod: string }>();
  const pods = await api.listPods("kube-system", { labelSelector: "component=kube-apiserver" });
  for (const p of pods) {
    const ip = p.status?.hostIP;
    if (ip && p.status?.phase === "Running" && !out.has(ip)) out.set(ip, { namespace: p.metadata.namespace ?? "kube-system", pod: p.metadata.name });
  }
  return out;
}

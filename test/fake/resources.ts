// The fake apiserver's read-only resources (SIMULATED, test-only): Nodes, Pods (with the commands
// kubeadm writes), default/kubernetes Endpoints and /version, rendered from the cluster's state by
// objects.ts, and LIST answers as the apiserver writes them (limit / continue / 410 Expired, the
// watch cache's spec.nodeName index, streamed 1 MiB at a time). Routing is in apiserver.ts.

import type * as http from "node:http";
import { parseInt64 } from "./goparse.ts";
import { buildNode, buildPod } from "./objects.ts";
import { cutPage, decodeContinue, encodeContinue } from "./paging.ts";
import { parseFieldSelector, parseLabelSelector } from "./selectors.ts";
import { IMAGE, hex64 } from "./internal.ts";
import type { Node, Pod, StatusObj } from "./internal.ts";
import { INCONSISTENT_CONTINUE, badRequest, drained, goJSON, sendStatus } from "./status.ts";
import type { World } from "./state.ts";

/** The labels of default/kubernetes (Endpoints). */
export const ENDPOINTS_LABELS = { "endpointslice.kubernetes.io/skip-mirror": "true" };

export type Resources = ReturnType<typeof createResources>;

export function createResources(w: World) {
  const { version, startedAt, createdAt, lastHeartbeat, replicaIPs, endpointsUid, nodes, apiserverTarget } = w;

  // ---- the fake kube-apiserver ---------------------------------------------

  function kubeletPortOf(node: string): number {
    const k = nodes.get(node)?.kubelet;
    if (!k) return 0;
    // A virtual kubelet has no listener: its node says what a real one would.
    return k.virtual ? 10250 : k.port;
  }

  function nodeObject(n: Node, inList: boolean): Record<string, unknown> {
    const kv = n.spec.kubeletVersion ?? n.kubelet?.behaviour.version ?? version;
    return buildNode(
      {
        name: n.spec.name,
        uid: n.uid,
        created: n.created,
        labels: n.labels,
        controlPlane: !!n.spec.controlPlane,
        kubeletVersion: kv,
        kubeletPort: kubeletPortOf(n.spec.name),
        ready: n.ready,
        resourceVersion: String(w.resourceVersion),
        index: n.index,
        heartbeat: n.ready === "Unknown" ? lastHeartbeat : startedAt,
        now: startedAt,
      },
      inList,
    );
  }

  function commandFor(p: Pod): string[] {
    if (p.spec.command) return p.spec.command;
    const base = baseCommand(p);
    // kubeadm writes no --v (klog's default, 0); an explicit startup level is a flag, sorted last
    // like kubeadm's flags (it sorts extraArgs).
    const b = p.target?.behaviour;
    return b?.startupExplicit && p.spec.component ? [...base, `--v=${b.startupLevel}`] : base;
  }

  function baseCommand(p: Pod): string[] {
    const prof = p.target && p.target.kind !== "kube-proxy" && !p.target.behaviour.profiling ? ["--profiling=false"] : [];
    switch (p.spec.component) {
      case "kube-apiserver":
        return [
          "kube-apiserver",
          "--advertise-address=127.0.0.1",
          "--allow-privileged=true",
          "--authorization-mode=Node,RBAC",
          "--client-ca-file=/etc/kubernetes/pki/ca.crt",
          "--enable-admission-plugins=NodeRestriction",
          "--enable-bootstrap-token-auth=true",
          "--kubelet-client-certificate=/etc/kubernetes/pki/apiserver-kubelet-client.crt",
          "--kubelet-client-key=/etc/kubernetes/pki/apiserver-kubelet-client.key",
          "--kubelet-preferred-address-types=InternalIP,ExternalIP,Hostname",
          ...prof,
          "--secure-port=6443",
          "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
          "--service-cluster-ip-range=10.96.0.0/12",
          "--tls-cert-file=/etc/kubernetes/pki/apiserver.crt",
          "--tls-private-key-file=/etc/kubernetes/pki/apiserver.key",
        ];
      case "kube-scheduler":
        return [
          "kube-scheduler",
          "--authentication-kubeconfig=/etc/kubernetes/scheduler.conf",
          "--authorization-kubeconfig=/etc/kubernetes/scheduler.conf",
          "--bind-address=127.0.0.1",
          "--kubeconfig=/etc/kubernetes/scheduler.conf",
          "--leader-elect=true",
          ...prof,
        ];
      case "kube-controller-manager":
        return [
          "kube-controller-manager",
          "--allocate-node-cidrs=true",
          "--authentication-kubeconfig=/etc/kubernetes/controller-manager.conf",
          "--authorization-kubeconfig=/etc/kubernetes/controller-manager.conf",
          "--bind-address=127.0.0.1",
          "--client-ca-file=/etc/kubernetes/pki/ca.crt",
          "--cluster-cidr=10.64.0.0/10",
          "--cluster-name=kubernetes",
          "--controllers=*,bootstrapsigner,tokencleaner",
          "--kubeconfig=/etc/kubernetes/controller-manager.conf",
          "--leader-elect=true",
          ...prof,
          "--service-cluster-ip-range=10.96.0.0/12",
          "--use-service-account-credentials=true",
        ];
      case "cloud-controller-manager":
        return ["/bin/cloud-controller-manager", "--cloud-provider=external", "--leader-elect=true", "--use-service-account-credentials", ...prof];
      case "kube-proxy":
        return ["/usr/local/bin/kube-proxy", "--config=/var/lib/kube-proxy/config.conf", "--hostname-override=$(NODE_NAME)"];
    }
    return ["sleep", "infinity"];
  }

  function podObject(p: Pod, inList: boolean): Record<string, unknown> {
    const kind = p.spec.component;
    const v = p.target?.behaviour.version ?? version;
    const node = p.spec.nodeName ? nodes.get(p.spec.nodeName) : undefined;
    return buildPod(
      {
        name: p.spec.name,
        namespace: p.namespace,
        uid: p.uid,
        created: p.created,
        labels: p.labels,
        component: kind,
        image: p.spec.image ?? (kind ? `${IMAGE[kind]}:${v}` : "registry.k8s.io/pause:3.10"),
        command: commandFor(p),
        nodeName: p.spec.nodeName,
        nodeUid: node?.uid,
        hostNetwork: p.spec.hostNetwork ?? true,
        phase: p.spec.phase ?? "Running",
        // node lifecycle controller MarkPodsNotReady: Ready=False on a node whose status is Unknown.
        markedNotReady: node?.ready === "Unknown",
        sandboxId: p.sandboxId,
        resourceVersion: String(w.resourceVersion),
        now: startedAt,
        notReadySince: startedAt,
        restartCount: p.restartCount,
        startedAt: p.startedAt,
        lastTerminated: p.lastTerminated,
      },
      inList,
    );
  }

  function podFields(p: Pod): Record<string, string> {
    return {
      "metadata.name": p.spec.name,
      "metadata.namespace": p.namespace,
      "spec.nodeName": p.spec.nodeName ?? "",
      "spec.restartPolicy": "Always",
      "spec.schedulerName": "default-scheduler",
      "spec.serviceAccountName": p.spec.component === "kube-proxy" ? "kube-proxy" : "",
      "spec.hostNetwork": String(p.spec.hostNetwork ?? true),
      "status.phase": p.spec.phase ?? "Running",
      "status.podIP": p.spec.nodeName ? "127.0.0.1" : "",
      "status.podIPs": p.spec.nodeName ? "127.0.0.1" : "",
      "status.nominatedNodeName": "",
    };
  }


  function listSelectors(q: URLSearchParams, supported: string[]): { labels: ReturnType<typeof parseLabelSelector>; fields: ReturnType<typeof parseFieldSelector> } | StatusObj {
    try {
      const labels = parseLabelSelector(q.get("labelSelector") ?? "");
      const fields = parseFieldSelector(q.get("fieldSelector") ?? "", supported);
      return { labels, fields };
    } catch (e) {
      return badRequest((e as Error).message);
    }
  }


  function versionInfo(): Record<string, string> {
    const m = /^v?(\d+)\.(\d+)/.exec(version);
    const major = m?.[1] ?? "1";
    const minor = m?.[2] ?? "34";
    return {
      major,
      minor,
      emulationMajor: major,
      emulationMinor: minor,
      minCompatibilityMajor: major,
      minCompatibilityMinor: String(Math.max(0, Number(minor) - 1)),
      gitVersion: version,
      gitCommit: hex64(version).slice(0, 40),
      gitTreeState: "clean",
      buildDate: "2025-09-09T19:44:50Z",
      goVersion: "go1.24.6",
      compiler: "gc",
      platform: "linux/amd64",
    };
  }

  // ---- LIST paging ---------------------------------------------------------------

  /**
   * A LIST answer as the apiserver gives it (limit, continue, resourceVersion), written
   * page by page: only this page's objects are ever built.
   */
  async function listPaged<T>(
    res: http.ServerResponse,
    q: URLSearchParams,
    kind: string,
    all: readonly T[],
    keyOf: (t: T) => string,
    match: ((t: T) => boolean) | undefined,
    render: (t: T) => string,
    indexed?: () => readonly T[],
  ): Promise<void> {
    const cont = q.get("continue") ?? "";
    const rvParam = q.get("resourceVersion") ?? "";
    let limit = 0;
    const limitRaw = q.get("limit");
    if (limitRaw) {
      // metav1.ListOptions.Limit (int64), decoded by the parameter codec.
      const r = parseInt64(Buffer.from(limitRaw), 64);
      if (!r.ok) return sendStatus(res, badRequest(r.message));
      limit = Number(r.value);
    }
    let start: string | undefined;
    let listRV = w.resourceVersion;
    if (cont) {
      // storage.ValidateListOptions
      const d = decodeContinue(cont);
      if (!d.ok) return sendStatus(res, badRequest(`invalid continue token: ${d.message}`));
      if (rvParam && rvParam !== "0") return sendStatus(res, badRequest("specifying resource version is not allowed when using continue"));
      // rv > 0: a read at that revision, which etcd may have compacted away; rv -1: at the latest.
      if (d.value.rv > 0 && (w.expireContinueLeft > 0 || d.value.rv < w.compactedBelow)) {
        if (w.expireContinueLeft > 0) w.expireContinueLeft--;
        // etcd3 handleCompactedErrorForPaging: 410 Expired, with a token (rv -1) that continues
        // from the same key at the latest revision, inconsistently.
        const s: StatusObj = {
          kind: "Status",
          apiVersion: "v1",
          metadata: { continue: encodeContinue(d.value.start, -1) },
          status: "Failure",
          message: INCONSISTENT_CONTINUE,
          reason: "Expired",
          code: 410,
        };
        return sendStatus(res, s);
      }
      start = d.value.start;
      if (d.value.rv > 0) listRV = d.value.rv;
    } else if (rvParam === "0") limit = 0; // served from the watch cache whole: limit ignored (computeListLimit)
    const candidates = !cont && indexed ? indexed() : all;
    const page = cutPage(candidates, keyOf, start, limit, match);
    const meta: Record<string, unknown> = { resourceVersion: String(listRV) };
    if (page.continueAfter !== undefined) meta.continue = encodeContinue(page.continueAfter + "\u0000", listRV);
    if (page.remainingItemCount !== undefined) meta.remainingItemCount = page.remainingItemCount;
    // Streamed like Go's encoder does for a big body (chunked), 1 MiB at a time.
    res.writeHead(200, { "Content-Type": "application/json" });
    let buf = `{"kind":"${kind}","apiVersion":"v1","metadata":${goJSON(meta)},"items":[`;
    for (let i = 0; i < page.items.length; i++) {
      if (res.destroyed) return;
      buf += (i ? "," : "") + render(page.items[i] as T);
      if (buf.length >= 1 << 20) {
        const more = res.write(buf);
        buf = "";
        if (!more) await drained(res);
      }
    }
    res.end(buf + "]}\n");
  }

  /**
   * default/kubernetes as the lease endpoint reconciler writes it (pkg/controlplane/reconcilers
   * lease.go + endpointsadapter.go): the skip-mirror label, one subset, the addresses in
   * Go string order (sort.Strings / sets.List: 127.0.0.10 before 127.0.0.2), port "https".
   */
  function endpointsObject(inList: boolean): Record<string, unknown> {
    const obj: Record<string, unknown> = inList ? {} : { kind: "Endpoints", apiVersion: "v1" };
    obj.metadata = {
      name: "kubernetes",
      namespace: "default",
      uid: endpointsUid,
      resourceVersion: String(w.resourceVersion),
      creationTimestamp: createdAt,
      labels: { ...ENDPOINTS_LABELS },
      managedFields: [
        {
          manager: "kube-apiserver",
          operation: "Update",
          apiVersion: "v1",
          time: startedAt,
          fieldsType: "FieldsV1",
          fieldsV1: { "f:metadata": { "f:labels": { ".": {}, "f:endpointslice.kubernetes.io/skip-mirror": {} } }, "f:subsets": {} },
        },
      ],
    };
    const ips = [...replicaIPs].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    obj.subsets = [{ addresses: ips.map((ip) => ({ ip })), ports: [{ name: "https", port: apiserverTarget.port, protocol: "TCP" }] }];
    return obj;
  }

  return { kubeletPortOf, nodeObject, commandFor, podObject, podFields, listSelectors, versionInfo, listPaged, endpointsObject };
}

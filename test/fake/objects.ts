// Realistic Node and Pod objects for the fake cluster (SIMULATED, test-only).
//
// A production Node is 10-20 KB of JSON and a kube-proxy DaemonSet pod about 9 KB
// (see /work/shared/kubernetes-facts.md). Clients that list a 5,000-node cluster must
// cope with 50-100 MB of JSON, so the fake serves objects of that size by default:
// up to 50 images in status.images (kubelet nodeStatusMaxImages), managedFields of
// every writer, CNI/CSI/autoscaler annotations, conditions, nodeInfo, volumes.
//
// Everything is built on demand from a small "view" of the object, deterministically
// from the object's name (seeded PRNG), so that a LIST page of 500 nodes can be made
// without holding the whole list in memory. Field order follows the Go structs
// (k8s.io/api/core/v1 types.go), which is the order the apiserver's JSON has.
//
// Its length (over 900 lines) is data more than code: the fields of a real Node and Pod, in
// order, with their realistic values; split, a reader would have to follow one object over files.

import * as crypto from "node:crypto";

export type ReadyCondition = "True" | "False" | "Unknown" | "absent";

export interface NodeView {
  name: string;
  uid: string;
  created: string;
  labels: Record<string, string>;
  controlPlane: boolean;
  kubeletVersion: string;
  kubeletPort: number;
  ready: ReadyCondition;
  resourceVersion: string;
  /** Position of the node at start: picks its pod CIDR. */
  index: number;
  /** When the kubelet last posted status / when the node lifecycle controller noticed. */
  heartbeat: string;
  now: string;
}

export type PodComponent = "kube-apiserver" | "kube-scheduler" | "kube-controller-manager" | "cloud-controller-manager" | "kube-proxy";

export interface PodView {
  name: string;
  namespace: string;
  uid: string;
  created: string;
  labels: Record<string, string>;
  component?: PodComponent;
  image: string;
  command: string[];
  nodeName?: string;
  nodeUid?: string;
  hostNetwork: boolean;
  phase: string;
  /** The node lifecycle controller marked the pod Ready=False (its node is Unknown). */
  markedNotReady: boolean;
  sandboxId: string;
  resourceVersion: string;
  now: string;
  /** When the node lifecycle controller marked the pod not ready. */
  notReadySince: string;
  /** containerStatuses[0].restartCount (default 0). */
  restartCount?: number;
  /** When the running container started (default: created). */
  startedAt?: string;
  /** The previous run of the container (after a restart): lastState.terminated. */
  lastTerminated?: { startedAt: string; finishedAt: string; containerID: string };
}

// ---- deterministic randomness ----------------------------------------------

export function sha256hex(seed: string): string {
  return crypto.createHash("sha256").update(seed).digest("hex");
}

/** mulberry32 seeded from the name: the same node gets the same images on every start. */
export function seeded(seed: string): () => number {
  let a = Number.parseInt(sha256hex(seed).slice(0, 8), 16) >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A time `seconds` before `iso` (RFC 3339, seconds precision). */
export function before(iso: string, seconds: number): string {
  return new Date(Date.parse(iso) - seconds * 1000).toISOString().replace(/\.\d+Z$/, "Z");
}

// ---- managedFields -----------------------------------------------------------

/** How structured-merge-diff keys the items of a list (the Go types' listMapKey markers). */
const LIST_KEYS: Record<string, string[]> = {
  containers: ["name"],
  initContainers: ["name"],
  volumes: ["name"],
  volumeMounts: ["mountPath"],
  env: ["name"],
  conditions: ["type"],
  addresses: ["type"],
  podIPs: ["ip"],
  hostIPs: ["ip"],
  ownerReferences: ["uid"],
  ports: ["containerPort", "protocol"],
};
const SET_LISTS = new Set(["podCIDRs", "finalizers"]);

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

function fieldSet(obj: Record<string, unknown>, nested: boolean): Record<string, unknown> {
  const out: Record<string, unknown> = nested ? { ".": {} } : {};
  for (const [k, v] of Object.entries(obj)) {
    if (v === undefined) continue;
    const f = `f:${k}`;
    if (Array.isArray(v)) {
      const keys = LIST_KEYS[k];
      if (SET_LISTS.has(k)) {
        const s: Record<string, unknown> = { ".": {} };
        for (const x of v) s[`v:${JSON.stringify(x)}`] = {};
        out[f] = s;
      } else if (keys && v.every(isObj)) {
        const s: Record<string, unknown> = { ".": {} };
        for (const item of v as Record<string, unknown>[]) {
          const key: Record<string, unknown> = {};
          for (const kk of keys) key[kk] = item[kk];
          s[`k:${JSON.stringify(key)}`] = fieldSet(item, true);
        }
        out[f] = s;
      } else out[f] = {}; // atomic list
    } else if (isObj(v)) out[f] = Object.keys(v).length === 0 ? {} : fieldSet(v, true);
    else out[f] = {};
  }
  // structured-merge-diff serialises a set's members sorted ("." first, then f:, k:, v:).
  return Object.fromEntries(Object.entries(out).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

const fieldsCache = new Map<string, Record<string, unknown>>();

/**
 * One metav1.ManagedFieldsEntry, fieldsV1 computed from the fields the manager owns.
 * `shape`: a key for owned sets that only differ in values, not in fields (memoised).
 */
function managed(manager: string, time: string, owned: Record<string, unknown>, subresource?: string, shape?: string): Record<string, unknown> {
  let fieldsV1 = shape === undefined ? undefined : fieldsCache.get(shape);
  if (!fieldsV1) {
    // The top-level structs (metadata, spec, status) carry no "." member.
    fieldsV1 = {};
    for (const [k, v] of Object.entries(owned)) if (isObj(v)) fieldsV1[`f:${k}`] = fieldSet(v, false);
    if (shape !== undefined) fieldsCache.set(shape, fieldsV1);
  }
  const e: Record<string, unknown> = { manager, operation: "Update", apiVersion: "v1", time, fieldsType: "FieldsV1", fieldsV1 };
  if (subresource) e.subresource = subresource;
  return e;
}

// ---- images --------------------------------------------------------------------

interface PoolImage {
  repo: string;
  tag: string;
  digest: string;
  size: number;
}

const REPOS: Array<[string, number, number]> = [
  // repo, min MB, max MB
  ["docker.io/library/nginx", 60, 75],
  ["docker.io/library/redis", 40, 50],
  ["docker.io/library/postgres", 150, 180],
  ["docker.io/library/mysql", 170, 200],
  ["docker.io/library/busybox", 1, 3],
  ["docker.io/library/alpine", 3, 5],
  ["docker.io/library/python", 380, 450],
  ["docker.io/library/node", 350, 420],
  ["docker.io/library/golang", 290, 330],
  ["docker.io/library/rabbitmq", 90, 110],
  ["docker.io/library/mongo", 230, 280],
  ["docker.io/library/memcached", 30, 40],
  ["docker.io/library/haproxy", 40, 50],
  ["docker.io/library/traefik", 45, 55],
  ["docker.io/bitnami/kafka", 280, 320],
  ["docker.io/bitnami/zookeeper", 170, 200],
  ["docker.io/bitnami/kubectl", 70, 90],
  ["docker.io/grafana/grafana", 110, 130],
  ["docker.io/grafana/loki", 30, 40],
  ["docker.io/grafana/promtail", 60, 80],
  ["docker.io/fluent/fluent-bit", 30, 40],
  ["docker.io/istio/proxyv2", 90, 110],
  ["docker.io/istio/pilot", 70, 85],
  ["docker.io/calico/node", 110, 130],
  ["docker.io/calico/cni", 90, 100],
  ["docker.io/flannel/flannel", 30, 35],
  ["docker.io/flannel/flannel-cni-plugin", 4, 6],
  ["docker.io/jaegertracing/all-in-one", 30, 40],
  ["docker.io/openpolicyagent/gatekeeper", 30, 40],
  ["docker.io/velero/velero", 80, 100],
  ["docker.io/envoyproxy/envoy", 60, 75],
  ["quay.io/prometheus/node-exporter", 10, 14],
  ["quay.io/prometheus/prometheus", 100, 120],
  ["quay.io/prometheus/alertmanager", 30, 40],
  ["quay.io/prometheus-operator/prometheus-config-reloader", 5, 8],
  ["quay.io/prometheus-operator/prometheus-operator", 15, 20],
  ["quay.io/jetstack/cert-manager-controller", 15, 20],
  ["quay.io/jetstack/cert-manager-webhook", 10, 15],
  ["quay.io/jetstack/cert-manager-cainjector", 10, 14],
  ["quay.io/cilium/cilium", 180, 220],
  ["quay.io/cilium/operator-generic", 30, 40],
  ["quay.io/cilium/hubble-relay", 20, 30],
  ["quay.io/argoproj/argocd", 160, 190],
  ["quay.io/kiwigrid/k8s-sidecar", 40, 50],
  ["quay.io/brancz/kube-rbac-proxy", 20, 25],
  ["quay.io/coreos/etcd", 20, 30],
  ["ghcr.io/fluxcd/source-controller", 30, 40],
  ["ghcr.io/fluxcd/kustomize-controller", 30, 40],
  ["ghcr.io/fluxcd/helm-controller", 35, 45],
  ["ghcr.io/external-secrets/external-secrets", 35, 45],
  ["ghcr.io/kyverno/kyverno", 40, 50],
  ["ghcr.io/open-telemetry/opentelemetry-collector-releases/opentelemetry-collector-contrib", 90, 110],
  ["ghcr.io/dexidp/dex", 30, 40],
  ["ghcr.io/aquasecurity/trivy", 50, 60],
  ["ghcr.io/spiffe/spire-agent", 20, 25],
  ["registry.k8s.io/coredns/coredns", 17, 19],
  ["registry.k8s.io/etcd", 55, 60],
  ["registry.k8s.io/metrics-server/metrics-server", 18, 20],
  ["registry.k8s.io/ingress-nginx/controller", 100, 110],
  ["registry.k8s.io/ingress-nginx/kube-webhook-certgen", 20, 25],
  ["registry.k8s.io/kube-state-metrics/kube-state-metrics", 17, 20],
  ["registry.k8s.io/sig-storage/csi-node-driver-registrar", 10, 12],
  ["registry.k8s.io/sig-storage/livenessprobe", 10, 11],
  ["registry.k8s.io/sig-storage/csi-provisioner", 25, 30],
  ["registry.k8s.io/sig-storage/csi-attacher", 25, 30],
  ["registry.k8s.io/sig-storage/csi-resizer", 25, 30],
  ["registry.k8s.io/sig-storage/csi-snapshotter", 25, 30],
  ["registry.k8s.io/autoscaling/cluster-autoscaler", 40, 50],
  ["registry.k8s.io/autoscaling/vpa-recommender", 20, 25],
  ["registry.k8s.io/provider-aws/cloud-controller-manager", 30, 40],
  ["registry.k8s.io/dns/k8s-dns-node-cache", 30, 40],
  ["registry.k8s.io/nfd/node-feature-discovery", 60, 70],
  ["registry.k8s.io/descheduler/descheduler", 25, 30],
  ["public.ecr.aws/ebs-csi-driver/aws-ebs-csi-driver", 90, 110],
  ["public.ecr.aws/efs-csi-driver/amazon/aws-efs-csi-driver", 110, 130],
  ["public.ecr.aws/eks/aws-load-balancer-controller", 30, 40],
  ["public.ecr.aws/karpenter/controller", 40, 50],
  ["602401143452.dkr.ecr.eu-west-1.amazonaws.com/amazon-k8s-cni", 40, 50],
  ["602401143452.dkr.ecr.eu-west-1.amazonaws.com/amazon-k8s-cni-init", 50, 60],
  ["602401143452.dkr.ecr.eu-west-1.amazonaws.com/amazon/aws-network-policy-agent", 30, 40],
  ["602401143452.dkr.ecr.eu-west-1.amazonaws.com/eks/pod-identity-agent", 20, 25],
  ["gcr.io/google-containers/pause", 0.3, 0.4],
  ["gcr.io/distroless/static-debian12", 1, 2],
  ["gcr.io/distroless/base-debian12", 20, 22],
  ["mcr.microsoft.com/oss/kubernetes/azure-cloud-node-manager", 40, 50],
  ["mcr.microsoft.com/oss/kubernetes-csi/azuredisk-csi", 80, 100],
  ["europe-docker.pkg.dev/acme-prod/platform/payments-api", 180, 260],
  ["europe-docker.pkg.dev/acme-prod/platform/orders-worker", 150, 220],
  ["europe-docker.pkg.dev/acme-prod/platform/search-indexer", 300, 500],
  ["europe-docker.pkg.dev/acme-prod/platform/frontend", 80, 120],
  ["europe-docker.pkg.dev/acme-prod/platform/ml-inference", 900, 1400],
  ["harbor.acme.internal/data/spark-py", 600, 800],
  ["harbor.acme.internal/data/airflow", 450, 600],
  ["harbor.acme.internal/data/jupyter-notebook", 700, 1100],
  ["harbor.acme.internal/ops/debug-tools", 120, 160],
];

const TAGS_PER_REPO = 3;
let imagePool: PoolImage[] | undefined;

function pool(): PoolImage[] {
  if (imagePool) return imagePool;
  const out: PoolImage[] = [];
  for (const [repo, lo, hi] of REPOS) {
    const r = seeded("repo:" + repo);
    const major = 1 + Math.floor(r() * 3);
    const minor = Math.floor(r() * 30);
    for (let t = 0; t < TAGS_PER_REPO; t++) {
      const tag = repo.endsWith("/pause") ? `3.${8 + t}` : `v${major}.${minor + t}.${Math.floor(r() * 12)}`;
      const size = Math.round((lo + (hi - lo) * r()) * 1024 * 1024);
      out.push({ repo, tag, digest: sha256hex(`${repo}:${tag}`), size });
    }
  }
  imagePool = out;
  return out;
}

const imageCache = new Map<string, PoolImage[]>();
const mk = (repo: string, tag: string, mb: number): PoolImage => ({ repo, tag, digest: sha256hex(`${repo}:${tag}`), size: Math.round(mb * 1024 * 1024) });

/** What every node runs whatever the workload: the kubelet keeps these images. */
function baseImages(kubeletVersion: string): PoolImage[] {
  const hit = imageCache.get("base" + kubeletVersion);
  if (hit) return hit;
  const out = [
    mk("registry.k8s.io/kube-proxy", kubeletVersion, 30.6),
    mk("registry.k8s.io/pause", "3.10", 0.32),
    mk("docker.io/flannel/flannel", "v0.26.4", 32.1),
    mk("docker.io/flannel/flannel-cni-plugin", "v1.6.2-flannel1", 4.9),
  ];
  imageCache.set("base" + kubeletVersion, out);
  return out;
}

function controlPlaneImages(version: string): PoolImage[] {
  const hit = imageCache.get("cp" + version);
  if (hit) return hit;
  const out = [
    mk("registry.k8s.io/kube-apiserver", version, 28.9),
    mk("registry.k8s.io/kube-controller-manager", version, 26.4),
    mk("registry.k8s.io/kube-scheduler", version, 20.6),
    mk("registry.k8s.io/etcd", "3.6.4-0", 62.3),
  ];
  imageCache.set("cp" + version, out);
  return out;
}

/** kubelet setters.Images: sorted by size, largest first, at most nodeStatusMaxImages (50). */
function nodeImages(v: NodeView): Array<{ names: string[]; sizeBytes: number }> {
  const r = seeded("images:" + v.name);
  const chosen = [...baseImages(v.kubeletVersion), ...(v.controlPlane ? controlPlaneImages(v.kubeletVersion) : [])];
  const seen = new Set(chosen.map((i) => `${i.repo}:${i.tag}`));
  const p = pool();
  // Some nodes have pulled fewer than 50 images, most more: the kubelet reports the 50 largest.
  const want = 40 + Math.floor(r() * 25);
  let guard = 0;
  while (chosen.length < want && guard++ < 1000) {
    const img = p[Math.floor(r() * p.length)];
    if (!img || seen.has(`${img.repo}:${img.tag}`)) continue;
    seen.add(`${img.repo}:${img.tag}`);
    chosen.push(img);
  }
  chosen.sort((a, b) => b.size - a.size);
  return chosen.slice(0, 50).map((i) => {
    // An image pulled by digest only (no tag) lists just its digest name.
    const untagged = r() < 0.06;
    const names = [`${i.repo}@sha256:${i.digest}`];
    if (!untagged) names.push(`${i.repo}:${i.tag}`);
    return { names, sizeBytes: i.size };
  });
}

// ---- nodes ---------------------------------------------------------------------

const ZONES = ["eu-west-1a", "eu-west-1b", "eu-west-1c"];
const INSTANCE_TYPES = ["m6i.2xlarge", "m6i.4xlarge", "c6i.4xlarge", "r6i.2xlarge", "m7g.4xlarge"];

/** Labels a cloud node carries besides the kubelet's own (deterministic per name). */
export function cloudLabels(name: string): Record<string, string> {
  const r = seeded("labels:" + name);
  const zone = ZONES[Math.floor(r() * ZONES.length)] ?? "eu-west-1a";
  const type = INSTANCE_TYPES[Math.floor(r() * INSTANCE_TYPES.length)] ?? "m6i.2xlarge";
  return {
    "node.kubernetes.io/instance-type": type,
    "topology.kubernetes.io/region": "eu-west-1",
    "topology.kubernetes.io/zone": zone,
    "topology.ebs.csi.aws.com/zone": zone,
  };
}

export function podCIDR(index: number): string {
  // --cluster-cidr=10.64.0.0/10 --node-cidr-mask-size=24: room for 16,384 nodes.
  return `10.${64 + Math.floor(index / 256)}.${index % 256}.0/24`;
}

const NOT_READY_MESSAGE =
  "container runtime network not ready: NetworkReady=false reason:NetworkPluginNotReady message:Network plugin returns error: cni plugin not initialized";

function nodeConditions(v: NodeView): Array<Record<string, unknown>> | undefined {
  if (v.ready === "absent") return undefined;
  const hb = v.heartbeat;
  const created = v.created;
  const net = { type: "NetworkUnavailable", status: "False", lastHeartbeatTime: created, lastTransitionTime: created, reason: "FlannelIsUp", message: "Flannel is running on this node" };
  if (v.ready === "Unknown") {
    // node lifecycle controller (tryUpdateNodeHealth): every kubelet-owned condition turns Unknown.
    const unknown = (type: string): Record<string, unknown> => ({
      type,
      status: "Unknown",
      lastHeartbeatTime: hb,
      lastTransitionTime: v.now,
      reason: "NodeStatusUnknown",
      message: "Kubelet stopped posting node status.",
    });
    return [net, unknown("MemoryPressure"), unknown("DiskPressure"), unknown("PIDPressure"), unknown("Ready")];
  }
  const ok = (type: string, reason: string, message: string): Record<string, unknown> => ({
    type,
    status: "False",
    lastHeartbeatTime: hb,
    lastTransitionTime: created,
    reason,
    message,
  });
  return [
    net,
    ok("MemoryPressure", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
    ok("DiskPressure", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
    ok("PIDPressure", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
    v.ready === "True"
      ? { type: "Ready", status: "True", lastHeartbeatTime: hb, lastTransitionTime: created, reason: "KubeletReady", message: "kubelet is posting ready status" }
      : { type: "Ready", status: "False", lastHeartbeatTime: hb, lastTransitionTime: v.now, reason: "KubeletNotReady", message: NOT_READY_MESSAGE },
  ];
}

function nodeTaints(v: NodeView): Array<Record<string, unknown>> | undefined {
  const t: Array<Record<string, unknown>> = [];
  if (v.controlPlane) t.push({ key: "node-role.kubernetes.io/control-plane", effect: "NoSchedule" });
  // node lifecycle controller: unreachable / not-ready taints (taint-based evictions).
  if (v.ready === "Unknown") {
    t.push({ key: "node.kubernetes.io/unreachable", effect: "NoSchedule", timeAdded: v.now });
    t.push({ key: "node.kubernetes.io/unreachable", effect: "NoExecute", timeAdded: v.now });
  } else if (v.ready === "False") {
    t.push({ key: "node.kubernetes.io/not-ready", effect: "NoSchedule", timeAdded: v.now });
    t.push({ key: "node.kubernetes.io/not-ready", effect: "NoExecute", timeAdded: v.now });
  }
  return t.length ? t : undefined;
}

const uuidOf = (h: string): string => `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;

export function buildNode(v: NodeView, inList: boolean): Record<string, unknown> {
  const r = seeded("node:" + v.name);
  // One hash gives every per-node id (instance, MAC, machine, boot, system UUID).
  const h = sha256hex("ids:" + v.name) + sha256hex("ids2:" + v.name);
  const iid = "i-0" + h.slice(0, 16);
  const cidr = podCIDR(v.index);
  const zone = v.labels["topology.kubernetes.io/zone"] ?? "eu-west-1a";
  const publicIp = `10.0.${Math.floor(v.index / 250) % 250}.${(v.index % 250) + 4}`;
  const mac = Array.from({ length: 6 }, (_, i) => h.slice(16 + i * 2, 18 + i * 2)).join(":");
  const annotations: Record<string, string> = {
    "cluster-autoscaler.kubernetes.io/scale-down-disabled": v.controlPlane ? "true" : "false",
    "csi.volume.kubernetes.io/nodeid": `{"ebs.csi.aws.com":"${iid}","efs.csi.aws.com":"${iid}"}`,
    "flannel.alpha.coreos.com/backend-data": `{"VNI":1,"VtepMAC":"${mac}"}`,
    "flannel.alpha.coreos.com/backend-type": "vxlan",
    "flannel.alpha.coreos.com/kube-subnet-manager": "true",
    "flannel.alpha.coreos.com/public-ip": publicIp,
    "kubeadm.alpha.kubernetes.io/cri-socket": "unix:///var/run/containerd/containerd.sock",
    "node.alpha.kubernetes.io/ttl": "0",
    "volumes.kubernetes.io/controller-managed-attach-detach": "true",
  };
  const cpu = v.labels["node.kubernetes.io/instance-type"]?.includes("4xlarge") ? "16" : "8";
  const memKi = cpu === "16" ? "65021428Ki" : "32506660Ki";
  const capacity = { cpu, "ephemeral-storage": "104845292Ki", "hugepages-1Gi": "0", "hugepages-2Mi": "0", memory: memKi, pods: "110" };
  const allocatable = {
    cpu: cpu === "16" ? "15890m" : "7910m",
    "ephemeral-storage": "95551679124",
    "hugepages-1Gi": "0",
    "hugepages-2Mi": "0",
    memory: cpu === "16" ? "64004596Ki" : "31489828Ki",
    pods: "110",
  };
  const conditions = nodeConditions(v);
  const addresses = [
    { type: "InternalIP", address: "127.0.0.1" },
    { type: "InternalDNS", address: `ip-10-0-${Math.floor(v.index / 250) % 250}-${(v.index % 250) + 4}.eu-west-1.compute.internal` },
    { type: "Hostname", address: v.name },
  ];
  const nodeInfo = {
    machineID: h.slice(28, 60),
    systemUUID: uuidOf("ec2" + h.slice(60, 89)),
    bootID: uuidOf(h.slice(89, 121)),
    kernelVersion: "6.1.0-28-cloud-amd64",
    osImage: "Debian GNU/Linux 12 (bookworm)",
    containerRuntimeVersion: "containerd://1.7.24",
    kubeletVersion: v.kubeletVersion,
    kubeProxyVersion: "",
    operatingSystem: "linux",
    architecture: "amd64",
  };
  const images = v.ready === "absent" ? undefined : nodeImages(v);
  const volumes: string[] = [];
  const nVolumes = v.ready === "absent" || v.controlPlane ? 0 : Math.floor(r() * 4);
  for (let i = 0; i < nVolumes; i++) volumes.push(`kubernetes.io/csi/ebs.csi.aws.com^vol-0${h.slice(100 - i * 17, 116 - i * 17)}`);
  const runtimeHandlers = [
    { name: "runc", features: { recursiveReadOnlyMounts: true, userNamespaces: true } },
    { name: "", features: { recursiveReadOnlyMounts: true, userNamespaces: true } },
  ];
  const spec: Record<string, unknown> = { podCIDR: cidr, podCIDRs: [cidr], providerID: `aws:///${zone}/${iid}` };
  const taints = nodeTaints(v);
  if (taints) spec.taints = taints;

  const status: Record<string, unknown> = { capacity, allocatable };
  if (conditions) status.conditions = conditions;
  status.addresses = addresses;
  status.daemonEndpoints = { kubeletEndpoint: { Port: v.kubeletPort } };
  status.nodeInfo = nodeInfo;
  if (images) status.images = images;
  if (volumes.length) {
    status.volumesInUse = volumes;
    status.volumesAttached = volumes.map((name) => ({ name, devicePath: "" }));
  }
  if (v.ready !== "absent") {
    status.runtimeHandlers = runtimeHandlers;
    status.features = { supplementalGroupsPolicy: true };
  }

  // Who wrote what (managedFields), as on a kubeadm node running flannel and the EBS CSI driver.
  const c = v.created;
  const pick = <T extends Record<string, unknown>>(o: T, keys: string[]): Record<string, unknown> =>
    Object.fromEntries(Object.entries(o).filter(([k]) => keys.includes(k)));
  const kubeletLabels = pick(v.labels, [
    "beta.kubernetes.io/arch",
    "beta.kubernetes.io/instance-type",
    "beta.kubernetes.io/os",
    "kubernetes.io/arch",
    "kubernetes.io/hostname",
    "kubernetes.io/os",
    "node.kubernetes.io/instance-type",
    "topology.kubernetes.io/region",
    "topology.kubernetes.io/zone",
  ]);
  const managedFields: Array<Record<string, unknown>> = [
    managed(
      "kubeadm",
      c,
      {
        metadata: {
          annotations: pick(annotations, ["kubeadm.alpha.kubernetes.io/cri-socket"]),
          ...(v.controlPlane ? { labels: pick(v.labels, ["node-role.kubernetes.io/control-plane", "node.kubernetes.io/exclude-from-external-load-balancers"]) } : {}),
        },
      },
      undefined,
      `node/kubeadm/${v.controlPlane}`,
    ),
    managed(
      "kubelet",
      c,
      {
        metadata: { annotations: pick(annotations, ["volumes.kubernetes.io/controller-managed-attach-detach"]), labels: kubeletLabels },
        spec: { providerID: spec.providerID },
      },
      undefined,
      `node/kubelet/${Object.keys(kubeletLabels).join()}`,
    ),
    managed("kube-controller-manager", v.ready === "True" ? c : v.now, {
      metadata: { annotations: pick(annotations, ["node.alpha.kubernetes.io/ttl"]) },
      spec: { podCIDR: cidr, podCIDRs: [cidr], ...(taints && (v.ready === "Unknown" || v.ready === "False") ? { taints } : {}) },
    }),
    managed(
      "flanneld",
      c,
      { metadata: { annotations: pick(annotations, ["flannel.alpha.coreos.com/backend-data", "flannel.alpha.coreos.com/backend-type", "flannel.alpha.coreos.com/kube-subnet-manager", "flannel.alpha.coreos.com/public-ip"]) } },
      undefined,
      "node/flanneld",
    ),
    managed("flanneld", c, { status: { conditions: [conditions?.[0] ?? {}] } }, "status", `node/flanneld-status/${!!conditions}`),
    managed("kubectl-annotate", c, { metadata: { annotations: pick(annotations, ["cluster-autoscaler.kubernetes.io/scale-down-disabled"]) } }, undefined, "node/annotate"),
    managed(
      "ebs-csi-node",
      c,
      { metadata: { annotations: pick(annotations, ["csi.volume.kubernetes.io/nodeid"]), labels: pick(v.labels, ["topology.ebs.csi.aws.com/zone"]) } },
      undefined,
      `node/ebs/${"topology.ebs.csi.aws.com/zone" in v.labels}`,
    ),
  ];
  // tryUpdateNodeHealth writes the Unknown conditions through the status subresource.
  if (v.ready === "Unknown") managedFields.push(managed("kube-controller-manager", v.now, { status: { conditions: conditions?.slice(1) } }, "status", "node/kcm-status"));
  if (v.ready !== "absent") {
    managedFields.push(
      managed(
        "kubelet",
        v.heartbeat,
        {
          status: {
            allocatable,
            capacity,
            conditions: conditions?.slice(1),
            daemonEndpoints: { kubeletEndpoint: { Port: v.kubeletPort } },
            features: status.features,
            images: images ?? [],
            nodeInfo,
            runtimeHandlers,
            ...(volumes.length ? { volumesAttached: status.volumesAttached, volumesInUse: volumes } : {}),
          },
        },
        "status",
        `node/kubelet-status/${v.ready}/${volumes.length > 0}`,
      ),
    );
  }

  const obj: Record<string, unknown> = inList ? {} : { kind: "Node", apiVersion: "v1" };
  obj.metadata = {
    name: v.name,
    uid: v.uid,
    resourceVersion: v.resourceVersion,
    creationTimestamp: v.created,
    labels: v.labels,
    annotations,
    managedFields,
  };
  obj.spec = spec;
  obj.status = status;
  return obj;
}

// ---- pods ----------------------------------------------------------------------

const CRITICAL_PRIORITY = 2000001000;

function hostPathVolume(name: string, path: string, type: string): Record<string, unknown> {
  return { name, hostPath: { path, type } };
}

function tokenVolume(podName: string): { name: string; volume: Record<string, unknown>; mount: Record<string, unknown> } {
  const alphabet = "bcdfghjklmnpqrstvwxz2456789";
  const h = sha256hex("kube-api-access" + podName);
  let suffix = "";
  for (let i = 0; i < 5; i++) suffix += alphabet[Number.parseInt(h.slice(i * 2, i * 2 + 2), 16) % alphabet.length];
  const name = `kube-api-access-${suffix}`;
  return {
    name,
    volume: {
      name,
      projected: {
        sources: [
          { serviceAccountToken: { expirationSeconds: 3607, path: "token" } },
          { configMap: { name: "kube-root-ca.crt", items: [{ key: "ca.crt", path: "ca.crt" }] } },
          { downwardAPI: { items: [{ path: "namespace", fieldRef: { apiVersion: "v1", fieldPath: "metadata.namespace" } }] } },
        ],
        defaultMode: 420,
      },
    },
    mount: { name, readOnly: true, mountPath: "/var/run/secrets/kubernetes.io/serviceaccount", recursiveReadOnly: "Disabled" },
  };
}

interface StaticLayout {
  volumes: Array<Record<string, unknown>>;
  mounts: Array<Record<string, unknown>>;
  cpu: string;
}

function staticLayout(kind: PodComponent): StaticLayout {
  const certs = [
    hostPathVolume("ca-certs", "/etc/ssl/certs", "DirectoryOrCreate"),
    hostPathVolume("etc-ca-certificates", "/etc/ca-certificates", "DirectoryOrCreate"),
    hostPathVolume("k8s-certs", "/etc/kubernetes/pki", "DirectoryOrCreate"),
    hostPathVolume("usr-local-share-ca-certificates", "/usr/local/share/ca-certificates", "DirectoryOrCreate"),
    hostPathVolume("usr-share-ca-certificates", "/usr/share/ca-certificates", "DirectoryOrCreate"),
  ];
  const certMounts = [
    { name: "ca-certs", readOnly: true, mountPath: "/etc/ssl/certs" },
    { name: "etc-ca-certificates", readOnly: true, mountPath: "/etc/ca-certificates" },
    { name: "k8s-certs", readOnly: true, mountPath: "/etc/kubernetes/pki" },
    { name: "usr-local-share-ca-certificates", readOnly: true, mountPath: "/usr/local/share/ca-certificates" },
    { name: "usr-share-ca-certificates", readOnly: true, mountPath: "/usr/share/ca-certificates" },
  ];
  switch (kind) {
    case "kube-apiserver":
      return { volumes: certs, mounts: certMounts, cpu: "250m" };
    case "kube-controller-manager":
      return {
        volumes: [
          ...certs.slice(0, 2),
          hostPathVolume("flexvolume-dir", "/usr/libexec/kubernetes/kubelet-plugins/volume/exec", "DirectoryOrCreate"),
          certs[2] as Record<string, unknown>,
          hostPathVolume("kubeconfig", "/etc/kubernetes/controller-manager.conf", "FileOrCreate"),
          ...certs.slice(3),
        ],
        mounts: [
          ...certMounts.slice(0, 2),
          { name: "flexvolume-dir", mountPath: "/usr/libexec/kubernetes/kubelet-plugins/volume/exec" },
          certMounts[2] as Record<string, unknown>,
          { name: "kubeconfig", readOnly: true, mountPath: "/etc/kubernetes/controller-manager.conf" },
          ...certMounts.slice(3),
        ],
        cpu: "200m",
      };
    case "kube-scheduler":
      return {
        volumes: [hostPathVolume("kubeconfig", "/etc/kubernetes/scheduler.conf", "FileOrCreate")],
        mounts: [{ name: "kubeconfig", readOnly: true, mountPath: "/etc/kubernetes/scheduler.conf" }],
        cpu: "100m",
      };
    default:
      return { volumes: [], mounts: [], cpu: "100m" };
  }
}

function probe(path: string, port: number, failureThreshold: number): Record<string, unknown> {
  return {
    httpGet: { host: "127.0.0.1", path, port, scheme: "HTTPS" },
    initialDelaySeconds: 10,
    timeoutSeconds: 15,
    periodSeconds: 10,
    successThreshold: 1,
    failureThreshold,
  };
}

function podConditions(v: PodView, running: boolean): Array<Record<string, unknown>> {
  const t = v.created;
  // A container restart turns the pod not ready, then ready again once it runs.
  const back = v.restartCount ? (v.startedAt ?? t) : t;
  const ready = running && !v.markedNotReady;
  const cond = (type: string, status: boolean, when = t): Record<string, unknown> => ({
    type,
    observedGeneration: 1,
    status: status ? "True" : "False",
    lastProbeTime: null,
    lastTransitionTime: when,
  });
  return [
    cond("PodReadyToStartContainers", running),
    cond("Initialized", true),
    cond("Ready", ready, v.markedNotReady ? v.notReadySince : back),
    cond("ContainersReady", running, back),
    cond("PodScheduled", !!v.nodeName),
  ];
}

/** The container id of run number `restarts` (0: the first) of the pod's container. */
export function containerId(uid: string, restarts: number): string {
  return `containerd://${sha256hex(restarts ? `${uid}/${restarts}` : uid)}`;
}

function containerStatus(v: PodView, running: boolean, mounts: Array<Record<string, unknown>>): Record<string, unknown> {
  const name = v.component ?? v.name;
  const digest = sha256hex(v.image);
  const last = v.lastTerminated;
  return {
    name,
    state: running ? { running: { startedAt: v.startedAt ?? v.created } } : { waiting: { reason: "ContainerCreating" } },
    lastState: last ? { terminated: { exitCode: 0, reason: "Completed", startedAt: last.startedAt, finishedAt: last.finishedAt, containerID: last.containerID } } : {},
    ready: running,
    restartCount: v.restartCount ?? 0,
    image: v.image,
    imageID: `${v.image.replace(/:[^:/]*$/, "")}@sha256:${digest}`,
    containerID: containerId(v.uid, v.restartCount ?? 0),
    started: running,
    ...(mounts.length ? { volumeMounts: mounts.map((m) => ({ name: m.name, mountPath: m.mountPath, ...(m.readOnly ? { readOnly: true, recursiveReadOnly: "Disabled" } : {}) })) } : {}),
    user: { linux: { uid: 0, gid: 0, supplementalGroups: [0] } },
  };
}

function podMeta(v: PodView, extra: { generateName?: string; annotations?: Record<string, string>; ownerReferences?: unknown[]; managedFields: unknown[] }): Record<string, unknown> {
  const m: Record<string, unknown> = { name: v.name };
  if (extra.generateName) m.generateName = extra.generateName;
  m.namespace = v.namespace;
  m.uid = v.uid;
  m.resourceVersion = v.resourceVersion;
  if (extra.generateName) m.generation = 1;
  m.creationTimestamp = v.created;
  m.labels = v.labels;
  if (extra.annotations) m.annotations = extra.annotations;
  if (extra.ownerReferences) m.ownerReferences = extra.ownerReferences;
  m.managedFields = extra.managedFields;
  return m;
}

function podIPs(v: PodView): Record<string, unknown> {
  if (!v.nodeName) return {};
  return { hostIP: "127.0.0.1", hostIPs: [{ ip: "127.0.0.1" }], podIP: "127.0.0.1", podIPs: [{ ip: "127.0.0.1" }] };
}

/** kubeadm's kube-proxy DaemonSet pod (about 9 KB, as measured on a real cluster). */
function kubeProxyPod(v: PodView, inList: boolean): Record<string, unknown> {
  const running = v.phase === "Running";
  const tok = tokenVolume(v.name);
  const dsUid = `${sha256hex("ds kube-proxy").slice(0, 8)}-${sha256hex("ds kube-proxy").slice(8, 12)}-${sha256hex("ds kube-proxy").slice(12, 16)}-${sha256hex("ds kube-proxy").slice(16, 20)}-${sha256hex("ds kube-proxy").slice(20, 32)}`;
  const ownerReferences = [{ apiVersion: "apps/v1", kind: "DaemonSet", name: "kube-proxy", uid: dsUid, controller: true, blockOwnerDeletion: true }];
  const mounts = [
    { name: "kube-proxy", mountPath: "/var/lib/kube-proxy" },
    { name: "xtables-lock", mountPath: "/run/xtables.lock" },
    { name: "lib-modules", readOnly: true, mountPath: "/lib/modules" },
    tok.mount,
  ];
  const container = {
    name: "kube-proxy",
    image: v.image,
    command: v.command,
    env: [{ name: "NODE_NAME", valueFrom: { fieldRef: { apiVersion: "v1", fieldPath: "spec.nodeName" } } }],
    resources: {},
    volumeMounts: mounts,
    terminationMessagePath: "/dev/termination-log",
    terminationMessagePolicy: "File",
    imagePullPolicy: "IfNotPresent",
    securityContext: { privileged: true },
  };
  const tolerations = [
    { operator: "Exists" },
    { key: "node.kubernetes.io/not-ready", operator: "Exists", effect: "NoExecute" },
    { key: "node.kubernetes.io/unreachable", operator: "Exists", effect: "NoExecute" },
    { key: "node.kubernetes.io/disk-pressure", operator: "Exists", effect: "NoSchedule" },
    { key: "node.kubernetes.io/memory-pressure", operator: "Exists", effect: "NoSchedule" },
    { key: "node.kubernetes.io/pid-pressure", operator: "Exists", effect: "NoSchedule" },
    { key: "node.kubernetes.io/unschedulable", operator: "Exists", effect: "NoSchedule" },
    { key: "node.kubernetes.io/network-unavailable", operator: "Exists", effect: "NoSchedule" },
  ];
  const volumes = [
    { name: "kube-proxy", configMap: { name: "kube-proxy", defaultMode: 420 } },
    hostPathVolume("xtables-lock", "/run/xtables.lock", "FileOrCreate"),
    hostPathVolume("lib-modules", "/lib/modules", ""),
    tok.volume,
  ];
  const affinity = {
    nodeAffinity: {
      requiredDuringSchedulingIgnoredDuringExecution: {
        nodeSelectorTerms: [{ matchFields: [{ key: "metadata.name", operator: "In", values: [v.nodeName ?? ""] }] }],
      },
    },
  };
  const spec: Record<string, unknown> = {
    volumes,
    containers: [container],
    restartPolicy: "Always",
    terminationGracePeriodSeconds: 30,
    dnsPolicy: "ClusterFirst",
    nodeSelector: { "kubernetes.io/os": "linux" },
    serviceAccountName: "kube-proxy",
    serviceAccount: "kube-proxy",
    ...(v.nodeName ? { nodeName: v.nodeName } : {}),
    hostNetwork: v.hostNetwork,
    securityContext: {},
    affinity,
    schedulerName: "default-scheduler",
    tolerations,
    priorityClassName: "system-node-critical",
    priority: CRITICAL_PRIORITY,
    enableServiceLinks: true,
    preemptionPolicy: "PreemptLowerPriority",
  };
  const conditions = podConditions(v, running);
  const status: Record<string, unknown> = {
    observedGeneration: 1,
    phase: v.phase,
    conditions,
    ...podIPs(v),
    startTime: v.created,
    containerStatuses: [containerStatus(v, running, mounts)],
    qosClass: "BestEffort",
  };
  const managedFields = [
    managed("kube-controller-manager", v.created, {
      metadata: {
        generateName: "kube-proxy-",
        labels: { "controller-revision-hash": "", "k8s-app": "", "pod-template-generation": "" },
        ownerReferences,
      },
      // admission's additions (token volume, tolerations, priority) count as the creator's
      spec: { ...spec, nodeName: undefined },
    }),
    managed(
      "kubelet",
      v.now,
      { status: { conditions, containerStatuses: [], hostIP: "", hostIPs: [{ ip: "127.0.0.1" }], observedGeneration: 1, phase: "", podIP: "", podIPs: [{ ip: "127.0.0.1" }], startTime: "" } },
      "status",
      `pod/kubelet-status/${!!v.nodeName}`,
    ),
  ];
  const obj: Record<string, unknown> = inList ? {} : { kind: "Pod", apiVersion: "v1" };
  obj.metadata = podMeta(v, { generateName: "kube-proxy-", ownerReferences, managedFields });
  obj.spec = spec;
  obj.status = status;
  return obj;
}

/** kubeadm's static (mirror) pods, and everything else. */
export function buildPod(v: PodView, inList: boolean): Record<string, unknown> {
  if (v.component === "kube-proxy") return kubeProxyPod(v, inList);
  const kind = v.component;
  const running = v.phase === "Running";
  const isStatic = kind === "kube-apiserver" || kind === "kube-scheduler" || kind === "kube-controller-manager";
  const layout = kind ? staticLayout(kind) : { volumes: [], mounts: [], cpu: "" };
  const tok = isStatic ? undefined : tokenVolume(v.name);
  const mounts = [...layout.mounts, ...(tok ? [tok.mount] : [])];
  const container: Record<string, unknown> = { name: kind ?? v.name, image: v.image, command: v.command };
  if (layout.cpu) container.resources = { requests: { cpu: layout.cpu } };
  else container.resources = {};
  if (mounts.length) container.volumeMounts = mounts;
  if (kind === "kube-scheduler") {
    container.livenessProbe = probe("/livez", 10259, 8);
    container.readinessProbe = probe("/readyz", 10259, 3);
    container.startupProbe = probe("/livez", 10259, 24);
  } else if (kind === "kube-controller-manager") {
    container.livenessProbe = probe("/healthz", 10257, 8);
    container.startupProbe = probe("/healthz", 10257, 24);
  } else if (kind === "kube-apiserver") {
    container.livenessProbe = probe("/livez", 6443, 8);
    container.readinessProbe = probe("/readyz", 6443, 3);
    container.startupProbe = probe("/livez", 6443, 24);
  }
  container.terminationMessagePath = "/dev/termination-log";
  container.terminationMessagePolicy = "File";
  container.imagePullPolicy = "IfNotPresent";

  const spec: Record<string, unknown> = {};
  const volumes = [...layout.volumes, ...(tok ? [tok.volume] : [])];
  if (volumes.length) spec.volumes = volumes;
  spec.containers = [container];
  spec.restartPolicy = "Always";
  spec.terminationGracePeriodSeconds = 30;
  spec.dnsPolicy = v.hostNetwork && !kind ? "ClusterFirstWithHostNet" : "ClusterFirst";
  if (kind === "cloud-controller-manager") {
    spec.nodeSelector = { "node-role.kubernetes.io/control-plane": "" };
    spec.serviceAccountName = "cloud-controller-manager";
    spec.serviceAccount = "cloud-controller-manager";
  } else if (!isStatic) {
    spec.serviceAccountName = "default";
    spec.serviceAccount = "default";
  }
  if (v.nodeName) spec.nodeName = v.nodeName;
  spec.hostNetwork = v.hostNetwork;
  spec.securityContext = isStatic ? { seccompProfile: { type: "RuntimeDefault" } } : {};
  spec.schedulerName = "default-scheduler";
  spec.tolerations = isStatic
    ? [{ operator: "Exists", effect: "NoExecute" }]
    : [
        { key: "node.kubernetes.io/not-ready", operator: "Exists", effect: "NoExecute", tolerationSeconds: 300 },
        { key: "node.kubernetes.io/unreachable", operator: "Exists", effect: "NoExecute", tolerationSeconds: 300 },
      ];
  if (kind) {
    spec.priorityClassName = "system-node-critical";
    spec.priority = CRITICAL_PRIORITY;
  } else spec.priority = 0;
  spec.enableServiceLinks = true;
  spec.preemptionPolicy = "PreemptLowerPriority";

  const conditions = podConditions(v, running);
  const status: Record<string, unknown> = {
    observedGeneration: 1,
    phase: v.phase,
    conditions,
    ...podIPs(v),
    startTime: v.created,
    containerStatuses: [containerStatus(v, running, mounts)],
    qosClass: layout.cpu ? "Burstable" : "BestEffort",
  };

  let annotations: Record<string, string> | undefined;
  let ownerReferences: unknown[] | undefined;
  let generateName: string | undefined;
  const hash = v.sandboxId.slice(0, 32);
  if (isStatic) {
    annotations = {
      ...(kind === "kube-apiserver" ? { "kubeadm.kubernetes.io/kube-apiserver.advertise-address.endpoint": "127.0.0.1:6443" } : {}),
      "kubernetes.io/config.hash": hash,
      "kubernetes.io/config.mirror": hash,
      "kubernetes.io/config.seen": v.created,
      "kubernetes.io/config.source": "file",
    };
    if (v.nodeName) ownerReferences = [{ apiVersion: "v1", kind: "Node", name: v.nodeName, uid: v.nodeUid ?? "", controller: true }];
  } else if (kind === "cloud-controller-manager") {
    generateName = "cloud-controller-manager-";
    const ds = sha256hex("ds cloud-controller-manager");
    ownerReferences = [{ apiVersion: "apps/v1", kind: "DaemonSet", name: "cloud-controller-manager", uid: `${ds.slice(0, 8)}-${ds.slice(8, 12)}-${ds.slice(12, 16)}-${ds.slice(16, 20)}-${ds.slice(20, 32)}`, controller: true, blockOwnerDeletion: true }];
  }
  const managedFields = [
    managed(isStatic ? "kubelet" : kind ? "kube-controller-manager" : "kubectl-create", v.created, {
      metadata: { ...(generateName ? { generateName } : {}), ...(annotations ? { annotations } : {}), labels: v.labels, ...(ownerReferences ? { ownerReferences } : {}) },
      spec: { ...spec, nodeName: isStatic ? spec.nodeName : undefined },
    }),
    managed(
      "kubelet",
      v.now,
      { status: { conditions, containerStatuses: [], hostIP: "", hostIPs: [{ ip: "127.0.0.1" }], observedGeneration: 1, phase: "", podIP: "", podIPs: [{ ip: "127.0.0.1" }], startTime: "" } },
      "status",
      `pod/kubelet-status/${!!v.nodeName}`,
    ),
  ];
  const obj: Record<string, unknown> = inList ? {} : { kind: "Pod", apiVersion: "v1" };
  obj.metadata = podMeta(v, { generateName, annotations, ownerReferences, managedFields });
  obj.spec = spec;
  obj.status = status;
  return obj;
}

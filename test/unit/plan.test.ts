import { describe, expect, it } from "vitest";
import { findComponent, suggestComponent, tooOld, parseVersion } from "../../src/components.js";
import { NothingMatchedError } from "../../src/errors.js";
import { reduceNode, reducePod, type KubeApi, type Node, type NodeCondition, type Pod } from "../../src/objects.js";
import { endpointTarget, imageVersion, kubeletDown, nodeAddress, nodeTargets, planTargets, selectPodTargets, type Selection } from "../../src/plan.js";

const comp = (n: string) => findComponent(n)!;

const pod = (name: string, node: string, extra: Partial<Pod> = {}, image = "registry.k8s.io/kube-proxy:v1.34.1"): Pod => ({
  metadata: { name, namespace: "kube-system" },
  spec: { nodeName: node, containers: [{ name: "c", image }] },
  status: { phase: "Running" },
  ...extra,
});
const READY: NodeCondition = { type: "Ready", status: "True", reason: "KubeletReady", message: "kubelet is posting ready status" };
const UNKNOWN: NodeCondition = { type: "Ready", status: "Unknown", reason: "NodeStatusUnknown", message: "Kubelet stopped posting node status." };
const node = (name: string, labels: Record<string, string> = {}, addresses = [{ type: "InternalIP", address: "10.0.0.1" }], port = 10250, conditions: NodeCondition[] = [READY]): Node => ({
  metadata: { name, labels },
  status: { addresses, daemonEndpoints: { kubeletEndpoint: { Port: port } }, nodeInfo: { kubeletVersion: "v1.34.1" }, conditions },
});

function fakeApi(pods: Pod[], nodes: Node[], replicas: { addresses: string[]; port: number } | { refused: string } = { addresses: ["10.0.0.1"], port: 6443 }): KubeApi & { calls: string[] } {
  const calls: string[] = [];
  const matches = (labels: Record<string, string> | undefined, sel?: string) =>
    !sel || sel.split(",").every((kv) => { const [k, v] = kv.split("="); return v === undefined ? labels?.[k!] !== undefined : labels?.[k!] === v; });
  return {
    calls,
    async listPods(ns, { labelSelector, fieldSelector }) {
      calls.push(`listPods ${ns} ${labelSelector}${fieldSelector ? ` ${fieldSelector}` : ""}`);
      const onNode = fieldSelector?.replace(/^spec\.nodeName=/, "");
      return pods.filter((p) => p.metadata.namespace === ns && matches(p.metadata.labels, labelSelector) && (!onNode || p.spec?.nodeName === onNode));
    },
    async listNodes(sel, onPage) {
      calls.push(`listNodes ${sel ?? ""}`);
      const found = nodes.filter((n) => matches(n.metadata.labels, sel));
      onPage?.(found);
      return found;
    },
    async getNode(name) {
      calls.push(`getNode ${name}`);
      return nodes.find((n) => n.metadata.name === name);
    },
    async apiserverReplicas() {
      calls.push("apiserverReplicas");
      return replicas;
    },
    async getPod(ns, name) {
      calls.push(`getPod ${ns}/${name}`);
      return pods.find((p) => p.metadata.namespace === ns && p.metadata.name === name);
    },
    async createToken() {
      throw new Error("not used");
    },
  };
}

const server = new URL("https://127.0.0.1:6443");
const sel = (name: string, extra: Partial<Selection> = {}): Selection => ({ component: comp(name), nodes: [], direct: false, ...extra });

describe("catalog", () => {
  it("suggests the closest name", () => {
    expect(suggestComponent("schedular")).toBe("kube-scheduler");
    expect(suggestComponent("kubelett")).toBe("kubelet");
    expect(suggestComponent("controller")).toBe("kube-controller-manager");
    expect(suggestComponent("etcd")).toBeUndefined();
  });
  it("knows when a version is too old", () => {
    expect(tooOld(comp("kcm"), "v1.22.9")).toBe(true);
    expect(tooOld(comp("kcm"), "v1.23.0")).toBe(false);
    expect(tooOld(comp("proxy"), "v1.21.3-eks-1")).toBe(true);
    expect(tooOld(comp("proxy"), "latest")).toBe(false);
    expect(tooOld(comp("proxy"), undefined)).toBe(false);
    expect(parseVersion("v1.30.2-gke.100")).toEqual([1, 30]);
  });
});

describe("target selection (pure)", () => {
  it("pod targets: stable ids, sorted, not-running pods kept as unavailable", () => {
    const pods = [
      pod("kube-scheduler-b", "cp-2", {}, "registry.k8s.io/kube-scheduler:v1.34.1"),
      pod("kube-scheduler-a", "cp-1", { status: { phase: "Pending" } }, "registry.k8s.io/kube-scheduler:v1.34.1"),
    ];
    const t = selectPodTargets(comp("scheduler"), pods, undefined);
    expect(t.map((x) => x.id)).toEqual(["kube-scheduler/kube-system/kube-scheduler-a", "kube-scheduler/kube-system/kube-scheduler-b"]);
    expect(t[0]!.unavailable).toEqual({ outcome: "pod-not-running", message: "pod is Pending, not Running" });
    expect(t[1]).toMatchObject({ via: "port-forward", port: 10259, scheme: "https", node: "cp-2", version: "v1.34.1", unavailable: undefined });
  });

  it("pod targets filtered by node", () => {
    const t = selectPodTargets(comp("proxy"), [pod("kp-1", "a"), pod("kp-2", "b")], new Set(["b"]));
    expect(t.map((x) => x.pod)).toEqual(["kp-2"]);
    expect(t[0]).toMatchObject({ scheme: "http", port: 10249, authenticates: false });
  });

  it("terminating pods are not running", () => {
    const t = selectPodTargets(comp("scheduler"), [pod("s", "a", { metadata: { name: "s", namespace: "kube-system", deletionTimestamp: "2026-01-01T00:00:00Z" } })], undefined);
    expect(t[0]!.unavailable?.message).toBe("pod is terminating");
  });

  it("image version from the component's container, ignoring digests and registries with ports", () => {
    const p = pod("x", "a", {}, "my.registry:5000/k8s/kube-controller-manager:v1.22.3@sha256:abc");
    expect(imageVersion(p, comp("kcm"))).toBe("v1.22.3");
    expect(imageVersion(pod("y", "a", {}, "repo/kube-proxy:latest"), comp("proxy"))).toBeUndefined();
  });

  it("node targets: node proxy by default, direct with address and port", () => {
    const nodes = [node("b", {}, [{ type: "Hostname", address: "b" }, { type: "InternalIP", address: "10.0.0.2" }], 11250), node("a", {}, [{ type: "InternalIP", address: "fd00::1" }])];
    expect(nodeTargets(comp("kubelet"), nodes, false).map((t) => [t.id, t.via])).toEqual([
      ["kubelet/a", "node-proxy"],
      ["kubelet/b", "node-proxy"],
    ]);
    const direct = nodeTargets(comp("kubelet"), nodes, true);
    expect(direct.map((t) => t.url)).toEqual(["https://[fd00::1]:10250", "https://10.0.0.2:11250"]);
    expect(nodeAddress(node("c", {}, []))).toBeUndefined();
    expect(nodeTargets(comp("kubelet"), [node("c", {}, [])], true)[0]!.unavailable?.outcome).toBe("missing");
  });

  it("endpoint target keeps a path prefix and drops a trailing /debug/flags/v", () => {
    expect(endpointTarget(comp("scheduler"), new URL("https://10.0.0.5:10259/debug/flags/v"))).toMatchObject({
      id: "kube-scheduler/10.0.0.5:10259",
      via: "direct",
      url: "https://10.0.0.5:10259/",
    });
    const rancher = endpointTarget(comp("apiserver"), new URL("https://rancher.example/k8s/clusters/c-1"));
    expect(rancher.url).toBe("https://rancher.example/k8s/clusters/c-1");
    expect(rancher.id).toBe("kube-apiserver/rancher.example:443");
  });
});

describe("planTargets with a fake KubeApi", () => {
  const pods: Pod[] = [
    { ...pod("kube-scheduler-cp-1", "cp-1", {}, "registry.k8s.io/kube-scheduler:v1.34.1"), metadata: { name: "kube-scheduler-cp-1", namespace: "kube-system", labels: { component: "kube-scheduler" } } },
    { ...pod("kube-proxy-a", "cp-1"), metadata: { name: "kube-proxy-a", namespace: "kube-system", labels: { "k8s-app": "kube-proxy" } } },
    { ...pod("kube-proxy-b", "w-1"), metadata: { name: "kube-proxy-b", namespace: "kube-system", labels: { "k8s-app": "kube-proxy" } } },
  ];
  const nodes = [node("cp-1", { role: "cp" }), node("w-1", { role: "worker" }), node("w-2", { role: "worker" })];

  it("one apiserver replica: the kubeconfig URL (its listed address may be private), named by its listed address", async () => {
    const api = fakeApi(pods, nodes);
    const t = await planTargets(sel("apiserver"), api, server);
    expect(t).toHaveLength(1);
    expect(t[0]).toMatchObject({ id: "kube-apiserver/10.0.0.1:6443", via: "direct", url: "https://127.0.0.1:6443/" });
    expect(api.calls).toEqual(["apiserverReplicas"]);
    // In a pod, the URL is the kubernetes Service; the record still names the replica the same way.
    const inPod = await planTargets(sel("apiserver"), fakeApi(pods, nodes, { addresses: ["10.0.0.7"], port: 6443 }), new URL("https://10.96.0.1:443"));
    expect(inPod[0]).toMatchObject({ id: "kube-apiserver/10.0.0.7:6443", url: "https://10.96.0.1/" });
  });

  it("several replicas: each at its own address from default/kubernetes, the kubeconfig URL where it is one of them", async () => {
    const t = await planTargets(sel("apiserver"), fakeApi(pods, nodes, { addresses: ["10.0.0.3", "10.0.0.2", "fd00::5"], port: 6443 }), server);
    expect(t.map((x) => [x.id, x.url, x.replica])).toEqual([
      ["kube-apiserver/10.0.0.2:6443", "https://10.0.0.2:6443/", true],
      ["kube-apiserver/10.0.0.3:6443", "https://10.0.0.3:6443/", true],
      ["kube-apiserver/[fd00::5]:6443", "https://[fd00::5]:6443/", true],
    ]);
    const direct = await planTargets(sel("apiserver"), fakeApi(pods, nodes, { addresses: ["127.0.0.1", "127.0.0.2"], port: 6443 }), server);
    expect(direct.map((x) => x.url)).toEqual(["https://127.0.0.1:6443/", "https://127.0.0.2:6443/"]);
  });

  it("replicas that cannot be read: the kubeconfig URL, and a warning that makes the run incomplete", async () => {
    const warnings: string[] = [];
    const t = await planTargets({ ...sel("apiserver"), warn: (m) => warnings.push(m) }, fakeApi(pods, nodes, { refused: "403 forbidden" }), server);
    expect(t.map((x) => x.id)).toEqual(["kube-apiserver/127.0.0.1:6443"]);
    expect(warnings).toEqual([
      'could not read the endpoints default/kubernetes (403 forbidden): only the replica behind https://127.0.0.1:6443 was changed, other kube-apiserver replicas may be unchanged; grant get on endpoints "kubernetes" in namespace default (README RBAC)',
    ]);
  });

  it("scheduler pods by the kubeadm label, -n/-l override", async () => {
    const api = fakeApi(pods, nodes);
    expect((await planTargets(sel("scheduler"), api, server)).map((t) => t.id)).toEqual(["kube-scheduler/kube-system/kube-scheduler-cp-1"]);
    expect(api.calls).toEqual([
      "listPods kube-system component=kube-scheduler",
      "listNodes node-role.kubernetes.io/control-plane",
      "listNodes node-role.kubernetes.io/master",
    ]);
    await expect(planTargets(sel("scheduler", { namespace: "other", selector: "app=x" }), api, server)).rejects.toThrow(NothingMatchedError);
    expect(api.calls[3]).toBe("listPods other app=x");
  });

  it("no control-plane pods (managed cluster) is 'nothing matched' and says why", async () => {
    await expect(planTargets(sel("kcm"), fakeApi([], nodes), server)).rejects.toThrow(/managed control plane \(EKS, GKE, AKS\)/);
  });

  it("kubelet: every node, named nodes by GET, missing names reported", async () => {
    const api = fakeApi(pods, nodes);
    expect((await planTargets(sel("kubelet"), api, server)).map((t) => t.id)).toEqual(["kubelet/cp-1", "kubelet/w-1", "kubelet/w-2"]);
    const named = await planTargets(sel("kubelet", { nodes: ["w-1", "ghost"] }), api, server);
    expect(named.map((t) => [t.id, t.unavailable?.outcome])).toEqual([
      ["kubelet/w-1", undefined],
      ["kubelet/ghost", "missing"],
    ]);
    expect(api.calls).toContain("getNode ghost");
  });

  it("kubelet by selector; a selector matching nothing is 'nothing matched'", async () => {
    const api = fakeApi(pods, nodes);
    expect((await planTargets(sel("kubelet", { selector: "role=worker" }), api, server)).map((t) => t.node)).toEqual(["w-1", "w-2"]);
    await expect(planTargets(sel("kubelet", { selector: "role=none" }), api, server)).rejects.toThrow(/no nodes match the selector role=none/);
  });

  it("kube-proxy: pods on the selected nodes; a named node without a pod is reported", async () => {
    const api = fakeApi(pods, nodes);
    expect((await planTargets(sel("proxy"), api, server)).map((t) => t.pod)).toEqual(["kube-proxy-a", "kube-proxy-b"]);
    const t = await planTargets(sel("proxy", { nodes: ["w-1", "w-2"] }), api, server);
    expect(t.map((x) => [x.id, x.unavailable?.outcome ?? "ok"])).toEqual([
      ["kube-proxy/kube-system/kube-proxy-b", "ok"],
      ["kube-proxy/w-2", "missing"],
    ]);
    expect((await planTargets(sel("proxy", { selector: "role=cp" }), api, server)).map((x) => x.pod)).toEqual(["kube-proxy-a"]);
  });

  it("kube-proxy under other labels is found with --pod-selector", async () => {
    const gke: Pod[] = [{ ...pod("kube-proxy-gke", "w-1"), metadata: { name: "kube-proxy-gke", namespace: "kube-system", labels: { component: "kube-proxy" } } }];
    await expect(planTargets(sel("proxy"), fakeApi(gke, nodes), server)).rejects.toThrow(/--pod-selector/);
    expect((await planTargets(sel("proxy", { podSelector: "component=kube-proxy" }), fakeApi(gke, nodes), server)).map((t) => t.pod)).toEqual(["kube-proxy-gke"]);
  });

  it("--endpoint needs no apiserver", async () => {
    const t = await planTargets(sel("kubelet", { endpoint: new URL("https://10.1.2.3:10250") }), undefined, undefined);
    expect(t).toEqual([expect.objectContaining({ id: "kubelet/10.1.2.3:10250", via: "direct", url: "https://10.1.2.3:10250/" })]);
  });

  it("kube-proxy on a few named nodes: one field-selector query per node, not every pod of the cluster", async () => {
    const api = fakeApi(pods, nodes);
    const t = await planTargets(sel("proxy", { nodes: ["w-1"] }), api, server);
    expect(t.map((x) => x.pod)).toEqual(["kube-proxy-b"]);
    expect(api.calls).toEqual(["getNode w-1", "listPods kube-system k8s-app=kube-proxy spec.nodeName=w-1"]);
  });

  it("kube-proxy on many named nodes lists the pods once", async () => {
    const many = Array.from({ length: 30 }, (_, i) => node(`n-${i}`));
    const api = fakeApi(pods, [...nodes, ...many]);
    await planTargets(sel("proxy", { nodes: ["w-1", ...many.map((n) => n.metadata.name)] }), api, server);
    expect(api.calls.filter((c) => c.startsWith("listPods"))).toEqual(["listPods kube-system k8s-app=kube-proxy"]);
    expect(api.calls.filter((c) => c.startsWith("getNode"))).toHaveLength(31);
  });
});

describe("port-forwards go only to pods the cluster vouches for", () => {
  const CP = { "node-role.kubernetes.io/control-plane": "" };
  const nodes = [node("cp-1", CP), node("old-cp", { "node-role.kubernetes.io/master": "" }), node("w-1")];
  const mirror = { "kubernetes.io/config.mirror": "abc" };
  const sched = (name: string, nodeName: string, meta: Partial<Pod["metadata"]> = {}): Pod => ({
    ...pod(name, nodeName, {}, "registry.k8s.io/kube-scheduler:v1.34.1"),
    metadata: { name, namespace: "kube-system", labels: { component: "kube-scheduler" }, ...meta },
  });
  const pods = [
    sched("kube-scheduler-cp-1", "cp-1", { annotations: mirror }),
    sched("kube-scheduler-old-cp", "old-cp", { annotations: mirror }),
    sched("kube-scheduler-w-1", "w-1", { annotations: mirror }), // a worker's kubelet published it
    sched("sched-ds-x", "cp-1", { ownerReferences: [{ kind: "DaemonSet", name: "sched", controller: true }] }),
    sched("bare", "cp-1"), // neither a mirror nor owned: created by hand
  ];

  it("a static pod's mirror or a controller's pod on a control-plane node is used; the rest are untrusted", async () => {
    const t = await planTargets(sel("scheduler"), fakeApi(pods, nodes), server);
    expect(t.map((x) => [x.pod, x.unavailable?.outcome ?? "use"])).toEqual([
      ["bare", "untrusted"],
      ["kube-scheduler-cp-1", "use"],
      ["kube-scheduler-old-cp", "use"],
      ["kube-scheduler-w-1", "untrusted"],
      ["sched-ds-x", "use"],
    ]);
    const w = t.find((x) => x.pod === "kube-scheduler-w-1")!;
    expect(w.unavailable!.message).toMatch(/^pod runs on node w-1, which is not a control-plane node .*kvlog sends none; if you trust it, name it with --pod kube-scheduler-w-1$/);
    expect(w.unavailable!.skipped).toBeUndefined(); // a failure of the run, not a skip
    expect(t.find((x) => x.pod === "bare")!.unavailable!.message).toMatch(/^pod is neither a static pod's mirror nor owned by a controller/);
  });

  it("--pod names the pods: each is fetched and trusted; an unknown name is missing", async () => {
    const api = fakeApi(pods, nodes);
    const t = await planTargets(sel("scheduler", { pods: ["kube-scheduler-w-1", "nope"] }), api, server);
    expect(t.map((x) => [x.id, x.unavailable?.outcome ?? "use"])).toEqual([
      ["kube-scheduler/kube-system/kube-scheduler-w-1", "use"],
      ["kube-scheduler/kube-system/nope", "missing"],
    ]);
    expect(api.calls).toEqual(["getPod kube-system/kube-scheduler-w-1", "getPod kube-system/nope"]);
  });

  it("kube-proxy gets no credentials, so any of its pods is used", async () => {
    const kp = [{ ...pod("kube-proxy-w", "w-1"), metadata: { name: "kube-proxy-w", namespace: "kube-system", labels: { "k8s-app": "kube-proxy" }, annotations: mirror } }];
    const t = await planTargets(sel("proxy"), fakeApi(kp, nodes), server);
    expect(t.map((x) => [x.pod, x.unavailable, x.authenticates])).toEqual([["kube-proxy-w", undefined, false]]);
  });
});

describe("discovery errors do not depend on timing", () => {
  it("pods and nodes are asked for at once; when both are refused, the pods' error is the one reported, however fast the nodes' came", async () => {
    const api = {
      ...fakeApi([], []),
      async listPods() {
        await new Promise((r) => setTimeout(r, 30));
        throw new Error("forbidden to list pods");
      },
      async listNodes() {
        throw new Error("forbidden to list nodes");
      },
    } as KubeApi;
    await expect(planTargets(sel("scheduler"), api, server)).rejects.toThrow("forbidden to list pods");
    // kube-proxy: the nodes (its selection) first.
    const slowNodes = { ...api, async listNodes() { await new Promise((r) => setTimeout(r, 30)); throw new Error("forbidden to list nodes"); }, async listPods() { throw new Error("forbidden to list pods"); } } as KubeApi;
    await expect(planTargets(sel("proxy"), slowNodes, server)).rejects.toThrow("forbidden to list nodes");
  });
});

describe("node discovery page by page", () => {
  it("hands each page's targets over as it arrives, and a list that starts again (410) twice gives nothing twice", async () => {
    const page1 = [node("a"), node("b")];
    const page2 = [node("c", {}, [{ type: "InternalIP", address: "10.0.0.3" }], 10250, [UNKNOWN])];
    const api = {
      ...fakeApi([], []),
      async listNodes(_sel?: string, onPage?: (nodes: Node[]) => void) {
        onPage?.(page1);
        onPage?.(page1); // the continue token expired: the list started again
        onPage?.(page2);
        return [...page1, ...page2];
      },
    } as KubeApi;
    const emitted: string[][] = [];
    const all = await planTargets(sel("kubelet"), api, server, (ts) => emitted.push(ts.map((t) => t.id)));
    expect(emitted).toEqual([["kubelet/a", "kubelet/b"], ["kubelet/c"]]);
    expect(all.map((t) => [t.id, t.unavailable?.outcome ?? "try"])).toEqual([["kubelet/a", "try"], ["kubelet/b", "try"], ["kubelet/c", "node-not-ready"]]);
  });

  it("other discoveries hand all their targets over once, at the end", async () => {
    const emitted: string[][] = [];
    const t = await planTargets(sel("kubelet", { nodes: ["w-1", "ghost"] }), fakeApi([], [node("w-1")]), server, (ts) => emitted.push(ts.map((x) => x.id)));
    expect(emitted).toEqual([t.map((x) => x.id)]);
    expect(emitted[0]).toEqual(["kubelet/w-1", "kubelet/ghost"]);
  });

  it("a selector that matches nothing is still 'nothing matched'", async () => {
    await expect(planTargets(sel("kubelet", { selector: "role=none" }), fakeApi([], [node("a")]), server, () => {})).rejects.toThrow(NothingMatchedError);
  });
});

describe("nodes that are down", () => {
  const pods: Pod[] = [
    { ...pod("kube-proxy-a", "up"), metadata: { name: "kube-proxy-a", namespace: "kube-system", labels: { "k8s-app": "kube-proxy" } } },
    { ...pod("kube-proxy-b", "gone"), metadata: { name: "kube-proxy-b", namespace: "kube-system", labels: { "k8s-app": "kube-proxy" } } },
    { ...pod("kube-proxy-c", "never"), metadata: { name: "kube-proxy-c", namespace: "kube-system", labels: { "k8s-app": "kube-proxy" } } },
  ];
  const addr = [{ type: "InternalIP", address: "10.0.0.9" }];
  const nodes = [
    node("up", {}, addr),
    node("gone", {}, addr, 10250, [UNKNOWN]),
    node("never", {}, addr, 10250, []),
    node("notready", {}, addr, 10250, [{ type: "Ready", status: "False", reason: "KubeletNotReady", message: "container runtime network not ready" }]),
  ];

  it("Ready=Unknown and no Ready condition mean the kubelet is gone; Ready=False is a live kubelet", () => {
    expect(kubeletDown(nodes[0]!)).toBeUndefined();
    expect(kubeletDown(nodes[1]!)).toBe("node is not Ready (Ready=Unknown, NodeStatusUnknown: Kubelet stopped posting node status.)");
    expect(kubeletDown(nodes[2]!)).toBe("node has no Ready condition: its kubelet never reported");
    expect(kubeletDown(nodes[3]!)).toBeUndefined();
  });

  it("kubelet: nodes whose kubelet is gone are skipped (node-not-ready), the others tried", async () => {
    const t = await planTargets(sel("kubelet"), fakeApi(pods, nodes), server);
    expect(t.map((x) => [x.node, x.unavailable?.outcome ?? "try", x.unavailable?.skipped ?? false])).toEqual([
      ["gone", "node-not-ready", true],
      ["never", "node-not-ready", true],
      ["notready", "try", false],
      ["up", "try", false],
    ]);
    expect(t[0]!.unavailable!.message).toMatch(/skipped without waiting on it \(name it with --node, or pass --include-not-ready, to try it\)$/);
  });

  it("--include-not-ready and --node try them", async () => {
    const all = await planTargets(sel("kubelet", { includeNotReady: true }), fakeApi(pods, nodes), server);
    expect(all.every((x) => !x.unavailable)).toBe(true);
    const named = await planTargets(sel("kubelet", { nodes: ["gone"] }), fakeApi(pods, nodes), server);
    expect(named.map((x) => [x.id, x.unavailable])).toEqual([["kubelet/gone", undefined]]);
  });

  it("kube-proxy: pods on nodes whose kubelet is gone are skipped (the port-forward would wait on that kubelet)", async () => {
    const t = await planTargets(sel("proxy"), fakeApi(pods, nodes), server);
    expect(t.map((x) => [x.pod, x.unavailable?.outcome ?? "try"])).toEqual([
      ["kube-proxy-a", "try"],
      ["kube-proxy-b", "node-not-ready"],
      ["kube-proxy-c", "node-not-ready"],
    ]);
    const api = fakeApi(pods, nodes);
    const tried = await planTargets(sel("proxy", { includeNotReady: true }), api, server);
    expect(tried.every((x) => !x.unavailable)).toBe(true);
    expect(api.calls).toEqual(["listPods kube-system k8s-app=kube-proxy"]); // no node list needed
  });
});

describe("what discovery keeps of a listed object", () => {
  it("a node keeps its name, addresses, kubelet port and version, and only the Ready condition", () => {
    const big = {
      metadata: { name: "n", labels: { a: "b" }, annotations: { x: "y".repeat(5000) }, managedFields: [{}] },
      spec: { podCIDR: "10.0.0.0/24" },
      status: {
        addresses: [{ type: "InternalIP", address: "10.0.0.1" }],
        daemonEndpoints: { kubeletEndpoint: { Port: 10250 } },
        nodeInfo: { kubeletVersion: "v1.36.3", osImage: "Debian" },
        conditions: [{ type: "MemoryPressure", status: "False" }, { ...READY, lastHeartbeatTime: "t" }],
        images: Array.from({ length: 50 }, (_, i) => ({ names: [`img-${i}`], sizeBytes: i })),
      },
    } as unknown as Node;
    const r = reduceNode(big);
    expect(r).toEqual({
      metadata: { name: "n" },
      status: {
        addresses: [{ type: "InternalIP", address: "10.0.0.1" }],
        daemonEndpoints: { kubeletEndpoint: { Port: 10250 } },
        nodeInfo: { kubeletVersion: "v1.36.3" },
        conditions: [READY],
      },
    });
    expect(JSON.stringify(r).length).toBeLessThan(400); // of ~35 KB given
  });
  it("a pod keeps the mirror annotation and its owners, for vouching, and no other annotation", () => {
    const p = {
      metadata: { name: "p", namespace: "ns", annotations: { "kubernetes.io/config.mirror": "h", other: "x" }, ownerReferences: [{ kind: "Node", name: "n", controller: true, uid: "u", apiVersion: "v1" }] },
    } as unknown as Pod;
    expect(reducePod(p).metadata).toEqual({
      name: "p", namespace: "ns", deletionTimestamp: undefined,
      annotations: { "kubernetes.io/config.mirror": "h" },
      ownerReferences: [{ kind: "Node", name: "n", controller: true }],
    });
  });
  it("a pod keeps its name, namespace, node, phase, deletion, container images, verbosity flags and first container's restarts", () => {
    const big = {
      metadata: { name: "p", namespace: "kube-system", uid: "u1", labels: { a: "b" }, managedFields: [{}] },
      spec: { nodeName: "n", containers: [{ name: "c", image: "i:v1", command: ["x", "--v=3", "--kubeconfig=/k"], args: ["-v", "4", "--y"], env: [] }], volumes: [{}] },
      status: { phase: "Running", conditions: [{}], containerStatuses: [{ restartCount: 2, state: { running: { startedAt: "t" } }, image: "i", lastState: {} }] },
    } as unknown as Pod;
    expect(reducePod(big)).toEqual({
      metadata: { name: "p", namespace: "kube-system", uid: "u1", deletionTimestamp: undefined },
      spec: { nodeName: "n", containers: [{ name: "c", image: "i:v1", command: ["--v=3"], args: ["-v", "4"] }] },
      status: { phase: "Running", containerStatuses: [{ restartCount: 2, state: { running: { startedAt: "t" } } }] },
    });
  });
});

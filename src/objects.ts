// objects: what kvlog reads from and writes to the cluster. The few fields of a Pod, Node and
// ConfigMap it uses, the reducers that keep only those while a list streams in, and the narrow
// interfaces (KubeApi for discovery, RecordApi for the record, DoctorApi for doctor) that name
// every call kvlog makes: the API client (api.ts) implements them, tests pass fakes.

// Discovery keeps these few fields of each listed object, and drops the rest of the page
// before the next one is read: a real node is 10–20 KB of JSON, of which kvlog needs ~200 bytes.
export interface ObjectMeta {
  name: string;
  namespace?: string | undefined;
  labels?: Record<string, string> | undefined;
  /** Of a pod, only the mirror-pod annotation is kept. */
  annotations?: Record<string, string> | undefined;
  deletionTimestamp?: string | undefined;
  ownerReferences?: { kind: string; name: string; controller?: boolean | undefined }[] | undefined;
}

/** Set by a kubelet on the API copy of a static pod (a mirror pod). */
export const MIRROR_ANNOTATION = "kubernetes.io/config.mirror";
export interface Container {
  name?: string | undefined;
  image?: string | undefined;
  /** Of the command line, only the klog verbosity flags (-v, --v) are kept. */
  command?: string[] | undefined;
  args?: string[] | undefined;
}
export interface ContainerStatus {
  restartCount?: number | undefined;
  state?: { running?: { startedAt?: string | undefined } | undefined } | undefined;
}
export interface Pod {
  metadata: ObjectMeta & { uid?: string | undefined };
  spec?: { nodeName?: string | undefined; containers?: Container[] | undefined } | undefined;
  /** Of the container statuses, only the first one's restart count and start time are kept. */
  status?: { phase?: string | undefined; hostIP?: string | undefined; containerStatuses?: ContainerStatus[] | undefined } | undefined;
}
export interface NodeCondition {
  type: string;
  status: string;
  reason?: string | undefined;
  message?: string | undefined;
}
export interface Node {
  metadata: ObjectMeta;
  status?:
    | {
        addresses?: { type: string; address: string }[] | undefined;
        daemonEndpoints?: { kubeletEndpoint?: { Port?: number | undefined } | undefined } | undefined;
        nodeInfo?: { kubeletVersion?: string | undefined } | undefined;
        /** Only the Ready condition is kept. */
        conditions?: NodeCondition[] | undefined;
      }
    | undefined;
}

/**
 * Fields of a listed Node or Pod that reducePod/reduceNode never read, dropped while the list
 * streams in (lists.ts), before they are parsed: on a real node, images and managedFields
 * alone are most of its 10–20 KB. Pod and node "conditions" differ: only nodes keep theirs.
 */
export const NODE_FIELDS_UNUSED = ["managedFields", "annotations", "labels", "images", "capacity", "allocatable", "volumesInUse", "volumesAttached", "taints", "config", "runtimeHandlers", "features"];
export const POD_FIELDS_UNUSED = [
  "managedFields", "labels", "volumes", "tolerations", "affinity", "conditions", "lastState", "allocatedResources",
  "initContainerStatuses", "initContainers", "env", "envFrom", "volumeMounts", "resources", "securityContext", "livenessProbe",
  "readinessProbe", "startupProbe", "ports", "volumeMountStatuses",
];

/** klog's verbosity flags on a command line: -v=N, --v=N, and the value after a bare -v/--v. */
function verbosityArgs(args: string[] | undefined): string[] | undefined {
  if (!args) return undefined;
  const out: string[] = [];
  args.forEach((a, i) => {
    if (/^--?v=/.test(a)) out.push(a);
    else if ((a === "-v" || a === "--v") && i + 1 < args.length) out.push(a, args[i + 1]!);
  });
  return out;
}

/** The few fields of a listed Pod that kvlog uses. */
export function reducePod(p: Pod): Pod {
  const m = p.metadata ?? { name: "" };
  const mirror = m.annotations?.[MIRROR_ANNOTATION];
  const first = p.status?.containerStatuses?.[0];
  return {
    metadata: {
      name: m.name,
      namespace: m.namespace,
      uid: m.uid,
      deletionTimestamp: m.deletionTimestamp,
      ...(mirror !== undefined ? { annotations: { [MIRROR_ANNOTATION]: mirror } } : {}),
      ...(m.ownerReferences?.length ? { ownerReferences: m.ownerReferences.map((o) => ({ kind: o.kind, name: o.name, controller: o.controller })) } : {}),
    },
    spec: {
      nodeName: p.spec?.nodeName,
      containers: (p.spec?.containers ?? []).map((c) => ({ name: c.name, image: c.image, command: verbosityArgs(c.command), args: verbosityArgs(c.args) })),
    },
    status: {
      phase: p.status?.phase,
      hostIP: p.status?.hostIP,
      containerStatuses: first ? [{ restartCount: first.restartCount, state: { running: { startedAt: first.state?.running?.startedAt } } }] : undefined,
    },
  };
}

/** The few fields of a listed Node that kvlog uses. */
export function reduceNode(n: Node): Node {
  const s = n.status;
  const ready = s?.conditions?.find((c) => c.type === "Ready");
  return {
    metadata: { name: n.metadata?.name ?? "" },
    status: {
      addresses: s?.addresses?.map((a) => ({ type: a.type, address: a.address })),
      daemonEndpoints: { kubeletEndpoint: { Port: s?.daemonEndpoints?.kubeletEndpoint?.Port } },
      nodeInfo: { kubeletVersion: s?.nodeInfo?.kubeletVersion },
      conditions: ready ? [{ type: "Ready", status: ready.status, reason: ready.reason, message: ready.message }] : [],
    },
  };
}

export interface ListOptions {
  labelSelector?: string | undefined;
  fieldSelector?: string | undefined;
}

/** What discovery needs from the apiserver, and nothing more (tests pass a fake). */
export interface KubeApi {
  listPods(namespace: string, opts: ListOptions): Promise<Pod[]>;
  /** Every node (or those matching the selector); `onPage` gets each page as it arrives. */
  listNodes(labelSelector?: string, onPage?: (nodes: Node[]) => void): Promise<Node[]>;
  getNode(name: string): Promise<Node | undefined>;
  getPod(namespace: string, name: string): Promise<Pod | undefined>;
  /**
   * Every kube-apiserver replica's address, from the default/kubernetes Endpoints that the
   * replicas write themselves; `refused` says why they could not be read.
   */
  apiserverReplicas(): Promise<{ addresses: string[]; port: number } | { refused: string }>;
  createToken(namespace: string, name: string, expirationSeconds: number): Promise<string>;
}

export interface ConfigMap {
  apiVersion?: string;
  kind?: string;
  metadata: { name: string; namespace?: string; resourceVersion?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  data?: Record<string, string>;
}

/** What the record (record.ts) needs: who am I, and one ConfigMap read and written with optimistic concurrency. */
export interface RecordApi {
  /** The user name as the apiserver sees it (SelfSubjectReview, what `kubectl auth whoami` prints). */
  whoami(): Promise<string>;
  getConfigMap(namespace: string, name: string): Promise<ConfigMap | undefined>;
  /** Creates (no resourceVersion) or replaces (with one); "conflict" when someone else wrote first (409). */
  writeConfigMap(cm: ConfigMap): Promise<ConfigMap | "conflict">;
}

/** One question to the authorizer: a resource verb, or a verb on a non-resource URL. */
export type AccessQuestion =
  | { verb: string; resource: string; subresource?: string; group?: string; namespace?: string; name?: string }
  | { verb: string; path: string };

/** What `kvlog doctor` asks: may I (SelfSubjectAccessReview), and which version is the apiserver. */
export interface DoctorApi {
  canI(q: AccessQuestion): Promise<{ allowed: boolean; reason: string }>;
  serverVersion(): Promise<string | undefined>;
}


// /flagz and the kubelet's /configz for the fake components (SIMULATED, test-only).
//
// Upstream references:
//   - staging/src/k8s.io/apiserver/pkg/server/flagz/flagz.go, textserializer.go,
//     negotiate/negotiation.go: no Accept (or text/plain, */*) -> the text page (a header,
//     then "name<sep>value" lines, sorted, the separator picked at random once per process);
//     Accept application/json;as=Flagz;v=V;g=config.k8s.io -> a Flagz object
//     (config.k8s.io/v1beta1 from 1.36, v1alpha1 from 1.35 and deprecated with a Warning in
//     1.36); anything else -> 406 NotAcceptable from responsewriters.ErrorNegotiated.
//   - apimachinery pkg/runtime/serializer/json: Encode writes one line (json.Encoder).
//   - staging/src/k8s.io/component-base/configz/configz.go: {"<name>": <config>} as
//     application/json with nosniff, json.Marshal (no newline).
// The flags a component shows are what it was started with: "v" is the startup level, never
// a level set since through /debug/flags/v.

export type ZKind = "kube-apiserver" | "kube-scheduler" | "kube-controller-manager" | "cloud-controller-manager" | "kube-proxy" | "kubelet";

/** The component name flagz prints (metadata.name and the text header). */
export const FLAGZ_NAME: Record<ZKind, string> = {
  "kube-apiserver": "apiserver",
  "kube-scheduler": "kube-scheduler",
  "kube-controller-manager": "kube-controller-manager",
  "cloud-controller-manager": "cloud-controller-manager",
  "kube-proxy": "kube-proxy",
  kubelet: "kubelet",
};

export interface FlagzContext {
  kind: ZKind;
  startupLevel: number;
  profiling: boolean;
  /** Node name (kubelet, kube-proxy) or the advertise address (apiserver). */
  host: string;
  anonymousAuth: boolean;
}

/** Flags every component registers through component-base (logs, version, help). */
function common(level: number): Record<string, string> {
  return {
    help: "false",
    "log-flush-frequency": "5s",
    "log-json-info-buffer-size": "0",
    "log-json-split-stream": "false",
    "log-text-info-buffer-size": "0",
    "log-text-split-stream": "false",
    "logging-format": "text",
    v: String(level),
    version: "false",
    vmodule: "",
  };
}

const DELEGATED_AUTH = {
  "authentication-skip-lookup": "false",
  "authentication-token-webhook-cache-ttl": "10s",
  "authentication-tolerate-lookup-failure": "false",
  "authorization-always-allow-paths": "[/healthz,/readyz,/livez]",
  "authorization-webhook-cache-authorized-ttl": "10s",
  "authorization-webhook-cache-unauthorized-ttl": "10s",
  "cert-dir": "",
  "client-ca-file": "",
  "contention-profiling": "false",
  "feature-gates": "",
  "kube-api-burst": "100",
  "kube-api-content-type": "application/vnd.kubernetes.protobuf",
  "kube-api-qps": "50",
  "leader-elect-lease-duration": "15s",
  "leader-elect-renew-deadline": "10s",
  "leader-elect-resource-lock": "leases",
  "leader-elect-resource-namespace": "kube-system",
  "leader-elect-retry-period": "2s",
  "requestheader-allowed-names": "[]",
  "requestheader-client-ca-file": "",
  "requestheader-extra-headers-prefix": "[x-remote-extra-]",
  "requestheader-group-headers": "[x-remote-group]",
  "requestheader-username-headers": "[x-remote-user]",
  "tls-cert-file": "",
  "tls-cipher-suites": "[]",
  "tls-min-version": "",
  "tls-private-key-file": "",
};

/** What a kubeadm-like component was started with (the pod's command line over the defaults). */
export function flagsFor(c: FlagzContext): Record<string, string> {
  const prof = String(c.profiling);
  let f: Record<string, string>;
  switch (c.kind) {
    case "kube-apiserver":
      f = {
        "admission-control": "[]",
        "advertise-address": c.host,
        "allow-privileged": "true",
        "anonymous-auth": String(c.anonymousAuth),
        "authorization-mode": "[Node,RBAC]",
        "bind-address": "0.0.0.0",
        "client-ca-file": "/etc/kubernetes/pki/ca.crt",
        "contention-profiling": "false",
        "enable-admission-plugins": "[NodeRestriction]",
        "enable-bootstrap-token-auth": "true",
        "enable-priority-and-fairness": "true",
        "endpoint-reconciler-type": "lease",
        "etcd-cafile": "/etc/kubernetes/pki/etcd/ca.crt",
        "etcd-certfile": "/etc/kubernetes/pki/apiserver-etcd-client.crt",
        "etcd-keyfile": "/etc/kubernetes/pki/apiserver-etcd-client.key",
        "etcd-servers": "[https://127.0.0.1:2379]",
        "feature-gates": "",
        "kubelet-client-certificate": "/etc/kubernetes/pki/apiserver-kubelet-client.crt",
        "kubelet-client-key": "/etc/kubernetes/pki/apiserver-kubelet-client.key",
        "kubelet-preferred-address-types": "[InternalIP,ExternalIP,Hostname]",
        "max-mutating-requests-inflight": "200",
        "max-requests-inflight": "400",
        profiling: prof,
        "proxy-client-cert-file": "/etc/kubernetes/pki/front-proxy-client.crt",
        "proxy-client-key-file": "/etc/kubernetes/pki/front-proxy-client.key",
        "requestheader-allowed-names": "[front-proxy-client]",
        "requestheader-client-ca-file": "/etc/kubernetes/pki/front-proxy-ca.crt",
        "requestheader-extra-headers-prefix": "[X-Remote-Extra-]",
        "requestheader-group-headers": "[X-Remote-Group]",
        "requestheader-username-headers": "[X-Remote-User]",
        "secure-port": "6443",
        "service-account-issuer": "[https://kubernetes.default.svc.cluster.local]",
        "service-account-key-file": "[/etc/kubernetes/pki/sa.pub]",
        "service-account-signing-key-file": "/etc/kubernetes/pki/sa.key",
        "service-cluster-ip-range": "10.96.0.0/12",
        "tls-cert-file": "/etc/kubernetes/pki/apiserver.crt",
        "tls-private-key-file": "/etc/kubernetes/pki/apiserver.key",
        "watch-cache": "true",
      };
      break;
    case "kube-scheduler":
      f = {
        ...DELEGATED_AUTH,
        "authentication-kubeconfig": "/etc/kubernetes/scheduler.conf",
        "authorization-kubeconfig": "/etc/kubernetes/scheduler.conf",
        "bind-address": "127.0.0.1",
        config: "",
        kubeconfig: "/etc/kubernetes/scheduler.conf",
        "leader-elect": "true",
        "leader-elect-resource-name": "kube-scheduler",
        "pod-max-in-unschedulable-pods-duration": "5m0s",
        profiling: prof,
        "secure-port": "10259",
      };
      break;
    case "kube-controller-manager":
      f = {
        ...DELEGATED_AUTH,
        "allocate-node-cidrs": "true",
        "authentication-kubeconfig": "/etc/kubernetes/controller-manager.conf",
        "authorization-kubeconfig": "/etc/kubernetes/controller-manager.conf",
        "bind-address": "127.0.0.1",
        "client-ca-file": "/etc/kubernetes/pki/ca.crt",
        "cluster-cidr": "10.64.0.0/10",
        "cluster-name": "kubernetes",
        "cluster-signing-cert-file": "/etc/kubernetes/pki/ca.crt",
        "cluster-signing-key-file": "/etc/kubernetes/pki/ca.key",
        controllers: "[*,bootstrapsigner,tokencleaner]",
        kubeconfig: "/etc/kubernetes/controller-manager.conf",
        "leader-elect": "true",
        "leader-elect-resource-name": "kube-controller-manager",
        "node-monitor-grace-period": "40s",
        profiling: prof,
        "requestheader-client-ca-file": "/etc/kubernetes/pki/front-proxy-ca.crt",
        "root-ca-file": "/etc/kubernetes/pki/ca.crt",
        "secure-port": "10257",
        "service-account-private-key-file": "/etc/kubernetes/pki/sa.key",
        "service-cluster-ip-range": "10.96.0.0/12",
        "use-service-account-credentials": "true",
      };
      break;
    case "cloud-controller-manager":
      f = {
        ...DELEGATED_AUTH,
        "bind-address": "0.0.0.0",
        "cloud-config": "",
        "cloud-provider": "external",
        "cluster-name": "kubernetes",
        controllers: "[*]",
        kubeconfig: "",
        "leader-elect": "true",
        "leader-elect-resource-name": "cloud-controller-manager",
        profiling: prof,
        "secure-port": "10258",
        "use-service-account-credentials": "true",
      };
      break;
    case "kube-proxy":
      f = {
        "bind-address": "0.0.0.0",
        "cluster-cidr": "",
        config: "/var/lib/kube-proxy/config.conf",
        "feature-gates": "",
        "healthz-bind-address": "0.0.0.0:10256",
        "hostname-override": c.host,
        "iptables-masquerade-bit": "14",
        "iptables-sync-period": "30s",
        kubeconfig: "",
        "metrics-bind-address": "127.0.0.1:10249",
        mode: "",
        "profiling": prof,
        "proxy-mode": "",
      };
      break;
    case "kubelet":
      f = {
        address: "0.0.0.0",
        "anonymous-auth": "true",
        "authentication-token-webhook": "false",
        "authorization-mode": "AlwaysAllow",
        "bootstrap-kubeconfig": "/etc/kubernetes/bootstrap-kubelet.conf",
        "cert-dir": "/var/lib/kubelet/pki",
        "cgroup-driver": "cgroupfs",
        "client-ca-file": "",
        "cluster-dns": "[]",
        "cluster-domain": "",
        config: "/var/lib/kubelet/config.yaml",
        "container-runtime-endpoint": "unix:///var/run/containerd/containerd.sock",
        "enable-debugging-handlers": "true",
        "feature-gates": "",
        "healthz-port": "10248",
        "hostname-override": "",
        kubeconfig: "/etc/kubernetes/kubelet.conf",
        "max-pods": "110",
        "node-ip": "",
        "node-labels": "",
        "pod-manifest-path": "",
        port: "10250",
        "read-only-port": "10255",
        "register-node": "true",
        "root-dir": "/var/lib/kubelet",
        "rotate-certificates": "false",
      };
      break;
  }
  return { ...f, ...common(c.startupLevel) };
}

/** The text page: header, then one "name<sep>value" line per flag, sorted. */
export function flagzText(kind: ZKind, flags: Record<string, string>, separator = ": "): string {
  let out = `\n${FLAGZ_NAME[kind]} flagz\nWarning: This endpoint is not meant to be machine parseable, has no formatting compatibility guarantees and is for debugging purposes only.\n`;
  for (const k of Object.keys(flags).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))) out += `${k}${separator}${flags[k]}\n`;
  return out;
}

/** The structured Flagz object (map keys sorted, as encoding/json writes a map). */
export function flagzObject(kind: ZKind, version: string, flags: Record<string, string>): Record<string, unknown> {
  const sorted = Object.fromEntries(Object.keys(flags).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)).map((k) => [k, flags[k]]));
  return { kind: "Flagz", apiVersion: `config.k8s.io/${version}`, metadata: { name: FLAGZ_NAME[kind] }, flags: sorted };
}

export type FlagzChoice = { kind: "text" } | { kind: "json"; version: string } | { kind: "406" };

/** 406 text of responsewriters.ErrorNegotiated (CBOR off by default, protobuf filtered out). */
export const FLAGZ_NOT_ACCEPTABLE = "only the following media types are accepted: application/json, application/yaml, text/plain";

interface Clause {
  type: string;
  subType: string;
  params: Record<string, string>;
  q: number;
  index: number;
}

/** goautoneg.ParseAccept: clauses by q (desc), then more specific first; header order otherwise. */
function parseAccept(header: string): Clause[] {
  const out: Clause[] = [];
  header.split(",").forEach((part, index) => {
    const [mt, ...ps] = part.split(";").map((s) => s.trim());
    if (!mt) return;
    const [type = "", subType = ""] = mt.split("/").map((s) => s.trim());
    const params: Record<string, string> = {};
    let q = 1;
    for (const p of ps) {
      const eq = p.indexOf("=");
      if (eq < 0) continue;
      const k = p.slice(0, eq).trim();
      const v = p.slice(eq + 1).trim();
      if (k === "q") q = Number(v);
      else params[k] = v;
    }
    out.push({ type, subType: subType || "*", params, q: Number.isNaN(q) ? 0 : q, index });
  });
  const spec = (c: Clause): number => (c.type === "*" ? 0 : c.subType === "*" ? 1 : 2);
  return out.sort((a, b) => b.q - a.q || spec(b) - spec(a) || a.index - b.index);
}

/**
 * negotiation.NegotiateOutputMediaType with FlagzEndpointRestrictions: text/plain only without a
 * target kind; application/json (and yaml) only as Flagz in a served version. `structured`: the
 * versions this release serves (empty: none).
 */
export function negotiateFlagz(accept: string | undefined, structured: string[]): FlagzChoice {
  if (!accept || accept.trim() === "") return { kind: "text" };
  const supported: Array<[string, string]> = [
    ["application", "json"],
    ["application", "yaml"],
    ["text", "plain"],
  ];
  for (const c of parseAccept(accept)) {
    if (c.q <= 0) continue;
    for (const [t, s] of supported) {
      if (!((c.type === t && (c.subType === s || c.subType === "*")) || (c.type === "*" && c.subType === "*"))) continue;
      // acceptMediaTypeOptions: unknown parameters skip the clause
      if (Object.keys(c.params).some((k) => !["as", "g", "v", "pretty"].includes(k))) continue;
      const as = c.params.as;
      if (t === "text") {
        if (as === undefined) return { kind: "text" };
        continue;
      }
      if (as === "Flagz" && c.params.g === "config.k8s.io" && structured.includes(c.params.v ?? "")) {
        // YAML is not modelled: the fake answers JSON only.
        if (s === "json") return { kind: "json", version: c.params.v ?? "" };
      }
    }
  }
  return { kind: "406" };
}

export interface KubeletConfigContext {
  startupLevel: number;
  debuggingHandlers: boolean;
  debugFlagsHandler: boolean;
  profiling: boolean;
}

/** /configz of a kubeadm kubelet: {"kubeletconfig": KubeletConfiguration} (field order of the v1beta1 struct). */
export function kubeletConfigz(c: KubeletConfigContext): Record<string, unknown> {
  return {
    kubeletconfig: {
      kind: "KubeletConfiguration",
      apiVersion: "kubelet.config.k8s.io/v1beta1",
      enableServer: true,
      staticPodPath: "/etc/kubernetes/manifests",
      podLogsDir: "/var/log/pods",
      syncFrequency: "1m0s",
      fileCheckFrequency: "20s",
      httpCheckFrequency: "20s",
      address: "0.0.0.0",
      port: 10250,
      tlsCertFile: `/var/lib/kubelet/pki/kubelet.crt`,
      tlsPrivateKeyFile: `/var/lib/kubelet/pki/kubelet.key`,
      rotateCertificates: true,
      authentication: {
        x509: { clientCAFile: "/etc/kubernetes/pki/ca.crt" },
        webhook: { enabled: true, cacheTTL: "2m0s" },
        anonymous: { enabled: false },
      },
      authorization: { mode: "Webhook", webhook: { cacheAuthorizedTTL: "5m0s", cacheUnauthorizedTTL: "30s" } },
      registryPullQPS: 5,
      registryBurst: 10,
      imagePullCredentialsVerificationPolicy: "NeverVerifyPreloadedImages",
      eventRecordQPS: 50,
      eventBurst: 100,
      enableDebuggingHandlers: c.debuggingHandlers,
      healthzPort: 10248,
      healthzBindAddress: "127.0.0.1",
      oomScoreAdj: -999,
      clusterDomain: "cluster.local",
      clusterDNS: ["10.96.0.10"],
      streamingConnectionIdleTimeout: "4h0m0s",
      nodeStatusUpdateFrequency: "10s",
      nodeStatusReportFrequency: "5m0s",
      nodeLeaseDurationSeconds: 40,
      imageMinimumGCAge: "2m0s",
      imageMaximumGCAge: "0s",
      imageGCHighThresholdPercent: 85,
      imageGCLowThresholdPercent: 80,
      volumeStatsAggPeriod: "1m0s",
      cgroupsPerQOS: true,
      cgroupDriver: "systemd",
      cpuManagerPolicy: "none",
      cpuManagerReconcilePeriod: "10s",
      memoryManagerPolicy: "None",
      topologyManagerPolicy: "none",
      topologyManagerScope: "container",
      runtimeRequestTimeout: "2m0s",
      hairpinMode: "promiscuous-bridge",
      maxPods: 110,
      podPidsLimit: -1,
      resolvConf: "/run/systemd/resolve/resolv.conf",
      cpuCFSQuota: true,
      cpuCFSQuotaPeriod: "100ms",
      nodeStatusMaxImages: 50,
      maxOpenFiles: 1000000,
      contentType: "application/vnd.kubernetes.protobuf",
      kubeAPIQPS: 50,
      kubeAPIBurst: 100,
      serializeImagePulls: true,
      evictionHard: { "imagefs.available": "15%", "imagefs.inodesFree": "5%", "memory.available": "100Mi", "nodefs.available": "10%", "nodefs.inodesFree": "5%" },
      evictionPressureTransitionPeriod: "5m0s",
      mergeDefaultEvictionSettings: false,
      enableControllerAttachDetach: true,
      makeIPTablesUtilChains: true,
      iptablesMasqueradeBit: 14,
      iptablesDropBit: 15,
      failSwapOn: true,
      memorySwap: {},
      containerLogMaxSize: "10Mi",
      containerLogMaxFiles: 5,
      containerLogMaxWorkers: 1,
      containerLogMonitorInterval: "10s",
      configMapAndSecretChangeDetectionStrategy: "Watch",
      volumePluginDir: "/usr/libexec/kubernetes/kubelet-plugins/volume/exec/",
      logging: {
        format: "text",
        flushFrequency: "5s",
        verbosity: c.startupLevel,
        options: { text: { infoBufferSize: "0" }, json: { infoBufferSize: "0" } },
      },
      enableSystemLogHandler: true,
      enableSystemLogQuery: false,
      shutdownGracePeriod: "0s",
      shutdownGracePeriodCriticalPods: "0s",
      crashLoopBackOff: { maxContainerRestartPeriod: "5m0s" },
      enableProfilingHandler: c.profiling,
      enableDebugFlagsHandler: c.debugFlagsHandler,
      seccompDefault: false,
      memoryThrottlingFactor: 0.9,
      memoryReservationPolicy: "None",
      registerNode: true,
      localStorageCapacityIsolation: true,
      containerRuntimeEndpoint: "unix:///var/run/containerd/containerd.sock",
      failCgroupV1: true,
    },
  };
}

#!/usr/bin/env bash
# up.sh: bring up kvlog's local end-to-end cluster of real upstream components, as
# processes, laid out like a two-node kubeadm cluster with an HA control plane. See
# README.md beside this file.
#
#   host (root netns)           etcd 127.0.0.1:2379 and 10.222.0.1:2379 (the bridge: the replicas in the nodes)
#                               kube-apiserver replicas (KVLOG_E2E_APISERVERS, 2) on that etcd, each
#                               binding and advertising its own address, port 6443: replica 1 in
#                               kvlog-node-1 (10.222.0.2), replica 2 in kvlog-node-2 (10.222.0.3), each
#                               with a kube-apiserver static pod there, as kubeadm; replicas 3-6 on the
#                               host at 10.222.0.12-.15 with no static pod (reached by address only)
#                               haproxy 127.0.0.1:6443 -> every replica (TCP, round robin): the kubeconfig URL
#   bridge kvlog-br0            10.222.0.1/24 (the host-side address) + .12/24 ... (replicas 3+)
#   netns kvlog-node-1 (.2)     fakecri, kubelet, kube-apiserver (replica 1: what the nodes use),
#                               kube-scheduler, kube-controller-manager,
#                               cloud-controller-manager (k8s.io/cloud-provider + its fake cloud), kube-proxy
#   netns kvlog-node-2 (.3)     fakecri, kubelet, kube-apiserver (replica 2), kube-proxy
#   (each netns: eth0 on the bridge, routes to the /24 and the service CIDR 10.96.0.0/16;
#    in-pod.sh runs a command there as a pod would: ServiceAccount files, KUBERNETES_SERVICE_*)
#   fleet (API only)            KVLOG_E2E_FLEET_NODES (1200) Node objects kvlog-fleet-NNNNN with no
#                               kubelet, InternalIPs 10.222.0.16-.254 (unassigned, nothing answers)
#
# State (certs, kubeconfigs, logs, pids) in ${KVLOG_E2E_DIR:-/tmp/kvlog-e2e}.
# Env: KVLOG_E2E_DIR, KVLOG_E2E_CACHE (binaries), KVLOG_E2E_V (start level, 1),
#      KVLOG_E2E_TOKEN_TTL (2h), KVLOG_E2E_KEEP_ON_FAILURE=1 (do not tear down on error),
#      KVLOG_E2E_KEY_ALG (ecdsa|rsa), KVLOG_E2E_BUILD_HOME (dir with build/build.sh, versions.env),
#      KVLOG_E2E_APISERVER_PORT (6443), KVLOG_E2E_ETCD_PORT (2379; peer = +1),
#      KVLOG_E2E_APISERVERS (2; 1-6 kube-apiserver replicas),
#      KVLOG_E2E_SKIP_BUILD=1 (use the cached binaries as they are), KVLOG_E2E_UNTIL=STAGE (stop after it),
#      KVLOG_E2E_FLEET_NODES (1200; 0: none), KVLOG_E2E_FLEET_CONDITIONS (unknown|none).
# One cluster per machine: the netns, bridge and ports are fixed names.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
. "$CLUSTER_SRC/certs.sh"

T_ALL=$(now)
TOKEN_TTL=${KVLOG_E2E_TOKEN_TTL:-2h}

on_exit() {
  local rc=$?
  if [[ $rc != 0 ]]; then
    printf 'ERROR: up.sh failed%s (rc %s); logs in %s\n' "${STAGE_NAME:+ in stage $STAGE_NAME}" "$rc" "$LOGS" >&2
    if [[ ${KVLOG_E2E_KEEP_ON_FAILURE:-0} == 1 ]]; then
      printf 'leaving it running (KVLOG_E2E_KEEP_ON_FAILURE=1); stop it with %s/down.sh\n' "$CLUSTER_SRC" >&2
    else
      "$CLUSTER_SRC/down.sh" >&2 || true
    fi
  fi
}
trap on_exit EXIT

# ---------------------------------------------------------------------------
stage_begin preflight
[[ $EUID == 0 ]] || die "up.sh must run as root (network namespaces, nft, kubelet)"
[[ -x $BUILD_SH && -f $VERSIONS_ENV ]] || die "no $BUILD_SH or $VERSIONS_ENV (set KVLOG_E2E_BUILD_HOME)"
# shellcheck source=/dev/null
. "$VERSIONS_ENV"
# The Kubernetes version (KVLOG_E2E_K8S_VERSION, else versions.env's) and everything that
# differs by version (k8s-versions.sh: kube-proxy mode, feature gates, kubelet fields).
# shellcheck source=k8s-versions.sh
. "$CLUSTER_SRC/k8s-versions.sh"
k8s_profile "${KVLOG_E2E_K8S_VERSION:-$K8S_VERSION}" || die "KVLOG_E2E_K8S_VERSION=${KVLOG_E2E_K8S_VERSION:-}: not a version the harness knows"
export KVLOG_E2E_K8S_VERSION=$K8S_VERSION   # for build.sh
# The profile's feature gates: --feature-gates for the apiserver, scheduler and
# controller-manager, featureGates in the kubelet's and kube-proxy's config files.
GATE_FLAGS=(); [[ -n $K8S_FEATURE_GATES ]] && GATE_FLAGS=(--feature-gates="$K8S_FEATURE_GATES")
FEATURE_GATES_YAML="{$(sed 's/=/: /g; s/,/, /g' <<<"$K8S_FEATURE_GATES")}"
# The kubelet's: those plus its own (KUBELET_FEATURE_GATES: NodeLogQuery where it is not GA).
kubelet_gates=$K8S_FEATURE_GATES${KUBELET_FEATURE_GATES:+${K8S_FEATURE_GATES:+,}$KUBELET_FEATURE_GATES}
KUBELET_FEATURE_GATES_YAML="{$(sed 's/=/: /g; s/,/, /g' <<<"$kubelet_gates")}"
export KUBE_PROXY_MODE FEATURE_GATES_YAML KUBELET_FEATURE_GATES_YAML   # render fills @KUBE_PROXY_MODE@, @FEATURE_GATES_YAML@, ...
# kubelet_config_for NODE...: the kubelet config template rendered, less the fields this
# release does not know (KUBELET_CONFIG_DROP).
kubelet_config_for() {
  local f drop=""
  for f in $KUBELET_CONFIG_DROP; do drop+="/^$f:/d;"; done
  render "$CLUSTER_SRC/manifests/kubelet-config.yaml" | sed "${drop:-b}"
}
proxy_tools=""; [[ $KUBE_PROXY_MODE == iptables ]] && proxy_tools="iptables-restore:iptables"
need=()
for pair in nft:nftables openssl:openssl jq:jq ip:iproute2 ss:iproute2 nsenter:util-linux \
            unshare:util-linux setsid:util-linux flock:util-linux conntrack:conntrack \
            curl:curl perl:perl-base base64:coreutils haproxy:haproxy $proxy_tools; do
  command -v "${pair%%:*}" >/dev/null || need+=("${pair#*:}")
done
if [[ ${#need[@]} -gt 0 ]]; then
  say "installing: ${need[*]}"
  apt_log=$(mktemp)
  { DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}"; } > "$apt_log" 2>&1 ||
    { tail -n 20 "$apt_log" >&2; die "apt-get install ${need[*]} failed"; }
  rm -f "$apt_log"
fi
[[ ${KVLOG_E2E_SKIP_BUILD:-0} == 1 ]] || command -v go >/dev/null || die "go is needed to build the binaries (see $BUILD_SH)"
[[ ${#APISERVER_IPS[@]} -ge 1 ]] ||
  die "KVLOG_E2E_APISERVERS must be a number from 1 to $APISERVER_MAX, not '$APISERVER_COUNT'"
[[ $FLEET_COUNT =~ ^[0-9]+$ ]] && (( FLEET_COUNT <= 99999 )) ||
  die "KVLOG_E2E_FLEET_NODES must be a number from 0 to 99999, not '$FLEET_COUNT'"
[[ $FLEET_CONDITIONS == unknown || $FLEET_CONDITIONS == none ]] ||
  die "KVLOG_E2E_FLEET_CONDITIONS must be unknown or none, not '$FLEET_CONDITIONS'"
# Leftovers of an earlier run (or a failed one): tear them down first.
if [[ -d $D/pids || -e /run/netns/${NODES[0]} || -e /run/netns/${NODES[1]} ]] || ip link show "$BRIDGE" >/dev/null 2>&1; then
  say "found state of an earlier run: running down.sh"
  "$CLUSTER_SRC/down.sh" | sed 's/^/  down: /'
fi
for port in $ETCD_CLIENT_PORT $ETCD_PEER_PORT $APISERVER_PORT; do
  if ss -Hltn "sport = :$port" | grep -q .; then
    die "port $port is already in use on the host: $(ss -Hltnp "sport = :$port" | head -1)"
  fi
done
if [[ -e $D ]]; then
  [[ -f $D/.kvlog-e2e || -z "$(ls -A "$D")" ]] || die "$D exists and is not a kvlog-e2e state dir; refusing to wipe it"
  rm -rf "$D"
fi
mkdir -p "$D" "$LOGS" "$PIDS" "$KCFG"
touch "$D/.kvlog-e2e"
stage_end

# ---------------------------------------------------------------------------
stage_begin build
if [[ ${KVLOG_E2E_SKIP_BUILD:-0} != 1 ]]; then
  "$BUILD_SH" 2>&1 | sed 's/^/  /'
fi
eval "$("$BUILD_SH" --print-env)"   # K8S_BIN, ETCD_BIN
for b in kube-apiserver kube-scheduler kube-controller-manager cloud-controller-manager kube-proxy kubelet fakecri kubectl; do
  [[ -x $K8S_BIN/$b || ${KVLOG_E2E_SKIP_BUILD:-0} == 1 ]] || die "$K8S_BIN/$b missing after $BUILD_SH"
done
[[ -x $ETCD_BIN/etcd ]] || die "$ETCD_BIN/etcd missing after $BUILD_SH"
echo "K8S_BIN=$K8S_BIN" > "$D/env"
echo "ETCD_BIN=$ETCD_BIN" >> "$D/env"
echo "K8S_VERSION=$K8S_VERSION" >> "$D/env"
echo "ETCD_VERSION=$ETCD_VERSION" >> "$D/env"
KUBECTL=$K8S_BIN/kubectl
stage_end

kc() { KUBECACHEDIR=$D/kube-cache "$KUBECTL" --kubeconfig "$D/admin.kubeconfig" "$@"; }
# KVLOG_E2E_UNTIL=STAGE: stop after that stage and leave it running (for debugging).
stage_done() {
  stage_end
  if [[ -n ${KVLOG_E2E_UNTIL:-} && ${KVLOG_E2E_UNTIL} == "$1" ]]; then
    say "stopping after stage $1 (KVLOG_E2E_UNTIL); down.sh stops it"
    trap - EXIT; exit 0
  fi
}

# ---------------------------------------------------------------------------
stage_begin certs
make_pki
APISERVER_LOCAL=https://127.0.0.1:$APISERVER_PORT
# The nodes' components (kubelets, kube-proxies, scheduler, controller-manager) talk to
# replica 1 directly (on node-1's address), not through the load balancer: haproxy listens on
# the host's loopback, which the netns cannot reach, and a second listener on a bridge VIP
# would add an address and a hop for nothing kvlog tests. Users' kubeconfigs go through the
# load balancer.
APISERVER_NODES=https://${APISERVER_IPS[0]}:$APISERVER_PORT
write_kubeconfig "$D/admin.kubeconfig" "$APISERVER_LOCAL" kubernetes-admin --cert admin
write_kubeconfig "$KCFG/kube-scheduler.kubeconfig" "$APISERVER_NODES" system:kube-scheduler --cert kube-scheduler
write_kubeconfig "$KCFG/kube-controller-manager.kubeconfig" "$APISERVER_NODES" system:kube-controller-manager --cert kube-controller-manager
write_kubeconfig "$KCFG/cloud-controller-manager.kubeconfig" "$APISERVER_NODES" system:cloud-controller-manager --cert cloud-controller-manager
write_kubeconfig "$KCFG/kube-proxy.kubeconfig" "$APISERVER_NODES" system:kube-proxy --cert kube-proxy
for n in "${NODES[@]}"; do
  write_kubeconfig "$KCFG/kubelet-$n.kubeconfig" "$APISERVER_NODES" "system:node:$n" --cert "kubelet-$n"
done
stage_done certs

# ---------------------------------------------------------------------------
stage_begin network
# The kubelet rewrites a few kernel tunables (protectKernelDefaults: false); down.sh restores them.
for s in "${KUBELET_SYSCTLS[@]}"; do echo "$s $(cat "/proc/sys/$s")"; done > "$D/sysctls.saved"
ip link add "$BRIDGE" type bridge
ip addr add "$HOST_IP/24" dev "$BRIDGE"
# The host's kube-apiserver replicas' own addresses (replicas 3+: secondary addresses of the same /24).
for k in "${!APISERVER_IPS[@]}"; do
  [[ -n ${APISERVER_NODE[$k]} ]] || ip addr add "${APISERVER_IPS[$k]}/24" dev "$BRIDGE"
done
ip link set "$BRIDGE" up
for n in "${NODES[@]}"; do
  ip netns add "$n"
  ip link add "${NODE_VETH[$n]}" type veth peer name eth0 netns "$n"
  ip link set "${NODE_VETH[$n]}" master "$BRIDGE" up
  ip -n "$n" addr add "${NODE_IP[$n]}/24" dev eth0
  ip -n "$n" link set lo up
  ip -n "$n" link set eth0 up
  # The service CIDR via eth0, as a real node has it through its default route: a
  # connection to a ClusterIP (10.96.0.1:443, the `kubernetes` Service) needs a route
  # before kube-proxy's nft rules (output hook) DNAT it to an endpoint on the /24. On-link,
  # not via the host: a ClusterIP that no rule DNATs goes no further than an unanswered
  # ARP on the bridge, never out of this machine. in-pod.sh depends on it.
  ip -n "$n" route add "$SERVICE_CIDR" dev eth0
done
# No default route in the nodes: they reach only the /24 (the host and each other) and
# the service CIDR (DNATed to the /24).
# Each kubelet runs in a private mount namespace where per-node dirs are bind-mounted
# over the two host paths the kubelet hard-codes (/var/lib/kubelet/device-plugins for
# the device-plugin socket and checkpoint, /var/log/containers for log symlinks), so
# two kubelets do not share them and the host keeps nothing. in-pod.sh bind-mounts a
# pod's ServiceAccount files over SA_MOUNT_DIR the same way. The mount points must
# exist; down.sh removes the directories created here (if empty), never one that existed.
for m in "${KUBELET_PRIVATE_DIRS[@]}" "$SA_MOUNT_DIR"; do
  make_host_dir "$m" || die "cannot create the mount point $m"
done
for n in "${NODES[@]}"; do
  ip -n "$n" -br link show eth0 | grep -qw UP || die "eth0 in $n is not up: $(ip -n "$n" -br link show eth0)"
  ip -n "$n" route show "$SERVICE_CIDR" | grep -q . || die "no route to $SERVICE_CIDR in $n"
done
stage_done network

# ---------------------------------------------------------------------------
stage_begin etcd
launch etcd -- "$ETCD_BIN/etcd" --name kvlog --data-dir "$D/etcd" \
  --listen-client-urls "http://127.0.0.1:$ETCD_CLIENT_PORT,http://$HOST_IP:$ETCD_CLIENT_PORT" \
  --advertise-client-urls "http://$HOST_IP:$ETCD_CLIENT_PORT" \
  --listen-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
  --initial-cluster "kvlog=http://127.0.0.1:$ETCD_PEER_PORT" --initial-cluster-state new \
  --unsafe-no-fsync --snapshot-count 10000
wait_for etcd 30 "etcd /health" curl -fsS "http://127.0.0.1:$ETCD_CLIENT_PORT/health"
stage_done etcd

# ---------------------------------------------------------------------------
stage_begin kube-apiserver
# Every replica: the same flags, certs, SA keys and etcd; its own address (bind = advertise,
# so the lease endpoint reconciler lists each in default/kubernetes), its own hostname (so
# its own identity Lease), its own --cert-dir, pid file and log (kube-apiserver[-N]).
APISERVER_ARGS=(
  --secure-port="$APISERVER_PORT"
  --etcd-servers="http://$HOST_IP:$ETCD_CLIENT_PORT"
  --authorization-mode=Node,RBAC --enable-admission-plugins=NodeRestriction --allow-privileged=true
  --client-ca-file="$PKI/ca.crt"
  --tls-cert-file="$PKI/apiserver.crt" --tls-private-key-file="$PKI/apiserver.key"
  --kubelet-client-certificate="$PKI/apiserver-kubelet-client.crt" --kubelet-client-key="$PKI/apiserver-kubelet-client.key"
  --kubelet-certificate-authority="$PKI/ca.crt"
  --kubelet-preferred-address-types=InternalIP
  --service-account-issuer=https://kubernetes.default.svc.cluster.local
  --service-account-key-file="$PKI/sa.pub" --service-account-signing-key-file="$PKI/sa.key"
  --service-cluster-ip-range="$SERVICE_CIDR"
  --proxy-client-cert-file="$PKI/front-proxy-client.crt" --proxy-client-key-file="$PKI/front-proxy-client.key"
  --requestheader-client-ca-file="$PKI/front-proxy-ca.crt" --requestheader-allowed-names=front-proxy-client
  --requestheader-extra-headers-prefix=X-Remote-Extra- --requestheader-group-headers=X-Remote-Group
  --requestheader-username-headers=X-Remote-User
  --endpoint-reconciler-type=lease
  "${GATE_FLAGS[@]}"
  --v="$LOG_V"
)
# A replica on a node runs in that node's netns (its address is the node's); nodes stage
# writes its static pod manifest there (the same command line).
apiserver_args() { # K: replica K's full argument list
  local ip=${APISERVER_IPS[$1]}
  printf '%s\n' --advertise-address="$ip" --bind-address="$ip" --cert-dir="$D/apiserver-certs-$(( $1 + 1 ))" "${APISERVER_ARGS[@]}"
}
for k in "${!APISERVER_IPS[@]}"; do
  mapfile -t args < <(apiserver_args "$k")
  where=(); [[ -n ${APISERVER_NODE[$k]} ]] && where=(--netns "${APISERVER_NODE[$k]}")
  launch "${APISERVER_NAMES[$k]}" "${where[@]}" --hostname "${APISERVER_HOSTNAMES[$k]}" -- "$K8S_BIN/kube-apiserver" "${args[@]}"
done
apiserver_ready() { # URL: /readyz answers 200 (admin client cert, verified against the cluster CA)
  curl -fsS --cacert "$PKI/ca.crt" --cert "$PKI/admin.crt" --key "$PKI/admin.key" "$1/readyz"
}
for k in "${!APISERVER_IPS[@]}"; do
  wait_for "${APISERVER_NAMES[$k]}" 90 "${APISERVER_NAMES[$k]} https://${APISERVER_IPS[$k]}:$APISERVER_PORT/readyz" \
    apiserver_ready "https://${APISERVER_IPS[$k]}:$APISERVER_PORT"
done
stage_done kube-apiserver

# ---------------------------------------------------------------------------
# The load balancer users' kubeconfigs point at, as in front of a real HA control plane:
# TCP (TLS passes through to the replica, which sees the client's certificate), each new
# connection goes to the next replica in turn, a replica whose /readyz fails twice
# (checked every 2 s over TLS against the cluster CA, anonymously: system:public-info-viewer)
# gets no new connections until it passes twice again; a refused connect is retried on the
# next replica (redispatch). Long timeouts: watches and
# port-forward streams may be idle for minutes.
stage_begin load-balancer
{
  cat <<EOF
# written by up.sh
global
  log stderr format raw local0 notice
  maxconn 4096
defaults
  mode tcp
  log global
  option dontlognull
  timeout connect 5s
  timeout client 1h
  timeout server 1h
  timeout check 5s
  # a connection a replica refuses (stopped, restarting) is retried on the next one
  retries 2
  option redispatch
frontend kube-apiserver
  bind $LB_ADDR:$APISERVER_PORT
  default_backend kube-apiserver
backend kube-apiserver
  balance roundrobin
  option httpchk
  http-check send meth GET uri /readyz ver HTTP/1.1 hdr Host kube-apiserver
  http-check expect status 200
  default-server check check-ssl verify required ca-file $PKI/ca.crt inter 2s fall 2 rise 2
EOF
  for k in "${!APISERVER_IPS[@]}"; do
    printf '  server %s %s:%s\n' "${APISERVER_NAMES[$k]}" "${APISERVER_IPS[$k]}" "$APISERVER_PORT"
  done
} > "$D/haproxy.cfg"
haproxy -c -q -f "$D/haproxy.cfg" || die "haproxy rejects $D/haproxy.cfg"
launch "$LB_NAME" -- haproxy -db -f "$D/haproxy.cfg"
wait_for "$LB_NAME" 30 "the load balancer $APISERVER_LOCAL/readyz" apiserver_ready "$APISERVER_LOCAL"
stage_done load-balancer

# ---------------------------------------------------------------------------
stage_begin identities
kc apply -f "$CLUSTER_SRC/manifests/bootstrap.yaml" >/dev/null
# The cloud-controller-manager's RBAC (the apiserver bootstraps none for it).
kc apply -f "$CLUSTER_SRC/manifests/cloud-controller-manager-rbac.yaml" >/dev/null
# kvlog's RBAC exactly as docs/rbac-and-security.md tells users to grant it (test/docs-blocks.ts
# names the same page); every binding in it gets the ServiceAccount kvlog-e2e/kvlog as its only subject.
rbac=$D/kvlog-rbac.yaml
RBAC_DOC=docs/rbac-and-security.md
grep -q '<!-- rbac:begin -->' "$REPO_ROOT/$RBAC_DOC" || die "$RBAC_DOC has no <!-- rbac:begin --> block"
sed -n '/<!-- rbac:begin -->/,/<!-- rbac:end -->/p' "$REPO_ROOT/$RBAC_DOC" | grep -v -e '<!-- rbac:' -e '^\s*```' > "$rbac"
rbac_json=$(kc create --dry-run=client -o json -f "$rbac") || die "cannot parse the kvlog RBAC in $rbac"
sa_subject='[{"kind":"ServiceAccount","name":"kvlog","namespace":"kvlog-e2e"}]'
# kubectl 1.36 prints several documents as one List, kubectl 1.30 as one object each: slurp either.
rbac_json=$(jq -s --argjson s "$sa_subject" '
  [.[] | if .kind == "List" then .items[] else . end] as $items
  | ($items | map(select(.kind == "ClusterRole")) | first | .metadata.name) as $role
  | $items
  | map(if .kind == "ClusterRoleBinding" or .kind == "RoleBinding" then .subjects = $s else . end)
  | if any(.[]; .kind == "ClusterRoleBinding") then . else
      . + [{apiVersion: "rbac.authorization.k8s.io/v1", kind: "ClusterRoleBinding",
            metadata: {name: $role}, roleRef: {apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: $role},
            subjects: $s}] end
  | {apiVersion: "v1", kind: "List", items: .}' <<<"$rbac_json")
printf '%s\n' "$rbac_json" > "$D/kvlog-rbac.applied.json"
kc apply -f "$D/kvlog-rbac.applied.json" >/dev/null
mkdir -p "$D/tokens"
for sa in kvlog nobody admin; do
  kc create token "$sa" -n kvlog-e2e --duration="$TOKEN_TTL" > "$D/tokens/$sa.token"
done
write_kubeconfig "$D/kvlog.kubeconfig" "$APISERVER_LOCAL" kvlog --token "$(cat "$D/tokens/kvlog.token")"
write_kubeconfig "$D/nobody.kubeconfig" "$APISERVER_LOCAL" nobody --token "$(cat "$D/tokens/nobody.token")"
write_kubeconfig "$D/admin-token.kubeconfig" "$APISERVER_LOCAL" admin-token --token "$(cat "$D/tokens/admin.token")"
# kube-proxy: kubeadm's ConfigMap + DaemonSet (the real processes are started below).
NODE=$CONTROL_PLANE_NODE PROFILING=true KCFG=/var/lib/kube-proxy render "$CLUSTER_SRC/manifests/kube-proxy-config.yaml" |
  sed 's#kubeconfig: /var/lib/kube-proxy/kube-proxy.kubeconfig#kubeconfig: /var/lib/kube-proxy/kubeconfig.conf#; /^hostnameOverride:/d' > "$D/kube-proxy-configmap.conf"
kc create configmap kube-proxy -n kube-system --from-file=config.conf="$D/kube-proxy-configmap.conf" \
  --dry-run=client -o yaml | kc apply -f - >/dev/null
K8S_VERSION=$K8S_VERSION render "$CLUSTER_SRC/manifests/kube-proxy-daemonset.yaml" | kc apply -f - >/dev/null
stage_done identities

# ---------------------------------------------------------------------------
# Static pod manifests, kubeadm style: the command is the real process's command line.
# static_pod NAME PORT LIVENESS_PATH READINESS_PATH|- KUBECONFIG|- ARGS...
# (STATIC_POD_LABELS="key: value" adds a label; STATIC_POD_PROBE_HOST, else 127.0.0.1, is where
# the probes go: kubeadm's kube-apiserver probes its advertise address)
static_pod() {
  local name=$1 port=$2 live=$3 ready=$4 kcfg=$5; shift 5
  local a
  cat <<EOF
apiVersion: v1
kind: Pod
metadata:
  labels:
    component: $name
    tier: control-plane
${STATIC_POD_LABELS:+    $STATIC_POD_LABELS
}  name: $name
  namespace: kube-system
spec:
  containers:
  - command:
    - $name
$(for a in "$@"; do printf '    - %s\n' "$a"; done)
    image: registry.k8s.io/$name:$K8S_VERSION
    imagePullPolicy: IfNotPresent
    livenessProbe:
      failureThreshold: 8
      httpGet:
        host: ${STATIC_POD_PROBE_HOST:-127.0.0.1}
        path: $live
        port: probe-port
        scheme: HTTPS
      periodSeconds: 10
      timeoutSeconds: 15
    name: $name
    ports:
    - containerPort: $port
      name: probe-port
      protocol: TCP
$(if [[ $ready != - ]]; then cat <<EOR
    readinessProbe:
      failureThreshold: 3
      httpGet:
        host: ${STATIC_POD_PROBE_HOST:-127.0.0.1}
        path: $ready
        port: probe-port
        scheme: HTTPS
      periodSeconds: 1
      timeoutSeconds: 15
EOR
fi)
    resources:
      requests:
        cpu: 100m
    startupProbe:
      failureThreshold: 24
      httpGet:
        host: ${STATIC_POD_PROBE_HOST:-127.0.0.1}
        path: $live
        port: probe-port
        scheme: HTTPS
      periodSeconds: 1
      timeoutSeconds: 15
    volumeMounts:
$(if [[ $kcfg != - ]]; then cat <<EOV
    - mountPath: $kcfg
      name: kubeconfig
      readOnly: true
EOV
fi)
    - mountPath: $PKI
      name: k8s-certs
      readOnly: true
  hostNetwork: true
  priority: 2000001000
  priorityClassName: system-node-critical
  securityContext:
    seccompProfile:
      type: RuntimeDefault
  volumes:
$(if [[ $kcfg != - ]]; then cat <<EOV
  - hostPath:
      path: $kcfg
      type: File
    name: kubeconfig
EOV
fi)
  - hostPath:
      path: $PKI
      type: DirectoryOrCreate
    name: k8s-certs
EOF
}

SCHED_ARGS=(
  --authentication-kubeconfig="$KCFG/kube-scheduler.kubeconfig"
  --authorization-kubeconfig="$KCFG/kube-scheduler.kubeconfig"
  --bind-address=127.0.0.1
  --kubeconfig="$KCFG/kube-scheduler.kubeconfig"
  --leader-elect=true
  "${GATE_FLAGS[@]}"
  --v="$LOG_V"
)
KCM_ARGS=(
  --allocate-node-cidrs=false
  --authentication-kubeconfig="$KCFG/kube-controller-manager.kubeconfig"
  --authorization-kubeconfig="$KCFG/kube-controller-manager.kubeconfig"
  --bind-address=127.0.0.1
  --client-ca-file="$PKI/ca.crt"
  --cluster-name=kvlog-e2e
  --cluster-signing-cert-file="$PKI/ca.crt"
  --cluster-signing-key-file="$PKI/ca.key"
  --controllers=*,bootstrapsigner,tokencleaner
  --kubeconfig="$KCFG/kube-controller-manager.kubeconfig"
  --leader-elect=true
  --requestheader-client-ca-file="$PKI/front-proxy-ca.crt"
  --root-ca-file="$PKI/ca.crt"
  --service-account-private-key-file="$PKI/sa.key"
  --service-cluster-ip-range="$SERVICE_CIDR"
  --use-service-account-credentials=true
  "${GATE_FLAGS[@]}"
  --v="$LOG_V"
)
# The cloud-controller-manager: upstream's k8s.io/cloud-provider app with its fake cloud
# (build/cloud-controller-manager/main.go). The cloud node-lifecycle controller is off (with
# the fake cloud it would delete NotReady nodes; the fake also says every instance exists);
# no routes, no CIDRs. Its secure port 10258 serves /debug/flags/v (--profiling) behind
# delegated authn/authz, like the controller-manager's. No feature gates: the profile's
# (ComponentFlagz) are kube's, which the cloud-provider app does not register.
CCM_ARGS=(
  --allocate-node-cidrs=false
  --authentication-kubeconfig="$KCFG/cloud-controller-manager.kubeconfig"
  --authorization-kubeconfig="$KCFG/cloud-controller-manager.kubeconfig"
  --bind-address=127.0.0.1
  --cloud-provider=kvlog-fake
  --cluster-name=kvlog-e2e
  --configure-cloud-routes=false
  --controllers=*,-cloud-node-lifecycle-controller
  --kubeconfig="$KCFG/cloud-controller-manager.kubeconfig"
  --leader-elect=true
  --profiling=true
  --secure-port=10258
  --use-service-account-credentials=false
  --v="$LOG_V"
)

# ---------------------------------------------------------------------------
stage_begin nodes
for n in "${NODES[@]}"; do
  nd=$D/nodes/$n
  mkdir -p "$nd/manifests" "$nd/kubelet" "$nd/var-lib-kubelet" "$nd/var-log-containers" "$nd/pod-logs" "$nd/volume-plugins" \
    "$nd/var-log/containers"
  taints='[]'
  # Each container's log is its host process's real log (fakecri --container-log NAME=PATH).
  clogs=(--container-log "kube-proxy=$LOGS/kube-proxy-$n.log")
  if [[ $n == "$CONTROL_PLANE_NODE" ]]; then
    taints='[{key: node-role.kubernetes.io/control-plane, effect: NoSchedule}]'
    static_pod kube-scheduler 10259 $SCHEDULER_PROBES "$KCFG/kube-scheduler.kubeconfig" "${SCHED_ARGS[@]}" > "$nd/manifests/kube-scheduler.yaml"
    static_pod kube-controller-manager 10257 /healthz - "$KCFG/kube-controller-manager.kubeconfig" "${KCM_ARGS[@]}" > "$nd/manifests/kube-controller-manager.yaml"
    STATIC_POD_LABELS="k8s-app: cloud-controller-manager" \
      static_pod cloud-controller-manager 10258 /healthz - "$KCFG/cloud-controller-manager.kubeconfig" "${CCM_ARGS[@]}" > "$nd/manifests/cloud-controller-manager.yaml"
    for c in kube-scheduler kube-controller-manager cloud-controller-manager; do
      : >> "$LOGS/$c.log"
      clogs+=(--container-log "$c=$LOGS/$c.log")
    done
  fi
  # The kube-apiserver replica on this node (kubeadm's static pod, probes on its address).
  for k in "${!APISERVER_IPS[@]}"; do
    [[ ${APISERVER_NODE[$k]} == "$n" ]] || continue
    mapfile -t args < <(apiserver_args "$k")
    STATIC_POD_PROBE_HOST=${APISERVER_IPS[$k]} \
      static_pod kube-apiserver "$APISERVER_PORT" /livez /readyz - "${args[@]}" > "$nd/manifests/kube-apiserver.yaml"
    clogs+=(--container-log "kube-apiserver=$LOGS/${APISERVER_NAMES[$k]}.log")
  done
  : >> "$LOGS/kube-proxy-$n.log"
  NODE=$n NODE_DIR=$nd PKI=$PKI CLUSTER_DNS=$CLUSTER_DNS TAINTS=$taints kubelet_config_for > "$nd/kubelet-config.yaml"
  launch "fakecri-$n" --netns "$n" -- "$K8S_BIN/fakecri" --listen "$nd/fakecri.sock" "${clogs[@]}" --v="$LOG_V"
done
for n in "${NODES[@]}"; do
  wait_for "fakecri-$n" 20 "fakecri socket on $n" test -S "$D/nodes/$n/fakecri.sock"
done
for n in "${NODES[@]}"; do
  nd=$D/nodes/$n
  # The node's own /var/log (what the kubelet's /logs/ serves): the kubelet writes its log
  # there as /var/log/kubelet.log, which logs/kubelet-NODE.log points to (README.md, "Logs").
  : > "$nd/var-log/kubelet.log"
  ln -sfn "$nd/var-log/kubelet.log" "$LOGS/kubelet-$n.log"
  launch "kubelet-$n" --netns "$n" --private-mount "$nd/var-lib-kubelet:/var/lib/kubelet" \
    --private-mount "$nd/var-log:/var/log" \
    --private-mount "$nd/var-log-containers:/var/log/containers" -- \
    "$K8S_BIN/kubelet" --config="$nd/kubelet-config.yaml" --kubeconfig="$KCFG/kubelet-$n.kubeconfig" \
    --root-dir="$nd/kubelet" --cert-dir="$nd/kubelet/pki" --node-ip="${NODE_IP[$n]}" --hostname-override="$n" \
    --v="$LOG_V"
done
node_ready() {
  [[ "$(kc get node "$1" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}')" == True ]]
}
for n in "${NODES[@]}"; do
  wait_for "kubelet-$n" 90 "node $n Ready" node_ready "$n"
done
# kubeadm labels the control-plane node after it registers (NodeRestriction forbids the kubelet to).
kc label node "$CONTROL_PLANE_NODE" node-role.kubernetes.io/control-plane= \
  node.kubernetes.io/exclude-from-external-load-balancers= --overwrite >/dev/null
stage_done nodes

# ---------------------------------------------------------------------------
# The fleet: FLEET_COUNT Node objects of production size registered through the API with
# no kubelet behind them, as on a large cluster where some nodes are down (README.md,
# "Fleet"). Made before the controller-manager and scheduler start, so those meet a
# big cluster on their first list, as after a restart, and the TTL controller finds
# the annotation it wants already there.
stage_begin fleet
node_images() { # NODE MIN: the kubelet has published at least MIN images
  kc get node "$1" -o json | jq -e --argjson min "$2" '(.status.images // []) | length >= $min' >/dev/null
}
for n in "${NODES[@]}"; do
  wait_for "kubelet-$n" 45 "node $n publishing 50 images (fakecri's preloaded ones)" node_images "$n" 50
done
FLEET_SECONDS=0
if (( FLEET_COUNT > 0 )); then
  total_nodes=$(( FLEET_COUNT + ${#NODES[@]} ))
  # node.alpha.kubernetes.io/ttl as pkg/controller/ttl sets it for this many nodes.
  if (( total_nodes <= 100 )); then ttl=0; elif (( total_nodes <= 500 )); then ttl=15
  elif (( total_nodes <= 1000 )); then ttl=30; elif (( total_nodes <= 2000 )); then ttl=60; else ttl=300; fi
  t0=$(now)
  # One POST each (the apiserver keeps status on create), 8 at a time over HTTP/2: the
  # apiserver's CPU is the limit (about 4 ms a node), more in flight gains nothing.
  kc get --raw "/api/v1/nodes/${NODES[1]}" |
    jq -r --argjson count "$FLEET_COUNT" --arg prefix "$FLEET_PREFIX" --arg fleetlabel "$FLEET_LABEL" \
      --arg net "$NET_PREFIX" --argjson first "$FLEET_IP_FIRST" --argjson last "$FLEET_IP_LAST" \
      --arg now "$(date -u +%Y-%m-%dT%H:%M:%SZ)" --argjson ttl "$ttl" --arg conditions "$FLEET_CONDITIONS" \
      --arg api "$APISERVER_LOCAL" --arg cacert "$PKI/ca.crt" --arg cert "$PKI/admin.crt" --arg key "$PKI/admin.key" \
      -f "$CLUSTER_SRC/fleet-nodes.jq" |
    curl --parallel --parallel-max 8 -K - > "$D/fleet-created.txt" 2>> "$LOGS/fleet.log" || true
  created=$(awk '$1 == 201' "$D/fleet-created.txt" | wc -l)
  if (( created != FLEET_COUNT )); then
    die "created $created of $FLEET_COUNT fleet nodes; first failures (HTTP code, node): $(awk '$1 != 201' "$D/fleet-created.txt" |
      head -5 | tr '\n' ' ') (curl errors in $LOGS/fleet.log)" kube-apiserver
  fi
  FLEET_SECONDS=$(elapsed "$t0")
  say "  fleet: $FLEET_COUNT nodes created in ${FLEET_SECONDS}s"
fi
stage_done fleet

# ---------------------------------------------------------------------------
stage_begin control-plane
launch kube-scheduler --netns "$CONTROL_PLANE_NODE" -- "$K8S_BIN/kube-scheduler" "${SCHED_ARGS[@]}"
launch kube-controller-manager --netns "$CONTROL_PLANE_NODE" -- "$K8S_BIN/kube-controller-manager" "${KCM_ARGS[@]}"
launch cloud-controller-manager --netns "$CONTROL_PLANE_NODE" -- "$K8S_BIN/cloud-controller-manager" "${CCM_ARGS[@]}"
secure_healthz() { in_node "$CONTROL_PLANE_NODE" curl -fsSk "https://127.0.0.1:$1/healthz"; }
wait_for kube-scheduler 60 "kube-scheduler https://127.0.0.1:10259/healthz in $CONTROL_PLANE_NODE" secure_healthz 10259
wait_for kube-controller-manager 60 "kube-controller-manager https://127.0.0.1:10257/healthz in $CONTROL_PLANE_NODE" secure_healthz 10257
wait_for cloud-controller-manager 60 "cloud-controller-manager https://127.0.0.1:10258/healthz in $CONTROL_PLANE_NODE" secure_healthz 10258
stage_done control-plane

# ---------------------------------------------------------------------------
stage_begin kube-proxy
for n in "${NODES[@]}"; do
  profiling=false; [[ $n == "$CONTROL_PLANE_NODE" ]] && profiling=true
  NODE=$n PROFILING=$profiling KCFG=$KCFG render "$CLUSTER_SRC/manifests/kube-proxy-config.yaml" > "$D/nodes/$n/kube-proxy.yaml"
  launch "kube-proxy-$n" --netns "$n" -- "$K8S_BIN/kube-proxy" --config="$D/nodes/$n/kube-proxy.yaml" --v="$LOG_V"
done
proxy_healthz() { in_node "$1" curl -fsS "http://127.0.0.1:10256/healthz"; }
for n in "${NODES[@]}"; do
  wait_for "kube-proxy-$n" 60 "kube-proxy healthz on $n" proxy_healthz "$n"
done
stage_done kube-proxy

# ---------------------------------------------------------------------------
stage_begin pods
pod_running_ready() { # NAMESPACE SELECTOR NODE
  kc get pods -n "$1" -l "$2" --field-selector "spec.nodeName=$3" -o json |
    jq -e '.items | length == 1 and (.[0].status.phase == "Running")
           and any(.[0].status.conditions[]?; .type == "Ready" and .status == "True")' >/dev/null
}
wait_for kubelet-$CONTROL_PLANE_NODE 90 "mirror pod kube-scheduler-$CONTROL_PLANE_NODE Running and Ready" \
  pod_running_ready kube-system component=kube-scheduler,tier=control-plane "$CONTROL_PLANE_NODE"
wait_for kubelet-$CONTROL_PLANE_NODE 90 "mirror pod kube-controller-manager-$CONTROL_PLANE_NODE Running and Ready" \
  pod_running_ready kube-system component=kube-controller-manager,tier=control-plane "$CONTROL_PLANE_NODE"
wait_for kubelet-$CONTROL_PLANE_NODE 90 "mirror pod cloud-controller-manager-$CONTROL_PLANE_NODE Running and Ready" \
  pod_running_ready kube-system k8s-app=cloud-controller-manager "$CONTROL_PLANE_NODE"
for k in "${!APISERVER_IPS[@]}"; do
  n=${APISERVER_NODE[$k]}
  [[ -n $n ]] || continue
  wait_for "kubelet-$n" 90 "mirror pod kube-apiserver-$n Running and Ready" \
    pod_running_ready kube-system component=kube-apiserver,tier=control-plane "$n"
done
for n in "${NODES[@]}"; do
  wait_for kube-controller-manager 90 "kube-proxy DaemonSet pod on $n Running and Ready" \
    pod_running_ready kube-system k8s-app=kube-proxy "$n"
done
stage_done pods

# ---------------------------------------------------------------------------
# A machine-readable description for the e2e suite.
kp_pods=$(kc get pods -n kube-system -l k8s-app=kube-proxy -o json |
  jq -c '[.items[] | {(.spec.nodeName): .metadata.name}] | add')
# Serialized sizes: jsonBytes as the apiserver sends it (compact, managedFields included),
# kubectlJsonBytes as `kubectl get node N -o json` prints it (indented, no managedFields).
node_size() {
  local raw; raw=$(kc get --raw "/api/v1/nodes/$1")
  jq -n --arg n "$1" --argjson bytes "$(printf '%s' "$raw" | wc -c)" \
    --argjson kbytes "$(kc get node "$1" -o json | wc -c)" --argjson images "$(jq '.status.images // [] | length' <<<"$raw")" \
    '{($n): {jsonBytes: $bytes, kubectlJsonBytes: $kbytes, images: $images}}'
}
sizes=$(for n in "${NODES[@]}"; do node_size "$n"; done; if (( FLEET_COUNT > 0 )); then node_size "${FLEET_PREFIX}00001"; fi)
sizes=$(jq -s 'add' <<<"$sizes")
jq -n --arg d "$D" --arg kv "$K8S_VERSION" --arg ev "$ETCD_VERSION" --arg kubectl "$KUBECTL" \
  --argjson minor "$K8S_MINOR" --arg kpmode "$KUBE_PROXY_MODE" --arg gates "$K8S_FEATURE_GATES" \
  --arg local "$APISERVER_LOCAL" --arg nodesurl "$APISERVER_NODES" --arg host "$HOST_IP" \
  --arg cp "$CONTROL_PLANE_NODE" --arg rbacsrc "$RBAC_DOC" \
  --argjson kp "$kp_pods" --argjson sizes "$sizes" \
  --argjson fcount "$FLEET_COUNT" --arg fprefix "$FLEET_PREFIX" --arg flabel "$FLEET_LABEL" \
  --arg ffirst "$NET_PREFIX.$FLEET_IP_FIRST" --arg flast "$NET_PREFIX.$FLEET_IP_LAST" \
  --arg fcond "$FLEET_CONDITIONS" --argjson fsecs "$FLEET_SECONDS" \
  --argjson apiservers "$(for k in "${!APISERVER_IPS[@]}"; do jq -n --arg ip "${APISERVER_IPS[$k]}" \
      --argjson port "$APISERVER_PORT" --arg log "$LOGS/${APISERVER_NAMES[$k]}.log" --arg name "${APISERVER_NAMES[$k]}" \
      --arg hostname "${APISERVER_HOSTNAMES[$k]}" --arg node "${APISERVER_NODE[$k]}" \
      '{ip: $ip, port: $port, log: $log, name: $name, hostname: $hostname, url: "https://\($ip):\($port)",
        node: (if $node == "" then null else $node end),
        pod: (if $node == "" then null else "kube-apiserver-\($node)" end)}'; done | jq -s .)" \
  --arg lbcfg "$D/haproxy.cfg" --arg lblog "$LOGS/$LB_NAME.log" \
  --argjson nodes "$(for n in "${NODES[@]}"; do jq -n --arg n "$n" --arg ip "${NODE_IP[$n]}" \
      --argjson prof "$([[ $n == "$CONTROL_PLANE_NODE" ]] && echo true || echo false)" \
      '{name: $n, ip: $ip, netns: $n, kubeletPort: 10250, kubeProxyProfiling: $prof}'; done | jq -s .)" '
($nodes | map(. + $sizes[.name])) as $nodes
| ("\($fprefix)00001") as $ffirstname
| {
  stateDir: $d, k8sVersion: $kv, k8sMinor: $minor, etcdVersion: $ev, kubectl: $kubectl,
  kubeProxyMode: $kpmode, featureGates: (if $gates == "" then {} else ($gates | split(",") | map(split("=") | {(.[0]): (.[1] == "true")}) | add) end),
  kubeconfigs: {admin: "\($d)/admin.kubeconfig", kvlog: "\($d)/kvlog.kubeconfig",
                nobody: "\($d)/nobody.kubeconfig", adminToken: "\($d)/admin-token.kubeconfig"},
  tokens: {kvlog: "\($d)/tokens/kvlog.token", nobody: "\($d)/tokens/nobody.token", admin: "\($d)/tokens/admin.token"},
  kvlogRbacSource: $rbacsrc,
  apiserver: {url: $local, nodeSideUrl: $nodesurl, hostIP: $host, replicas: ($apiservers | length)},
  apiservers: $apiservers,
  loadBalancer: {url: $local, kind: "haproxy", mode: "tcp", balance: "roundrobin", healthCheck: "GET /readyz every 2s",
                 config: $lbcfg, log: $lblog, backends: [$apiservers[] | "\(.ip):\(.port)"]},
  nodes: $nodes,
  totalNodes: (($nodes | length) + $fcount),
  fleet: {
    count: $fcount, namePrefix: $fprefix,
    names: (if $fcount > 0 then "\($ffirstname)..\($fprefix)\("0000\($fcount)"[-5:])" else null end),
    label: "\($flabel)=true", labelSelector: $flabel,
    addresses: "\($ffirst)-\($flast)", addressesNote: "InternalIPs reused round robin; no interface has them: a dial fails (no ARP answer)",
    kubeletPort: 10250, conditions: $fcond, createSeconds: $fsecs,
    sample: (if $fcount > 0 then ({name: $ffirstname} + $sizes[$ffirstname]) else null end)
  },
  components: ({
    "kube-apiserver": {log: "\($d)/logs/kube-apiserver.log", via: "apiserver"},
    "kube-scheduler": {log: "\($d)/logs/kube-scheduler.log", namespace: "kube-system",
                       pod: "kube-scheduler-\($cp)", selector: "component=kube-scheduler,tier=control-plane",
                       node: $cp, port: 10259, scheme: "https"},
    "kube-controller-manager": {log: "\($d)/logs/kube-controller-manager.log", namespace: "kube-system",
                       pod: "kube-controller-manager-\($cp)", selector: "component=kube-controller-manager,tier=control-plane",
                       node: $cp, port: 10257, scheme: "https"},
    "cloud-controller-manager": {log: "\($d)/logs/cloud-controller-manager.log", namespace: "kube-system",
                       pod: "cloud-controller-manager-\($cp)", selector: "k8s-app=cloud-controller-manager",
                       node: $cp, port: 10258, scheme: "https"},
    "etcd": {log: "\($d)/logs/etcd.log"}
  } + ([$nodes[] | {("kubelet-\(.name)"): {log: "\($d)/logs/kubelet-\(.name).log", node: .name, port: 10250, scheme: "https",
          nodeLog: "kubelet.log", nodeLogQuery: "kubelet"}}] | add)
    + ([$nodes[] | {("kube-proxy-\(.name)"): {log: "\($d)/logs/kube-proxy-\(.name).log", node: .name,
          namespace: "kube-system", selector: "k8s-app=kube-proxy", pod: $kp[.name], port: 10249, scheme: "http",
          profiling: .kubeProxyProfiling}}] | add))
}' > "$D/cluster.json"

total=$(elapsed "$T_ALL")
echo "total $total" >> "$D/stages.txt"
say "stage: total ${total}s"
say "cluster up: Kubernetes $K8S_VERSION, etcd $ETCD_VERSION"
say "  apiservers: ${APISERVER_IPS[*]} (port $APISERVER_PORT), behind haproxy $APISERVER_LOCAL; nodes use $APISERVER_NODES"
say "  admin:     KUBECONFIG=$D/admin.kubeconfig      (client cert, system:masters)"
say "  kvlog:     KUBECONFIG=$D/kvlog.kubeconfig      (SA kvlog-e2e/kvlog, RBAC from $RBAC_DOC)"
say "  nobody:    KUBECONFIG=$D/nobody.kubeconfig     (SA kvlog-e2e/nobody, no grants)"
say "  token admin: KUBECONFIG=$D/admin-token.kubeconfig (SA kvlog-e2e/admin, cluster-admin)"
say "  kubectl:   $KUBECTL"
say "  logs:      $LOGS/"
say "  described: $D/cluster.json"
say "  stop:      $CLUSTER_SRC/down.sh"
trap - EXIT

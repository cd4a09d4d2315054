#!/usr/bin/env bash
# in-pod.sh [--node NODE] [--namespace NS] [--env NAME=VALUE]... SERVICEACCOUNT -- CMD ARGS...
#
# Run CMD as a process in a pod on NODE would see the cluster, so a client's in-cluster
# path (no kubeconfig; the ServiceAccount files and KUBERNETES_SERVICE_HOST/PORT) meets the
# real apiserver through the real `kubernetes` Service ClusterIP. There is no container
# (fakecri runs nothing): CMD runs on this host, as root, in the foreground, with
#   - the node's network namespace (nsenter --net): its address, its kube-proxy's nft rules,
#     its route to the service CIDR (up.sh), so 10.96.0.1:443 is DNATed to an apiserver;
#   - a private mount namespace in which a fresh dir is bind-mounted read-only over
#     /var/run/secrets/kubernetes.io/serviceaccount, laid out as the kubelet's atomic writer
#     lays out a projected volume (token, ca.crt, namespace -> ..data/ -> ..<timestamp>/):
#       token      a TokenRequest token for NS/SERVICEACCOUNT (kubectl create token, 1h,
#                  no trailing newline, like the kubelet's file)
#       ca.crt     the cluster CA (pki/ca.crt; byte for byte the kube-root-ca.crt ConfigMap)
#       namespace  NS
#     the host's own copy of that dir, if it has one (a CI runner in a pod), is not touched:
#     the bind mount exists only in the private namespace;
#   - a pod's environment and nothing else (env -i): KUBERNETES_SERVICE_HOST=10.96.0.1,
#     KUBERNETES_SERVICE_PORT=443 and the other KUBERNETES_* variables the kubelet sets,
#     PATH kept, HOME an empty temp dir (no ~/.kube/config), no KUBECONFIG; then each
#     --env NAME=VALUE (later ones win, so --env can also override the above).
# stdin, stdout and stderr are CMD's; the working directory is kept. The exit code is CMD's
# (128+N if it died of signal N; env's 126/127 if CMD cannot be run or is not found); 125 if
# in-pod.sh itself fails before starting CMD (usage, no cluster, no such ServiceAccount).
# SIGTERM, SIGINT and SIGHUP sent to in-pod.sh are passed on to CMD. The temp dirs
# ($KVLOG_E2E_DIR/in-pod/XXXXXX) are removed when CMD exits; down.sh stops a CMD still
# running (it is in the node's netns).
#
# Defaults: NODE kvlog-node-2 (a worker), NS kvlog-e2e. Needs root and a running cluster.
set -uo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

fail() { printf 'in-pod.sh: %s\n' "$*" >&2; exit 125; }
usage() {
  cat >&2 <<EOF
usage: in-pod.sh [--node NODE] [--namespace NS] [--env NAME=VALUE]... SERVICEACCOUNT -- CMD ARGS...
  --node NODE        run in this node's network namespace (${NODES[*]}; default ${NODES[1]})
  --namespace NS     the ServiceAccount's namespace, also the pod's namespace file (default kvlog-e2e)
  --env NAME=VALUE   add (or override) a variable in CMD's otherwise pod-like environment
EOF
  exit 125
}

node=${NODES[1]} ns=kvlog-e2e extra_env=()
while [[ $# -gt 0 ]]; do
  case $1 in
    --node) [[ $# -ge 2 ]] || usage; node=$2; shift 2 ;;
    --namespace|-n) [[ $# -ge 2 ]] || usage; ns=$2; shift 2 ;;
    --env) [[ $# -ge 2 && $2 =~ ^[A-Za-z_][A-Za-z0-9_]*= ]] || usage; extra_env+=("$2"); shift 2 ;;
    -h|--help) usage ;;
    --) usage ;;
    -*) printf 'in-pod.sh: unknown option %s\n' "$1" >&2; usage ;;
    *) break ;;
  esac
done
[[ $# -ge 3 && $2 == -- ]] || usage
sa=$1; shift 2

[[ $EUID == 0 ]] || fail "must run as root (mount and network namespaces)"
known=0; for n in "${NODES[@]}"; do [[ $n == "$node" ]] && known=1; done
(( known )) || fail "unknown node '$node' (real nodes: ${NODES[*]}; the fleet has no netns)"
[[ -f $D/.kvlog-e2e && -f $D/admin.kubeconfig && -f $PKI/ca.crt && -f $D/env ]] ||
  fail "no cluster state in $D (run up.sh first)"
[[ -e /run/netns/$node ]] || fail "no network namespace $node: is the cluster running? (up.sh)"
ip -n "$node" route show "$SERVICE_CIDR" 2>/dev/null | grep -q . ||
  fail "$node has no route to the service CIDR $SERVICE_CIDR (up.sh adds it in its network stage)"
K8S_BIN=$(sed -n 's/^K8S_BIN=//p' "$D/env")
[[ -x $K8S_BIN/kubectl ]] || fail "no kubectl at $K8S_BIN/kubectl"
# up.sh makes it; this covers a cluster started before it did (recorded for down.sh the same way).
make_host_dir "$SA_MOUNT_DIR" || fail "cannot create the mount point $SA_MOUNT_DIR"

child=""
tmp=""
cleanup() { [[ -n $tmp ]] && rm -rf "$tmp"; }
trap cleanup EXIT
# Before CMD starts a signal ends in-pod.sh; after, it is passed on to CMD.
on_signal() { if [[ -n $child ]]; then kill -s "$1" "$child" 2>/dev/null; else exit $(( 128 + $2 )); fi; }
trap 'on_signal TERM 15' TERM
trap 'on_signal INT 2' INT
trap 'on_signal HUP 1' HUP

mkdir -p "$D/in-pod"
tmp=$(mktemp -d "$D/in-pod/XXXXXX") || fail "cannot make a temp dir under $D/in-pod"
vol=$tmp/serviceaccount home=$tmp/home
mkdir -p "$home" && chmod 700 "$tmp" || fail "cannot make $home"

token=$(KUBECACHEDIR=$D/kube-cache "$K8S_BIN/kubectl" --kubeconfig "$D/admin.kubeconfig" --request-timeout=30s \
  create token "$sa" -n "$ns" --duration=1h) || fail "cannot create a token for ServiceAccount $ns/$sa"
[[ -n $token ]] || fail "kubectl create token printed nothing for $ns/$sa"

# The kubelet's atomic-writer layout: the files are symlinks into ..data, itself a symlink to a
# timestamped dir; the volume is a 1777 tmpfs, the timestamped dir 0755, the files 0644.
ts="..$(date -u +%Y_%m_%d_%H_%M_%S).$RANDOM$RANDOM"
{ mkdir -p "$vol/$ts" &&
  printf '%s' "$token" > "$vol/$ts/token" &&
  cp "$PKI/ca.crt" "$vol/$ts/ca.crt" &&
  printf '%s' "$ns" > "$vol/$ts/namespace" &&
  chmod 644 "$vol/$ts"/* && chmod 755 "$vol/$ts" && chmod 1777 "$vol" &&
  ln -s "$ts" "$vol/..data" &&
  ln -s ..data/ca.crt "$vol/ca.crt" && ln -s ..data/namespace "$vol/namespace" && ln -s ..data/token "$vol/token"
} || fail "cannot write the ServiceAccount files into $vol"

pod_env=(
  PATH="$PATH"
  HOME="$home"
  KUBERNETES_SERVICE_HOST="$SERVICE_IP"
  KUBERNETES_SERVICE_PORT="$SERVICE_PORT"
  KUBERNETES_SERVICE_PORT_HTTPS="$SERVICE_PORT"
  KUBERNETES_PORT="tcp://$SERVICE_IP:$SERVICE_PORT"
  "KUBERNETES_PORT_${SERVICE_PORT}_TCP=tcp://$SERVICE_IP:$SERVICE_PORT"
  "KUBERNETES_PORT_${SERVICE_PORT}_TCP_PROTO=tcp"
  "KUBERNETES_PORT_${SERVICE_PORT}_TCP_PORT=$SERVICE_PORT"
  "KUBERNETES_PORT_${SERVICE_PORT}_TCP_ADDR=$SERVICE_IP"
  "${extra_env[@]}"
)

# CMD's stdin must be in-pod.sh's: a background job of a non-interactive shell would get
# /dev/null, unless its stdin is redirected explicitly (hence fd 3).
exec 3<&0
# unshare (no fork) -> bash: bind + read-only remount -> nsenter --net (no fork) -> env -i -> CMD:
# every step execs, so $child ends up being CMD's own pid.
unshare --mount --propagation private -- bash -c '
  mount --bind "$1" "$2" && mount -o remount,bind,ro "$2" ||
    { echo "in-pod.sh: cannot bind-mount $1 read-only over $2" >&2; exit 125; }
  netns=$3; shift 3
  exec nsenter --net="/run/netns/$netns" -- "$@"
' in-pod "$vol" "$SA_MOUNT_DIR" "$node" env -i "${pod_env[@]}" "$@" <&3 3<&- &
child=$!
exec 3<&-
while :; do
  wait "$child"; rc=$?
  # wait returns early (>128) when a trapped signal arrives; CMD may still be running.
  kill -0 "$child" 2>/dev/null || break
done
exit "$rc"

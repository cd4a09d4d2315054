# Shared settings and helpers for up.sh / down.sh (sourced, not run).
# shellcheck shell=bash

CLUSTER_SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$CLUSTER_SRC/../../.." && pwd)

# Where build/build.sh and versions.env live: the one place to change if they move.
KVLOG_E2E_BUILD_HOME=${KVLOG_E2E_BUILD_HOME:-$CLUSTER_SRC}
BUILD_SH=$KVLOG_E2E_BUILD_HOME/build/build.sh
VERSIONS_ENV=$KVLOG_E2E_BUILD_HOME/versions.env

# State: certs, kubeconfigs, logs, pids, node dirs. Wiped by the next up.sh.
D=${KVLOG_E2E_DIR:-/tmp/kvlog-e2e}
LOGS=$D/logs
PIDS=$D/pids
PKI=$D/pki
KCFG=$D/kubeconfigs
# Every process the harness starts carries this in its environment, so down.sh
# can find it (and anything it forked) even without its pid file.
TAG="kvlog-e2e:$D"

# Network: a bridge on the host with the host-side address, one netns + veth per node.
NET_PREFIX=${KVLOG_E2E_NET_PREFIX:-10.222.0}
HOST_IP=$NET_PREFIX.1
# A second cluster beside the first (test/e2e/contexts.e2e.test.ts): KVLOG_E2E_INSTANCE=b puts
# "b-" into this cluster's node (= netns) names, bridge and veths; with its own KVLOG_E2E_DIR,
# KVLOG_E2E_NET_PREFIX, KVLOG_E2E_APISERVER_PORT and KVLOG_E2E_ETCD_PORT nothing is shared.
# Unset: the names below are the one cluster's, as always.
INSTANCE=${KVLOG_E2E_INSTANCE:-}
[[ -z $INSTANCE || $INSTANCE =~ ^[a-z0-9]{1,3}$ ]] || { echo "KVLOG_E2E_INSTANCE must be 1 to 3 lowercase letters or digits, not '$INSTANCE'" >&2; exit 1; }
_I=${INSTANCE:+$INSTANCE-}
BRIDGE=kvlog-${_I}br0
NODES=("kvlog-${_I}node-1" "kvlog-${_I}node-2")
declare -A NODE_IP=(["${NODES[0]}"]=$NET_PREFIX.2 ["${NODES[1]}"]=$NET_PREFIX.3)
declare -A NODE_VETH=(["${NODES[0]}"]="kvlog-${_I}veth1" ["${NODES[1]}"]="kvlog-${_I}veth2")
CONTROL_PLANE_NODE=${NODES[0]}
# The fleet: Node objects registered through the API with no kubelet behind them (see
# README.md, "Fleet"). Their InternalIPs are host numbers FLEET_IP_FIRST..FLEET_IP_LAST
# of the node /24, reused round robin; no interface has them, nothing answers there.
FLEET_COUNT=${KVLOG_E2E_FLEET_NODES:-1200}
FLEET_PREFIX=kvlog-fleet-
FLEET_LABEL=kvlog.dev/e2e-fleet
FLEET_IP_FIRST=16
FLEET_IP_LAST=254
FLEET_CONDITIONS=${KVLOG_E2E_FLEET_CONDITIONS:-unknown}
SERVICE_CIDR=10.96.0.0/16
# The `kubernetes` Service's ClusterIP and port: what the kubelet puts in every pod's
# KUBERNETES_SERVICE_HOST/KUBERNETES_SERVICE_PORT (in-pod.sh does the same).
SERVICE_IP=10.96.0.1
SERVICE_PORT=443
CLUSTER_DNS=10.96.0.10
APISERVER_PORT=${KVLOG_E2E_APISERVER_PORT:-6443}
# HA control plane: KVLOG_E2E_APISERVERS kube-apiserver replicas (default 2, at most 6) on the
# one etcd, each binding and advertising its own address with the same port (so each is in
# the default/kubernetes Endpoints). As kubeadm lays them out, replica N <= the node count runs
# in node N's network namespace on that node's address (node-1's .2, node-2's .3), with a
# kube-apiserver static pod in that node's manifests (its mirror pod's hostIP is the replica's
# address; fakecri serves the replica's real log as the container's). Replicas beyond the nodes
# (3-6) run on the host on a bridge address, host number 9+N (.12-.15; below the fleet's .16),
# with no static pod: kvlog reaches them by address only. Replica 1 is
# "kube-apiserver" (pid file, log), replica N "kube-apiserver-N"; each runs in its own UTS
# namespace with hostname kvlog-apiserver-N, so each has its own apiserver identity Lease
# (the identity is a hash of the hostname), as on separate control-plane machines.
# In front of them haproxy (TCP, TLS passthrough, round robin, /readyz health checks)
# listens on 127.0.0.1:$APISERVER_PORT: the one URL the kubeconfigs carry.
APISERVER_COUNT=${KVLOG_E2E_APISERVERS:-2}
APISERVER_MAX=6
APISERVER_IPS=() APISERVER_NAMES=() APISERVER_HOSTNAMES=() APISERVER_NODE=()
if [[ $APISERVER_COUNT =~ ^[1-9]$ ]] && (( APISERVER_COUNT <= APISERVER_MAX )); then
  for (( _i = 1; _i <= APISERVER_COUNT; _i++ )); do
    if (( _i <= ${#NODES[@]} )); then APISERVER_IPS+=("${NODE_IP[${NODES[_i - 1]}]}"); APISERVER_NODE+=("${NODES[_i - 1]}")
    else APISERVER_IPS+=("$NET_PREFIX.$(( 9 + _i ))"); APISERVER_NODE+=(""); fi
    if (( _i == 1 )); then APISERVER_NAMES+=(kube-apiserver); else APISERVER_NAMES+=("kube-apiserver-$_i"); fi
    APISERVER_HOSTNAMES+=("kvlog-apiserver-$_i")
  done
fi
LB_NAME=haproxy
LB_ADDR=127.0.0.1
ETCD_CLIENT_PORT=${KVLOG_E2E_ETCD_PORT:-2379}
ETCD_PEER_PORT=$(( ETCD_CLIENT_PORT + 1 ))
# Host paths the kubelet hard-codes; each kubelet gets its own via a private bind mount.
KUBELET_PRIVATE_DIRS=(/var/lib/kubelet /var/log/containers)
# Where a pod finds its ServiceAccount token, ca.crt and namespace. in-pod.sh bind-mounts a
# per-run dir over it in a private mount namespace; the mount point must exist on the host,
# so up.sh (or in-pod.sh) creates it if missing and down.sh removes what was created.
SA_MOUNT_DIR=/var/run/secrets/kubernetes.io/serviceaccount
# kubelet tunables changed by the kubelet (protectKernelDefaults: false); saved and restored.
KUBELET_SYSCTLS=(vm/overcommit_memory vm/panic_on_oom kernel/panic kernel/panic_on_oops
                 kernel/keys/root_maxkeys kernel/keys/root_maxbytes)

LOG_V=${KVLOG_E2E_V:-1}

say() { printf '%s\n' "$*"; }
warn() { printf 'WARN: %s\n' "$*" >&2; }
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

STAGE_NAME=""; STAGE_T0=""
stage_begin() { STAGE_NAME=$1; STAGE_T0=$(now); }
stage_end() {
  local d; d=$(elapsed "$STAGE_T0")
  say "stage: $STAGE_NAME ${d}s"
  [[ -d $D ]] && echo "$STAGE_NAME $d" >> "$D/stages.txt"
  STAGE_NAME=""
}

# Tail of a component's log, for error messages.
show_log() {
  local f=$LOGS/$1.log
  if [[ -f $f ]]; then
    printf -- '----- last 40 lines of %s -----\n' "$f" >&2
    tail -n 40 "$f" >&2
    printf -- '-----\n' >&2
  fi
}

# die MESSAGE [COMPONENT...]: print the message, the tail of each component log, exit 1.
die() {
  local msg=$1; shift
  printf 'ERROR: %s\n' "$msg" >&2
  local c; for c in "$@"; do show_log "$c"; done
  exit 1
}

pid_alive() { [[ -n "$1" ]] && kill -0 "$1" 2>/dev/null; }

# A pid still belongs to us when its environment carries our TAG.
pid_is_ours() {
  grep -qzxF "KVLOG_E2E_TAG=$TAG" "/proc/$1/environ" 2>/dev/null
}

# launch NAME [--netns NS] [--hostname NAME] [--private-mount SRC:DST]... -- CMD ARGS...
# Starts CMD in a new session (its own process group), stdout+stderr to
# logs/NAME.log, pid (= pgid) to pids/NAME.pid. With --netns it runs in that
# network namespace only (nsenter --net: unlike `ip netns exec`, this keeps the
# host's /sys, so the kubelet still sees /sys/fs/cgroup). With --private-mount it
# runs in a private mount namespace where SRC is bind-mounted over DST. With --hostname
# it runs in a private UTS namespace with that hostname.
launch() {
  local name=$1; shift
  local netns="" binds=() uts=""
  while [[ $# -gt 0 ]]; do
    case "$1" in
      --netns) netns=$2; shift 2 ;;
      --hostname) uts=$2; shift 2 ;;
      --private-mount) binds+=("$2"); shift 2 ;;
      --) shift; break ;;
      *) die "launch: bad argument $1" ;;
    esac
  done
  mkdir -p "$LOGS" "$PIDS"
  KVLOG_E2E_TAG=$TAG KVLOG_NETNS=$netns KVLOG_BINDS="${binds[*]}" KVLOG_HOSTNAME=$uts KVLOG_PIDFILE=$PIDS/$name.pid \
    setsid "$CLUSTER_SRC/exec-in.sh" "$@" >> "$LOGS/$name.log" 2>&1 < /dev/null &
  local i
  for i in $(seq 1 50); do [[ -s $PIDS/$name.pid ]] && return 0; sleep 0.02; done
  die "launch: $name did not start" "$name"
}

pid_of() { cat "$PIDS/$1.pid" 2>/dev/null || true; }

# wait_for COMPONENT TIMEOUT_S DESCRIPTION CMD...: poll CMD every 0.25 s until it
# succeeds; fail with the component's log tail on timeout or if it died.
wait_for() {
  local comp=$1 timeout=$2 what=$3; shift 3
  local t0 pid; t0=$(date +%s)
  while ! "$@" >/dev/null 2>&1; do
    pid=$(pid_of "$comp")
    if [[ -n $pid ]] && ! pid_alive "$pid"; then
      die "$comp exited while waiting for $what" "$comp"
    fi
    if (( $(date +%s) - t0 >= timeout )); then
      die "timed out after ${timeout}s waiting for $what" "$comp"
    fi
    sleep 0.25
  done
}

# make_host_dir DIR: make DIR and its missing parents on the host, appending each directory
# made here (parents first) to $D/created-dirs, which down.sh reads backwards (deepest first)
# and rmdirs (so only if empty). A directory that already existed is never recorded, so never
# removed. Safe when two callers race: mkdir is atomic and only the one whose mkdir succeeds
# records it. Returns 1 (with a warning) if DIR cannot be made.
make_host_dir() {
  local p=$1 missing=()
  while [[ ! -e $p && ! -L $p ]]; do missing=("$p" "${missing[@]}"); p=$(dirname "$p"); done
  for p in "${missing[@]}"; do
    if mkdir -m 755 "$p" 2>/dev/null; then echo "$p" >> "$D/created-dirs"
    elif [[ ! -d $p ]]; then warn "cannot create $p"; return 1; fi
  done
  [[ -d $1 ]] || { warn "$1 exists and is not a directory"; return 1; }
}

# in_node NODE CMD...: run a short command inside the node's network namespace.
in_node() { local n=$1; shift; nsenter --net="/run/netns/$n" -- "$@"; }

# Render a template: @NAME@ is replaced by the value of the environment variable NAME.
render() {
  perl -pe 's/@([A-Z][A-Z0-9_]*)@/exists $ENV{$1} ? $ENV{$1} : die "render: \$$1 is not set in $ARGV\n"/ge' "$1"
}

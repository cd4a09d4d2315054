#!/usr/bin/env bash
# down.sh [--purge]: stop everything up.sh started and undo its host changes.
# Safe to run twice, and after a failed or half-done up.sh. Keeps the state dir
# (logs for post-mortem; up.sh wipes it) unless --purge.
#
# What it stops, in this order of discovery (only processes that are ours):
#   1. the process group of each pids/NAME.pid whose members carry our TAG in
#      their environment (launch() sets KVLOG_E2E_TAG on every process);
#   2. every process inside the kvlog-node-* network namespaces (we made them);
#   3. any other process on the host that carries our TAG (a child that left its group).
# Order: the nodes' processes and the load balancer, then every kube-apiserver replica
# (their shutdown still talks to etcd), then etcd.
# SIGTERM, up to 10 s grace per tier, then SIGKILL. Then: nft ruleset of the netns, the
# netns, veths, the replicas' extra bridge addresses and the bridge, host conntrack entries of the node /24, the kernel
# tunables the kubelet changed, the mount points up.sh or in-pod.sh created (the kubelet's,
# the pod service-account dir; if empty). The netns's routes (the service CIDR) go with it.
set -uo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
T0=$(now)
[[ $EUID == 0 ]] || { echo "down.sh must run as root" >&2; exit 1; }
purge=0; [[ ${1:-} == --purge ]] && purge=1

# "pid pgid" of every process on the host (one pass over /proc).
all_pgids() {
  cat /proc/[0-9]*/stat 2>/dev/null | awk '{ pid = $1; s = $0; sub(/.*\) /, "", s); split(s, f, " "); print pid, f[3] }'
}

# Processes that carry our TAG (launch() puts it in their environment; children inherit it).
tagged_pids() {
  grep -lzxF "KVLOG_E2E_TAG=$TAG" /proc/[0-9]*/environ 2>/dev/null | cut -d/ -f3 | grep -vx "$$"
}

netns_pids() {
  local n
  for n in "${NODES[@]}"; do
    [[ -e /run/netns/$n ]] && ip netns pids "$n" 2>/dev/null
  done
}

# collect [NAME...]: pids to stop. With names: the process groups of those pid files
# (only if a member is ours). Without: every pid file's group, every process in our
# netns, every tagged process.
collect() {
  local stats tagged f pgid names=("$@")
  stats=$(all_pgids); tagged=" $(tagged_pids | tr '\n' ' ') "
  if [[ ${#names[@]} -eq 0 ]]; then
    names=()
    for f in "$PIDS"/*.pid; do [[ -f $f ]] && names+=("$(basename "$f" .pid)"); done
    netns_pids
    tr ' ' '\n' <<<"$tagged"
  fi
  for f in "${names[@]}"; do
    pgid=$(cat "$PIDS/$f.pid" 2>/dev/null) || continue
    [[ $pgid =~ ^[0-9]+$ ]] || continue
    members=$(awk -v g="$pgid" '$2 == g { print $1 }' <<<"$stats")
    for m in $members; do
      if [[ $tagged == *" $m "* ]]; then echo "$members"; break; fi
    done
  done
}

stopped=0
# stop_tier NAME... : SIGTERM, wait up to 10 s, SIGKILL, wait up to 5 s.
stop_tier() {
  local victims i
  victims=$(collect "$@" | grep -E '^[0-9]+$' | sort -un)
  [[ -z $victims ]] && return 0
  stopped=$(( stopped + $(wc -w <<<"$victims") ))
  # shellcheck disable=SC2086
  kill -TERM $victims 2>/dev/null
  for i in $(seq 1 40); do
    victims=$(collect "$@" | grep -E '^[0-9]+$' | sort -un)
    [[ -z $victims ]] && return 0
    sleep 0.25
  done
  echo "still running after 10 s, sending SIGKILL: $(tr '\n' ' ' <<<"$victims")"
  # shellcheck disable=SC2086
  kill -KILL $victims 2>/dev/null
  for i in $(seq 1 20); do
    victims=$(collect "$@" | grep -E '^[0-9]+$' | sort -un)
    [[ -z $victims ]] && return 0
    sleep 0.25
  done
  echo "WARNING: could not stop: $(tr '\n' ' ' <<<"$victims")" >&2
}

# Nodes and everything else first, then the apiserver (its shutdown still talks to
# etcd), then etcd, then a last sweep of anything ours.
if [[ -d $PIDS ]]; then
  others=() apiservers=()
  for f in "$PIDS"/*.pid; do
    [[ -f $f ]] || continue
    n=$(basename "$f" .pid)
    case $n in
      etcd) ;;
      kube-apiserver|kube-apiserver-[0-9]*) apiservers+=("$n") ;;
      *) others+=("$n") ;;
    esac
  done
  [[ ${#others[@]} -gt 0 ]] && stop_tier "${others[@]}"
  # processes inside our netns that have no pid file
  for p in $(netns_pids); do kill -TERM "$p" 2>/dev/null; done
  [[ ${#apiservers[@]} -gt 0 ]] && stop_tier "${apiservers[@]}"
  stop_tier etcd
fi
stop_tier
rm -rf "$PIDS"

# Mounts under the state dir (the kubelet's live in its private mount namespace,
# gone with it; this only catches a leak into the host's namespace).
if [[ -d $D ]]; then
  grep -F " $D/" /proc/self/mountinfo | awk '{print $5}' | sort -r | while read -r m; do
    umount -l "$m" 2>/dev/null && echo "unmounted $m"
  done
fi

# Network: nft ruleset inside our netns (kube-proxy's tables), netns, veths, bridge.
for n in "${NODES[@]}"; do
  if [[ -e /run/netns/$n ]]; then
    nsenter --net="/run/netns/$n" -- nft flush ruleset 2>/dev/null
    ip netns del "$n" 2>/dev/null || echo "WARNING: could not delete netns $n" >&2
  fi
  ip link del "${NODE_VETH[$n]}" 2>/dev/null
done
# Every address on the bridge (10.222.0.1 and the host replicas' .12, .13, ...), whatever
# KVLOG_E2E_APISERVERS was, then the bridge itself.
if ip link show "$BRIDGE" >/dev/null 2>&1; then
  for a in $(ip -4 -o addr show dev "$BRIDGE" | awk '{print $4}' | sort -r); do
    ip addr del "$a" dev "$BRIDGE" 2>/dev/null
  done
fi
ip link del "$BRIDGE" 2>/dev/null
command -v conntrack >/dev/null && {
  conntrack -D -s "$NET_PREFIX.0/24" >/dev/null 2>&1
  conntrack -D -d "$NET_PREFIX.0/24" >/dev/null 2>&1
}

# Host changes.
if [[ -f $D/sysctls.saved ]]; then
  while read -r s v; do
    [[ -n $s && -n $v ]] && [[ "$(cat "/proc/sys/$s" 2>/dev/null)" != "$v" ]] && echo "$v" > "/proc/sys/$s" 2>/dev/null
  done < "$D/sysctls.saved"
  rm -f "$D/sysctls.saved"
fi
# Directories up.sh or in-pod.sh made on the host (make_host_dir: the kubelet's mount points,
# /var/run/secrets/kubernetes.io/serviceaccount and whichever of its parents were missing),
# recorded parents first: removed deepest first, and only if empty (rmdir). A directory that
# existed before is not in the list, so it is never touched.
if [[ -f $D/created-dirs ]]; then
  tac "$D/created-dirs" | while read -r m; do
    [[ -n $m && -d $m ]] || continue
    rmdir "$m" 2>/dev/null || echo "WARNING: kept $m (created by the harness, not empty now)" >&2
  done
  rm -f "$D/created-dirs"
fi

if [[ $purge == 1 && -f $D/.kvlog-e2e ]]; then rm -rf "$D"; fi
echo "stage: down $(elapsed "$T0")s (stopped $stopped processes)"

#!/usr/bin/env bash
# The time a TAB costs (docs/usage.md "Shell completion"): the median of N runs (default 20) of
#   1. `kvlog __complete set kubelet 5 --n`, the process the scripts run on each TAB, and
#   2. bash's completion function end to end (the script sourced, COMP_WORDS set as bash sets
#      them, _kvlog timed with $EPOCHREALTIME; the shell's own start-up not counted) for a
#      flag, a command, and --context (the kubeconfig's contexts: no network).
# No cluster: KUBECONFIG is a file with one context. Reports only; nothing gates on it.
#
#   bin/with-node bash test/bench/completion-latency.sh [CHECKOUT]   (default: this one, built)
#   KUBECTL=path/to/kubectl ...   also times `kubectl __complete` for a static flag
set -euo pipefail
repo=$(cd "${1:-$(dirname "$0")/../..}" && pwd) n=${N:-20}
d=$(mktemp -d); trap 'rm -rf "$d"' EXIT
mkdir "$d/bin"; ln -s "$repo/bin/kvlog.js" "$d/bin/kvlog"
printf 'apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: "https://127.0.0.1:1"}}]\nusers: [{name: u, user: {}}]\ncontexts: [{name: dev, context: {cluster: c, user: u}}]\ncurrent-context: dev\n' >"$d/kubeconfig"
export PATH="$d/bin:$(dirname "$(command -v node)"):/usr/bin:/bin" HOME=$d KUBECONFIG=$d/kubeconfig
kvlog completion bash >"$d/kvlog.bash"
median() { sort -n | awk '{a[NR]=$1} END {m = NR % 2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2; printf "%6.1f ms  (min %.1f, max %.1f)\n", m/1000, a[1]/1000, a[NR]/1000}'; }
args=(__complete set kubelet 5 --n)
# Builds before the thin scripts took `__complete args -- WORD...`.
kvlog "${args[@]}" | grep -q -- '^--node' || args=(__complete args -- set kubelet 5 --n)
kvlog "${args[@]}" >/dev/null # the first run fills Node's compile cache
printf '%-48s' "kvlog ${args[*]}"
for ((i = 0; i < n; i++)); do t0=${EPOCHREALTIME/[.,]/}; kvlog "${args[@]}" >/dev/null; t1=${EPOCHREALTIME/[.,]/}; echo $((t1 - t0)); done | median
if [[ -n ${KUBECTL-} ]]; then # for comparison: kubectl answering the same protocol for a flag of its own
  printf '%-48s' "kubectl __complete get pods --all-n"
  for ((i = 0; i < n; i++)); do t0=${EPOCHREALTIME/[.,]/}; "$KUBECTL" __complete get pods --all-n >/dev/null 2>&1; t1=${EPOCHREALTIME/[.,]/}; echo $((t1 - t0)); done | median
fi
for line in "kvlog set kubelet 5 --n" "kvlog s" "kvlog set kubelet 5 --context "; do
  read -ra words <<<"$line"; [[ $line == *" " ]] && words+=("")
  printf '%-48s' "bash: $line<TAB>"
  for ((i = 0; i < n; i++)); do
    bash --norc --noprofile -c '
      source "$1"; COMP_LINE=$2; shift 2; COMP_WORDS=("$@"); COMP_CWORD=$(( $# - 1 )); COMP_POINT=${#COMP_LINE}
      t0=${EPOCHREALTIME/[.,]/}; _kvlog kvlog "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"; t1=${EPOCHREALTIME/[.,]/}
      (( ${#COMPREPLY[@]} )) || { echo "no candidates for: $COMP_LINE" >&2; exit 1; }
      echo $((t1 - t0))' bash "$d/kvlog.bash" "$line" "${words[@]}"
  done | median
done

#!/usr/bin/env bash
# exec-in.sh CMD ARGS...: the launcher behind lib.sh's launch(). Runs as the
# session leader made by setsid, so its pid is the process-group id down.sh kills.
#   KVLOG_PIDFILE  where to write that pid (first thing, before any exec)
#   KVLOG_BINDS    space-separated SRC:DST pairs: re-exec in a private mount
#                  namespace (unshare -m) and bind-mount each SRC over DST there
#   KVLOG_HOSTNAME re-exec in a private UTS namespace (unshare -u) with this hostname
#   KVLOG_NETNS    exec CMD inside /run/netns/$KVLOG_NETNS (network namespace only)
# Every exec keeps the pid, so the pid file stays right.
set -euo pipefail
if [[ -z "${KVLOG_IN_NS:-}" ]]; then
  echo $$ > "$KVLOG_PIDFILE"
  flags=()
  [[ -n "${KVLOG_BINDS:-}" ]] && flags+=(--mount --propagation private)
  [[ -n "${KVLOG_HOSTNAME:-}" ]] && flags+=(--uts)
  if [[ ${#flags[@]} -gt 0 ]]; then
    KVLOG_IN_NS=1 exec unshare "${flags[@]}" -- "$0" "$@"
  fi
fi
unset KVLOG_IN_NS
for pair in ${KVLOG_BINDS:-}; do
  mount --bind "${pair%%:*}" "${pair#*:}"
done
if [[ -n "${KVLOG_HOSTNAME:-}" ]]; then
  echo "$KVLOG_HOSTNAME" > /proc/sys/kernel/hostname
fi
unset KVLOG_BINDS KVLOG_PIDFILE KVLOG_HOSTNAME
if [[ -n "${KVLOG_NETNS:-}" ]]; then
  ns=$KVLOG_NETNS; unset KVLOG_NETNS
  exec nsenter --net="/run/netns/$ns" -- "$@"
fi
unset KVLOG_NETNS
exec "$@"

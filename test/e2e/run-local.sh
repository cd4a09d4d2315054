#!/usr/bin/env bash
# Build the upstream binaries (cached), bring the local cluster up, run the
# end-to-end suite against it, and always tear the cluster down. Arguments go to vitest.
# KVLOG_E2E_K8S_VERSION picks the Kubernetes version (default: cluster/versions.env).
#
# One cluster per machine (fixed netns, bridge and ports): the whole run (up, suite, down)
# holds an exclusive lock on KVLOG_E2E_LOCK (/tmp/kvlog-e2e.lock), as does the matrix
# (matrix.sh); run anything by hand against the cluster under
# `flock /tmp/kvlog-e2e.lock -c '...'`. The build runs before the lock is taken.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
LOCK=${KVLOG_E2E_LOCK:-/tmp/kvlog-e2e.lock}

if [[ ${KVLOG_E2E_LOCKED:-} != "$LOCK" ]]; then
  # Build first (cached; a cold build takes minutes and needs no cluster), then re-run this
  # script under the lock. flock -o: the lock is held by flock itself, not inherited by the
  # cluster's processes.
  t0=$SECONDS
  bash test/e2e/cluster/build/build.sh
  echo "e2e: binaries built in $((SECONDS - t0))s"
  if ! flock -n -o "$LOCK" true; then
    echo "e2e: another run holds $LOCK (a cluster is in use); waiting for it"
  fi
  KVLOG_E2E_LOCKED=$LOCK exec flock -o "$LOCK" bash "$0" "$@"
fi

t0=$SECONDS
bash test/e2e/cluster/up.sh
echo "e2e: cluster up in $((SECONDS - t0))s"
trap 'bash "$root/test/e2e/cluster/down.sh"' EXIT

t1=$SECONDS
npm run test:e2e -- "$@"
echo "e2e: suite in $((SECONDS - t1))s"

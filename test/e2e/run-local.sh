#!/usr/bin/env bash
# Build the upstream binaries (cached), bring the local cluster up, run the
# end-to-end suite against it, and always tear the cluster down. Arguments go to vitest.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"

t0=$SECONDS
bash test/e2e/cluster/up.sh
echo "e2e: cluster up in $((SECONDS - t0))s"
trap 'bash "$root/test/e2e/cluster/down.sh"' EXIT

t1=$SECONDS
npm run test:e2e -- "$@"
echo "e2e: suite in $((SECONDS - t1))s"

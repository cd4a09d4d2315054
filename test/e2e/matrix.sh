#!/usr/bin/env bash
# npm run test:e2e:matrix [-- VERSION...]: the whole e2e suite on every Kubernetes minor.
#
# For each version (default: K8S_MATRIX in cluster/k8s-versions.sh, oldest first): build the
# binaries (cached; `nice`, and WITHOUT the cluster lock), then, holding the cluster lock
# (KVLOG_E2E_LOCK, /tmp/kvlog-e2e.lock: one cluster per machine), cluster up, the suite with
# vitest's JSON reporter, cluster down. Then ONE table: test x version -> pass / FAIL / n/a,
# with the reason for each n/a and the first line of each failure (matrix-table.ts).
#
# Results: $KVLOG_E2E_MATRIX_DIR (~/.cache/kvlog-e2e/matrix)/<date>/<version>/{build,up,suite,down}.log,
# e2e.json, times.json; table.md beside them. Exit 0 when every version not in
# K8S_MATRIX_ALLOWED_FAILURE built, came up and passed. Root (as up.sh).
# Env: KVLOG_E2E_NICE (10), KVLOG_E2E_LOCK, KVLOG_E2E_MATRIX_DIR.
set -uo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
export PATH="$root/node_modules/.bin:$PATH"   # vitest, tsc (as under npm run)
# shellcheck source=cluster/k8s-versions.sh
. test/e2e/cluster/k8s-versions.sh
LOCK=${KVLOG_E2E_LOCK:-/tmp/kvlog-e2e.lock}
NICE=${KVLOG_E2E_NICE:-10}
versions=("$@")
[[ ${#versions[@]} -gt 0 ]] || versions=("${K8S_MATRIX[@]}")
out=${KVLOG_E2E_MATRIX_DIR:-${KVLOG_E2E_CACHE:-$HOME/.cache/kvlog-e2e}/matrix}/$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p "$out"
echo "matrix: ${versions[*]} -> $out"

npm run build --silent || { echo "matrix: npm run build failed" >&2; exit 1; }

for v in "${versions[@]}"; do
  d=$out/$v
  mkdir -p "$d"
  t0=$SECONDS
  KVLOG_E2E_K8S_VERSION=$v nice -n "$NICE" bash test/e2e/cluster/build/build.sh > "$d/build.log" 2>&1
  build_rc=$?
  build_s=$((SECONDS - t0))
  echo "matrix: $v build rc=$build_rc ${build_s}s ($(grep -c '(cached)' "$d/build.log") of 8 cached)"
  up_rc="" suite_rc="" up_s="" suite_s="" down_s="" wait_s=""
  if [[ $build_rc == 0 ]]; then
    t0=$SECONDS
    # Under the lock: up, suite, down. flock -o: the cluster's processes do not inherit it.
    # shellcheck disable=SC2016
    KVLOG_E2E_K8S_VERSION=$v MATRIX_OUT="$d" MATRIX_ASKED=$(date +%s) KVLOG_E2E_SKIP_BUILD=1 flock -o "$LOCK" bash -c '
      echo "wait $(( $(date +%s) - MATRIX_ASKED ))" > "$MATRIX_OUT/lock.txt"
      t=$SECONDS; bash test/e2e/cluster/up.sh > "$MATRIX_OUT/up.log" 2>&1; up=$?; echo "up $up $((SECONDS - t))" >> "$MATRIX_OUT/lock.txt"
      if [[ $up == 0 ]]; then
        t=$SECONDS
        bin/with-node vitest run --config vitest.e2e.config.ts --reporter=default --reporter=json \
          --outputFile.json="$MATRIX_OUT/e2e.json" > "$MATRIX_OUT/suite.log" 2>&1
        echo "suite $? $((SECONDS - t))" >> "$MATRIX_OUT/lock.txt"
      fi
      t=$SECONDS; bash test/e2e/cluster/down.sh > "$MATRIX_OUT/down.log" 2>&1; echo "down $? $((SECONDS - t))" >> "$MATRIX_OUT/lock.txt"
    '
    wait_s=$(( SECONDS - t0 ))
    read -r _ up_rc up_s < <(grep '^up ' "$d/lock.txt" || echo "up null null")
    read -r _ suite_rc suite_s < <(grep '^suite ' "$d/lock.txt" || echo "suite null null")
    read -r _ _ down_s < <(grep '^down ' "$d/lock.txt" || echo "down null null")
    echo "matrix: $v up rc=$up_rc ${up_s}s, suite rc=$suite_rc ${suite_s}s, down ${down_s}s (with the wait for the lock: ${wait_s}s)"
  fi
  allowed=false
  for a in "${K8S_MATRIX_ALLOWED_FAILURE[@]}"; do [[ $a == "$v" ]] && allowed=true; done
  cat > "$d/times.json" <<JSON
{"version": "$v", "allowedFailure": $allowed, "build": {"rc": $build_rc, "seconds": $build_s, "cached": $(grep -c '(cached)' "$d/build.log")},
 "up": {"rc": ${up_rc:-null}, "seconds": ${up_s:-null}}, "suite": {"rc": ${suite_rc:-null}, "seconds": ${suite_s:-null}},
 "down": {"seconds": ${down_s:-null}}}
JSON
done

bin/with-node node test/e2e/matrix-table.ts "$out" "${versions[@]}"

#!/usr/bin/env bash
# Builds the real upstream binaries for the kvlog local end-to-end cluster, plus
# etcd and the fake CRI runtime, from the Go module proxy, and caches them
# outside the work tree:
#
#   ${KVLOG_E2E_CACHE:-$HOME/.cache/kvlog-e2e}/k8s-${K8S_VERSION}/bin/
#       kube-apiserver kube-scheduler kube-controller-manager kube-proxy kubelet fakecri kubectl
#   ${KVLOG_E2E_CACHE:-$HOME/.cache/kvlog-e2e}/etcd-${ETCD_VERSION}/bin/etcd
#
# Usage:
#   test/e2e/cluster/build/build.sh                 build (or reuse) every binary
#   test/e2e/cluster/build/build.sh kubelet fakecri build (or reuse) only these
#   test/e2e/cluster/build/build.sh --force ...     rebuild even when the stamp matches
#   test/e2e/cluster/build/build.sh --print-env     print K8S_BIN=... ETCD_BIN=... and exit
#
# Needs only Go (>= the go line of the wrapper modules) and the module proxy.
# A binary is skipped when it exists and its stamp (a hash of versions.env, the
# wrapper go.mod/go.sum, the build recipe, the Go version and, for fakecri, its
# source) matches, so a warm run runs no go command but `go env` and ends in
# about a second. Each binary is written under a temporary name and renamed into
# place, so a poller never sees a half-written file. Binaries are built in the
# order etcd, kube-apiserver, fakecri, kubelet, kube-scheduler,
# kube-controller-manager, kube-proxy, kubectl and each is in place as soon as
# it is built.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CLUSTER_DIR=$(dirname "$HERE")
# shellcheck source=../versions.env
. "$CLUSTER_DIR/versions.env"
: "${K8S_VERSION:?versions.env must set K8S_VERSION}"
: "${K8S_STAGING_VERSION:?versions.env must set K8S_STAGING_VERSION}"
: "${ETCD_VERSION:?versions.env must set ETCD_VERSION}"

CACHE=${KVLOG_E2E_CACHE:-$HOME/.cache/kvlog-e2e}
K8S_BIN=$CACHE/k8s-$K8S_VERSION/bin
ETCD_BIN=$CACHE/etcd-$ETCD_VERSION/bin
K8S_MOD=$HERE/k8s
ETCD_MOD=$HERE/etcd

ALL=(etcd kube-apiserver fakecri kubelet kube-scheduler kube-controller-manager kube-proxy kubectl)

force=0
want=()
for arg in "$@"; do
  case "$arg" in
    --force) force=1 ;;
    --print-env) printf 'K8S_BIN=%s\nETCD_BIN=%s\n' "$K8S_BIN" "$ETCD_BIN"; exit 0 ;;
    -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "${BASH_SOURCE[0]}"; exit 0 ;;
    -*) echo "build.sh: unknown flag $arg" >&2; exit 2 ;;
    *)
      ok=0; for b in "${ALL[@]}"; do [[ "$b" == "$arg" ]] && ok=1; done
      [[ $ok == 1 ]] || { echo "build.sh: unknown binary $arg (known: ${ALL[*]})" >&2; exit 2; }
      want+=("$arg") ;;
  esac
done
[[ ${#want[@]} -gt 0 ]] || want=("${ALL[@]}")

command -v go >/dev/null || { echo "build.sh: go not found in PATH" >&2; exit 1; }

# The pins in versions.env and the wrapper go.mod files must agree.
grep -Eq "^(require)?[[:space:]]*k8s\.io/kubernetes $K8S_VERSION( |\$)" "$K8S_MOD/go.mod" ||
  { echo "build.sh: $K8S_MOD/go.mod does not require k8s.io/kubernetes $K8S_VERSION" >&2; exit 1; }
if grep -E '=> k8s\.io/[a-z-]+ v' "$K8S_MOD/go.mod" | grep -vq " $K8S_STAGING_VERSION\$"; then
  echo "build.sh: a staging replace in $K8S_MOD/go.mod is not at $K8S_STAGING_VERSION" >&2; exit 1
fi
grep -Eq "^(require)?[[:space:]]*go\.etcd\.io/etcd/server/v3 $ETCD_VERSION( |\$)" "$ETCD_MOD/go.mod" ||
  { echo "build.sh: $ETCD_MOD/go.mod does not require go.etcd.io/etcd/server/v3 $ETCD_VERSION" >&2; exit 1; }

# Build environment, as upstream builds its release binaries (hack/lib/golang.sh:
# CGO_ENABLED=0 for these, -trimpath, -s -w, tags selinux,notest,grpcnotrace).
export CGO_ENABLED=0
export GOTOOLCHAIN=local   # never download another toolchain
export GOFLAGS="-mod=readonly -buildvcs=false"
TAGS=selinux,notest,grpcnotrace
GOVERSION=$(go env GOVERSION)
RECIPE="v1 CGO_ENABLED=0 -trimpath -tags $TAGS -ldflags -s -w +version $GOVERSION $(go env GOOS)/$(go env GOARCH)"

mkdir -p "$K8S_BIN" "$ETCD_BIN"

# One build at a time per cache (the cluster scripts may call this too).
exec 9>"$CACHE/.build.lock"
if ! flock -n 9; then
  echo "build.sh: another build holds $CACHE/.build.lock; waiting" >&2
  flock 9
fi

hash_files() { cat "$@" | sha256sum | cut -d' ' -f1; }

stamp_for() {
  local name=$1
  case "$name" in
    etcd)
      { echo "$RECIPE"; hash_files "$CLUSTER_DIR/versions.env" "$ETCD_MOD/go.mod" "$ETCD_MOD/go.sum"; } | sha256sum | cut -d' ' -f1 ;;
    fakecri)
      { echo "$RECIPE"; hash_files "$CLUSTER_DIR/versions.env" "$K8S_MOD/go.mod" "$K8S_MOD/go.sum";
        (cd "$K8S_MOD" && find cmd/fakecri -type f -name '*.go' | LC_ALL=C sort | xargs sha256sum); } | sha256sum | cut -d' ' -f1 ;;
    *)
      { echo "$RECIPE"; hash_files "$CLUSTER_DIR/versions.env" "$K8S_MOD/go.mod" "$K8S_MOD/go.sum"; } | sha256sum | cut -d' ' -f1 ;;
  esac
}

k8s_ldflags=""
k8s_version_ldflags() {
  [[ -n "$k8s_ldflags" ]] && return 0
  # Same -X flags as upstream's hack/lib/version.sh; the build date is the
  # release's module time, so the result does not depend on when it was built.
  local date major minor
  date=$(cd "$K8S_MOD" && go list -m -f '{{.Time.UTC.Format "2006-01-02T15:04:05Z"}}' k8s.io/kubernetes)
  major=${K8S_VERSION#v}; major=${major%%.*}
  minor=${K8S_VERSION#v*.}; minor=${minor%%.*}
  local kv pkg
  k8s_ldflags="-s -w"
  for pkg in k8s.io/client-go/pkg/version k8s.io/component-base/version; do
    for kv in "gitVersion=$K8S_VERSION" "gitMajor=$major" "gitMinor=$minor" \
              "gitTreeState=clean" "buildDate=$date"; do
      k8s_ldflags+=" -X $pkg.$kv"
    done
  done
}

build_one() {
  local name=$1 dir pkg out ldflags
  case "$name" in
    etcd) dir=$ETCD_MOD; pkg=go.etcd.io/etcd/server/v3; out=$ETCD_BIN/etcd; ldflags="-s -w" ;;
    fakecri) dir=$K8S_MOD; pkg=./cmd/fakecri; out=$K8S_BIN/fakecri; k8s_version_ldflags; ldflags=$k8s_ldflags ;;
    *) dir=$K8S_MOD; pkg=k8s.io/kubernetes/cmd/$name; out=$K8S_BIN/$name; k8s_version_ldflags; ldflags=$k8s_ldflags ;;
  esac
  local stampfile stamp start
  stampfile=$(dirname "$out")/.$name.stamp
  stamp=$(stamp_for "$name")
  start=$(date +%s)
  if [[ $force == 0 && -x "$out" && -f "$stampfile" && "$(cat "$stampfile")" == "$stamp" ]]; then
    echo "build: $name $(( $(date +%s) - start ))s (cached)"
    return 0
  fi
  local tmp
  tmp=$(dirname "$out")/.$name.tmp.$$
  rm -f "$stampfile"
  if ! (cd "$dir" && go build -trimpath -tags "$TAGS" -ldflags "$ldflags" -o "$tmp" "$pkg"); then
    rm -f "$tmp"
    echo "build: $name FAILED after $(( $(date +%s) - start ))s" >&2
    return 1
  fi
  mv -f "$tmp" "$out"
  echo "$stamp" > "$stampfile"
  echo "build: $name $(( $(date +%s) - start ))s"
}

total_start=$(date +%s)
for name in "${ALL[@]}"; do
  for w in "${want[@]}"; do
    [[ "$w" == "$name" ]] && build_one "$name"
  done
done
echo "build: total $(( $(date +%s) - total_start ))s"

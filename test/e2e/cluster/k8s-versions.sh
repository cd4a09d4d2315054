# Every way the local e2e cluster and its build differ by Kubernetes version: the ONE place.
# Sourced (not run) by build/build.sh, up.sh and the matrix; `k8s_profile VERSION` sets the
# variables below for that release. Nothing else in the harness compares version numbers.
# shellcheck shell=bash

# The versions the matrix runs (`npm run test:e2e:matrix`): the newest patch the Go module
# proxy serves of each minor, oldest first. K8S_MATRIX_ALLOWED_FAILURE may fail without
# failing the matrix (a pre-release).
K8S_MATRIX=(v1.30.14 v1.31.14 v1.32.13 v1.33.13 v1.34.4 v1.35.4 v1.36.3 v1.37.2 v1.38.0-beta.0)
K8S_MATRIX_ALLOWED_FAILURE=(v1.38.0-beta.0)
# v1.29.6 does not build whole here (build/README.md, "1.29"): left out of the matrix, but
# `KVLOG_E2E_K8S_VERSION=v1.29.6 build.sh kube-apiserver` still builds what can be built.
K8S_OLDEST_SUPPORTED=v1.30.14

# k8s_profile VERSION: sets
#   K8S_VERSION, K8S_MINOR (e.g. 33), K8S_STAGING_VERSION (v1.33.13 -> v0.33.13)
#   K8S_GOTOOLCHAIN        GOTOOLCHAIN for the build: "local" (the machine's Go) or goX.Y.Z,
#                          which the go command fetches from the module proxy
#   K8S_EXTRA_TAGS         build tags added to upstream's selinux,notest,grpcnotrace
#   K8S_EXTRA_REPLACE      extra "module=module@version" replaces for the wrapper module (a
#                          staging module the proxy does not serve at the release's version)
#   K8S_SKIP_REPLACE       staging modules left out of the generated replace block
#   K8S_TIDY_FLAGS         flags for `go mod tidy` of the generated module
#   FAKECRI_COMPAT         which fakecri compat file: where the CRI fake and the CRI streaming
#                          server live in that release (build/k8s/cmd/fakecri/compat_*.go)
#   FAKECRI_PROTO          gogo or v2: how k8s.io/cri-api's messages are generated (proto_*.go)
#   KUBE_PROXY_MODE        nftables (beta and on by default from 1.31, GA 1.33) or iptables
#   K8S_FEATURE_GATES      "Name=true,..." given to every component (flags or config featureGates)
#                          but the cloud-controller-manager (k8s.io/cloud-provider registers no kube gates)
#   KUBELET_FEATURE_GATES  "Name=true,..." given to the kubelets only (their config's featureGates)
#   SCHEDULER_PROBES       "LIVENESS_PATH READINESS_PATH|-" of the scheduler's static pod
#   KUBELET_CONFIG_DROP    KubeletConfiguration fields the release does not know (dropped from
#                          manifests/kubelet-config.yaml: a release that does not know a field would stop on it or warn)
#   ETCD_VERSION_FOR_K8S   etcd to run with it (empty: versions.env's ETCD_VERSION)
k8s_profile() {
  local v=$1
  [[ $v =~ ^v1\.([0-9]+)\.([0-9]+)(-[0-9A-Za-z.]+)?$ ]] || { echo "k8s_profile: not a Kubernetes version: $v" >&2; return 1; }
  K8S_VERSION=$v
  K8S_MINOR=${BASH_REMATCH[1]}
  K8S_STAGING_VERSION=v0.${v#v1.}
  local m=$K8S_MINOR
  (( m >= 29 )) || { echo "k8s_profile: $v: the harness starts at 1.29" >&2; return 1; }

  # Go: 1.37 and later need Go 1.27 (the machine has 1.26).
  K8S_GOTOOLCHAIN=local
  (( m >= 37 )) && K8S_GOTOOLCHAIN=go1.27.3

  K8S_EXTRA_TAGS=""
  K8S_EXTRA_REPLACE=""
  # k8s.io/sample-cli-plugin: nothing requires it and the proxy does not serve it.
  K8S_SKIP_REPLACE="k8s.io/sample-cli-plugin"
  K8S_TIDY_FLAGS=""
  # staging_at MODULE VERSION: the proxy does not serve MODULE at K8S_STAGING_VERSION (403
  # "This module version is not available"); take VERSION, the newest patch of the same
  # minor that `go list -m -versions` lists (a patch release changes no API).
  staging_at() { K8S_SKIP_REPLACE+=" $1"; K8S_EXTRA_REPLACE+=" $1=$1@$2"; }
  if (( m == 31 )); then
    staging_at k8s.io/endpointslice v0.31.13
    staging_at k8s.io/kube-controller-manager v0.31.13
    staging_at k8s.io/kube-scheduler v0.31.13
    staging_at k8s.io/kube-proxy v0.31.11
  fi
  (( m == 32 )) && staging_at k8s.io/endpointslice v0.32.12
  if (( m == 29 )); then
    # Three staging modules are not served at v0.29.x (403 "This module version is not
    # available"): k8s.io/legacy-cloud-providers, k8s.io/endpointslice and
    # k8s.io/kube-controller-manager, each only from v0.30.4. Leave the in-tree cloud
    # providers out (upstream's providerless tag), take v0.30.4 of the three, and let
    # `go mod tidy -e` pass over the providers' packages that v0.30 no longer has (tidy looks
    # at every build tag). See build/README.md, "1.29".
    K8S_EXTRA_TAGS=providerless
    K8S_TIDY_FLAGS=-e
    staging_at k8s.io/legacy-cloud-providers v0.30.4
    staging_at k8s.io/endpointslice v0.30.4
    staging_at k8s.io/kube-controller-manager v0.30.4
  fi

  # fakecri: the CRI fake was k8s.io/kubernetes/pkg/kubelet/cri/remote/fake until 1.30, then
  # k8s.io/cri-client/pkg/fake; the CRI streaming server k8s.io/kubelet/pkg/cri/streaming
  # until 1.35, then k8s.io/cri-streaming (and CRI got StreamImages).
  if (( m <= 30 )); then FAKECRI_COMPAT=v1.29
  elif (( m <= 35 )); then FAKECRI_COMPAT=v1.31
  else FAKECRI_COMPAT=v1.36; fi
  # k8s.io/cri-api's messages were gogo/protobuf ones until 1.33.
  FAKECRI_PROTO=v2
  (( m <= 33 )) && FAKECRI_PROTO=gogo

  KUBE_PROXY_MODE=nftables
  (( m <= 30 )) && KUBE_PROXY_MODE=iptables

  # /flagz (KEP-4828): alpha from 1.32 (apiserver) / 1.33 (the others), on by default from
  # 1.36. Where it is alpha, turn it on so kvlog's /flagz reading meets each format.
  K8S_FEATURE_GATES=""
  (( m >= 32 && m <= 35 )) && K8S_FEATURE_GATES="ComponentFlagz=true"

  # The kubelet's node log query (/logs/?query=...; enableSystemLogQuery in its config): alpha
  # 1.27, beta off by default 1.30, GA and locked on in 1.36.
  KUBELET_FEATURE_GATES=""
  (( m <= 35 )) && KUBELET_FEATURE_GATES="NodeLogQuery=true"

  # The scheduler's static pod probes (as kubeadm writes them): /livez and /readyz from 1.31;
  # before, /healthz and no readiness probe ("-").
  SCHEDULER_PROBES="/livez /readyz"
  (( m <= 30 )) && SCHEDULER_PROBES="/healthz -"

  KUBELET_CONFIG_DROP=""
  (( m <= 30 )) && KUBELET_CONFIG_DROP+=" failCgroupV1"   # 1.31+
  (( m <= 29 )) && KUBELET_CONFIG_DROP+=" podLogsDir"     # 1.30+

  ETCD_VERSION_FOR_K8S=""
  return 0
}

# k8s_version_default: KVLOG_E2E_K8S_VERSION, else versions.env's K8S_VERSION.
k8s_version_default() {
  local here; here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
  if [[ -n ${KVLOG_E2E_K8S_VERSION:-} ]]; then echo "$KVLOG_E2E_K8S_VERSION"; return; fi
  ( . "$here/versions.env"; echo "$K8S_VERSION" )
}

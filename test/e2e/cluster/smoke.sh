#!/usr/bin/env bash
# smoke.sh: prove, without kvlog, that every link the e2e suite relies on works on the
# running local cluster (after up.sh). For each component it changes the level through
# the same path kvlog uses, proves the change by a line the component logs only at the
# new level, and sets it back to 1. Also checks the refusals (403, 401, kube-proxy 404).
# Prints "N passed, N failed"; exits non-zero on any failure.
#
# Markers (klog text format; a request carrying a unique nonce in its query string):
#   kube-apiserver, kube-scheduler, kube-controller-manager, cloud-controller-manager, kubelet: httplog.go "HTTP"
#     verb="GET" URI="/...?nonce=..."  -- logged at -v>=3 (k8s.io/apiserver httplog, V(3))
#   kube-proxy: pathrecorder.go: kube-proxy: "/healthz" satisfied by exact match -- -v>=5
set -uo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
[[ -f $D/env ]] || { echo "no cluster in $D: run up.sh first" >&2; exit 1; }
. "$D/env"
export KUBECACHEDIR=$D/kube-cache
KUBECTL=$K8S_BIN/kubectl
A=(--cacert "$PKI/ca.crt" --cert "$PKI/admin.crt" --key "$PKI/admin.key")
API=https://127.0.0.1:$APISERVER_PORT
TOK_ADMIN=$(cat "$D/tokens/admin.token"); TOK_KVLOG=$(cat "$D/tokens/kvlog.token"); TOK_NOBODY=$(cat "$D/tokens/nobody.token")
pass=0; fail=0; PF_PIDS=()
ok()   { pass=$((pass + 1)); echo "ok   $*"; }
bad()  { fail=$((fail + 1)); echo "FAIL $*"; }
check() { local what=$1; shift; if "$@"; then ok "$what"; else bad "$what"; fi; }
cleanup() { local p; for p in "${PF_PIDS[@]}"; do kill "$p" 2>/dev/null; done; }
trap cleanup EXIT

# port_forward LOCAL REMOTE NS POD: kubectl port-forward in the background, wait until it listens.
port_forward() {
  "$KUBECTL" --kubeconfig "$D/admin.kubeconfig" port-forward -n "$3" "pod/$4" "$1:$2" > "$LOGS/smoke-pf-$1.log" 2>&1 &
  PF_PIDS+=($!)
  local i; for i in $(seq 1 40); do grep -q Forwarding "$LOGS/smoke-pf-$1.log" && return 0; sleep 0.25; done
  echo "port-forward to $4:$2 did not start: $(cat "$LOGS/smoke-pf-$1.log")" >&2; return 1
}
# log_has FILE NEEDLE: wait up to 5 s for NEEDLE in FILE.
log_has() { local i; for i in $(seq 1 20); do grep -qF -- "$2" "$1" && return 0; sleep 0.25; done; return 1; }
log_lacks() { sleep 1.5; ! grep -qF -- "$2" "$1"; }
expect() { # expect WANT_BODY_PREFIX CURL_ARGS... : body starts with WANT
  local body; body=$(curl -sS "${@:2}" 2>&1); [[ $body == "$1"* ]] || { echo "  got: $body" >&2; return 1; }
}
code() { curl -sS -o /dev/null -w '%{http_code}' "$@"; }
SET_OK="successfully set klog.logging.verbosity to"

# set_and_prove NAME LOG SET_FN REQ_FN: SET_FN LEVEL prints the answer body, REQ_FN NONCE
# makes a request; at -v=1 its nonce must not be logged, at -v=3 it must.
set_and_prove() {
  local name=$1 log=$2 setfn=$3 reqfn=$4 n1="smoke$RANDOM$RANDOM" n3="smoke$RANDOM$RANDOM"
  $reqfn "$n1"; check "$name: no httplog line at -v=1" log_lacks "$log" "nonce=$n1"
  check "$name: set -v=3" body_is "$SET_OK 3" "$setfn" 3
  $reqfn "$n3"; check "$name: httplog line at -v=3" log_has "$log" "nonce=$n3\""
  check "$name: set back to -v=1" body_is "$SET_OK 1" "$setfn" 1
}
body_is() { local want=$1 got; shift; got=$("$@" 2>&1); [[ $got == "$want"* ]] || { echo "  got: $got" >&2; return 1; }; }

# kube-apiserver replicas (cluster.json .apiservers): each at its own address, verified against
# the cluster CA (its serving cert must carry that IP), admin client cert. Not through the load
# balancer: that sends each new connection to the next replica, so a set and the request that
# proves it would land on different replicas.
mapfile -t REPLICAS < <(jq -r '.apiservers[]? | "\(.ip) \(.port) \(.log)"' "$D/cluster.json")
[[ ${#REPLICAS[@]} -gt 0 ]] || REPLICAS=("${APISERVER_IPS[0]} $APISERVER_PORT $LOGS/kube-apiserver.log")
REPLICA_IPS=()
for r in "${REPLICAS[@]}"; do
  read -r ip port log <<<"$r"; REPLICA_IPS+=("$ip")
  check "kube-apiserver $ip: /readyz at its own address" expect ok "${A[@]}" "https://$ip:$port/readyz"
done
want_eps=$(printf '%s\n' "${REPLICA_IPS[@]}" | sort | tr '\n' ' ')
got_eps=$("$KUBECTL" --kubeconfig "$D/admin.kubeconfig" get endpoints kubernetes -n default -o json 2>/dev/null |
  jq -r '[.subsets[]? | select(any(.ports[]; .port == '"$APISERVER_PORT"')) | .addresses[].ip] | sort | join(" ")')
check "default/kubernetes Endpoints list every replica (${#REPLICAS[@]}) at port $APISERVER_PORT" test "$got_eps " = "$want_eps"
check "one apiserver identity Lease per replica" test "$("$KUBECTL" --kubeconfig "$D/admin.kubeconfig" get leases -n kube-system \
  -l apiserver.kubernetes.io/identity=kube-apiserver -o name | wc -l)" -eq "${#REPLICAS[@]}"
for r in "${REPLICAS[@]}"; do
  read -r ip port log <<<"$r"
  API_R=https://$ip:$port
  api_set() { curl -sS "${A[@]}" -X PUT --data-binary "$1" "$API_R/debug/flags/v"; }
  api_req() { curl -sS "${A[@]}" "$API_R/version?nonce=$1" >/dev/null; }
  set_and_prove "kube-apiserver $ip" "$log" api_set api_req
done
# The load balancer: with every replica at -v=3, 2 requests per replica through it (one
# connection each); each replica's log must show at least one of them (round robin).
if [[ ${#REPLICAS[@]} -gt 1 ]]; then
  for r in "${REPLICAS[@]}"; do read -r ip port log <<<"$r"; curl -sS "${A[@]}" -X PUT --data-binary 3 "https://$ip:$port/debug/flags/v" >/dev/null; done
  nonces=(); for (( i = 0; i < 2 * ${#REPLICAS[@]}; i++ )); do
    nonces+=("lb$RANDOM$RANDOM"); curl -sS "${A[@]}" "$API/version?nonce=${nonces[-1]}" >/dev/null
  done
  sleep 0.5
  for r in "${REPLICAS[@]}"; do
    read -r ip port log <<<"$r"
    check "load balancer $API reaches replica $ip" grep -qE "nonce=($(IFS='|'; echo "${nonces[*]}"))\"" "$log"
  done
  for r in "${REPLICAS[@]}"; do read -r ip port log <<<"$r"; curl -sS "${A[@]}" -X PUT --data-binary 1 "https://$ip:$port/debug/flags/v" >/dev/null; done
fi

# kubelets: through the apiserver's node proxy.
kl_set() { curl -sS "${A[@]}" -X PUT --data-binary "$1" "$API/api/v1/nodes/$KL_NODE/proxy/debug/flags/v"; }
kl_req() { curl -sS "${A[@]}" "$API/api/v1/nodes/$KL_NODE/proxy/healthz?nonce=$1" >/dev/null; }
for KL_NODE in "${NODES[@]}"; do
  set_and_prove "kubelet $KL_NODE" "$LOGS/kubelet-$KL_NODE.log" kl_set kl_req
done
check "kubelet: nobody gets 403 through the node proxy" \
  test "$(code --cacert "$PKI/ca.crt" -H "Authorization: Bearer $TOK_NOBODY" -X PUT --data-binary 1 "$API/api/v1/nodes/${NODES[1]}/proxy/debug/flags/v")" = 403
check "kubelet: kvlog SA sets the level through the node proxy" \
  expect "$SET_OK 1" --cacert "$PKI/ca.crt" -H "Authorization: Bearer $TOK_KVLOG" -X PUT --data-binary 1 "$API/api/v1/nodes/${NODES[1]}/proxy/debug/flags/v"

# kubelet directly at NODE-IP:10250 (real TLS from the cluster CA, webhook authn/authz).
KIP=${NODE_IP[${NODES[1]}]}
check "kubelet direct: kvlog SA token 200" \
  expect "$SET_OK 1" --cacert "$PKI/ca.crt" -H "Authorization: Bearer $TOK_KVLOG" -X PUT --data-binary 1 "https://$KIP:10250/debug/flags/v"
check "kubelet direct: nobody 403" \
  test "$(code --cacert "$PKI/ca.crt" -H "Authorization: Bearer $TOK_NOBODY" -X PUT --data-binary 1 "https://$KIP:10250/debug/flags/v")" = 403
check "kubelet direct: wrong token 401" \
  test "$(code --cacert "$PKI/ca.crt" -H "Authorization: Bearer not-a-token" -X PUT --data-binary 1 "https://$KIP:10250/debug/flags/v")" = 401

# scheduler, controller-manager and cloud-controller-manager: port-forward to the mirror pod, bearer token (TokenReview + SAR).
for c in kube-scheduler:10259:21259 kube-controller-manager:10257:21257 cloud-controller-manager:10258:21258; do
  IFS=: read -r comp port lport <<<"$c"
  if ! port_forward "$lport" "$port" kube-system "$comp-$CONTROL_PLANE_NODE"; then bad "$comp: port-forward"; continue; fi
  PF_URL=https://127.0.0.1:$lport
  cp_set() { curl -sSk -H "Authorization: Bearer $TOK_ADMIN" -X PUT --data-binary "$1" "$PF_URL/debug/flags/v"; }
  cp_req() { curl -sSk -H "Authorization: Bearer $TOK_ADMIN" "$PF_URL/healthz?nonce=$1" >/dev/null; }
  set_and_prove "$comp (admin token via TokenReview)" "$LOGS/$comp.log" cp_set cp_req
  check "$comp: kvlog SA sets -v=1 (RBAC from README)" expect "$SET_OK 1" -k -H "Authorization: Bearer $TOK_KVLOG" -X PUT --data-binary 1 "$PF_URL/debug/flags/v"
  check "$comp: nobody gets 403" test "$(code -k -H "Authorization: Bearer $TOK_NOBODY" -X PUT --data-binary 1 "$PF_URL/debug/flags/v")" = 403
  check "$comp: wrong token gets 401" test "$(code -k -H "Authorization: Bearer not-a-token" -X PUT --data-binary 1 "$PF_URL/debug/flags/v")" = 401
  check "$comp: admin client cert (system:masters)" expect "$SET_OK 1" -k --cert "$PKI/admin.crt" --key "$PKI/admin.key" -X PUT --data-binary 1 "$PF_URL/debug/flags/v"
done

# kube-proxy: port-forward to the DaemonSet pod of each node, plain http on 127.0.0.1:10249.
lport=21249
for n in "${NODES[@]}"; do
  pod=$("$KUBECTL" --kubeconfig "$D/admin.kubeconfig" get pods -n kube-system -l k8s-app=kube-proxy \
        --field-selector "spec.nodeName=$n" -o jsonpath='{.items[0].metadata.name}')
  lport=$((lport + 1))
  if ! port_forward "$lport" 10249 kube-system "$pod"; then bad "kube-proxy $n: port-forward"; continue; fi
  url=http://127.0.0.1:$lport
  if [[ $n == "$CONTROL_PLANE_NODE" ]]; then
    log=$LOGS/kube-proxy-$n.log; before=$(grep -c '"/healthz" satisfied' "$log")
    curl -sS "$url/healthz" >/dev/null
    sleep 1; check "kube-proxy $n: no pathrecorder line at -v=1" test "$(grep -c '"/healthz" satisfied' "$log")" -eq "$before"
    check "kube-proxy $n: set -v=5 (profiling on)" expect "$SET_OK 5" -X PUT --data-binary 5 "$url/debug/flags/v"
    curl -sS "$url/healthz" >/dev/null
    sleep 1; check "kube-proxy $n: pathrecorder line at -v=5" test "$(grep -c '"/healthz" satisfied' "$log")" -gt "$before"
    check "kube-proxy $n: set back to -v=1" expect "$SET_OK 1" -X PUT --data-binary 1 "$url/debug/flags/v"
  else
    check "kube-proxy $n: profiling off answers 404" test "$(code -X PUT --data-binary 1 "$url/debug/flags/v")" = 404
    check "kube-proxy $n: the tunnel itself works (healthz 200)" test "$(code "$url/healthz")" = 200
  fi
done

echo "smoke: $pass passed, $fail failed"
[[ $fail == 0 ]]

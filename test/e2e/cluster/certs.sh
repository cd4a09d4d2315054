# PKI for the local cluster, made with openssl (sourced by up.sh).
# shellcheck shell=bash
#
# Layout under $PKI, as kubeadm names them where kubeadm has an equivalent:
#   ca.{crt,key}                     cluster CA: client certs, apiserver and kubelet serving certs
#   front-proxy-ca.{crt,key}         request-header CA; front-proxy-client.{crt,key}
#   sa.{key,pub}                     service-account token signing key (RSA 2048)
#   apiserver.{crt,key}              one serving cert for every replica: SANs 127.0.0.1 (the load
#                                    balancer), every replica's address (${APISERVER_IPS[*]}),
#                                    $SERVICE_IP, localhost, kubernetes.default...
#   apiserver-kubelet-client.*       CN kube-apiserver-kubelet-client, O system:masters
#   admin.*                          CN kubernetes-admin, O system:masters
#   kube-scheduler.*                 CN system:kube-scheduler
#   kube-controller-manager.*        CN system:kube-controller-manager
#   cloud-controller-manager.*       CN system:cloud-controller-manager
#   kube-proxy.*                     CN system:kube-proxy (bound to system:node-proxier by default)
#   kubelet-NODE.*                   client: CN system:node:NODE, O system:nodes
#   kubelet-NODE-serving.*           server: SAN IP NODE_IP, DNS NODE
#
# Keys are ECDSA P-256 (kubeadm's encryptionAlgorithm: ECDSA-P256) unless
# KVLOG_E2E_KEY_ALG=rsa; the service-account key is RSA (RS256 tokens, as most clusters).

KEY_ALG=${KVLOG_E2E_KEY_ALG:-ecdsa}
CERT_DAYS=365

genkey() {
  if [[ $KEY_ALG == rsa ]]; then
    openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$1" 2>/dev/null
  else
    openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null
  fi
  chmod 600 "$1"
}

mkca() { # mkca NAME CN
  genkey "$PKI/$1.key"
  openssl req -x509 -new -key "$PKI/$1.key" -subj "/CN=$2" -days 3650 -sha256 \
    -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,digitalSignature,keyEncipherment,keyCertSign" \
    -out "$PKI/$1.crt" 2>/dev/null
}

# mkcert NAME CA SUBJECT KIND [SANS]: KIND is server, client or both.
mkcert() {
  local name=$1 ca=$2 subj=$3 kind=$4 sans=${5:-} eku ext
  case $kind in
    server) eku=serverAuth ;; client) eku=clientAuth ;; both) eku=serverAuth,clientAuth ;;
  esac
  genkey "$PKI/$name.key"
  ext=$(mktemp)
  {
    echo "basicConstraints=critical,CA:FALSE"
    echo "keyUsage=critical,digitalSignature,keyEncipherment"
    echo "extendedKeyUsage=$eku"
    echo "authorityKeyIdentifier=keyid"
    [[ -n $sans ]] && echo "subjectAltName=$sans"
  } > "$ext"
  openssl req -new -key "$PKI/$name.key" -subj "$subj" 2>/dev/null |
    openssl x509 -req -CA "$PKI/$ca.crt" -CAkey "$PKI/$ca.key" -set_serial "0x$(openssl rand -hex 16)" \
      -days "$CERT_DAYS" -sha256 -extfile "$ext" -out "$PKI/$name.crt" 2>/dev/null
  rm -f "$ext"
  [[ -s $PKI/$name.crt ]] || die "openssl could not make $PKI/$name.crt"
}

make_pki() {
  mkdir -p "$PKI"; chmod 700 "$PKI"
  mkca ca kubernetes &
  mkca front-proxy-ca front-proxy-ca &
  { openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$PKI/sa.key" 2>/dev/null &&
    openssl pkey -in "$PKI/sa.key" -pubout -out "$PKI/sa.pub" 2>/dev/null; } &
  wait
  # Leaf certs in parallel (2 cores), random serials (no shared .srl file to race on).
  local n ip api_sans="IP:127.0.0.1"
  for ip in "${APISERVER_IPS[@]}"; do api_sans+=",IP:$ip"; done
  mkcert apiserver ca "/CN=kube-apiserver" server \
    "$api_sans,IP:$SERVICE_IP,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local" &
  mkcert apiserver-kubelet-client ca "/O=system:masters/CN=kube-apiserver-kubelet-client" client &
  mkcert front-proxy-client front-proxy-ca "/CN=front-proxy-client" client &
  mkcert admin ca "/O=system:masters/CN=kubernetes-admin" client &
  mkcert kube-scheduler ca "/CN=system:kube-scheduler" client &
  mkcert kube-controller-manager ca "/CN=system:kube-controller-manager" client &
  mkcert cloud-controller-manager ca "/CN=system:cloud-controller-manager" client &
  mkcert kube-proxy ca "/CN=system:kube-proxy" client &
  for n in "${NODES[@]}"; do
    mkcert "kubelet-$n" ca "/O=system:nodes/CN=system:node:$n" client &
    mkcert "kubelet-$n-serving" ca "/CN=$n" server "IP:${NODE_IP[$n]},DNS:$n" &
  done
  wait
  for n in ca.crt front-proxy-ca.crt sa.key sa.pub apiserver.crt apiserver-kubelet-client.crt front-proxy-client.crt \
           admin.crt kube-scheduler.crt kube-controller-manager.crt cloud-controller-manager.crt kube-proxy.crt; do
    [[ -s $PKI/$n ]] || die "openssl could not make $PKI/$n"
  done
  for n in "${NODES[@]}"; do
    [[ -s $PKI/kubelet-$n.crt && -s $PKI/kubelet-$n-serving.crt ]] || die "openssl could not make the certs of $n"
  done
}

# write_kubeconfig FILE SERVER USER (--cert NAME | --token TOKEN)
write_kubeconfig() {
  local file=$1 server=$2 user=$3 how=$4 what=$5 cred
  if [[ $how == --cert ]]; then
    cred="    client-certificate-data: $(base64 -w0 < "$PKI/$what.crt")
    client-key-data: $(base64 -w0 < "$PKI/$what.key")"
  else
    cred="    token: $what"
  fi
  umask 077
  cat > "$file" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: kvlog-e2e
  cluster:
    server: $server
    certificate-authority-data: $(base64 -w0 < "$PKI/ca.crt")
users:
- name: $user
  user:
$cred
contexts:
- name: $user@kvlog-e2e
  context:
    cluster: kvlog-e2e
    user: $user
current-context: $user@kvlog-e2e
EOF
  umask 022
}

#!/usr/bin/env bash
# proxies.sh start|stop: real proxies from Debian's packages in front of the local e2e cluster,
# for test/e2e/access.e2e.test.ts:
#   tinyproxy  HTTP CONNECT, 127.0.0.1:18888, Basic auth kvlog:$PASS (ConnectPort 6443 and 443)
#   danted     SOCKS5, 127.0.0.1:11080, no auth, connects out from the host (the cluster's bridge)
# State, configs and logs in ${KVLOG_E2E_DIR:-/tmp/kvlog-e2e}/proxies. Installs the packages
# when missing (root). `start` prints the two proxy URLs as JSON.
set -euo pipefail
D=${KVLOG_E2E_DIR:-/tmp/kvlog-e2e}/proxies
PASS=${KVLOG_E2E_PROXY_PASS:-kvlog-proxy-pass-0123}

stop() {
  for p in tinyproxy danted; do
    if [[ -f $D/$p.pid ]]; then kill "$(cat "$D/$p.pid")" 2>/dev/null || true; rm -f "$D/$p.pid"; fi
  done
  pkill -f "tinyproxy -d -c $D/" 2>/dev/null || true
  pkill -f "danted -f $D/" 2>/dev/null || true
}

case ${1:-} in
  stop) stop; exit 0 ;;
  start) ;;
  *) echo "usage: proxies.sh start|stop" >&2; exit 2 ;;
esac

need=()
command -v tinyproxy >/dev/null || need+=(tinyproxy)
command -v danted >/dev/null || need+=(dante-server)
if [[ ${#need[@]} -gt 0 ]]; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null 2>&1 ||
    { DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null 2>&1 &&
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null; }
fi
stop
mkdir -p "$D"
chmod 0777 "$D" # tinyproxy drops to nobody and writes its log here

cat > "$D/tinyproxy.conf" <<CONF
User nobody
Group nogroup
Port 18888
Listen 127.0.0.1
Timeout 3600
LogFile "$D/tinyproxy.log"
LogLevel Connect
MaxClients 200
Allow 127.0.0.1
BasicAuth kvlog $PASS
ConnectPort 6443
ConnectPort 443
CONF
: > "$D/tinyproxy.log"; chmod 0666 "$D/tinyproxy.log"
setsid tinyproxy -d -c "$D/tinyproxy.conf" > "$D/tinyproxy.out" 2>&1 < /dev/null &
echo $! > "$D/tinyproxy.pid"

cat > "$D/danted.conf" <<CONF
logoutput: $D/danted.log
internal: 127.0.0.1 port = 11080
external: kvlog-br0
socksmethod: none
clientmethod: none
user.privileged: root
user.unprivileged: nobody
client pass {
  from: 127.0.0.0/8 to: 0.0.0.0/0
  log: error
}
socks pass {
  from: 127.0.0.0/8 to: 0.0.0.0/0
  command: connect
  log: connect error
}
CONF
setsid danted -f "$D/danted.conf" -p "$D/danted.pid" > "$D/danted.out" 2>&1 < /dev/null &

for _ in $(seq 1 50); do
  if ss -Hltn 'sport = :18888' | grep -q . && ss -Hltn 'sport = :11080' | grep -q .; then
    printf '{"http":"http://kvlog:%s@127.0.0.1:18888","socks5":"socks5://127.0.0.1:11080","httpLog":"%s","socksLog":"%s"}\n' \
      "$PASS" "$D/tinyproxy.log" "$D/danted.log"
    exit 0
  fi
  sleep 0.2
done
echo "proxies.sh: the proxies did not start; see $D/*.out" >&2
cat "$D"/*.out >&2 || true
exit 1

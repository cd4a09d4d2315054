#!/usr/bin/env bash
# npm run test:sea: kvlog's single executable (npm run build:sea) installed and run the ways a
# user without Node.js does.
#   1. The executable with no usable Node.js: `env -i PATH=/usr/bin:/bin` (after checking that
#      any node there is too old to run kvlog; with a new enough one, an empty PATH): --help,
#      --version (also with a NODE_OPTIONS that would break a node), rbac, a dry run that loads a kubeconfig (the bundled kubeconfig code), and
#      `set kubelet 1 --dry-run` against a kubeconfig whose apiserver is not there, which must end
#      in one `kvlog:` line with exit 1 or 2.
#   2. krew: the archive krew expects (kvlog-linux-amd64.tar.gz: kubectl-kvlog, and LICENSE when
#      the checkout has one), a copy of plugins/kvlog.yaml with its sha256, and
#      `krew install --manifest=... --archive=...` into a scratch KREW_ROOT. krew is built from
#      the Go module proxy once into ~/.cache/kvlog/krew/<version>. When the local e2e cluster's
#      kubectl is there (K8S_BIN in ${KVLOG_E2E_DIR:-/tmp/kvlog-e2e}/env, kept after the e2e
#      stage tears the cluster down), krew runs as `kubectl krew` and
#      `kubectl kvlog --version`, `kubectl plugin list` and `kubectl kvlog <TAB>` go through
#      kubectl; without it, krew runs directly and that part is skipped with a note. The
#      krew-installed kubectl-kvlog itself is always run.
#   3. Measures: the executable's and the archive's size, and the start-up time of --help and
#      --version (median of 10, min-max) next to the npm package's `node bin/kvlog.js`.
# Uses dist-sea/kvlog-linux-amd64 when it is newer than src/, sea/, bin/build.mjs, package-lock.json
# (KVLOG_SEA_REBUILD=1 builds it anyway), else builds it. Needs Node >= 22.19 on PATH and, the
# first time, go (npm run test:sea, through bin/with-node).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$root"

passed=0
pass() { passed=$((passed + 1)); echo "sea: ok   $*"; }
note() { echo "sea: note $*"; }
fail() { echo "sea: FAIL $*" >&2; echo "$passed passed, 1 failed"; exit 1; }

if [ "$(uname -s)/$(uname -m)" != Linux/x86_64 ]; then
  note "the single executable and its krew manifest are built for Linux x86_64; nothing to test on $(uname -s)/$(uname -m)"
  exit 0
fi

exe=dist-sea/kvlog-linux-amd64
if [ "${KVLOG_SEA_REBUILD:-}" != 1 ] && [ -x "$exe" ] && [ -z "$(find src sea bin/build.mjs package-lock.json -newer "$exe" -print -quit)" ]; then
  note "using $exe (newer than src/, sea/, bin/build.mjs and package-lock.json; KVLOG_SEA_REBUILD=1 rebuilds it)"
else
  nice npm run build:sea --silent
fi
exe=$root/$exe
version=$(sed -n 's/^export const VERSION = "\(.*\)";$/\1/p' src/cli.ts)

cat > "$work/kubeconfig" <<'KC'
apiVersion: v1
kind: Config
clusters:
- name: nowhere
  cluster: {server: "https://127.0.0.1:9", insecure-skip-tls-verify: true}
contexts:
- name: nowhere
  context: {cluster: nowhere, user: u}
current-context: nowhere
users:
- name: u
  user: {token: sea-test-token-0123456789}
KC

# --- 1. No Node.js --------------------------------------------------------------------------
bare_path=/usr/bin:/bin
for n in /usr/bin/node /bin/node; do
  if [ -x "$n" ] && "$n" -e 'const [a, b] = process.versions.node.split(".").map(Number); process.exit(a > 22 || (a === 22 && b >= 19) ? 0 : 1)' 2>/dev/null; then
    note "$n is Node $("$n" --version), new enough to run kvlog: running the executable with an empty PATH instead of $bare_path"
    bare_path=$work/empty-path
    mkdir -p "$bare_path"
    break
  fi
done
if found=$(PATH=$bare_path command -v node); then
  node_there="$found is Node $(PATH=$bare_path node --version 2>/dev/null || echo '(does not run)'), too old for kvlog"
else
  node_there="no node on it"
fi
bare() { env -i PATH="$bare_path" "$@"; }

bare "$exe" --help >"$work/out" 2>"$work/err" || fail "--help without Node exited $?: $(cat "$work/err")"
grep -q "^Usage: kvlog" "$work/out" || fail "--help without Node did not print the usage: $(head -3 "$work/out")"
[ ! -s "$work/err" ] || fail "--help without Node wrote to stderr (an experimental warning?): $(cat "$work/err")"
pass "--help with env -i PATH=$bare_path ($node_there)"
got=$(bare "$exe" --version) || fail "--version without Node failed"
[ "$got" = "$version" ] || fail "--version printed '$got', expected '$version'"
pass "--version without Node: $got"
got=$(bare NODE_OPTIONS="--require $work/nonexistent.js" "$exe" --version 2>&1) || fail "NODE_OPTIONS reached the executable: $got"
pass "NODE_OPTIONS meant for another Node.js program is ignored (execArgvExtension none)"
bare "$exe" rbac >"$work/out" 2>"$work/err" || fail "rbac without Node exited $?: $(cat "$work/err")"
grep -q "^kind: ClusterRole$" "$work/out" && grep -q '/debug/flags/v' "$work/out" || fail "rbac did not print the ClusterRole"
pass "rbac without Node: $(grep -c '^kind:' "$work/out") objects"
out=$(bare "$exe" set scheduler 3 --kubeconfig "$work/kubeconfig" --endpoint https://127.0.0.1:9 --dry-run -o json 2>"$work/err") || fail "the dry run with --endpoint failed: $out $(cat "$work/err")"
grep -q '"outcome": "dry-run"' <<<"$out" || fail "the dry run did not resolve: $out"
grep -q '"auth": "bearer token (kubeconfig)"' <<<"$out" || fail "the executable did not load the kubeconfig's credentials: $out"
! grep -q "sea-test-token" <<<"$out" || fail "the token appeared in the output"
pass "set scheduler 3 --endpoint --dry-run without Node: kubeconfig loaded (the bundled client-node code), token not shown"
rc=0
bare "$exe" set kubelet 1 --dry-run --kubeconfig "$work/kubeconfig" >"$work/out" 2>"$work/err" || rc=$?
[ "$rc" = 1 ] || [ "$rc" = 2 ] || fail "set kubelet 1 --dry-run against no apiserver exited $rc, expected 1 or 2: $(cat "$work/err")"
[ "$(wc -l <"$work/err")" = 1 ] && grep -q "^kvlog: " "$work/err" || fail "set kubelet 1 --dry-run against no apiserver did not end in one kvlog: line: $(cat "$work/err")"
[ ! -s "$work/out" ] || fail "set kubelet 1 --dry-run against no apiserver printed to stdout: $(cat "$work/out")"
pass "set kubelet 1 --dry-run against no apiserver, without Node: exit $rc, $(cat "$work/err")"

# --- 2. krew --------------------------------------------------------------------------------
pkg=$work/pkg
mkdir -p "$pkg"
cp "$exe" "$pkg/kubectl-kvlog"
files=(kubectl-kvlog)
cp LICENSE dist-sea/THIRD-PARTY-NOTICES.txt "$pkg/"
files+=(LICENSE THIRD-PARTY-NOTICES.txt)
archive=$work/kvlog-linux-amd64.tar.gz
tar -C "$pkg" -czf "$archive" "${files[@]}"
sha=$(sha256sum "$archive" | cut -d' ' -f1)
manifest=$work/manifest/kvlog.yaml
mkdir -p "$(dirname "$manifest")"
# bin/release.mjs's manifest(): the template filled, the platforms without an archive left out.
node --input-type=module -e '
  import { readFileSync } from "node:fs";
  import { manifest } from "./bin/release.mjs";
  const [sha, url, version] = process.argv.slice(1);
  process.stdout.write(manifest(readFileSync("plugins/kvlog.yaml", "utf8"), version, url, (p) => (p === "linux-amd64" ? sha : undefined)));
' "$sha" "file://$work" "$version" >"$manifest" || fail "could not fill plugins/kvlog.yaml"

. test/package/krew-bin.sh

kubectl=
e2e_env=${KVLOG_E2E_DIR:-/tmp/kvlog-e2e}/env
if [ -f "$e2e_env" ]; then
  k8s_bin=$(sed -n 's/^K8S_BIN=//p' "$e2e_env")
  [ -x "$k8s_bin/kubectl" ] && kubectl=$k8s_bin/kubectl
fi
krew_root=$work/krew-root
tools=$work/tools
mkdir -p "$tools"
ln -s "$krew" "$tools/kubectl-krew"
# krew's bin folder on PATH, as its set-up asks (else it warns); no upgrade check (no network).
kenv=(env KREW_ROOT="$krew_root" KREW_NO_UPGRADE_CHECK=1 KUBECONFIG="$work/kubeconfig" PATH="$krew_root/bin:$tools:$PATH")
if [ -n "$kubectl" ]; then
  ln -s "$kubectl" "$tools/kubectl"
  krew_cmd=(kubectl krew)
else
  krew_cmd=(kubectl-krew)
  note "no kubectl of the local e2e cluster (K8S_BIN in $e2e_env): krew runs directly, not as kubectl krew, and the kubectl checks are skipped"
fi
"${kenv[@]}" "${krew_cmd[@]}" install --manifest="$manifest" --archive="$archive" >"$work/krew.out" 2>&1 ||
  fail "${krew_cmd[*]} install --manifest --archive failed: $(cat "$work/krew.out")"
grep -q "Installed plugin: kvlog" "$work/krew.out" || fail "krew did not say it installed kvlog: $(cat "$work/krew.out")"
grep -q "kubectl kvlog rbac" "$work/krew.out" || fail "krew did not show the manifest's caveats (kvlog rbac): $(cat "$work/krew.out")"
pass "${krew_cmd[*]} install --manifest=kvlog.yaml --archive=kvlog-linux-amd64.tar.gz (krew $krew_version, sha256 $sha)"
# (krew list and uninstall need a plugin index, which only `krew update` clones from the network.)
receipt=$krew_root/receipts/kvlog.yaml
grep -q "^  version: v[0-9]" "$receipt" 2>/dev/null || fail "krew wrote no receipt for kvlog ($receipt)"
pass "krew's receipt: kvlog $(sed -n 's/^  version: //p' "$receipt") from the detached manifest"

installed=$krew_root/bin/kubectl-kvlog
[ -x "$installed" ] || fail "krew put no kubectl-kvlog in $krew_root/bin"
bare "$installed" --help >"$work/out" 2>&1 || fail "the krew-installed kubectl-kvlog --help failed: $(cat "$work/out")"
grep -q "^Usage: kvlog" "$work/out" || fail "the krew-installed kubectl-kvlog --help did not print the usage"
got=$(bare "$installed" --version) || fail "the krew-installed kubectl-kvlog --version failed"
[ "$got" = "$version" ] || fail "the krew-installed kubectl-kvlog --version printed '$got', expected '$version'"
pass "KREW_ROOT/bin/kubectl-kvlog (-> $(readlink "$installed" | sed "s|^$krew_root|KREW_ROOT|")) --help and --version ($got), without Node"
# The caveat's completion link: the same executable under the name kubectl runs to complete.
ln -s kubectl-kvlog "$krew_root/bin/kubectl_complete-kvlog"
out=$(bare "$krew_root/bin/kubectl_complete-kvlog" "") || fail "kubectl_complete-kvlog failed: $out"
grep -q "^set	" <<<"$out" && [ "$(tail -n 1 <<<"$out")" = ":4" ] || fail "kubectl_complete-kvlog did not offer the commands: $out"
pass "kubectl_complete-kvlog (the caveat's link) offers the commands"

if [ -n "$kubectl" ]; then
  kv=$("$kubectl" version --client -o json 2>/dev/null | sed -n 's/.*"gitVersion": *"\([^"]*\)".*/\1/p' | head -n 1)
  got=$("${kenv[@]}" kubectl kvlog --version) || fail "kubectl kvlog --version failed"
  [ "$got" = "$version" ] || fail "kubectl kvlog --version printed '$got', expected '$version'"
  "${kenv[@]}" kubectl kvlog --help | grep -q "^Usage: kvlog" || fail "kubectl kvlog --help did not print the usage"
  pass "kubectl kvlog --help and --version ($got) through kubectl $kv"
  # (plugin list exits 1 on any warning about PATH, such as a folder on it that does not exist)
  plugins=$("${kenv[@]}" kubectl plugin list 2>/dev/null || true)
  grep -qx "$krew_root/bin/kubectl-kvlog" <<<"$plugins" || fail "kubectl plugin list does not show $krew_root/bin/kubectl-kvlog: $plugins"
  pass "kubectl plugin list shows the krew-installed kubectl-kvlog"
  minor=$(sed -n 's/^v1\.\([0-9]*\)\..*/\1/p' <<<"$kv")
  if [ -n "$minor" ] && [ "$minor" -ge 26 ]; then
    out=$("${kenv[@]}" kubectl __complete kvlog "" 2>/dev/null) || fail "kubectl __complete kvlog failed"
    grep -q "^set	" <<<"$out" || fail "kubectl kvlog <TAB> did not offer kvlog's commands: $out"
    pass "kubectl kvlog <TAB> (kubectl __complete) offers kvlog's commands through the link"
  else
    note "kubectl $kv completes plugins from 1.26 on: kubectl kvlog <TAB> not checked"
  fi
else
  note "kubectl kvlog --version not run: no kubectl from the local e2e cluster (npm run cluster:build)"
fi

# --- 3. Size and start-up time --------------------------------------------------------------
# Median of 10 runs after one warm-up (page cache, Node's compile cache for bin/kvlog.js).
timing() {
  local -a t=()
  "$@" >/dev/null 2>&1 || fail "$* failed"
  for _ in 1 2 3 4 5 6 7 8 9 10; do
    local s e
    s=$(date +%s%N)
    "$@" >/dev/null 2>&1
    e=$(date +%s%N)
    t+=($(((e - s) / 1000000)))
  done
  printf '%s\n' "${t[@]}" | sort -n | awk '{ v[NR] = $1 } END { printf "%4d ms (%d-%d)", (v[5] + v[6]) / 2, v[1], v[10] }'
}
[ -f dist/kvlog.cjs ] && [ -z "$(find src bin/build.mjs -newer dist/kvlog.cjs -print -quit)" ] || npm run build --silent
mib() { awk -v b="$1" 'BEGIN { printf "%.1f MiB", b / 1048576 }'; }
echo "sea: size: executable $(mib "$(stat -c %s "$exe")"), krew archive (gzip) $(mib "$(stat -c %s "$archive")"), bundled script $(mib "$(stat -c %s dist-sea/kvlog.cjs)"); Node $(node --version) alone $(mib "$(stat -c %s "$(node -p process.execPath)")")"
echo "sea: start-up, median of 10 (min-max)      --help              --version"
echo "sea:   single executable                 $(timing "$exe" --help)    $(timing "$exe" --version)"
echo "sea:   node bin/kvlog.js (npm package)   $(timing node bin/kvlog.js --help)    $(timing node bin/kvlog.js --version)"
echo "sea:   node dist-sea/kvlog.cjs (bundle)  $(timing node dist-sea/kvlog.cjs --help)    $(timing node dist-sea/kvlog.cjs --version)"
echo "$passed passed, 0 failed"

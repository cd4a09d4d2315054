#!/usr/bin/env bash
# npm run test:cross: the release (bin/release.mjs) built and run on the platforms this Linux
# x86_64 machine can run, against the SIMULATED cluster (test/fake, in its own process:
# test/package/fake-serve.ts):
#   1. the release: every artefact into a scratch folder, SHA256SUMS and kvlog.yaml checked
#      against the files. KVLOG_RELEASE_TWICE=1 also builds it from a fresh clone of HEAD (another
#      path, npm ci) and compares every file byte for byte (reproducible builds).
#      KVLOG_CROSS_RELEASE=DIR tests an existing release folder instead of building one.
#   2. linux-amd64 natively: --version.
#   3. linux-arm64 under qemu-user (qemu-aarch64-static -L /usr/aarch64-linux-gnu): --version,
#      completion bash, set scheduler 4 (through a port-forward) and set kubelet 5 (through the
#      apiserver's node proxy) over HTTPS; the fake confirms each level and the path it came by.
#   4. windows-amd64 under Wine (wine64, Windows 10 mode, a prefix cached in ~/.cache/kvlog/wine):
#      the same commands, with HOME and KUBECONFIG unset so that the kubeconfig is found at
#      %USERPROFILE%\.kube\config as kubectl finds it. Output goes to files: Node under Wine
#      fails to write to a pipe.
#   5. krew: `krew install --manifest=kvlog.yaml --archive=...` for linux-amd64, linux-arm64
#      (KREW_ARCH=arm64) and windows-amd64 (KREW_OS=windows), each into a scratch KREW_ROOT, and
#      the installed plugin run (natively, under qemu, under Wine); validate-krew-manifest, the
#      check krew-index runs on a submission, installs every platform from its uri (loopback HTTP).
#   6. kubectl kvlog under Wine through a Windows kubectl built from the Go module proxy, with the
#      krew-installed kubectl-kvlog.exe (when the e2e build's wrapper module is there to build it).
# Needs: Debian's qemu-user-static, libc6-arm64-cross, wine64, binutils-aarch64-linux-gnu,
# osslsigncode, lld-14, file and unzip (.ci/run installs them), go the first time (krew), Node >= 22.19 on PATH
# (npm run test:cross goes through bin/with-node).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
work=$(mktemp -d)
fake_pid=
export WINEPREFIX=${KVLOG_WINEPREFIX:-${XDG_CACHE_HOME:-$HOME/.cache}/kvlog/wine}
wine=/usr/lib/wine/wine64
cleanup() {
  [ -n "$fake_pid" ] && kill "$fake_pid" 2>/dev/null || true
  [ -n "${http_pid:-}" ] && kill "$http_pid" 2>/dev/null || true
  [ -n "${profile_config:-}" ] && rm -f "$profile_config"
  [ -x /usr/lib/wine/wineserver ] && WINEPREFIX=$WINEPREFIX /usr/lib/wine/wineserver -k 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

passed=0
pass() { passed=$((passed + 1)); echo "cross: ok   $*"; }
note() { echo "cross: note $*"; }
fail() { echo "cross: FAIL $*" >&2; echo "$passed passed, 1 failed"; exit 1; }

[ "$(uname -s)/$(uname -m)" = Linux/x86_64 ] || { note "builds and runs on Linux x86_64 only; nothing to do on $(uname -s)/$(uname -m)"; exit 0; }
for t in qemu-aarch64-static "$wine" aarch64-linux-gnu-strip osslsigncode; do
  command -v "$t" >/dev/null || fail "$t not found: apt-get install qemu-user-static libc6-arm64-cross wine64 binutils-aarch64-linux-gnu osslsigncode"
done
[ -e /usr/aarch64-linux-gnu/lib/ld-linux-aarch64.so.1 ] || fail "no arm64 C library: apt-get install libc6-arm64-cross"
version=$(node -p 'require("./package.json").version')
if [ "${KVLOG_RELEASE_TWICE:-}" = 1 ] && [ -n "$(git status --porcelain --untracked-files=no)" ]; then
  fail "KVLOG_RELEASE_TWICE=1 compares with a clone of HEAD: commit the work tree first ($(git status --porcelain --untracked-files=no | head -3 | tr '\n' ' '))"
fi

# --- 1. The release ---------------------------------------------------------------------------
rel=$work/release
# One URL for every build, so that kvlog.yaml does not depend on the folder it was built in.
export KVLOG_RELEASE_URL=https://releases.invalid/kvlog/v$version
start=$SECONDS
if [ -n "${KVLOG_CROSS_RELEASE:-}" ]; then
  note "testing the release in $KVLOG_CROSS_RELEASE (KVLOG_CROSS_RELEASE), not building one"
  cp -r "$KVLOG_CROSS_RELEASE" "$rel"
else
  KVLOG_RELEASE_OUT=$rel node bin/release.mjs >"$work/release.log" 2>&1 || fail "bin/release.mjs failed: $(cat "$work/release.log")"
fi
took=$((SECONDS - start))
expected="SHA256SUMS kvlog-$version.tgz kvlog-darwin-amd64.tar.gz kvlog-linux-amd64.tar.gz kvlog-linux-arm64.tar.gz kvlog-windows-amd64.zip kvlog.yaml"
[ "$(cd "$rel" && ls | tr '\n' ' ')" = "$expected " ] || fail "the release folder holds $(cd "$rel" && ls | tr '\n' ' '), expected $expected"
(cd "$rel" && sha256sum --quiet -c SHA256SUMS) || fail "SHA256SUMS does not match the files"
node bin/release.mjs --verify "$rel" 2>/dev/null || fail "kvlog.yaml's sha256 do not match the archives"
[ "$(grep -c '^  - selector:' "$rel/kvlog.yaml")" = 4 ] || fail "kvlog.yaml should list 4 platforms (darwin-arm64 is the workflow's): $(grep -A3 '^  - selector' "$rel/kvlog.yaml")"
pass "bin/release.mjs in ${took}s: $expected; SHA256SUMS and kvlog.yaml agree with the files"
for p in linux-amd64 linux-arm64 darwin-amd64; do
  mkdir -p "$work/$p" && tar -xzf "$rel/kvlog-$p.tar.gz" -C "$work/$p"
  [ "$(cd "$work/$p" && ls | tr '\n' ' ')" = "LICENSE THIRD-PARTY-NOTICES.txt kubectl-kvlog " ] || fail "kvlog-$p.tar.gz holds $(ls "$work/$p")"
done
mkdir -p "$work/windows-amd64" && unzip -q "$rel/kvlog-windows-amd64.zip" -d "$work/windows-amd64"
[ "$(cd "$work/windows-amd64" && ls | tr '\n' ' ')" = "LICENSE THIRD-PARTY-NOTICES.txt kubectl-kvlog.exe " ] || fail "kvlog-windows-amd64.zip holds $(ls "$work/windows-amd64")"
file -b "$work/linux-arm64/kubectl-kvlog" | grep -q "ARM aarch64" || fail "linux-arm64's executable is $(file -b "$work/linux-arm64/kubectl-kvlog")"
file -b "$work/windows-amd64/kubectl-kvlog.exe" | grep -q "PE32+ executable.*x86-64" || fail "windows-amd64's executable is $(file -b "$work/windows-amd64/kubectl-kvlog.exe")"
file -b "$work/darwin-amd64/kubectl-kvlog" | grep -q "Mach-O 64-bit x86_64" || fail "darwin-amd64's executable is $(file -b "$work/darwin-amd64/kubectl-kvlog")"
pass "each archive holds the executable (ELF x86-64, ELF aarch64, PE32+ x86-64, Mach-O x86_64), LICENSE and THIRD-PARTY-NOTICES.txt"

if [ "${KVLOG_RELEASE_TWICE:-}" = 1 ]; then
  git clone -q --no-hardlinks "$root" "$work/clone"
  (cd "$work/clone" && npm ci --silent --no-audit --no-fund --prefer-offline >/dev/null 2>&1) || fail "npm ci in the clone failed"
  (cd "$work/clone" && KVLOG_RELEASE_OUT=$work/again node bin/release.mjs >"$work/again.log" 2>&1) || fail "the second build failed: $(cat "$work/again.log")"
  for f in "$rel"/*; do
    cmp -s "$f" "$work/again/$(basename "$f")" || fail "$(basename "$f") differs between two builds of the same commit"
  done
  pass "reproducible: a fresh clone of HEAD (another path, npm ci) built every file byte for byte the same"
fi

# --- the simulated cluster -------------------------------------------------------------------
fake_in=$work/fake.in
fake_out=$work/fake.out
start_fake() {
  [ -z "$fake_pid" ] || stop_fake
  rm -f "$fake_in" "$fake_out"
  mkfifo "$fake_in" "$fake_out"
  node test/package/fake-serve.ts <"$fake_in" >"$fake_out" 2>"$work/fake.err" &
  fake_pid=$!
  exec 7>"$fake_in" 8<"$fake_out"
  read -r -t 30 kubeconfig <&8 || fail "the simulated cluster did not start: $(cat "$work/fake.err")"
}
stop_fake() {
  exec 7>&- 8<&-
  wait "$fake_pid" 2>/dev/null || true
  fake_pid=
}
ask() {
  echo "$*" >&7
  local reply
  read -r -t 10 reply <&8 || fail "the simulated cluster did not answer '$*'"
  echo "$reply"
}
scheduler=kube-scheduler/kube-system/kube-scheduler-cp-1
# The fake's own record of the levels: set by the executable, through the path kvlog reports.
check_levels() {
  local who=$1
  [ "$(ask level $scheduler)" = 4 ] || fail "$who: the fake scheduler's level is $(ask level $scheduler), expected 4"
  [ "$(ask via $scheduler)" = port-forward ] || fail "$who: the scheduler was reached by $(ask via $scheduler), expected a port-forward"
  for n in cp-1 worker-1; do
    [ "$(ask level kubelet/$n)" = 5 ] || fail "$who: kubelet/$n's level is $(ask level kubelet/$n), expected 5"
    [ "$(ask via kubelet/$n)" = node-proxy ] || fail "$who: kubelet/$n was reached by $(ask via kubelet/$n), expected the node proxy"
  done
}

# --- 2. linux-amd64 ---------------------------------------------------------------------------
got=$("$work/linux-amd64/kubectl-kvlog" --version) && [ "$got" = "$version" ] || fail "linux-amd64 --version printed '$got'"
pass "linux-amd64: --version $got"

# --- 3. linux-arm64 under qemu-user -----------------------------------------------------------
arm() { qemu-aarch64-static -L /usr/aarch64-linux-gnu "$work/linux-arm64/kubectl-kvlog" "$@"; }
got=$(arm --version) && [ "$got" = "$version" ] || fail "linux-arm64 --version under qemu printed '$got'"
pass "linux-arm64 under qemu-aarch64-static: --version $got"
arm completion bash >"$work/out" || fail "linux-arm64 completion bash failed"
grep -q "^complete .*kvlog" "$work/out" || fail "linux-arm64 completion bash printed no complete line: $(head -3 "$work/out")"
pass "linux-arm64 under qemu: completion bash ($(wc -l <"$work/out") lines)"
start_fake
arm set scheduler 4 --kubeconfig "$kubeconfig" >"$work/out" 2>"$work/err" || fail "linux-arm64 set scheduler 4 failed: $(cat "$work/out" "$work/err")"
arm set kubelet 5 --kubeconfig "$kubeconfig" >>"$work/out" 2>>"$work/err" || fail "linux-arm64 set kubelet 5 failed: $(cat "$work/out" "$work/err")"
check_levels linux-arm64
stop_fake
pass "linux-arm64 under qemu: set scheduler 4 (port-forward) and set kubelet 5 (node proxy, 2 kubelets) over HTTPS; the simulated cluster holds the levels"

# --- 4. windows-amd64 under Wine --------------------------------------------------------------
export WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml="
if [ ! -f "$WINEPREFIX/.kvlog-win10" ]; then
  note "making a Wine prefix (Windows 10) in $WINEPREFIX (once, ~700 MB)"
  rm -rf "$WINEPREFIX"
  mkdir -p "$(dirname "$WINEPREFIX")"
  "$wine" winecfg -v win10 >"$work/wine.log" 2>&1 || fail "wine64 winecfg -v win10 failed: $(tail -5 "$work/wine.log")"
  touch "$WINEPREFIX/.kvlog-win10"
fi
# HOME and KUBECONFIG unset: as on Windows, where the kubeconfig is %USERPROFILE%\.kube\config.
win() { env -u HOME -u KUBECONFIG "$wine" "$work/windows-amd64/kubectl-kvlog.exe" "$@" >"$work/out" 2>"$work/err" </dev/null; }
win --version || fail "windows-amd64 --version under Wine failed: $(cat "$work/err")"
[ "$(tr -d '\r' <"$work/out")" = "$version" ] || fail "windows-amd64 --version under Wine printed '$(cat "$work/out")'"
pass "windows-amd64 under Wine $("$wine" --version 2>/dev/null): --version $version"
win completion bash || fail "windows-amd64 completion bash failed: $(cat "$work/err")"
grep -q "^complete .*kvlog" "$work/out" || fail "windows-amd64 completion bash printed no complete line: $(head -3 "$work/out")"
pass "windows-amd64 under Wine: completion bash"
env -u HOME "$wine" cmd /c "echo %USERPROFILE%" >"$work/profile" 2>/dev/null </dev/null || fail "could not read %USERPROFILE% under Wine"
profile=$(env -u HOME "$wine" winepath -u "$(tr -d '\r' <"$work/profile")" 2>/dev/null </dev/null) || fail "winepath failed"
start_fake
profile_config=$(ask copy "$profile")
win set scheduler 4 || fail "windows-amd64 set scheduler 4 failed: $(cat "$work/out" "$work/err")"
grep -q "^kube-scheduler/kube-system/kube-scheduler-cp-1 .* set  *level set to 4$" "$work/out" || fail "windows-amd64 set scheduler 4 printed: $(cat "$work/out" "$work/err")"
win set kubelet 5 || fail "windows-amd64 set kubelet 5 failed: $(cat "$work/out" "$work/err")"
check_levels windows-amd64
stop_fake
rm -f "$profile_config"
pass "windows-amd64 under Wine: set scheduler 4 (port-forward) and set kubelet 5 (node proxy) over HTTPS, kubeconfig found at %USERPROFILE%\\.kube\\config ($(tr -d '\r' <"$work/profile")), HOME and KUBECONFIG unset"

# --- 5. krew ----------------------------------------------------------------------------------
. test/package/krew-bin.sh
for p in linux-amd64 linux-arm64 windows-amd64; do
  os=${p%-*} arch=${p#*-}
  kroot=$work/krew-$p
  archive=$(ls "$rel"/kvlog-"$p".*)
  env KREW_ROOT="$kroot" KREW_OS="$os" KREW_ARCH="$arch" KREW_NO_UPGRADE_CHECK=1 PATH="$kroot/bin:$PATH" \
    "$krew" install --manifest="$rel/kvlog.yaml" --archive="$archive" >"$work/krew.out" 2>&1 ||
    fail "krew install (KREW_OS=$os KREW_ARCH=$arch) failed: $(cat "$work/krew.out")"
  grep -q "Installed plugin: kvlog" "$work/krew.out" || fail "krew did not install kvlog for $p: $(cat "$work/krew.out")"
  grep -q "^  version: v$version$" "$kroot/receipts/kvlog.yaml" || fail "krew wrote no receipt of v$version for $p"
  case $p in
    linux-amd64) got=$("$kroot/bin/kubectl-kvlog" --version) ;;
    linux-arm64) got=$(qemu-aarch64-static -L /usr/aarch64-linux-gnu "$kroot/bin/kubectl-kvlog" --version) ;;
    windows-amd64)
      [ -f "$kroot/bin/kubectl-kvlog.exe" ] || fail "krew (KREW_OS=windows) put no kubectl-kvlog.exe in its bin: $(ls "$kroot/bin")"
      env -u HOME "$wine" "$kroot/bin/kubectl-kvlog.exe" --version >"$work/out" 2>"$work/err" </dev/null || fail "the krew-installed kubectl-kvlog.exe failed: $(cat "$work/err")"
      got=$(tr -d '\r' <"$work/out") ;;
  esac
  [ "$got" = "$version" ] || fail "the krew-installed $p plugin printed '$got'"
  pass "krew install --manifest --archive (KREW_OS=$os KREW_ARCH=$arch): receipt v$version, $(basename "$(ls "$kroot/bin/"kubectl-kvlog*)") --version $got"
done

# krew-index's own check of a submission (validate-krew-manifest, from the same krew module): the
# manifest's structure, its platforms, and `kubectl krew install` of every platform's archive
# downloaded from its uri, here a loopback HTTP server over the release folder.
validate=$krew_dir/validate-krew-manifest
if [ ! -x "$validate" ]; then
  GOBIN=$krew_dir GOFLAGS=-mod=mod nice go install "sigs.k8s.io/krew/cmd/validate-krew-manifest@$krew_version" >"$work/validate-build.log" 2>&1 ||
    fail "could not build validate-krew-manifest: $(tail -3 "$work/validate-build.log")"
fi
kubectl_for_krew=$(command -v kubectl || true)
if [ -z "$kubectl_for_krew" ] && [ -f "${KVLOG_E2E_DIR:-/tmp/kvlog-e2e}/env" ]; then
  kubectl_for_krew=$(sed -n 's/^K8S_BIN=//p' "${KVLOG_E2E_DIR:-/tmp/kvlog-e2e}/env")/kubectl
fi
if [ ! -x "$kubectl_for_krew" ]; then
  note "validate-krew-manifest not run: it runs kubectl krew, and there is no kubectl (on PATH or from the e2e cluster)"
else
  node -e '
    const http = require("node:http"), fs = require("node:fs"), path = require("node:path");
    const s = http.createServer((q, r) => fs.readFile(path.join(process.argv[1], path.basename(q.url)), (e, b) => { r.statusCode = e ? 404 : 200; r.end(e ? "" : b); }));
    s.listen(0, "127.0.0.1", () => fs.writeFileSync(process.argv[2], String(s.address().port)));
    setTimeout(() => process.exit(0), 300000); // killed when done; this is the safety net
  ' "$rel" "$work/http.port" &
  http_pid=$!
  for _ in $(seq 50); do [ -s "$work/http.port" ] && break; sleep 0.1; done
  [ -s "$work/http.port" ] || fail "the loopback HTTP server did not start"
  mkdir -p "$work/index/plugins" "$work/vtools"
  sed -E "s#^(    uri: ).*/(kvlog-[a-z0-9-]+[.](tar[.]gz|zip))\$#\1http://127.0.0.1:$(cat "$work/http.port")/\2#" "$rel/kvlog.yaml" >"$work/index/plugins/kvlog.yaml"
  [ "$(grep -c "uri: http://127.0.0.1:" "$work/index/plugins/kvlog.yaml")" = 4 ] || fail "could not point kvlog.yaml's uri at the loopback server: $(grep uri: "$work/index/plugins/kvlog.yaml")"
  ln -s "$krew" "$work/vtools/kubectl-krew"
  ln -s "$kubectl_for_krew" "$work/vtools/kubectl"
  (cd "$work/index" && env PATH="$work/vtools:$PATH" KREW_NO_UPGRADE_CHECK=1 "$validate" -manifest plugins/kvlog.yaml) >"$work/validate.log" 2>&1 ||
    fail "validate-krew-manifest refused kvlog.yaml: $(grep -v '^[[:space:]]' "$work/validate.log" | tail -5)"
  kill "$http_pid" 2>/dev/null || true
  grep -q "all 4 spec.platforms installed fine" "$work/validate.log" || fail "validate-krew-manifest did not install every platform: $(tail -3 "$work/validate.log")"
  pass "validate-krew-manifest (krew-index's check): structure, selectors, and all 4 platforms downloaded over HTTP and installed"
fi

# --- 6. kubectl kvlog on Windows (under Wine) --------------------------------------------------
# A Windows kubectl built from the Go module proxy (GOOS=windows) out of the e2e build's wrapper
# module (test/e2e/cluster/build/build.sh), so only when that module is there; cached in
# ~/.cache/kvlog/kubectl-windows-<version>. Go >= 1.22 programs need ProcessPrng from
# bcryptprimitives.dll, which Wine 8.0 does not have: the prefix gets a 1 KB DLL that forwards it
# to advapi32's SystemFunction036 (RtlGenRandom, which Wine has), linked by lld-link (lld-14).
. test/e2e/cluster/versions.env
k8s_mod=${KVLOG_E2E_CACHE:-$HOME/.cache/kvlog-e2e}/k8s-$K8S_VERSION/mod
kubectl_exe=${XDG_CACHE_HOME:-$HOME/.cache}/kvlog/kubectl-windows-$K8S_VERSION/kubectl.exe
if [ ! -f "$kubectl_exe" ] && [ ! -f "$k8s_mod/go.mod" ]; then
  note "kubectl kvlog on Windows not run: no Windows kubectl cached ($kubectl_exe) and no e2e wrapper module to build it from ($k8s_mod: npm run cluster:build)"
else
  if [ ! -f "$kubectl_exe" ]; then
    note "building kubectl $K8S_VERSION for windows/amd64 from $k8s_mod (once)"
    mkdir -p "$(dirname "$kubectl_exe")"
    (cd "$k8s_mod" && GOOS=windows GOARCH=amd64 CGO_ENABLED=0 GOFLAGS="-mod=mod -buildvcs=false" GOTOOLCHAIN=local nice go build -trimpath \
      -ldflags "-s -w -X k8s.io/client-go/pkg/version.gitVersion=$K8S_VERSION -X k8s.io/component-base/version.gitVersion=$K8S_VERSION" \
      -o "$kubectl_exe.partial" k8s.io/kubernetes/cmd/kubectl) >"$work/kubectl-build.log" 2>&1 || fail "building kubectl.exe failed: $(tail -5 "$work/kubectl-build.log")"
    mv "$kubectl_exe.partial" "$kubectl_exe"
  fi
  shim=$WINEPREFIX/drive_c/windows/system32/bcryptprimitives.dll
  if [ ! -f "$shim" ]; then
    command -v lld-link-14 >/dev/null || fail "lld-link-14 not found: apt-get install lld-14"
    printf 'LIBRARY bcryptprimitives\nEXPORTS\n  ProcessPrng=advapi32.SystemFunction036\n' >"$work/bcp.def"
    printf '\x64\x86\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0' >"$work/empty.obj" # a COFF object with nothing in it
    lld-link-14 /dll /noentry /machine:x64 /def:"$work/bcp.def" /out:"$work/bcryptprimitives.dll" "$work/empty.obj" >/dev/null || fail "lld-link-14 could not make the bcryptprimitives.dll shim"
    cp "$work/bcryptprimitives.dll" "$shim"
  fi
  # kubectl finds plugins on PATH; WINEPATH adds krew's bin folder (KREW_OS=windows above) to it.
  kwin() { env -u HOME -u KUBECONFIG WINEPATH="Z:${work//\//\\}\\krew-windows-amd64\\bin" "$wine" "$kubectl_exe" "$@" >"$work/out" 2>"$work/err" </dev/null; }
  kwin version --client || fail "kubectl.exe version --client under Wine failed: $(head -5 "$work/err")"
  kv=$(sed -n 's/^Client Version: //p' "$work/out" | tr -d '\r')
  kwin plugin list || true # exits 1 on any warning about PATH (Wine's own folders)
  grep -q 'kubectl-kvlog.exe' "$work/out" || fail "kubectl.exe plugin list does not show kubectl-kvlog.exe: $(cat "$work/out" "$work/err")"
  kwin kvlog --version || fail "kubectl.exe kvlog --version failed: $(cat "$work/err")"
  [ "$(tr -d '\r' <"$work/out")" = "$version" ] || fail "kubectl.exe kvlog --version printed '$(cat "$work/out")'"
  start_fake
  profile_config=$(ask copy "$profile")
  kwin kvlog set scheduler 4 || fail "kubectl.exe kvlog set scheduler 4 failed: $(cat "$work/out" "$work/err")"
  kwin kvlog set kubelet 5 || fail "kubectl.exe kvlog set kubelet 5 failed: $(cat "$work/out" "$work/err")"
  check_levels "kubectl.exe kvlog"
  stop_fake
  rm -f "$profile_config"
  pass "Windows kubectl $kv under Wine: plugin list shows the krew-installed kubectl-kvlog.exe; kubectl kvlog --version, set scheduler 4 and set kubelet 5 (kubeconfig from %USERPROFILE%)"
fi

mib() { awk -v b="$(stat -c %s "$1")" 'BEGIN { printf "%.1f MiB", b / 1048576 }'; }
for p in linux-amd64 linux-arm64 windows-amd64 darwin-amd64; do
  exe=$(ls "$work/$p"/kubectl-kvlog*)
  echo "cross: size $p: executable $(mib "$exe"), archive $(mib "$(ls "$rel"/kvlog-"$p".*)")"
done
echo "$passed passed, 0 failed"

#!/usr/bin/env bash
# Installs kvlog the way a user does: `npm pack` makes the tarball npm would publish, `npm i -g`
# installs it into a scratch prefix, and the installed commands run from there: `kvlog --help`,
# `kubectl-kvlog --version` (the kubectl plugin name), and a dry run that loads a kubeconfig,
# which exercises the bundled kubeconfig code. The package is one file of JavaScript
# (dist/kvlog.cjs, bin/build.mjs) and installs no dependencies.
# Prints the tarball and installed sizes. Needs Node >= 22.19 on PATH (npm run test:package).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$root"

npm run build --silent
tarball=$(npm pack --silent --pack-destination "$work" | tail -n 1)
npm install -g --silent --no-audit --no-fund --prefix "$work/prefix" "$work/$tarball"
bin=$work/prefix/bin
lib=$work/prefix/lib/node_modules/kvlog

fail() { echo "package: $*" >&2; exit 1; }
[ ! -e "$lib/node_modules" ] || fail "dependencies were installed ($(ls "$lib/node_modules" | tr '\n' ' ')); everything kvlog runs is bundled into dist/kvlog.cjs"
[ "$(cd "$lib/dist" && ls | tr '\n' ' ')" = "THIRD-PARTY-NOTICES.txt kvlog.cjs " ] || fail "dist/ should hold kvlog.cjs and THIRD-PARTY-NOTICES.txt, it holds: $(ls "$lib/dist")"
[ -f "$lib/LICENSE" ] || fail "the package has no LICENSE"
grep -q "^undici .* (MIT)$" "$lib/dist/THIRD-PARTY-NOTICES.txt" || fail "THIRD-PARTY-NOTICES.txt does not list the bundled undici"
# client-node's generated API client is left out of the bundle (bin/build.mjs): none of its ~600 models.
! grep -q "V1PodSpec" "$lib/dist/kvlog.cjs" || fail "the generated API client of @kubernetes/client-node is in the bundle"
help=$("$bin/kvlog" --help) || fail "kvlog --help failed"
grep -q "^Usage: kvlog" <<<"$help" || fail "kvlog --help did not print the usage"
version=$("$bin/kubectl-kvlog" --version) || fail "kubectl-kvlog --version failed"
grep -q "^[0-9]" <<<"$version" || fail "kubectl-kvlog --version printed no version: $version"
cat > "$work/kubeconfig" <<'KC'
apiVersion: v1
kind: Config
clusters:
- name: c
  cluster: {server: "https://127.0.0.1:9", insecure-skip-tls-verify: true}
contexts:
- name: c
  context: {cluster: c, user: u}
current-context: c
users:
- name: u
  user: {token: package-test-token-0123456789}
KC
out=$("$bin/kvlog" set scheduler 3 --kubeconfig "$work/kubeconfig" --endpoint https://127.0.0.1:9 --dry-run -o json)
grep -q '"outcome": "dry-run"' <<<"$out" || fail "the installed kvlog's dry run did not resolve: $out"
grep -q '"auth": "bearer token (kubeconfig)"' <<<"$out" || fail "the installed kvlog did not load the kubeconfig's credentials: $out"
! grep -q "package-test-token" <<<"$out" || fail "the token appeared in the output"

echo "package: $tarball $(du -k "$work/$tarball" | cut -f1) KiB; installed $(du -sk "$lib" | cut -f1) KiB (no dependencies); --help, plugin name and a kubeconfig dry run work"
echo "1 passed, 0 failed"

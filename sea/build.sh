#!/usr/bin/env bash
# npm run build:sea: kvlog as one Linux executable that needs no Node.js installed (Node's single
# executable applications), dist-sea/kvlog-linux-<arch> (amd64 on x86_64, arm64 on aarch64):
#   1. tsc type-checks sea/main.ts (sea/tsconfig.json); bin/build.mjs bundles it with all of kvlog
#      and its packages (commander, chalk, undici, ws, @kubernetes/client-node's kubeconfig code)
#      into one CommonJS file, dist-sea/kvlog.cjs, exactly as it builds the npm package's
#      dist/kvlog.cjs (same trimming of client-node, same lazily run commands).
#   2. dist-sea/sea-config.json, and the blob from it (node --experimental-sea-config): no
#      experimental warning, V8's compiled code for the script included (useCodeCache: about
#      a third less start-up time here), and NODE_OPTIONS ignored (execArgvExtension "none"):
#      options a user set for some other Node.js program do not reach this one.
#   3. A copy of the node binary that runs this script (bin/with-node: Node >= 22.19, the
#      pinned official build when the machine's own is older), stripped of its debug symbols
#      when `strip` is there (about 18 MB less; KVLOG_SEA_STRIP=0 keeps them), with the blob
#      injected by postject (a devDependency).
#   4. A smoke run: the executable's --version must be kvlog's.
# Needs the official Node.js build (a distribution's node linked to libnode has no SEA fuse).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

case "$(uname -s)/$(uname -m)" in
  Linux/x86_64) arch=amd64 ;;
  Linux/aarch64) arch=arm64 ;;
  *) echo "build:sea: builds Linux executables only (this is $(uname -s)/$(uname -m)); on macOS and Windows use the npm package" >&2; exit 2 ;;
esac
out=dist-sea
exe=$out/kvlog-linux-$arch
fuse=NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2
node=$(node -p process.execPath)
if ! grep -q "$fuse" "$node"; then
  echo "build:sea: $node ($(node --version)) has no single-executable fuse; build with the official Node.js build (bin/with-node fetches one when the machine's node is older than 22.19)" >&2
  exit 2
fi

# esbuild does not type-check: sea/main.ts against src/cli.ts's exports first (about a second).
node_modules/.bin/tsc -p sea/tsconfig.json
mkdir -p "$out"
rm -f "$exe" "$out/kvlog.cjs" "$out/kvlog.blob"
node bin/build.mjs --sea "$out/kvlog.cjs"
cat > "$out/sea-config.json" <<'JSON'
{
  "main": "kvlog.cjs",
  "output": "kvlog.blob",
  "disableExperimentalSEAWarning": true,
  "useCodeCache": true,
  "useSnapshot": false,
  "execArgvExtension": "none"
}
JSON
blob_log=$(cd "$out" && node --experimental-sea-config sea-config.json 2>&1) || { echo "$blob_log" >&2; exit 1; }

cp "$node" "$exe"
chmod u+w "$exe"
if [ "${KVLOG_SEA_STRIP:-1}" != "0" ] && command -v strip >/dev/null; then
  strip "$exe"
fi
# postject's ELF library warns about the unnamed .note sections of the unstripped binary; harmless.
node_modules/.bin/postject "$exe" NODE_SEA_BLOB "$out/kvlog.blob" --sentinel-fuse "$fuse" 2>&1 \
  | { grep -v -e "Can't find string offset for section name" -e "Start injection" -e "Injection done" || true; } >&2
chmod 755 "$exe"

version=$(sed -n 's/^export const VERSION = "\(.*\)";$/\1/p' src/cli.ts)
got=$("$exe" --version) || { echo "build:sea: $exe --version failed" >&2; exit 1; }
[ "$got" = "$version" ] || { echo "build:sea: $exe --version printed '$got', expected '$version'" >&2; exit 1; }
echo "build:sea: $exe ($(( $(stat -c %s "$exe") / 1024 / 1024 )) MiB, Node $(node --version), script $(( $(stat -c %s "$out/kvlog.cjs") / 1024 )) KiB)"

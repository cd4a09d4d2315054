#!/usr/bin/env bash
# npm run test:windows: kvlog's unit and integration tests on Windows Node.js (the node.exe the
# windows-amd64 executable carries, 22.23.3) under Wine, as far as they can run there.
# A copy of the tree (git's files, the built dist/) gets the Windows builds of the native packages
# (npm ci --os=win32 --cpu=x64: esbuild's and rolldown's), and node.exe runs vitest in it (worker
# threads, one file at a time; output to files: Node under Wine cannot write to a pipe).
#
# Not run, and why (each one passes on Linux; the GitHub workflow's windows-latest job runs them all):
#   test/fake/cluster.test.ts       the fake's own tests talk to it with undici's default connector,
#                                   which fails under Wine 8 (TCP keep-alive before connect:
#                                   docs/install.md); kvlog's connector does not do that
#   "exec plugin" tests             their exec plugins are #!/bin/sh scripts, which Windows cannot
#                                   start (spawn EFTYPE); a Windows user's plugins are .exe files
#   Ctrl-C, SIGINT, SIGTERM tests   they send POSIX signals to kvlog; on Windows, kill() ends a
#   (and "supersedes", "second      process without a signal handler running
#    and third signal")
#   "--include-not-ready"           2 of the 3 not-ready nodes are tried instead of 3: NOT
#                                   understood yet (Wine's answer for an unreachable kubelet?)
#   test/integration/completion     skipped on win32 by the test itself (runs bash, zsh, fish)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
work=$(mktemp -d)
export WINEPREFIX=${KVLOG_WINEPREFIX:-${XDG_CACHE_HOME:-$HOME/.cache}/kvlog/wine} WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml="
wine=/usr/lib/wine/wine64
trap '/usr/lib/wine/wineserver -k 2>/dev/null || true; rm -rf "$work"' EXIT
fail() { echo "windows: FAIL $*" >&2; echo "0 passed, 1 failed"; exit 1; }
[ -x "$wine" ] || fail "wine64 not found: apt-get install wine64"
if [ ! -f "$WINEPREFIX/.kvlog-win10" ]; then
  rm -rf "$WINEPREFIX" && mkdir -p "$(dirname "$WINEPREFIX")"
  "$wine" winecfg -v win10 >/dev/null 2>&1 || fail "wine64 winecfg -v win10 failed"
  touch "$WINEPREFIX/.kvlog-win10"
fi
node_exe=$(node --input-type=module -e 'import { NODES, nodeBuild } from "./bin/release.mjs"; console.log(nodeBuild(NODES["windows-amd64"].pkg, NODES["windows-amd64"].version))')

npm run build --silent
{ git ls-files; echo dist; } | tar -cf - --ignore-failed-read -T - | tar -xf - -C "$work"
(cd "$work" && npm ci --os=win32 --cpu=x64 --ignore-scripts --no-audit --no-fund --prefer-offline >"$work/npm.log" 2>&1) || fail "npm ci --os=win32 failed: $(tail -5 "$work/npm.log")"

skip='exec plugin|Ctrl-C|SIGINT|SIGTERM|second and third signal|supersedes the timed change|--include-not-ready'
rc=0
(cd "$work" && env -u HOME "$wine" "$node_exe" node_modules/vitest/vitest.mjs run --pool=threads --no-file-parallelism \
  --reporter=default --reporter=json --outputFile.json=report.json -t "^(?!.*($skip)).*" test/unit test/integration \
  >"$work/out" 2>"$work/err" </dev/null) || rc=$?
sed -e 's/\x1b\[[0-9;]*m//g' "$work/out" | grep -E "FAIL|✗|×|Test Files|Tests " || true
[ -s "$work/report.json" ] || fail "vitest under Wine wrote no report (exit $rc): $(tail -20 "$work/err")"
node -e '
  const r = JSON.parse(require("node:fs").readFileSync(process.argv[1], "utf8"));
  console.log(`windows: Node.js ${process.argv[2]} under Wine: ${r.numPassedTests} passed, ${r.numFailedTests} failed, ${r.numPendingTests} not run (listed in test/package/windows-suite.sh)`);
  console.log(`${r.numPassedTests} passed, ${r.numFailedTests} failed`);
  process.exit(r.numFailedTests === 0 && r.numPassedTests > 0 ? 0 : 1);
' "$work/report.json" "$(basename "$(dirname "$(dirname "$node_exe")")")"

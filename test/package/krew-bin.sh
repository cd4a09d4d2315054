# Sourced by test/package/krew.sh and cross.sh: sets $krew to a krew binary, built from the Go
# module proxy once into ~/.cache/kvlog/krew/<version> (needs go the first time). Calls fail().
krew_version=v0.4.3 # the one release of sigs.k8s.io/krew that the Go module proxy serves
krew_dir=${KVLOG_KREW_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kvlog/krew}/$krew_version
krew=$krew_dir/krew
if [ ! -x "$krew" ]; then
  command -v go >/dev/null || fail "go is needed once, to build krew $krew_version from the Go module proxy into $krew_dir"
  echo "note: building krew $krew_version from the Go module proxy into $krew_dir (once)"
  rm -rf "$krew_dir.partial"
  mkdir -p "$krew_dir.partial"
  GOBIN=$krew_dir.partial GOFLAGS=-mod=mod nice go install "sigs.k8s.io/krew/cmd/krew@$krew_version" || fail "could not build krew $krew_version"
  rm -rf "$krew_dir"
  mv "$krew_dir.partial" "$krew_dir"
fi

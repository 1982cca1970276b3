#!/usr/bin/env bash
# Build metrics-server (what `kubectl top` reads, through the aggregation layer) from the Go
# module proxy, once, into a cache outside the repo; the resource-usage tests run it against
# the devcluster. Tooling only: no product code is written in Go.
#
# sigs.k8s.io/metrics-server has no replace directives, so `go install module/cmd@version`
# builds it straight from the proxy.
#
# Idempotent and locked (flock): does nothing when the binary is already cached, and a second
# caller waits for the first one's build. Prints the binary's path on stdout's last line.
# Env: METRICS_SERVER_VERSION (default 0.8.0), INTERLINK_CACHE.
set -euo pipefail

VERSION="${METRICS_SERVER_VERSION:-0.8.0}"
CACHE_ROOT="${INTERLINK_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/interlink}"
OUT="$CACHE_ROOT/metrics-server-v$VERSION"
BIN="$OUT/metrics-server"

export PATH="$PATH:/usr/local/go/bin"
export GOFLAGS="${GOFLAGS:--buildvcs=false}"

if [[ -x "$BIN" ]]; then
  echo "$BIN"
  exit 0
fi

command -v go >/dev/null || { echo "metrics-server/build.sh: the Go toolchain is needed (expected /usr/local/go/bin/go)" >&2; exit 1; }
log() { echo "[metrics-server-build $(date +%H:%M:%S)] $*" >&2; }
mkdir -p "$CACHE_ROOT"
exec 9>"$OUT.lock"
if ! flock -n 9; then
  log "another build of v$VERSION is running; waiting for it"
  flock 9
fi
if [[ -x "$BIN" ]]; then
  echo "$BIN"
  exit 0
fi
t0=$(date +%s)
mkdir -p "$OUT"
# A private GOBIN directory, renamed at the end, so an interrupted build never leaves a
# half-written binary where the idempotence check would take it for a finished one.
tmp="$(mktemp -d "$OUT/.build.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
log "building metrics-server v$VERSION with $(go version | awk '{print $3}') (a few minutes on 2 cores)"
GOBIN="$tmp" go install -trimpath -ldflags "-s -w" "sigs.k8s.io/metrics-server/cmd/metrics-server@v$VERSION" >&2
mv "$tmp/metrics-server" "$BIN"
log "metrics-server ready in $(( $(date +%s) - t0 ))s"
echo "$BIN"

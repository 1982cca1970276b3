#!/usr/bin/env bash
# Build KWOK (sigs.k8s.io/kwok, the `kwok` binary: a status-only fake kubelet that marks pods on
# the nodes it manages Running and, through its stages, Succeeded) from the Go module proxy,
# once, into a cache outside the repo. `npm run bench -- --baseline kwok` runs the same burst
# against a KWOK-managed node as the reference ceiling. Tooling only: no product code is
# written in Go.
#
# sigs.k8s.io/kwok has no replace directives, so `go install module/cmd@version` builds it
# straight from the proxy. If the module needs a newer Go than the machine's, set
# GOTOOLCHAIN (e.g. go1.27.3) and the go command fetches that toolchain.
#
# Idempotent: does nothing when the binary is already cached; one build at a time per cache
# (a second caller waits for the first, printing progress). A progress line every
# INTERLINK_PROGRESS_SECONDS (10) while a build runs. Prints the kwok binary's path on
# stdout's last line. Env: KWOK_VERSION (default 0.7.0), INTERLINK_CACHE.
set -euo pipefail

VERSION="${KWOK_VERSION:-0.7.0}"
CACHE_ROOT="${INTERLINK_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/interlink}"
OUT="$CACHE_ROOT/kwok-v$VERSION"
BIN="$OUT/kwok"

export PATH="$PATH:/usr/local/go/bin"
export GOFLAGS="${GOFLAGS:--buildvcs=false}"

if [[ -x "$BIN" ]]; then
  echo "$BIN"
  exit 0
fi

log() { echo "[kwok-build $(date +%H:%M:%S)] $*" >&2; }
start=$(date +%s)
ticker() {
  set +e
  while sleep "${INTERLINK_PROGRESS_SECONDS:-10}"; do
    kill -0 "$1" 2>/dev/null || exit 0
    log "$2: $(( $(date +%s) - start ))s so far"
  done
}
TICKER=""
start_ticker() { ticker $$ "$1" & TICKER=$!; }
stop_ticker() { [[ -z $TICKER ]] || { kill "$TICKER" 2>/dev/null || true; wait "$TICKER" 2>/dev/null || true; TICKER=""; }; }
tmp=""
cleanup() { stop_ticker; [[ -z $tmp ]] || rm -rf "$tmp"; }
trap cleanup EXIT

mkdir -p "$CACHE_ROOT"
exec 9>"$OUT.lock"
if ! flock -n 9; then
  log "another build of kwok v$VERSION is running; waiting for it"
  start_ticker "waiting for another build"
  flock 9
  stop_ticker
fi
if [[ -x "$BIN" ]]; then
  echo "$BIN"
  exit 0
fi

command -v go >/dev/null || { echo "kwok/build.sh: the Go toolchain is needed (expected /usr/local/go/bin/go)" >&2; exit 1; }
mkdir -p "$OUT"
# A private GOBIN directory, renamed at the end, so an interrupted build never leaves a
# half-written binary where the idempotence check would take it for a finished one.
tmp="$(mktemp -d "$OUT/.build.XXXXXX")"
log "building kwok v$VERSION with $(go version | awk '{print $3}') (a few minutes on 2 cores; once per machine)"
start_ticker "building kwok v$VERSION"
GOBIN="$tmp" go install -trimpath -ldflags "-s -w" "sigs.k8s.io/kwok/cmd/kwok@v$VERSION" >&2
stop_ticker
mv "$tmp/kwok" "$BIN"
log "kwok ready in $(( $(date +%s) - start ))s"
echo "$BIN"

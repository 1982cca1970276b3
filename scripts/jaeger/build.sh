#!/usr/bin/env bash
# Build Jaeger all-in-one (v2: an OpenTelemetry collector distribution with an OTLP receiver,
# in-memory storage and the query API on :16686), the trace receiver of the tracing test,
# from the Go module proxy, once, into a cache outside the repo. Tooling only: no product code
# is written in Go.
#
# Jaeger's go.mod has a replace directive (for a module cmd/jaeger does not use), so
# `go install module/cmd@version` refuses it: a throw-away module requires it as a tool
# (`go get -tool`) and builds the command from that module graph. Without the `ui`
# build tag the binary serves the query HTTP API but no web UI, which is all the test reads.
#
# Idempotent: does nothing when the binary is already cached; one build at a time per cache
# (a second caller waits for the first, printing its progress). Prints the path of the
# jaeger binary on stdout's last line. Env: JAEGER_VERSION (default 1.75.0), INTERLINK_CACHE,
# INTERLINK_PROGRESS_SECONDS (10).
set -euo pipefail

JAEGER_VERSION="${JAEGER_VERSION:-1.75.0}"
CACHE_ROOT="${INTERLINK_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/interlink}"
OUT="$CACHE_ROOT/jaeger-v$JAEGER_VERSION"
BIN="$OUT/jaeger"
MODULE="github.com/jaegertracing/jaeger"

export PATH="$PATH:/usr/local/go/bin"
export GOFLAGS="${GOFLAGS:--buildvcs=false}"

if [[ -x "$BIN" ]]; then
  echo "$BIN"
  exit 0
fi

log() { echo "[jaeger-build $(date +%H:%M:%S)] $*" >&2; }
fmt() { local s=$1; if (( s >= 60 )); then echo "$((s / 60))m$(printf %02d $((s % 60)))s"; else echo "${s}s"; fi; }
start=$(date +%s)
WORK="$OUT/src"
PROGRESS="$WORK/.progress"

# A progress line every INTERLINK_PROGRESS_SECONDS while the build (ours or another's) runs:
# the step, its time so far and, inside `go build -v`, packages compiled out of the total.
ticker() {
  local every="${INTERLINK_PROGRESS_SECONDS:-10}" what pkgs total left
  set +e
  while sleep "$every"; do
    kill -0 "$1" 2>/dev/null || exit 0
    what=$(cat "$PROGRESS/step" 2>/dev/null || echo "waiting for another build")
    pkgs=$(wc -l < "$PROGRESS/pkgs" 2>/dev/null || echo 0)
    total=$(cat "$PROGRESS/total" 2>/dev/null || echo 0)
    left=""
    if (( total > 0 && pkgs > 0 )); then
      (( pkgs > total )) && total=$pkgs
      local el=$(( $(date +%s) - $(<"$PROGRESS/since") ))
      left=", $pkgs/$total packages compiled, about $(fmt $(( el * (total - pkgs) / pkgs ))) more"
    fi
    log "$what: $(fmt $(( $(date +%s) - start ))) so far$left"
  done
}
TICKER=""
start_ticker() { ticker $$ & TICKER=$!; }
stop_ticker() { [[ -z $TICKER ]] || { kill "$TICKER" 2>/dev/null || true; wait "$TICKER" 2>/dev/null || true; TICKER=""; }; }
trap stop_ticker EXIT

mkdir -p "$CACHE_ROOT"
exec 9>"$OUT.lock"
if ! flock -n 9; then
  log "another build of jaeger v$JAEGER_VERSION is running; waiting for it (its progress follows)"
  start_ticker
  flock 9
  stop_ticker
fi
if [[ -x "$BIN" ]]; then
  echo "$BIN"
  exit 0
fi

command -v go >/dev/null || { echo "jaeger/build.sh: the Go toolchain is needed (expected /usr/local/go/bin/go)" >&2; exit 1; }
mkdir -p "$WORK"
cd "$WORK"
rm -rf "$PROGRESS"
mkdir -p "$PROGRESS"
step() { echo "$1" > "$PROGRESS/step"; date +%s > "$PROGRESS/since"; : > "$PROGRESS/pkgs"; echo 0 > "$PROGRESS/total"; log "$1"; }
start_ticker

log "jaeger v$JAEGER_VERSION with $(go version | awk '{print $3}'), into $OUT (several minutes on 2 cores; once per machine)"
step "resolving $MODULE/cmd/jaeger@v$JAEGER_VERSION (go get -tool)"
[[ -f go.mod ]] || go mod init interlink.local/jaeger-build >&2 2>&1
go get -tool "$MODULE/cmd/jaeger@v$JAEGER_VERSION" >&2

step "building jaeger"
go list -deps "$MODULE/cmd/jaeger" 2>/dev/null | wc -l > "$PROGRESS/total" || true
if ! go build -v -trimpath -o "$BIN.tmp" \
  -ldflags "-s -w -X $MODULE/internal/version.latestVersion=v$JAEGER_VERSION" \
  "$MODULE/cmd/jaeger" 2> "$PROGRESS/pkgs"; then
  tail -40 "$PROGRESS/pkgs" >&2
  exit 1
fi
mv "$BIN.tmp" "$BIN"
stop_ticker
log "jaeger ready in $(fmt $(( $(date +%s) - start )))"
echo "$BIN"

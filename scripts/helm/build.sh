#!/usr/bin/env bash
# Build the helm v3 CLI the manifest tests render the chart with, from the Go module proxy,
# once, into a cache outside the repo (no helm release binary can be downloaded here).
# Tooling only: no product code is written in Go.
#
# helm.sh/helm/v3's go.mod has no replace directives, so `go install module/cmd@version`
# builds it straight from the proxy, with the version stamped the way helm's Makefile does.
#
# Idempotent: does nothing when the binary is already cached. Prints the path of the helm
# binary on stdout's last line. Env: HELM_VERSION (default 3.22.0), INTERLINK_CACHE.
set -euo pipefail

HELM_VERSION="${HELM_VERSION:-3.22.0}"
CACHE_ROOT="${INTERLINK_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/interlink}"
OUT="$CACHE_ROOT/helm-v$HELM_VERSION"
BIN="$OUT/helm"

export PATH="$PATH:/usr/local/go/bin"
export GOFLAGS="${GOFLAGS:--buildvcs=false}"

if [[ -x "$BIN" ]]; then
  echo "$BIN"
  exit 0
fi

command -v go >/dev/null || { echo "helm/build.sh: the Go toolchain is needed (expected /usr/local/go/bin/go)" >&2; exit 1; }
log() { echo "[helm-build $(date +%H:%M:%S)] $*" >&2; }
t0=$(date +%s)
mkdir -p "$OUT"
# A private GOBIN directory, renamed at the end, so an interrupted build never leaves a
# half-written binary where the idempotence check would take it for a finished one.
tmp="$(mktemp -d "$OUT/.build.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
log "building helm v$HELM_VERSION with $(go version | awk '{print $3}') (a few minutes on 2 cores)"
GOBIN="$tmp" go install -trimpath \
  -ldflags "-s -w -X helm.sh/helm/v3/internal/version.version=v$HELM_VERSION -X helm.sh/helm/v3/internal/version.gitTreeState=clean" \
  "helm.sh/helm/v3/cmd/helm@v$HELM_VERSION" >&2
mv "$tmp/helm" "$BIN"
"$BIN" version --short >&2
log "helm ready in $(( $(date +%s) - t0 ))s"
echo "$BIN"

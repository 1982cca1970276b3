#!/usr/bin/env bash
# Build the test control plane (etcd, kube-apiserver, kube-controller-manager,
# kube-scheduler, kubectl) from the Go module proxy, once, into a cache outside the repo.
#
# k8s.io/kubernetes points its k8s.io/* staging modules at local folders, so a consumer
# module must replace each of them with the published k8s.io/<name> v0.<minor>.<patch>.
# etcd is built from the same module graph (go.etcd.io/etcd/server/v3 is already a
# dependency of the apiserver), through a three-line main that calls etcdmain.Main.
#
# Prints the cache directory on stdout's last line. Does nothing when already cached.
set -euo pipefail

K8S_VERSION="${K8S_VERSION:-1.37.2}"
CACHE_ROOT="${INTERLINK_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/interlink}"
OUT="$CACHE_ROOT/k8s-v$K8S_VERSION"
BINARIES=(etcd kube-apiserver kube-controller-manager kube-scheduler kubectl)

export PATH="$PATH:/usr/local/go/bin"
export GOFLAGS="${GOFLAGS:--buildvcs=false}"

have_all() {
  for b in "${BINARIES[@]}"; do [[ -x "$OUT/bin/$b" ]] || return 1; done
}

if have_all; then
  echo "$OUT"
  exit 0
fi

# One build at a time per cache (two test projects may ask at once); the winner's result
# satisfies the others.
mkdir -p "$CACHE_ROOT"
exec 9>"$OUT.lock"
if ! flock -n 9; then
  echo "[k8s-build] another build of v$K8S_VERSION is running; waiting for it" >&2
  flock 9
fi
if have_all; then
  echo "$OUT"
  exit 0
fi

command -v go >/dev/null || { echo "build.sh: the Go toolchain is needed (expected /usr/local/go/bin/go)" >&2; exit 1; }

log() { echo "[k8s-build $(date +%H:%M:%S)] $*" >&2; }
start=$(date +%s)
WORK="$OUT/src"
mkdir -p "$WORK/etcd" "$OUT/bin"
cd "$WORK"

log "Kubernetes v$K8S_VERSION with $(go version | awk '{print $3}'), into $OUT"
log "downloading k8s.io/kubernetes@v$K8S_VERSION"
moddir=$(go mod download -json "k8s.io/kubernetes@v$K8S_VERSION" | sed -n 's/^\s*"Dir": "\(.*\)",$/\1/p')
[[ -d "$moddir" ]] || { echo "build.sh: could not download k8s.io/kubernetes@v$K8S_VERSION" >&2; exit 1; }
minor_patch="${K8S_VERSION#*.}"   # 37.2 -> staging modules are v0.37.2
staging=$(sed -n 's#^\s*\(k8s.io/[a-z0-9-]*\) => ./staging/src/.*#\1#p' "$moddir/go.mod")
goline=$(sed -n 's/^go \(.*\)/\1/p' "$moddir/go.mod")

{
  echo "module interlink.local/k8s-build"
  echo
  echo "go $goline"
  echo
  echo "require k8s.io/kubernetes v$K8S_VERSION"
  echo
  echo "replace ("
  for m in $staging; do echo "	$m => $m v0.$minor_patch"; done
  echo ")"
} > go.mod

cat > etcd/main.go <<'GO'
// etcd for the interlink test control plane, from the apiserver's own module graph.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
GO

log "resolving the module graph (go mod tidy)"
cat > tools.go <<'GO'
//go:build tools

package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver/app"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager/app"
	_ "k8s.io/kubernetes/cmd/kube-scheduler/app"
	_ "k8s.io/kubectl/pkg/cmd"
)
GO
go mod tidy -e >&2 2>&1 | tail -5 >&2 || true
go get "k8s.io/kubernetes/cmd/kube-apiserver@v$K8S_VERSION" >&2

for target in kube-apiserver kube-controller-manager kube-scheduler kubectl; do
  [[ -x "$OUT/bin/$target" ]] && continue
  t0=$(date +%s)
  log "building $target (several minutes on 2 cores)"
  go build -trimpath -ldflags "-s -w -X k8s.io/component-base/version.gitVersion=v$K8S_VERSION -X k8s.io/client-go/pkg/version.gitVersion=v$K8S_VERSION" \
    -o "$OUT/bin/$target.tmp" "k8s.io/kubernetes/cmd/$target"
  mv "$OUT/bin/$target.tmp" "$OUT/bin/$target"
  log "built $target in $(( $(date +%s) - t0 ))s"
done
if [[ ! -x "$OUT/bin/etcd" ]]; then
  t0=$(date +%s)
  log "building etcd"
  go build -trimpath -ldflags "-s -w" -o "$OUT/bin/etcd.tmp" ./etcd
  mv "$OUT/bin/etcd.tmp" "$OUT/bin/etcd"
  log "built etcd in $(( $(date +%s) - t0 ))s"
fi
have_all
log "control plane binaries ready in $(( $(date +%s) - start ))s"
echo "$OUT"

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

log() { echo "[k8s-build $(date +%H:%M:%S)] $*" >&2; }
start=$(date +%s)
WORK="$OUT/src"
PROGRESS="$WORK/.progress"
waiting=""
start_ticker() {
  ticker $$ &
  TICKER=$!
  trap 'kill "$TICKER" 2>/dev/null || true' EXIT
}
stop_ticker() { kill "$TICKER" 2>/dev/null || true; wait "$TICKER" 2>/dev/null || true; }

# ---- progress: a line at least every INTERLINK_PROGRESS_SECONDS (10) while the build runs ----
# The steps and their typical duration on an idle 2-core machine (seconds). The estimate
# scales the remaining steps by how much slower than typical the finished ones were; inside
# a `go build`, by the rate of packages compiled (`go build -v` names each one it compiles).
STEPS=(download tidy kube-apiserver kube-controller-manager kube-scheduler kubectl etcd)
declare -A TYPICAL=([download]=40 [tidy]=90 [kube-apiserver]=265 [kube-controller-manager]=70 [kube-scheduler]=25 [kubectl]=40 [etcd]=15)
done_typical=0             # typical seconds of the finished steps
done_actual=0              # their real seconds
fmt() { local s=$1; if (( s >= 60 )); then echo "$((s / 60))m$(printf %02d $((s % 60)))s"; else echo "${s}s"; fi; }
# step <name> <what>: the step that starts now, and what it is doing (for the progress line).
step() {
  local now; now=$(date +%s)
  if [[ -f "$PROGRESS/step" ]]; then
    local prev; prev=$(<"$PROGRESS/step")
    done_typical=$(( done_typical + ${TYPICAL[$prev]} ))
    done_actual=$(( done_actual + now - $(<"$PROGRESS/since") ))
  fi
  local i later=0 seen=0
  for i in "${STEPS[@]}"; do
    (( seen )) && later=$(( later + TYPICAL[$i] ))
    [[ $i == "$1" ]] && seen=1
  done
  # slowness in percent: real/typical of what is done, 100 before anything is.
  local slow=100
  (( done_typical > 0 )) && slow=$(( done_actual * 100 / done_typical ))
  (( slow < 50 )) && slow=50
  printf '%s\n' "$1" > "$PROGRESS/step.tmp"
  { echo "$1"; echo "$2"; echo "$now"; echo "$slow"; echo "$later"; } > "$PROGRESS/state.tmp"
  echo "$now" > "$PROGRESS/since"
  : > "$PROGRESS/pkgs"; echo 0 > "$PROGRESS/total"
  mv "$PROGRESS/state.tmp" "$PROGRESS/state"; mv "$PROGRESS/step.tmp" "$PROGRESS/step"
  log "step $(( $(index_of "$1") + 1 ))/${#STEPS[@]}: $2"
}
index_of() { local i; for i in "${!STEPS[@]}"; do [[ ${STEPS[$i]} == "$1" ]] && echo "$i" && return; done; echo 0; }
progress_line() {
  local name what since slow later now el pkgs total left detail
  now=$(date +%s)
  if [[ ! -f "$PROGRESS/state" ]]; then
    log "waiting for another build of v$K8S_VERSION: $(fmt $(( now - start ))) so far"
    return 0
  fi
  { read -r name; read -r what; read -r since; read -r slow; read -r later; } < "$PROGRESS/state" || return 0
  el=$(( now - since ))
  pkgs=$(wc -l < "$PROGRESS/pkgs"); total=$(<"$PROGRESS/total")
  if (( total > 0 && pkgs > 0 )); then
    (( pkgs > total )) && total=$pkgs
    left=$(( el * (total - pkgs) / pkgs ))
    detail="$pkgs/$total packages compiled"
  else
    left=$(( TYPICAL[$name] * slow / 100 - el )); (( left < 5 )) && left=5
    detail=""
  fi
  local all=$(( left + later * slow / 100 ))
  log "${waiting:+another build is running: }$what: $(fmt "$el") so far${detail:+, $detail}; this step about $(fmt "$left") more, the whole build about $(fmt "$all") more (started $(fmt $(( now - start ))) ago)"
}
ticker() {
  local every="${INTERLINK_PROGRESS_SECONDS:-10}"
  set +e
  while sleep "$every"; do
    kill -0 "$1" 2>/dev/null || exit 0
    progress_line
  done
}

# One build at a time per cache (two test projects may ask at once); the winner's result
# satisfies the others.
mkdir -p "$CACHE_ROOT"
exec 9>"$OUT.lock"
if ! flock -n 9; then
  log "another build of v$K8S_VERSION is running; waiting for it (its progress follows)"
  waiting=1
  start_ticker
  flock 9
  stop_ticker
  waiting=""
fi
if have_all; then
  echo "$OUT"
  exit 0
fi

command -v go >/dev/null || { echo "build.sh: the Go toolchain is needed (expected /usr/local/go/bin/go)" >&2; exit 1; }

mkdir -p "$WORK/etcd" "$OUT/bin"
cd "$WORK"
rm -rf "$PROGRESS"
mkdir -p "$PROGRESS"
: > "$PROGRESS/compiled"   # every package compiled so far in this run
start_ticker

# go build -v of one target, its package names counted for the progress line; the output is
# shown only when the build fails.
go_build() {
  local out=$1; shift
  go list -deps "${@: -1}" 2>/dev/null | grep -vxFf "$PROGRESS/compiled" | wc -l > "$PROGRESS/total" || true
  if ! go build -v -o "$out" "$@" 2> "$PROGRESS/pkgs"; then
    tail -40 "$PROGRESS/pkgs" >&2
    return 1
  fi
  cat "$PROGRESS/pkgs" >> "$PROGRESS/compiled"
}

log "Kubernetes v$K8S_VERSION with $(go version | awk '{print $3}'), into $OUT (a cold build takes ~8 min on an idle 2-core machine, much longer on a busy one; once per machine)"
step download "downloading k8s.io/kubernetes@v$K8S_VERSION"
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

step tidy "resolving and downloading the module graph (go mod tidy)"
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
  step "$target" "building $target"
  go_build "$OUT/bin/$target.tmp" -trimpath -ldflags "-s -w -X k8s.io/component-base/version.gitVersion=v$K8S_VERSION -X k8s.io/client-go/pkg/version.gitVersion=v$K8S_VERSION" \
    "k8s.io/kubernetes/cmd/$target"
  mv "$OUT/bin/$target.tmp" "$OUT/bin/$target"
  log "built $target in $(( $(date +%s) - t0 ))s"
done
if [[ ! -x "$OUT/bin/etcd" ]]; then
  t0=$(date +%s)
  step etcd "building etcd"
  go_build "$OUT/bin/etcd.tmp" -trimpath -ldflags "-s -w" ./etcd
  mv "$OUT/bin/etcd.tmp" "$OUT/bin/etcd"
  log "built etcd in $(( $(date +%s) - t0 ))s"
fi
have_all
log "control plane binaries ready in $(( $(date +%s) - start ))s"
echo "$OUT"

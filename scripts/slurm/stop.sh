#!/usr/bin/env bash
# Stop the test cluster started by start.sh (by its pid files; other Slurm daemons on the
# machine are left alone). Idempotent.
set -euo pipefail
CACHE_ROOT="${INTERLINK_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/interlink}"
DIR="${SLURM_DIR:-$CACHE_ROOT/slurm}"
for d in slurmd slurmctld; do
  pf="$DIR/run/$d.pid"
  [[ -f $pf ]] || continue
  pid="$(cat "$pf")"
  if kill -0 "$pid" 2>/dev/null; then
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$pf"
done

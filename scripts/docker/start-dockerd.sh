#!/usr/bin/env bash
# Start (or reuse) the dockerd the tests use, with its own data root, exec root, socket,
# pid file and config under a cache dir, so it never collides with a system dockerd.
#
# Flags as in DESIGN.md §5: this sandbox has no iptables and no bridge, so only the
# `host` and `none` networks work; vfs is the one storage driver that needs no overlay
# support; cgroupfs because there is no systemd.
#
# Idempotent: a dockerd already answering on the socket is reused. Blocks until
# `docker info` answers (at most DOCKERD_WAIT seconds, default 90). Prints the
# DOCKER_HOST value (unix://.../docker.sock) as the last line of stdout.
#
# Env: INTERLINK_CACHE (default ~/.cache/interlink), DOCKERD_DIR (default
# $INTERLINK_CACHE/dockerd), DOCKER_CLI (default /usr/bin/docker, Debian's client, which
# matches the 20.10 engine).
set -euo pipefail

CACHE_ROOT="${INTERLINK_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/interlink}"
DIR="${DOCKERD_DIR:-$CACHE_ROOT/dockerd}"
SOCK="$DIR/docker.sock"
HOST="unix://$SOCK"
CLI="${DOCKER_CLI:-/usr/bin/docker}"
WAIT="${DOCKERD_WAIT:-90}"

log() { echo "[dockerd $(date +%H:%M:%S)] $*" >&2; }
answers() { DOCKER_HOST="$HOST" timeout 10 "$CLI" info --format '{{.ServerVersion}}' >/dev/null 2>&1; }

if answers; then
  log "reusing the dockerd on $HOST"
  echo "$HOST"
  exit 0
fi

DOCKERD="$(command -v dockerd || echo /usr/sbin/dockerd)"
[[ -x "$DOCKERD" ]] || { echo "start-dockerd.sh: dockerd not found; run scripts/docker/install.sh" >&2; exit 1; }
[[ -x "$CLI" ]] || { echo "start-dockerd.sh: docker client $CLI not found; run scripts/docker/install.sh" >&2; exit 1; }

mkdir -p "$DIR/data" "$DIR/exec"
# A dockerd that is still starting (another run raced us) owns the pid file: wait for it.
if [[ -f "$DIR/dockerd.pid" ]] && kill -0 "$(cat "$DIR/dockerd.pid")" 2>/dev/null; then
  log "a dockerd (pid $(cat "$DIR/dockerd.pid")) is starting; waiting for it"
else
  rm -f "$DIR/dockerd.pid" "$SOCK"
  # The network store holds the sandboxes of containers a stopped dockerd had running.
  # dockerd removes them one by one on every start (~0.3 s each) before it answers, and here
  # it never forgets them: 85 made a start take 24-54 s, 610 took 186 s. Only the predefined
  # `host` and `none` networks exist in this setup (no bridge, no iptables) and dockerd
  # recreates them, so the store can always go; containers left in the data root still
  # start, and attach to the recreated networks by name.
  rm -f "$DIR/data/network/files/local-kv.db"
  # Our own (empty) daemon config: /etc/docker/daemon.json is the system dockerd's business.
  [[ -f "$DIR/daemon.json" ]] || echo '{}' >"$DIR/daemon.json"
  log "starting dockerd on $HOST (data in $DIR, log in $DIR/dockerd.log)"
  # setsid: the daemon outlives this script and the test runner that called it.
  setsid "$DOCKERD" \
    --host "$HOST" \
    --data-root "$DIR/data" \
    --exec-root "$DIR/exec" \
    --pidfile "$DIR/dockerd.pid" \
    --config-file "$DIR/daemon.json" \
    --iptables=false --ip6tables=false --bridge=none \
    --storage-driver=vfs \
    --exec-opt native.cgroupdriver=cgroupfs \
    </dev/null >>"$DIR/dockerd.log" 2>&1 &
fi

for ((i = 0; i < WAIT * 2; i++)); do
  if answers; then
    log "dockerd ready ($(DOCKER_HOST="$HOST" "$CLI" info --format '{{.ServerVersion}}'))"
    echo "$HOST"
    exit 0
  fi
  sleep 0.5
done
log "dockerd did not answer within ${WAIT}s; last lines of $DIR/dockerd.log:"
tail -n 30 "$DIR/dockerd.log" >&2 || true
exit 1

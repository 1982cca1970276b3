#!/usr/bin/env bash
# Install the Docker engine the tests use (Debian `docker.io`, engine 20.10) and the
# `busybox-static` package the test image is made from, when they are missing.
# Idempotent: does nothing when `dockerd` and `/bin/busybox` are already there.
#
# The machine may carry a newer docker CLI (for example /usr/local/bin/docker, v28) which
# refuses to talk to a 20.10 engine unless DOCKER_API_VERSION is pinned. The scripts and the
# tests use Debian's own client, /usr/bin/docker, which matches the engine; see
# start-dockerd.sh, which prints the client path beside DOCKER_HOST.
set -euo pipefail

need=()
command -v dockerd >/dev/null 2>&1 || [[ -x /usr/sbin/dockerd ]] || need+=(docker.io)
[[ -x /usr/bin/docker ]] || need+=(docker.io)
[[ -x /bin/busybox ]] || need+=(busybox-static)

if [[ ${#need[@]} -eq 0 ]]; then
  exit 0
fi
# docker.io appears twice when both the engine and the client are missing.
mapfile -t need < <(printf '%s\n' "${need[@]}" | sort -u)

if [[ $(id -u) -ne 0 ]]; then
  echo "install.sh: need root to install ${need[*]} (apt-get)" >&2
  exit 1
fi

echo "[docker-install] installing ${need[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
# Other installers (the Slurm or control-plane scripts) may hold the dpkg lock: wait for it.
apt_opts=(-o DPkg::Lock::Timeout=900)
# A failing update (one mirror down) should not hide a package that is already indexed.
apt-get "${apt_opts[@]}" update -qq >&2 || echo "[docker-install] apt-get update failed; trying with the existing lists" >&2
# No recommends: we want the engine, containerd and runc, not cgroupfs-mount, git, xz helpers.
apt-get "${apt_opts[@]}" install -y -qq --no-install-recommends "${need[@]}" >&2

#!/usr/bin/env bash
# Install Debian's Prometheus server (`prometheus` and `promtool`) when it is absent, for
# test/e2e/prometheus.test.ts, which scrapes a live chain and runs every query of
# deploy/grafana/interlink-dashboard.json and deploy/prometheus/interlink-alerts.yaml.
# Idempotent: does nothing when both binaries are on PATH.
#
# The Debian service is never started (policy-rc.d while installing): the test runs the
# binary itself with a temporary config, storage directory and port.
set -euo pipefail

need=(prometheus promtool)
missing=0
for b in "${need[@]}"; do command -v "$b" >/dev/null || missing=1; done
if [[ $missing == 0 ]]; then
  exit 0
fi

log() { echo "[prometheus-install $(date +%H:%M:%S)] $*" >&2; }
export DEBIAN_FRONTEND=noninteractive
# Other installers may hold the dpkg lock: wait for it, don't fail.
APT=(apt-get -y -q -o DPkg::Lock::Timeout=600 -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold)

policy=/usr/sbin/policy-rc.d
created_policy=0
if [[ ! -e $policy ]]; then
  printf '#!/bin/sh\nexit 101\n' >"$policy"
  chmod 0755 "$policy"
  created_policy=1
fi
cleanup() { [[ $created_policy == 1 ]] && rm -f "$policy"; return 0; }
trap cleanup EXIT

if ! apt-cache show prometheus >/dev/null 2>&1; then
  log "apt-get update"
  "${APT[@]}" update >&2
fi
log "installing prometheus"
"${APT[@]}" install --no-install-recommends prometheus >&2 || {
  # A stale package index: refresh once and retry.
  log "retrying after apt-get update"
  "${APT[@]}" update >&2
  "${APT[@]}" install --no-install-recommends prometheus >&2
}
for b in "${need[@]}"; do
  command -v "$b" >/dev/null || { echo "install.sh: $b still missing after installing prometheus" >&2; exit 1; }
done
log "installed: prometheus $(dpkg-query -W -f='${Version}' prometheus 2>/dev/null || echo ?)"

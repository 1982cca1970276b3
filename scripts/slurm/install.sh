#!/usr/bin/env bash
# Install Debian's Slurm (slurm-wlm 22.05: slurmctld, slurmd and the client commands) when
# it is absent. Idempotent: does nothing when the binaries are already on PATH.
#
# We run Slurm with AuthType=auth/none (scripts/slurm/start.sh), so munge is never started;
# Debian still pulls it in as a dependency, which is harmless. Services are not started by
# the package (policy-rc.d), and /etc/slurm is never touched: start.sh writes its own config.
set -euo pipefail

need=(slurmctld slurmd sbatch squeue scancel scontrol sinfo sacct)
missing=0
for b in "${need[@]}"; do command -v "$b" >/dev/null || missing=1; done
if [[ $missing == 0 ]]; then
  exit 0
fi

log() { echo "[slurm-install $(date +%H:%M:%S)] $*" >&2; }
export DEBIAN_FRONTEND=noninteractive
# Other installers (dockerd's, for instance) may hold the dpkg lock: wait for it, don't fail.
APT=(apt-get -y -q -o DPkg::Lock::Timeout=600 -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold)

# Keep the package's maintainer scripts from starting daemons with the system config.
policy=/usr/sbin/policy-rc.d
created_policy=0
if [[ ! -e $policy ]]; then
  printf '#!/bin/sh\nexit 101\n' >"$policy"
  chmod 0755 "$policy"
  created_policy=1
fi
cleanup() { [[ $created_policy == 1 ]] && rm -f "$policy"; return 0; }
trap cleanup EXIT

if ! apt-cache show slurm-wlm >/dev/null 2>&1; then
  log "apt-get update"
  "${APT[@]}" update >&2
fi
log "installing slurm-wlm"
"${APT[@]}" install --no-install-recommends slurm-wlm slurm-client >&2 || {
  # A stale package index: refresh once and retry.
  log "retrying after apt-get update"
  "${APT[@]}" update >&2
  "${APT[@]}" install --no-install-recommends slurm-wlm slurm-client >&2
}
for b in "${need[@]}"; do
  command -v "$b" >/dev/null || { echo "install.sh: $b still missing after installing slurm-wlm" >&2; exit 1; }
done
log "installed: slurm-wlm $(dpkg-query -W -f='${Version}' slurm-wlm 2>/dev/null || echo ?)"

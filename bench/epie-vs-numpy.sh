#!/usr/bin/env bash
# Per-pass CPU time of `epie` (known probe) against the numpy anchor
# (bench/reference_epie.py), side by side: in every round the anchor, this
# checkout and each other checkout named on the command line, at 2 and at
# 22 passes, Run1084 through `poisson` at 1e6 on the cpu backend. CPU
# seconds (user + system) per pass = (22-pass − 2-pass) / 20, so start-up,
# the noise draw and the scale fit cancel. Run it under `nice` on a shared
# machine and state the load average it prints.
#   bench/epie-vs-numpy.sh ROUNDS [NAME=DIR ...]     e.g. 4 main=/path/to/main-checkout
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
data=${RUN1084:-$here/../shared/data/ptychopinn_run1084/run1084_sim_canonical.npz}
rounds=${1:-2}
shift || true
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cat >"$tmp/epie.yaml" <<EOF
seed: 1084
backend: cpu
sources:
  scan: { type: npz, path: $data, input: amplitude }
transforms:
  noisy: { type: poisson, inputs: [scan], dose: 1.0e6 }
sinks:
  epie: { type: epie, inputs: [noisy], epochs: 2 }
EOF
cpu() { # name passes command... → "name passes cpu_seconds wall_seconds"
  local name=$1 passes=$2
  shift 2
  /usr/bin/time -f "%U %S %e" -o "$tmp/time" "$@" >/dev/null 2>"$tmp/err" || { cat "$tmp/err" >&2; exit 1; }
  read -r u s e <"$tmp/time"
  echo "$name $passes $(echo "$u + $s" | bc) $e"
}
echo "# $(uptime)"
echo "# $(node --version), numpy $(python3 -c 'import numpy; print(numpy.__version__)'), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs) x $(nproc)"
for r in $(seq 1 "$rounds"); do
  : >"$tmp/round"
  for p in 2 22; do
    cpu numpy $p python3 "$here/bench/reference_epie.py" "$data" --out "$tmp/ref.npz" --dose 1e6 --passes $p --final-step 0.2 >>"$tmp/round"
    for spec in "this=$here" "$@"; do
      name=${spec%%=*} dir=${spec#*=}
      (cd "$dir" && cpu "$name" $p node bin/ptychoflow.js run "$tmp/epie.yaml" --output "$tmp/out-$name" --set sinks.epie.epochs=$p) >>"$tmp/round"
    done
  done
  # Per pass and against the anchor, one line per round.
  awk -v r="$r" '{ t[$1, $2] = $3; if (!($1 in seen)) { seen[$1] = 1; names[++n] = $1 } }
    END { printf "round %d:", r; a = (t["numpy", 22] - t["numpy", 2]) / 20;
          for (i = 1; i <= n; i++) { v = (t[names[i], 22] - t[names[i], 2]) / 20; printf " %s %.3f s/pass", names[i], v; if (names[i] != "numpy") printf " (%.2fx numpy)", v / a }
          printf "\n" }' "$tmp/round"
done
echo "# $(uptime)"

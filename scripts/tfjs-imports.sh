#!/usr/bin/env bash
# Points every import of the @tensorflow/tfjs meta-package at src/tf.ts (a
# relative path from each file). Idempotent: re-run it after merging a branch
# that still imports '@tensorflow/tfjs'.
set -euo pipefail
cd "$(dirname "$0")/.."
grep -rlE "from '@tensorflow/tfjs'" src test bench examples | while read -r f; do
  rel=$(realpath -m --relative-to="$(dirname "$f")" src/tf.js)
  case "$rel" in .*) ;; *) rel="./$rel" ;; esac
  sed -i "s#from '@tensorflow/tfjs'#from '$rel'#" "$f"
done

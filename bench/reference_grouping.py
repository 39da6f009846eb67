#!/usr/bin/env python3
"""Time the reference PtychoPINN's eager grouping path on a canonical NPZ.

A re-implementation for timing only (not their code): the steps and array
shapes follow ../shared/reference/ptychopinn-upstream.md §2.1 and §3.2–3.4
(RawData.generate_grouped_data → _generate_groups_efficiently →
_generate_dataset_from_groups → normalize_data):

  1. the whole `diffraction` array is loaded into memory;
  2. every position is a seed (n_groups = n); a scipy cKDTree over (x, y) is
     queried for K + 1 neighbours, the first hit (the seed) is dropped and C of
     the remaining K are drawn at random without replacement, per seed;
  3. diffraction[nn_indices] is gathered and moved channel-last (B, N, N, C);
  4. normalize_data: cast to float64, k = sqrt((N/2)² / mean per-pattern
     energy), X_full = float32(k) · D;
  5. coords_nn, the group centres and centre − position offsets.

Prints one JSON line: {"bench": "reference-grouping", "groups", "N", "gridsize",
"seconds", "groups_per_s", "load_seconds"} where `seconds` covers steps 2–5 (the
grouping the issue quotes at 3.3–6 k groups/s) and `load_seconds` step 1.

    python3 bench/reference_grouping.py FILE.npz [--gridsize 2] [--k 7] [--seed 1]
"""
import argparse
import json
import time

import numpy as np
from scipy.spatial import cKDTree


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("file")
    p.add_argument("--gridsize", type=int, default=2)
    p.add_argument("--k", type=int, default=7)
    p.add_argument("--seed", type=int, default=1)
    a = p.parse_args()
    C = a.gridsize * a.gridsize

    t0 = time.perf_counter()
    with np.load(a.file) as z:
        diff = z["diffraction"]
        xs = z["xcoords"].astype(np.float64)
        ys = z["ycoords"].astype(np.float64)
    load_s = time.perf_counter() - t0
    n, N = diff.shape[0], diff.shape[1]

    t1 = time.perf_counter()
    np.random.seed(a.seed)
    pts = np.stack([xs, ys], axis=1)
    tree = cKDTree(pts)
    _, nn = tree.query(pts, k=min(a.k + 1, n))
    groups = np.empty((n, C), dtype=np.int32)
    for i in range(n):
        pool = nn[i, 1 : a.k + 1]
        groups[i] = np.random.choice(pool, C, replace=False)
    # (B, C, N, N) gathered, then channel-last as the model wants it.
    grouped = np.transpose(diff[groups], (0, 2, 3, 1))
    d64 = grouped.astype(np.float64)
    energy = np.mean(np.sum(d64 * d64, axis=(1, 2)))
    k = np.sqrt((N / 2) ** 2 / energy)
    x_full = (np.float32(k) * d64).astype(np.float32)
    coords_nn = np.stack([xs[groups], ys[groups]], axis=1)[:, None, :, :]  # (B, 1, 2, C)
    centre = coords_nn.mean(axis=3, keepdims=True)
    offsets = centre - coords_nn
    seconds = time.perf_counter() - t1

    assert x_full.shape == (n, N, N, C) and offsets.shape == (n, 1, 2, C)
    print(json.dumps({"bench": "reference-grouping", "groups": int(n), "N": int(N), "gridsize": a.gridsize, "seconds": seconds, "groups_per_s": n / seconds, "load_seconds": load_s}))


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Textbook ePIE in numpy: the anchor the `epie` sink is timed and scored against.

Our own implementation of the update of Maiden & Rodenburg (2009), for timing
and scores only (it is not part of ptychoflow):

  for every pass, for every pattern j in a new random order:
      psi   = P * O[window j]
      Psi   = fft2(psi, norm="ortho")              (unshifted: the data are
                                                    ifftshifted once up front)
      psi'  = ifft2(A_j * Psi / |Psi|, norm="ortho")
      O[window j] += beta * conj(P) / max|P|^2 * (psi' - psi)
      P           += beta * conj(O_j) / max|O_j|^2 * (psi' - psi)   (--probe-from)

with a flat starting object scaled so that its predicted energy matches the
data (as the sink does), the known probe, integer window positions (the
Run1084 canonical file has integer coordinates) and beta decaying by a cosine
from --step to --final-step over the passes (--final-step = --step: constant).
Noise: counts ~ Poisson(c * A^2) with c = dose / mean sum A^2 (the convention
of ptychoflow's `poisson` stage, with numpy's generator: another realisation of
the same statistics).

Writes an NPZ in the layout of ptychoflow's reconstructions (object, probe,
origin = [0, 0]) so that `evaluate` scores it exactly like the sink's, and
prints one JSON line: {"bench": "reference-epie", "patterns", "N", "passes",
"seconds_per_pass", "seconds", "fourier_error"}.

    python3 bench/reference_epie.py FILE.npz --out ref.npz [--dose 1e6]
        [--passes 30] [--step 1] [--final-step 0.2] [--probe-from 0] [--seed 1]
"""
import argparse
import json
import math
import time

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("npz")
    ap.add_argument("--out", required=True)
    ap.add_argument("--dose", type=float, default=0.0, help="mean counts per pattern (0: noise-free)")
    ap.add_argument("--passes", type=int, default=30)
    ap.add_argument("--step", type=float, default=1.0)
    ap.add_argument("--final-step", type=float, default=0.2)
    ap.add_argument("--probe-from", type=int, default=0, help="1-based pass from which the probe is updated (0: never)")
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()

    d = np.load(a.npz, allow_pickle=False)
    amp = np.asarray(d["diffraction"], dtype=np.float64)
    probe = np.asarray(d["probeGuess"], dtype=np.complex128)
    x = np.asarray(d["xcoords"], dtype=np.float64)
    y = np.asarray(d["ycoords"], dtype=np.float64)
    n, N = amp.shape[0], amp.shape[1]
    truth = d["objectGuess"] if "objectGuess" in d.files else None
    rng = np.random.default_rng(a.seed)
    if a.dose > 0:
        c = a.dose / np.mean(np.sum(amp**2, axis=(1, 2)))
        amp = np.sqrt(rng.poisson(c * amp**2) / c)
    data = np.fft.ifftshift(amp, axes=(-2, -1))
    x0 = np.rint(x - N / 2).astype(int)
    y0 = np.rint(y - N / 2).astype(int)
    H = max(int(y0.max()) + N, truth.shape[0] if truth is not None else 0)
    W = max(int(x0.max()) + N, truth.shape[1] if truth is not None else 0)
    if x0.min() < 0 or y0.min() < 0:
        raise SystemExit("a window starts below pixel 0: this anchor expects canonical positions inside the object")
    # Flat object with the energy of the data: sum |P|^2 s^2 = mean sum A^2.
    scale = math.sqrt(np.mean(np.sum(amp**2, axis=(1, 2))) / np.sum(np.abs(probe) ** 2))
    obj = np.full((H, W), scale, dtype=np.complex128)

    times, errors = [], []
    t_all = time.perf_counter()
    for it in range(a.passes):
        beta = a.final_step + (a.step - a.final_step) * (1 + math.cos(math.pi * it / max(a.passes - 1, 1))) / 2
        probe_on = a.probe_from > 0 and it + 1 >= a.probe_from
        t0 = time.perf_counter()
        err = energy = 0.0
        for j in rng.permutation(n):
            win = obj[y0[j] : y0[j] + N, x0[j] : x0[j] + N]
            psi = probe * win
            Psi = np.fft.fft2(psi, norm="ortho")
            mag = np.abs(Psi)
            err += float(np.sum((mag - data[j]) ** 2))
            energy += float(np.sum(data[j] ** 2))
            dpsi = np.fft.ifft2(data[j] * Psi / np.maximum(mag, 1e-30), norm="ortho") - psi
            old = win.copy() if probe_on else None
            win += beta * np.conj(probe) / np.max(np.abs(probe) ** 2) * dpsi
            if probe_on:
                probe = probe + beta * np.conj(old) / np.max(np.abs(old) ** 2) * dpsi
        times.append(time.perf_counter() - t0)
        errors.append(err / energy)
    seconds = time.perf_counter() - t_all

    np.savez(a.out, object=obj.astype(np.complex64), probe=probe.astype(np.complex64), origin=np.array([0.0, 0.0]), fourier_error=np.array(errors))
    print(json.dumps({
        "bench": "reference-epie", "patterns": n, "N": N, "passes": a.passes, "dose": a.dose,
        "seconds_per_pass": round(float(np.mean(times)), 4), "seconds": round(seconds, 3),
        "fourier_error": errors[-1], "numpy": np.__version__,
    }))


if __name__ == "__main__":
    main()

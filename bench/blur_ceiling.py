#!/usr/bin/env python3
"""What SSIM a reconstruction of a given resolution can reach: blurs the truth
of a canonical NPZ (amplitude and phase each by a Gaussian of σ pixels) and
scores each blurred copy with ptychoflow's own `evaluate` stage, the protocol
of docs/RESULTS.md (SPEC §7). Used there to read a reconstruction's SSIM as
an equivalent blur.

    python3 bench/blur_ceiling.py ../shared/data/ptychopinn_run1084/run1084_sim_canonical.npz \
        [--sigmas 0.5,1,1.5,2,3] [--out /tmp/blur-ceiling]

Needs numpy; runs `node bin/ptychoflow.js` from the repository root.
"""
import argparse
import json
import os
import subprocess
import sys

import numpy as np


def blurred(a, sigma):
    n, m = a.shape
    fy = np.fft.fftfreq(n)[:, None]
    fx = np.fft.fftfreq(m)[None, :]
    g = np.exp(-2 * np.pi ** 2 * sigma ** 2 * (fx ** 2 + fy ** 2))
    return np.real(np.fft.ifft2(np.fft.fft2(a) * g)).astype(np.float32)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("scan", help="canonical NPZ with objectGuess and probeGuess")
    ap.add_argument("--sigmas", default="0.5,1,1.5,2,3")
    ap.add_argument("--out", default="/tmp/blur-ceiling")
    a = ap.parse_args()
    scan = os.path.abspath(a.scan)
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    os.makedirs(a.out, exist_ok=True)
    d = np.load(scan)
    obj = d["objectGuess"]
    print("sigma_px\tamplitude_ssim\tphase_ssim\tamplitude_psnr\tphase_psnr")
    for s in [float(x) for x in a.sigmas.split(",")]:
        amp, ph = blurred(np.abs(obj), s), blurred(np.angle(obj), s)
        npz = os.path.join(a.out, f"blur{s}.npz")
        np.savez(npz, object=(amp * np.exp(1j * ph)).astype(np.complex64), amplitude=amp, phase=ph, probe=d["probeGuess"])
        yaml = os.path.join(a.out, f"blur{s}.yaml")
        with open(yaml, "w") as f:
            f.write(f"seed: 1\nbackend: cpu\noutput: {json.dumps(os.path.join(a.out, f'out{s}'))}\n"
                    f"sources:\n  scan: {{ type: npz, path: {json.dumps(scan)}, input: amplitude }}\n"
                    f"sinks:\n  evaluate: {{ type: evaluate, inputs: [scan], reconstruction: {json.dumps(npz)}, truth: scan }}\n")
        r = subprocess.run(["node", "bin/ptychoflow.js", "run", yaml, "--json"], cwd=root, capture_output=True, text=True)
        if r.returncode != 0:
            sys.exit(f"sigma {s}: ptychoflow failed:\n{r.stderr}")
        with open(os.path.join(a.out, f"out{s}", "metrics.json")) as f:
            m = json.load(f)
        print(f"{s}\t{m['amplitude']['ssim']:.3f}\t{m['phase']['ssim']:.3f}\t{m['amplitude']['psnr']:.1f}\t{m['phase']['psnr']:.1f}")


if __name__ == "__main__":
    main()

// Tiny simulated training data for the model tests: a smooth random complex
// object, a Gaussian probe, groups of patches cut at integer positions, and
// their far-field amplitudes through the physics forward model (with the probe
// normalised exactly as the model normalises it), so a perfect fit exists.
import * as tf from '../../src/tf.js';
import { farFieldAmplitude } from '../../src/physics/forward.js';
import { normalizeProbe } from '../../src/physics/probe.js';
import type { Complex2D } from '../../src/pipeline/types.js';
import { Rng } from '../../src/util/rng.js';

export function gaussianProbe(N: number, sigma: number): Complex2D {
  const re = new Float32Array(N * N);
  const im = new Float32Array(N * N);
  const c = N / 2;
  for (let y = 0; y < N; y++) {
    for (let x = 0; x < N; x++) {
      const r2 = (x - c) ** 2 + (y - c) ** 2;
      const a = Math.exp(-r2 / (2 * sigma * sigma));
      // A gentle quadratic phase, so the probe is not real.
      re[y * N + x] = a * Math.cos(0.01 * r2);
      im[y * N + x] = a * Math.sin(0.01 * r2);
    }
  }
  return { height: N, width: N, re, im };
}

/** Sum of a few random low-frequency cosines, rescaled to [0, 1]. */
function smooth(H: number, rng: Rng): Float32Array {
  const out = new Float32Array(H * H);
  const waves = Array.from({ length: 5 }, () => ({ kx: (rng.uniform() - 0.5) * 0.6, ky: (rng.uniform() - 0.5) * 0.6, p: rng.uniform() * 6.28 }));
  for (let y = 0; y < H; y++) for (let x = 0; x < H; x++) out[y * H + x] = waves.reduce((s, w) => s + Math.cos(w.kx * x + w.ky * y + w.p), 0);
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of out) {
    lo = Math.min(lo, v);
    hi = Math.max(hi, v);
  }
  return out.map((v) => (v - lo) / (hi - lo));
}

export interface SimData {
  N: number;
  C: number;
  B: number;
  probe: Complex2D;
  /** (B,N,N,C) amplitudes */
  X: Float32Array;
  /** (B,1,2,C) offsets = centre − position, [x, y] */
  coords: Float32Array;
}

/** `groups` groups of C = gridsize² patches (members 4 px apart on a g×g raster around a random centre). */
export function simulate(opts: { N: number; gridsize: number; groups: number; seed: number; sigma?: number }): SimData {
  const { N, gridsize: g, groups: B, seed } = opts;
  const C = g * g;
  const rng = new Rng(seed);
  const H = 3 * N;
  const amp = smooth(H, rng).map((v) => 0.3 + 0.6 * v);
  const phase = smooth(H, rng).map((v) => 1.2 * (v - 0.5));
  const probe = gaussianProbe(N, opts.sigma ?? N / 10);
  const normed = normalizeProbe(probe, { probeScale: 4, mask: true }).probe;
  const objRe = new Float32Array(B * N * N * C);
  const objIm = new Float32Array(B * N * N * C);
  const coords = new Float32Array(B * 2 * C);
  const d = 4;
  for (let b = 0; b < B; b++) {
    const cx = N + rng.int(N);
    const cy = N + rng.int(N);
    for (let c = 0; c < C; c++) {
      const dx = ((c % g) - (g - 1) / 2) * d;
      const dy = (Math.floor(c / g) - (g - 1) / 2) * d;
      const px = Math.round(cx + dx);
      const py = Math.round(cy + dy);
      coords[b * 2 * C + c] = cx - px;
      coords[b * 2 * C + C + c] = cy - py;
      for (let y = 0; y < N; y++) {
        for (let x = 0; x < N; x++) {
          const o = (py - N / 2 + y) * H + (px - N / 2 + x);
          const i = ((b * N + y) * N + x) * C + c;
          objRe[i] = amp[o]! * Math.cos(phase[o]!);
          objIm[i] = amp[o]! * Math.sin(phase[o]!);
        }
      }
    }
  }
  const X = tf.tidy(() =>
    farFieldAmplitude(
      tf.tensor4d(objRe, [B, N, N, C]),
      tf.tensor4d(objIm, [B, N, N, C]),
      tf.tensor2d(normed.re, [N, N]),
      tf.tensor2d(normed.im, [N, N]),
    ).dataSync<'float32'>(),
  );
  return { N, C, B, probe, X: Float32Array.from(X), coords };
}

export function tensors(d: SimData): { X: tf.Tensor4D; coords: tf.Tensor4D } {
  return { X: tf.tensor4d(d.X, [d.B, d.N, d.N, d.C]), coords: tf.tensor4d(d.coords, [d.B, 1, 2, d.C]) };
}

/** The Poisson NLL's floor mean(y − y·log y) at s₀, reached when the prediction equals the data. */
export function nllFloor(d: SimData, s0: number, eps = 1e-12): number {
  let sum = 0;
  for (const a of d.X) {
    const y = (s0 * a) ** 2;
    sum += y - y * Math.log(y + eps);
  }
  return sum / d.X.length;
}

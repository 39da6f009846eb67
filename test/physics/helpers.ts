// Shared helpers for the physics tests.
import type { Complex2D } from '../../src/pipeline/types.js';
import { Rng } from '../../src/util/rng.js';

/** Deterministic pseudo-random values in [-1, 1) (a plain LCG: tests depend on the exact values). */
export function noise(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 2 ** 31 - 1;
  }
  return out;
}

export /** Smooth random complex image: blurred white noise, amplitude ~1 ± 0.3, phase within ±1 rad. */
function smoothObject(h: number, w: number, seed: number): Complex2D {
  const rng = new Rng(seed),
    a = new Float64Array(h * w),
    p = new Float64Array(h * w);
  for (let i = 0; i < h * w; i++) {
    a[i] = rng.normal();
    p[i] = rng.normal();
  }
  const blur = (v: Float64Array): Float64Array => {
    const o = new Float64Array(h * w);
    for (let y = 0; y < h; y++)
      for (let x = 0; x < w; x++) {
        let s = 0;
        for (let dy = -2; dy <= 2; dy++) for (let dx = -2; dx <= 2; dx++) s += v[((y + dy + h) % h) * w + ((x + dx + w) % w)]!;
        o[y * w + x] = s / 5;
      }
    return o;
  };
  const A = blur(a),
    P = blur(p),
    re = new Float32Array(h * w),
    im = new Float32Array(h * w);
  for (let i = 0; i < h * w; i++) {
    const amp = 1 + 0.3 * Math.tanh(A[i]!),
      ph = Math.tanh(P[i]!);
    re[i] = amp * Math.cos(ph);
    im[i] = amp * Math.sin(ph);
  }
  return { height: h, width: w, re, im };
}

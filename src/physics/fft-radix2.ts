// The 1-D radix-2 transform of the host FFT (fftjs.ts): plans (twiddles of
// every stage, the bit-reversal swaps) cached per length, and the in-place
// unscaled DFT of one contiguous row.
import type { Radix2 } from './fft-columns.js';

const radix2Plans = new Map<number, Radix2>();

export function radix2Plan(n: number): Radix2 {
  let p = radix2Plans.get(n);
  if (p !== undefined) return p;
  const twRe = new Float64Array(Math.max(1, n - 1)),
    twIm = new Float64Array(Math.max(1, n - 1));
  for (let len = 2; len <= n; len <<= 1) {
    const half = len >> 1;
    for (let k = 0; k < half; k++) {
      twRe[half - 1 + k] = Math.cos((2 * Math.PI * k) / len);
      twIm[half - 1 + k] = -Math.sin((2 * Math.PI * k) / len);
    }
  }
  const bits = Math.round(Math.log2(n));
  const a: number[] = [],
    b: number[] = [];
  for (let i = 0; i < n; i++) {
    let r = 0;
    for (let k = 0; k < bits; k++) r |= ((i >> k) & 1) << (bits - 1 - k);
    if (r > i) {
      a.push(i);
      b.push(r);
    }
  }
  p = { n, twRe, twIm, swapA: Uint32Array.from(a), swapB: Uint32Array.from(b) };
  radix2Plans.set(n, p);
  return p;
}

/** In-place unscaled DFT of re/im[off .. off+n); forward exp(−2πi·), inverse exp(+2πi·). */
export function radix2(p: Radix2, re: Float64Array, im: Float64Array, off: number, inverse: boolean): void {
  const { n, twRe, twIm, swapA, swapB } = p;
  for (let s = 0; s < swapA.length; s++) {
    const i = off + swapA[s]!,
      j = off + swapB[s]!;
    const tr = re[i]!,
      ti = im[i]!;
    re[i] = re[j]!;
    im[i] = im[j]!;
    re[j] = tr;
    im[j] = ti;
  }
  if (n < 2) return;
  const end = off + n;
  const sg = inverse ? -1 : 1;
  if (n === 2) {
    const ar = re[off]!,
      ai = im[off]!,
      br = re[off + 1]!,
      bi = im[off + 1]!;
    re[off] = ar + br;
    im[off] = ai + bi;
    re[off + 1] = ar - br;
    im[off + 1] = ai - bi;
    return;
  }
  // Stages len = 2 and 4 together: their twiddles are 1 and ∓i, so no multiplies.
  for (let a = off; a < end; a += 4) {
    const x0r = re[a]!,
      x0i = im[a]!,
      x1r = re[a + 1]!,
      x1i = im[a + 1]!;
    const x2r = re[a + 2]!,
      x2i = im[a + 2]!,
      x3r = re[a + 3]!,
      x3i = im[a + 3]!;
    const y0r = x0r + x1r,
      y0i = x0i + x1i,
      y1r = x0r - x1r,
      y1i = x0i - x1i;
    const y2r = x2r + x3r,
      y2i = x2i + x3i,
      y3r = x2r - x3r,
      y3i = x2i - x3i;
    const tr = sg * y3i,
      ti = -sg * y3r;
    re[a] = y0r + y2r;
    im[a] = y0i + y2i;
    re[a + 2] = y0r - y2r;
    im[a + 2] = y0i - y2i;
    re[a + 1] = y1r + tr;
    im[a + 1] = y1i + ti;
    re[a + 3] = y1r - tr;
    im[a + 3] = y1i - ti;
  }
  for (let len = 8; len <= n; len <<= 1) {
    const half = len >> 1,
      base = half - 1;
    for (let start = off; start < end; start += len) {
      for (let k = 0; k < half; k++) {
        const wr = twRe[base + k]!,
          wi = sg * twIm[base + k]!;
        const a = start + k,
          b = a + half;
        const br = re[b]!,
          bi = im[b]!;
        const xr = br * wr - bi * wi,
          xi = br * wi + bi * wr;
        const ar = re[a]!,
          ai = im[a]!;
        re[b] = ar - xr;
        im[b] = ai - xi;
        re[a] = ar + xr;
        im[a] = ai + xi;
      }
    }
  }
}

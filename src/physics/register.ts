// Sub-pixel image registration by phase correlation, refined with a matrix-multiply
// upsampled DFT around the coarse peak (the Guizar-Sicairos et al. 2008 approach),
// plus a Fourier sub-pixel shift. fftjs.ts only handles square shifted transforms,
// and evaluation crops are rectangular, so this module carries a general complex
// FFT (radix-2, Bluestein for other lengths) that frc.ts reuses.
import type { Complex2D } from '../records/index.js';
import { OptionsError } from '../errors.js';

const isPow2 = (n: number): boolean => n > 0 && (n & (n - 1)) === 0;

/** In-place iterative radix-2 FFT (sign −1 forward, +1 inverse; no scaling). */
function fftPow2(re: Float64Array, im: Float64Array, sign: number): void {
  const n = re.length;
  for (let i = 1, j = 0; i < n; i++) {
    let bit = n >> 1;
    for (; j & bit; bit >>= 1) j ^= bit;
    j ^= bit;
    if (i < j) {
      const tr = re[i]!;
      re[i] = re[j]!;
      re[j] = tr;
      const ti = im[i]!;
      im[i] = im[j]!;
      im[j] = ti;
    }
  }
  for (let len = 2; len <= n; len <<= 1) {
    const ang = (sign * 2 * Math.PI) / len;
    const wr = Math.cos(ang),
      wi = Math.sin(ang);
    for (let i = 0; i < n; i += len) {
      let cr = 1,
        ci = 0;
      for (let k = 0; k < len / 2; k++) {
        const a = i + k,
          b = a + len / 2;
        const xr = re[b]! * cr - im[b]! * ci,
          xi = re[b]! * ci + im[b]! * cr;
        re[b] = re[a]! - xr;
        im[b] = im[a]! - xi;
        re[a] = re[a]! + xr;
        im[a] = im[a]! + xi;
        const t = cr * wr - ci * wi;
        ci = cr * wi + ci * wr;
        cr = t;
      }
    }
  }
}

/** In-place 1-D DFT of any length (Bluestein's chirp-z for non powers of two); unscaled. */
export function fft1d(re: Float64Array, im: Float64Array, inverse = false): void {
  const n = re.length,
    sign = inverse ? 1 : -1;
  if (n <= 1) return;
  if (isPow2(n)) return fftPow2(re, im, sign);
  const m = 1 << Math.ceil(Math.log2(2 * n - 1));
  const wr = new Float64Array(n),
    wi = new Float64Array(n);
  for (let k = 0; k < n; k++) {
    const a = (sign * Math.PI * ((k * k) % (2 * n))) / n; // k² mod 2n keeps the angle exact for big k
    wr[k] = Math.cos(a);
    wi[k] = Math.sin(a);
  }
  const ar = new Float64Array(m),
    ai = new Float64Array(m),
    br = new Float64Array(m),
    bi = new Float64Array(m);
  for (let k = 0; k < n; k++) {
    ar[k] = re[k]! * wr[k]! - im[k]! * wi[k]!;
    ai[k] = re[k]! * wi[k]! + im[k]! * wr[k]!;
  }
  br[0] = wr[0]!;
  bi[0] = -wi[0]!;
  for (let k = 1; k < n; k++) {
    br[k] = br[m - k] = wr[k]!;
    bi[k] = bi[m - k] = -wi[k]!;
  }
  fftPow2(ar, ai, -1);
  fftPow2(br, bi, -1);
  for (let k = 0; k < m; k++) {
    const r = ar[k]! * br[k]! - ai[k]! * bi[k]!;
    ai[k] = ar[k]! * bi[k]! + ai[k]! * br[k]!;
    ar[k] = r;
  }
  fftPow2(ar, ai, 1);
  for (let k = 0; k < n; k++) {
    const r = ar[k]! / m,
      i = ai[k]! / m;
    re[k] = r * wr[k]! - i * wi[k]!;
    im[k] = r * wi[k]! + i * wr[k]!;
  }
}

/** 2-D DFT of an h×w complex image (unshifted; the inverse divides by h·w). Returns new arrays. */
export function fft2(re: ArrayLike<number>, im: ArrayLike<number>, h: number, w: number, inverse = false): { re: Float64Array; im: Float64Array } {
  const R = Float64Array.from(re),
    I = Float64Array.from(im);
  const rr = new Float64Array(w),
    ri = new Float64Array(w);
  for (let y = 0; y < h; y++) {
    rr.set(R.subarray(y * w, y * w + w));
    ri.set(I.subarray(y * w, y * w + w));
    fft1d(rr, ri, inverse);
    R.set(rr, y * w);
    I.set(ri, y * w);
  }
  const cr = new Float64Array(h),
    ci = new Float64Array(h);
  for (let x = 0; x < w; x++) {
    for (let y = 0; y < h; y++) {
      cr[y] = R[y * w + x]!;
      ci[y] = I[y * w + x]!;
    }
    fft1d(cr, ci, inverse);
    for (let y = 0; y < h; y++) {
      R[y * w + x] = cr[y]!;
      I[y * w + x] = ci[y]!;
    }
  }
  if (inverse) {
    const s = 1 / (h * w);
    for (let i = 0; i < R.length; i++) {
      R[i] = R[i]! * s;
      I[i] = I[i]! * s;
    }
  }
  return { re: R, im: I };
}

/** Signed frequency index of DFT bin k of length n (bin n/2 counts as −n/2). */
export const signedFreq = (k: number, n: number): number => (k < Math.ceil(n / 2) ? k : k - n);

export interface RegisterOptions {
  /** Sub-pixel precision is 1/upsample pixels (default 50, like the reference harness). */
  upsample?: number;
  /** Normalise the cross-power spectrum to unit modulus (phase correlation, default true). */
  normalize?: boolean;
}

/**
 * Shift [dy, dx] to apply to `moving` (with shiftImage) so that it lines up with
 * `reference`. Both images are complex (amplitude-only registration: pass im = 0).
 */
export function registerShift(reference: Complex2D, moving: Complex2D, opts: RegisterOptions = {}): { shift: [number, number]; peak: number } {
  const { height: h, width: w } = reference;
  if (moving.height !== h || moving.width !== w) {
    throw new OptionsError('BAD_SHAPE', `registerShift: shapes differ (${h}×${w} vs ${moving.height}×${moving.width})`);
  }
  const U = Math.max(1, Math.round(opts.upsample ?? 50));
  const A = fft2(reference.re, reference.im, h, w),
    B = fft2(moving.re, moving.im, h, w);
  const cr = new Float64Array(h * w),
    ci = new Float64Array(h * w);
  for (let i = 0; i < h * w; i++) {
    // A·conj(B): its inverse peaks at the shift that moves `moving` onto `reference`.
    let r = A.re[i]! * B.re[i]! + A.im[i]! * B.im[i]!,
      q = A.im[i]! * B.re[i]! - A.re[i]! * B.im[i]!;
    if (opts.normalize !== false) {
      const m = Math.hypot(r, q) + 1e-30;
      r /= m;
      q /= m;
    }
    cr[i] = r;
    ci[i] = q;
  }
  const corr = fft2(cr, ci, h, w, true);
  let best = -1,
    by = 0,
    bx = 0;
  for (let i = 0; i < h * w; i++) {
    const v = corr.re[i]! ** 2 + corr.im[i]! ** 2;
    if (v > best) {
      best = v;
      by = Math.floor(i / w);
      bx = i % w;
    }
  }
  const sy = signedFreq(by, h),
    sx = signedFreq(bx, w);
  if (U === 1) return { shift: [sy, sx], peak: Math.sqrt(best) };
  return refinePeak({ re: cr, im: ci }, h, w, sy, sx, U);
}

/**
 * Refines an integer cross-correlation peak (sy, sx) to 1/U px: the
 * correlation's spectrum C evaluated by a matrix DFT on a (1.5U)² grid of
 * 1/U steps around the peak (Guizar-Sicairos et al. 2008), columns first.
 */
function refinePeak(
  C: { re: Float64Array; im: Float64Array },
  h: number,
  w: number,
  sy: number,
  sx: number,
  U: number,
): { shift: [number, number]; peak: number } {
  const size = Math.ceil(1.5 * U),
    half = Math.floor(size / 2);
  const tys = Array.from({ length: size }, (_, j) => sy + (j - half) / U);
  const txs = Array.from({ length: size }, (_, j) => sx + (j - half) / U);
  const T = alongColumns(C, h, w, txs);
  let fine = -1,
    fy = half,
    fx = half;
  for (let i = 0; i < size; i++) {
    const kyr = new Float64Array(h),
      kyi = new Float64Array(h);
    for (let k = 0; k < h; k++) {
      const a = (2 * Math.PI * signedFreq(k, h) * tys[i]!) / h;
      kyr[k] = Math.cos(a);
      kyi[k] = Math.sin(a);
    }
    for (let j = 0; j < size; j++) {
      let sr = 0,
        si = 0;
      for (let k = 0; k < h; k++) {
        const c = T.re[k * size + j]!,
          d = T.im[k * size + j]!;
        sr += c * kyr[k]! - d * kyi[k]!;
        si += c * kyi[k]! + d * kyr[k]!;
      }
      const v = sr * sr + si * si;
      if (v > fine) {
        fine = v;
        fy = i;
        fx = j;
      }
    }
  }
  return { shift: [tys[fy]!, txs[fx]!], peak: Math.sqrt(fine) / (h * w) };
}

/** T[ky, j] = Σ_kx C[ky, kx]·e^{2πi·kx·txs[j]/w}: the x half of the matrix DFT. */
function alongColumns(C: { re: Float64Array; im: Float64Array }, h: number, w: number, txs: readonly number[]): { re: Float64Array; im: Float64Array } {
  const size = txs.length;
  const kxr = new Float64Array(size * w),
    kxi = new Float64Array(size * w);
  for (let j = 0; j < size; j++)
    for (let k = 0; k < w; k++) {
      const a = (2 * Math.PI * signedFreq(k, w) * txs[j]!) / w;
      kxr[j * w + k] = Math.cos(a);
      kxi[j * w + k] = Math.sin(a);
    }
  const tr = new Float64Array(h * size),
    ti = new Float64Array(h * size);
  for (let y = 0; y < h; y++)
    for (let j = 0; j < size; j++) {
      let sr = 0,
        si = 0;
      for (let k = 0; k < w; k++) {
        const c = C.re[y * w + k]!,
          d = C.im[y * w + k]!,
          er = kxr[j * w + k]!,
          ei = kxi[j * w + k]!;
        sr += c * er - d * ei;
        si += c * ei + d * er;
      }
      tr[y * size + j] = sr;
      ti[y * size + j] = si;
    }
  return { re: tr, im: ti };
}

/** Moves the image content by +dy rows and +dx columns (Fourier shift; periodic wrap-around). */
export function shiftImage(img: Complex2D, dy: number, dx: number): Complex2D {
  const { height: h, width: w } = img;
  const F = fft2(img.re, img.im, h, w);
  for (let y = 0; y < h; y++) {
    const py = (-2 * Math.PI * signedFreq(y, h) * dy) / h;
    for (let x = 0; x < w; x++) {
      const a = py - (2 * Math.PI * signedFreq(x, w) * dx) / w,
        c = Math.cos(a),
        s = Math.sin(a),
        i = y * w + x;
      const r = F.re[i]! * c - F.im[i]! * s;
      F.im[i] = F.re[i]! * s + F.im[i]! * c;
      F.re[i] = r;
    }
  }
  const out = fft2(F.re, F.im, h, w, true);
  return { height: h, width: w, re: Float32Array.from(out.re), im: Float32Array.from(out.im) };
}

// Centred, unitary 2-D DFT on plain typed arrays, for simulation and other
// host-side work where tensors would only add overhead:
//   fft2Shifted(x)  = fftshift(FFT2(x)) / N      (zero frequency at (⌊N/2⌋, ⌊N/2⌋))
//   ifft2Shifted(X) = Σ e^{+2πi·} (ifftshift(X)) / N  (its exact inverse)
// This is the same map as the tensor fft2c in fft.ts. Powers of two use an
// iterative radix-2 transform; any other N goes through Bluestein's chirp-z
// algorithm on a power-of-two length. Plans (twiddles, bit reversal, chirps and
// scratch buffers) are cached per N; the work is done in float64 and rounded to
// float32 only on output.
import { OptionsError } from '../errors.js';
import { columns, type Radix2 } from './fft-columns.js';
import { radix2, radix2Plan } from './fft-radix2.js';

interface Bluestein {
  readonly inner: Radix2;
  readonly chirpRe: Float64Array;
  readonly chirpIm: Float64Array;
  /** FFT of the chirp kernel, and of the kernel for the inverse transform. */
  readonly kRe: Float64Array;
  readonly kIm: Float64Array;
  readonly kInvRe: Float64Array;
  readonly kInvIm: Float64Array;
  readonly aRe: Float64Array;
  readonly aIm: Float64Array;
}

interface Plan {
  readonly N: number;
  readonly radix2: Radix2 | undefined;
  readonly blue: Bluestein | undefined;
  /** N×N work buffers. */
  readonly wr: Float64Array;
  readonly wi: Float64Array;
  /** shift[k] = (k + ⌊N/2⌋) mod N. */
  readonly shift: Uint32Array;
}

const plans = new Map<number, Plan>();
const isPow2 = (n: number): boolean => n > 0 && (n & (n - 1)) === 0;

function makePlan(N: number): Plan {
  const shift = new Uint32Array(N);
  for (let k = 0; k < N; k++) shift[k] = (k + (N >> 1)) % N;
  const work = { wr: new Float64Array(N * N), wi: new Float64Array(N * N), shift };
  if (isPow2(N)) return { N, radix2: radix2Plan(N), blue: undefined, ...work };
  // Bluestein: X[k] = c[k] · Σ_n (x[n] c[n]) · conj(c[k−n]), c[n] = exp(−iπn²/N),
  // a linear convolution evaluated with power-of-two FFTs of length M ≥ 2N−1.
  // The inverse uses conj(c) and the kernel c.
  let M = 1;
  while (M < 2 * N - 1) M <<= 1;
  const inner = radix2Plan(M);
  const chirpRe = new Float64Array(N),
    chirpIm = new Float64Array(N);
  for (let n = 0; n < N; n++) {
    const ang = (Math.PI * ((n * n) % (2 * N))) / N; // reduce n² first: keeps the angle exact
    chirpRe[n] = Math.cos(ang);
    chirpIm[n] = -Math.sin(ang);
  }
  const kernel = (sign: number): [Float64Array, Float64Array] => {
    const kr = new Float64Array(M),
      ki = new Float64Array(M);
    for (let n = 0; n < N; n++) {
      const j = n === 0 ? 0 : M - n;
      kr[n] = kr[j] = chirpRe[n]!;
      ki[n] = ki[j] = sign * chirpIm[n]!;
    }
    radix2(inner, kr, ki, 0, false);
    return [kr, ki];
  };
  const [kRe, kIm] = kernel(-1),
    [kInvRe, kInvIm] = kernel(1);
  const blue = { inner, chirpRe, chirpIm, kRe, kIm, kInvRe, kInvIm, aRe: new Float64Array(M), aIm: new Float64Array(M) };
  return { N, radix2: undefined, blue, ...work };
}

function planFor(N: number): Plan {
  let p = plans.get(N);
  if (p === undefined) {
    p = makePlan(N);
    plans.set(N, p);
  }
  return p;
}

/** Unscaled 1-D DFT of re/im[off .. off+N) by Bluestein, in place. */
function bluestein(p: Plan, b: Bluestein, re: Float64Array, im: Float64Array, off: number, inverse: boolean): void {
  const N = p.N,
    M = b.inner.n,
    s = inverse ? -1 : 1;
  const { aRe, aIm, chirpRe, chirpIm } = b;
  const kr = inverse ? b.kInvRe : b.kRe,
    ki = inverse ? b.kInvIm : b.kIm;
  for (let n = 0; n < N; n++) {
    const cr = chirpRe[n]!,
      ci = s * chirpIm[n]!,
      xr = re[off + n]!,
      xi = im[off + n]!;
    aRe[n] = xr * cr - xi * ci;
    aIm[n] = xr * ci + xi * cr;
  }
  aRe.fill(0, N);
  aIm.fill(0, N);
  radix2(b.inner, aRe, aIm, 0, false);
  for (let k = 0; k < M; k++) {
    const ar = aRe[k]!,
      ai = aIm[k]!,
      wr = kr[k]!,
      wi = ki[k]!;
    aRe[k] = ar * wr - ai * wi;
    aIm[k] = ar * wi + ai * wr;
  }
  radix2(b.inner, aRe, aIm, 0, true);
  for (let k = 0; k < N; k++) {
    const cr = chirpRe[k]!,
      ci = s * chirpIm[k]!,
      yr = aRe[k]! / M,
      yi = aIm[k]! / M;
    re[off + k] = yr * cr - yi * ci;
    im[off + k] = yr * ci + yi * cr;
  }
}

function rows(p: Plan, inverse: boolean, wr: Float64Array = p.wr, wi: Float64Array = p.wi): void {
  const { N } = p;
  for (let r = 0; r < N; r++) {
    if (p.radix2 !== undefined) radix2(p.radix2, wr, wi, r * N, inverse);
    else bluestein(p, p.blue!, wr, wi, r * N, inverse);
  }
}

/** Transposes an N×N array in place. */
export function transpose(a: Float64Array, N: number): void {
  for (let r = 0; r < N; r++) {
    for (let c = r + 1; c < N; c++) {
      const i = r * N + c,
        j = c * N + r,
        t = a[i]!;
      a[i] = a[j]!;
      a[j] = t;
    }
  }
}

function transform2dT(p: Plan, inverse: boolean, wr: Float64Array = p.wr, wi: Float64Array = p.wi): void {
  if (p.radix2 !== undefined && p.N >= 4) {
    // Columns, transpose, columns (= the rows of the original): the same transposed result
    // as rows-transpose-rows, with every butterfly vectorised over a whole row.
    columns(p.radix2, wr, wi, inverse);
    transpose(wr, p.N);
    transpose(wi, p.N);
    columns(p.radix2, wr, wi, inverse);
    return;
  }
  rows(p, inverse, wr, wi);
  transpose(wr, p.N);
  transpose(wi, p.N);
  rows(p, inverse, wr, wi);
}

/**
 * Unscaled 2-D DFT of the caller's N×N buffers in place, no shift, result left
 * TRANSPOSED (re[kx·N + ky] = X[ky][kx]). For iterative engines that apply a
 * pointwise constraint in Fourier space and transform straight back: the
 * inverse of a transposed spectrum comes out in the normal layout, so no
 * shift, copy or transpose back is needed (the caller scales by 1/N²).
 */
export function dft2InPlaceTransposed(re: Float64Array, im: Float64Array, N: number, inverse: boolean): void {
  if (!Number.isInteger(N) || N < 1 || re.length !== N * N || im.length !== N * N) {
    throw new OptionsError('FFT_SIZE', `dft2InPlaceTransposed: expected ${N}×${N} values in re and im, got ${re.length} and ${im.length}`);
  }
  transform2dT(planFor(N), inverse, re, im);
}

function check(re: Float32Array, im: Float32Array, N: number, fn: string): void {
  if (!Number.isInteger(N) || N < 1) throw new OptionsError('FFT_SIZE', `${fn}: N must be a positive integer, got ${N}`);
  if (re.length !== N * N || im.length !== N * N) {
    throw new OptionsError('FFT_SIZE', `${fn}: expected ${N}×${N} = ${N * N} values in re and im, got ${re.length} and ${im.length}`);
  }
}

/** fftshift(FFT2(x)) / N for an N×N row-major complex field; returns new arrays. */
export function fft2Shifted(re: Float32Array, im: Float32Array, N: number): { re: Float32Array; im: Float32Array } {
  check(re, im, N, 'fft2Shifted');
  const p = planFor(N);
  p.wr.set(re);
  p.wi.set(im);
  transform2dT(p, false);
  const { wr, wi, shift } = p,
    scale = 1 / N;
  const outRe = new Float32Array(N * N),
    outIm = new Float32Array(N * N);
  for (let kx = 0; kx < N; kx++) {
    const col = shift[kx]!,
      src = kx * N;
    for (let ky = 0; ky < N; ky++) {
      const d = shift[ky]! * N + col;
      outRe[d] = wr[src + ky]! * scale;
      outIm[d] = wi[src + ky]! * scale;
    }
  }
  return { re: outRe, im: outIm };
}

/** IFFT2(ifftshift(X)) · N: the inverse of fft2Shifted; returns new arrays. */
export function ifft2Shifted(re: Float32Array, im: Float32Array, N: number): { re: Float32Array; im: Float32Array } {
  check(re, im, N, 'ifft2Shifted');
  const p = planFor(N);
  const { wr, wi, shift } = p;
  // ifftshift: frequency f sits at shifted index (f + ⌊N/2⌋) mod N.
  for (let r = 0; r < N; r++) {
    const src = shift[r]! * N,
      dst = r * N;
    for (let c = 0; c < N; c++) {
      wr[dst + c] = re[src + shift[c]!]!;
      wi[dst + c] = im[src + shift[c]!]!;
    }
  }
  transform2dT(p, true);
  const scale = 1 / N;
  const outRe = new Float32Array(N * N),
    outIm = new Float32Array(N * N);
  for (let x = 0; x < N; x++) {
    const src = x * N;
    for (let y = 0; y < N; y++) {
      outRe[y * N + x] = wr[src + y]! * scale;
      outIm[y * N + x] = wi[src + y]! * scale;
    }
  }
  return { re: outRe, im: outIm };
}

/** |fftshift(FFT2(x))| / N: the far-field amplitude of SPEC §1, into `out` when given. */
export function farFieldAmplitude(re: Float32Array, im: Float32Array, N: number, out: Float32Array = new Float32Array(N * N)): Float32Array {
  check(re, im, N, 'farFieldAmplitude');
  if (out.length !== N * N) throw new OptionsError('FFT_SIZE', `farFieldAmplitude: output holds ${out.length} values, expected ${N * N}`);
  const p = planFor(N);
  p.wr.set(re);
  p.wi.set(im);
  transform2dT(p, false);
  const { wr, wi, shift } = p,
    scale = 1 / N;
  for (let kx = 0; kx < N; kx++) {
    const col = shift[kx]!,
      src = kx * N;
    for (let ky = 0; ky < N; ky++) {
      const a = wr[src + ky]!,
        b = wi[src + ky]!;
      out[shift[ky]! * N + col] = Math.sqrt(a * a + b * b) * scale;
    }
  }
  return out;
}

// The 2-D DFT of the iterative engines (physics/epie.ts), for power-of-two N:
// radix-4 stages (one radix-2 stage when log₂N is odd), each vectorised over
// whole rows of an N×N array. The forward transform is decimation in
// frequency and leaves the spectrum in digit-reversed order; the inverse is
// decimation in time, which takes that order and returns the natural one. An
// engine that applies a pointwise constraint in Fourier space only needs to
// know where each frequency sits (`order`), so no bit-reversal pass is ever
// made, and a radix-4 butterfly costs three twiddle products instead of the
// four of two radix-2 stages. Other N fall back to fftjs.ts (order = identity).
import { dft2InPlaceTransposed, transpose } from './fftjs.js';
import { OptionsError } from '../errors.js';
import { difStage, ditStage, pairStage } from './fft-stages.js';

export interface ScrambledPlan {
  readonly N: number;
  /** order[p] = the frequency (0 … N−1, unshifted) at position p along an axis. */
  readonly order: Uint32Array;
  /** Radix-4 spans q = L/4 in forward order (largest first), with W_L^k, W_L^2k, W_L^3k (re, im) per k. */
  readonly stages: readonly { q: number; tw: Float64Array }[];
  /** Whether a radix-2 stage ends the forward transform (log₂N odd). */
  readonly radix2: boolean;
  readonly pow2: boolean;
}

const plans = new Map<number, ScrambledPlan>();
const isPow2 = (n: number): boolean => n > 0 && (n & (n - 1)) === 0;

export function scrambledPlan(N: number): ScrambledPlan {
  const hit = plans.get(N);
  if (hit !== undefined) return hit;
  if (!Number.isInteger(N) || N < 1) throw new OptionsError('FFT_SIZE', `scrambledPlan: N must be a positive integer, got ${N}`);
  const stages: { q: number; tw: Float64Array }[] = [],
    radices: number[] = [];
  let L = N;
  for (; isPow2(N) && L >= 4; L >>= 2) {
    const q = L >> 2,
      tw = new Float64Array(6 * q);
    for (let k = 0; k < q; k++) {
      for (let j = 1; j <= 3; j++) {
        const ang = (-2 * Math.PI * ((j * k) % L)) / L;
        tw[6 * k + 2 * j - 2] = Math.cos(ang);
        tw[6 * k + 2 * j - 1] = Math.sin(ang);
      }
    }
    stages.push({ q, tw });
    radices.push(4);
  }
  const radix2 = isPow2(N) && L === 2;
  if (radix2) radices.push(2);
  // Position p = Σ j_s·(N / r_0⋯r_s) holds frequency f = j_0 + r_0(j_1 + r_1(j_2 + …)).
  const order = new Uint32Array(N);
  for (let p = 0; p < N; p++) {
    let span = N,
      rem = p,
      f = 0,
      mult = 1;
    for (const r of radices) {
      span /= r;
      f += Math.floor(rem / span) * mult;
      rem %= span;
      mult *= r;
    }
    order[p] = isPow2(N) ? f : p;
  }
  const plan = { N, order, stages, radix2, pow2: isPow2(N) };
  plans.set(N, plan);
  return plan;
}

/** Unscaled DFT of every column, forward into digit-reversed order or inverse out of it. */
export function scrambledColumns(p: ScrambledPlan, re: Float64Array, im: Float64Array, inverse: boolean): void {
  const { N, stages } = p;
  if (inverse) {
    if (p.radix2) pairStage(re, im, N);
    for (let s = stages.length - 1; s >= 0; s--) ditStage(re, im, N, stages[s]!.q, stages[s]!.tw);
    return;
  }
  for (const s of stages) difStage(re, im, N, s.q, s.tw);
  if (p.radix2) pairStage(re, im, N);
}

/**
 * Unscaled 2-D DFT of N×N buffers in place. Forward: re[s·N + r] becomes
 * X[order[r]][order[s]] (row frequency ky = order[r], column frequency kx =
 * order[s]; transposed and digit-reversed). Inverse: takes that layout and
 * returns N²·x in the normal row-major layout (the caller scales by 1/N²).
 */
export function dft2Scrambled(re: Float64Array, im: Float64Array, N: number, inverse: boolean): void {
  if (!Number.isInteger(N) || N < 1 || re.length !== N * N || im.length !== N * N) {
    throw new OptionsError('FFT_SIZE', `dft2Scrambled: expected ${N}×${N} values in re and im, got ${re.length} and ${im.length}`);
  }
  const p = scrambledPlan(N);
  if (!p.pow2) {
    dft2InPlaceTransposed(re, im, N, inverse);
    return;
  }
  scrambledColumns(p, re, im, inverse);
  transpose(re, N);
  transpose(im, N);
  scrambledColumns(p, re, im, inverse);
}

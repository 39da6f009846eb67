// The common ePIE update (one probe mode, known probe, window at whole
// pixels) with its element-wise steps folded into the transform's stages
// (fft-scrambled.ts), so each pass over the N×N arrays does some of both:
//   - the first forward stage reads probe and canvas and forms ψ = P·O itself
//     (no window copy, no exit-wave array);
//   - the last forward stage, the modulus constraint and the first inverse
//     stage are one loop: all three act on the same rows (epie-modulus.ts);
//   - the last inverse stage adds β·w·P̄(ψ' − P·O) straight into the canvas.
// Any power of two N ≥ 8 (a radix-2 span-1 stage when log₂N is odd). The
// results are those of EpieKernel's general path up to rounding.
import type { Canvas } from './canvas-window.js';
import { difStage, ditStage } from './fft-stages.js';
import { difLastTransposed, ditFirstTransposed, difPairTransposed, ditPairTransposed } from './fft-transpose-stages.js';
import { modulusRadix2, modulusRadix4 } from './epie-modulus.js';
import type { ScrambledPlan } from './fft-scrambled.js';

/** FusedWork's R and Q from the probe and the weights. */
export function correctionFactors(pr: Float64Array, pi: Float64Array, weight: Float64Array): { rr: Float64Array; ri: Float64Array; q: Float64Array } {
  const n = weight.length,
    rr = new Float64Array(n),
    ri = new Float64Array(n),
    q = new Float64Array(n);
  for (let t = 0; t < n; t++) {
    rr[t] = weight[t]! * pr[t]!;
    ri[t] = -weight[t]! * pi[t]!;
    q[t] = weight[t]! * (pr[t]! * pr[t]! + pi[t]! * pi[t]!);
  }
  return { rr, ri, q };
}

/** Whether the fused update applies at this size: a power of two with a radix-4 stage before the span-1 one (N ≥ 8). */
export function fusable(p: ScrambledPlan): boolean {
  return p.pow2 && p.stages.length >= (p.radix2 ? 1 : 2);
}

export interface FusedWork {
  readonly plan: ScrambledPlan;
  /** Two pairs of N×N work arrays: the transform moves between them at each transpose. */
  readonly wr: Float64Array;
  readonly wi: Float64Array;
  readonly vr: Float64Array;
  readonly vi: Float64Array;
  readonly pr: Float64Array;
  readonly pi: Float64Array;
  /** Object-update weight w = 1 / ((1−α)|P|² + α max|P|²) per pixel, the arrays below are built from. */
  readonly weight: Float64Array;
  /** R = w·P̄ and Q = w·|P|²: the correction β·w·P̄(ψ' − P·O) is β(R·ψ' − Q·O). */
  readonly rr: Float64Array;
  readonly ri: Float64Array;
  readonly q: Float64Array;
  /** Work index → index of the measured pattern (see EpieKernel). */
  readonly map: Uint32Array;
}

/** The first forward stage (span N/4, so one group) from ψ = P·O, O read from the canvas at `base`. */
function exitWaveStage(f: FusedWork, canvas: Canvas, base: number): void {
  const { N } = f.plan,
    { q, tw } = f.plan.stages[0]!,
    { wr, wi, pr, pi } = f,
    { re: or, im: oi, width: W } = canvas;
  for (let k = 0; k < q; k++) {
    const w1r = tw[6 * k]!,
      w1i = tw[6 * k + 1]!,
      w2r = tw[6 * k + 2]!,
      w2i = tw[6 * k + 3]!,
      w3r = tw[6 * k + 4]!,
      w3i = tw[6 * k + 5]!;
    const qN = q * N,
      qW = q * W;
    for (let c = 0, a = k * N, o = base + k * W; c < N; c++, a++, o++) {
      // ψ at rows k, k+q, k+2q, k+3q of this column.
      const ar = pr[a]! * or[o]! - pi[a]! * oi[o]!,
        ai = pr[a]! * oi[o]! + pi[a]! * or[o]!,
        br = pr[a + qN]! * or[o + qW]! - pi[a + qN]! * oi[o + qW]!,
        bi = pr[a + qN]! * oi[o + qW]! + pi[a + qN]! * or[o + qW]!,
        cr = pr[a + 2 * qN]! * or[o + 2 * qW]! - pi[a + 2 * qN]! * oi[o + 2 * qW]!,
        ci = pr[a + 2 * qN]! * oi[o + 2 * qW]! + pi[a + 2 * qN]! * or[o + 2 * qW]!,
        dr = pr[a + 3 * qN]! * or[o + 3 * qW]! - pi[a + 3 * qN]! * oi[o + 3 * qW]!,
        di = pr[a + 3 * qN]! * oi[o + 3 * qW]! + pi[a + 3 * qN]! * or[o + 3 * qW]!;
      const t0r = ar + cr,
        t0i = ai + ci,
        t1r = ar - cr,
        t1i = ai - ci,
        t2r = br + dr,
        t2i = bi + di,
        t3r = br - dr,
        t3i = bi - di;
      const y1r = t1r + t3i,
        y1i = t1i - t3r,
        y2r = t0r - t2r,
        y2i = t0i - t2i,
        y3r = t1r - t3i,
        y3i = t1i + t3r;
      wr[a] = t0r + t2r;
      wi[a] = t0i + t2i;
      wr[a + qN] = y1r * w1r - y1i * w1i;
      wi[a + qN] = y1r * w1i + y1i * w1r;
      wr[a + 2 * qN] = y2r * w2r - y2i * w2i;
      wi[a + 2 * qN] = y2r * w2i + y2i * w2r;
      wr[a + 3 * qN] = y3r * w3r - y3i * w3i;
      wi[a + 3 * qN] = y3r * w3i + y3i * w3r;
    }
  }
}

/** O ← O + β(R·ψ' − Q·O) for one pixel (work index t, canvas index o): β·w·P̄(ψ' − P·O) rearranged. */
function correct(f: FusedWork, cr: Float64Array, ci: Float64Array, beta: number, t: number, o: number, xr: number, xi: number): void {
  const rr = f.rr[t]!,
    ri = f.ri[t]!,
    q = f.q[t]!,
    e = cr[o]!,
    g = ci[o]!;
  cr[o] = e + beta * (rr * xr - ri * xi - q * e);
  ci[o] = g + beta * (rr * xi + ri * xr - q * g);
}

/** The last inverse stage (span N/4) with the object correction added into the canvas at `base`. */
function correctionStage(f: FusedWork, canvas: Canvas, base: number, beta: number): void {
  const { N } = f.plan,
    { q, tw } = f.plan.stages[0]!,
    { wr, wi } = f,
    { re: cre, im: cim, width: W } = canvas,
    qN = q * N,
    qW = q * W;
  for (let k = 0; k < q; k++) {
    const w1r = tw[6 * k]!,
      w1i = -tw[6 * k + 1]!,
      w2r = tw[6 * k + 2]!,
      w2i = -tw[6 * k + 3]!,
      w3r = tw[6 * k + 4]!,
      w3i = -tw[6 * k + 5]!;
    for (let c = 0, a = k * N, o = base + k * W; c < N; c++, a++, o++) {
      const xr = wr[a + qN]!,
        xi = wi[a + qN]!,
        yr = wr[a + 2 * qN]!,
        yi = wi[a + 2 * qN]!,
        zr = wr[a + 3 * qN]!,
        zi = wi[a + 3 * qN]!;
      const br = xr * w1r - xi * w1i,
        bi = xr * w1i + xi * w1r,
        cr = yr * w2r - yi * w2i,
        ci = yr * w2i + yi * w2r,
        dr = zr * w3r - zi * w3i,
        di = zr * w3i + zi * w3r;
      const t0r = wr[a]! + cr,
        t0i = wi[a]! + ci,
        t1r = wr[a]! - cr,
        t1i = wi[a]! - ci,
        t2r = br + dr,
        t2i = bi + di,
        t3r = br - dr,
        t3i = bi - di;
      correct(f, cre, cim, beta, a, o, t0r + t2r, t0i + t2i);
      correct(f, cre, cim, beta, a + qN, o + qW, t1r - t3i, t1i + t3r);
      correct(f, cre, cim, beta, a + 2 * qN, o + 2 * qW, t0r - t2r, t0i - t2i);
      correct(f, cre, cim, beta, a + 3 * qN, o + 3 * qW, t1r + t3i, t1i - t3r);
    }
  }
}

/** One known-probe ePIE update at whole-pixel corner (sx, sy): Σ(|Ψ|/N − A)² and Σ A² before it. */
export function fusedUpdate(f: FusedWork, canvas: Canvas, amplitude: Float32Array, sx: number, sy: number, beta: number): { error: number; energy: number } {
  const { N, stages, radix2 } = f.plan,
    { wr, wi, vr, vi } = f,
    // The radix-4 stages before the span-1 stage (a radix-2 one when log₂N is odd).
    S = radix2 ? stages.length : stages.length - 1,
    base = sy * canvas.width + sx;
  // Along the rows' index in (wr, wi), then, transposed, in (vr, vi); back the same way.
  exitWaveStage(f, canvas, base);
  for (let s = 1; s < S; s++) difStage(wr, wi, N, stages[s]!.q, stages[s]!.tw);
  (radix2 ? difPairTransposed : difLastTransposed)(wr, wi, vr, vi, N);
  for (let s = 0; s < S; s++) difStage(vr, vi, N, stages[s]!.q, stages[s]!.tw);
  const misfit = (radix2 ? modulusRadix2 : modulusRadix4)(vr, vi, N, f.map, amplitude);
  for (let s = S - 1; s >= 0; s--) ditStage(vr, vi, N, stages[s]!.q, stages[s]!.tw);
  (radix2 ? ditPairTransposed : ditFirstTransposed)(vr, vi, wr, wi, N);
  for (let s = S - 1; s >= 1; s--) ditStage(wr, wi, N, stages[s]!.q, stages[s]!.tw);
  correctionStage(f, canvas, base, beta);
  return misfit;
}

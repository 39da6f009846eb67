// The common ePIE update (one probe mode, known probe, window at whole
// pixels) with its element-wise steps folded into the transform's stages
// (fft-scrambled.ts), so each pass over the N×N arrays does some of both:
//   - the first forward stage reads probe and canvas and forms ψ = P·O itself
//     (no window copy, no exit-wave array);
//   - the last forward stage, the modulus constraint and the first inverse
//     stage are one loop: all three act on the same four rows;
//   - the last inverse stage adds β·w·P̄(ψ' − P·O) straight into the canvas.
// The results are those of EpieKernel's general path up to rounding.
import type { Canvas } from './canvas-window.js';
import { difStage, ditStage } from './fft-stages.js';
import { difLastTransposed, ditFirstTransposed } from './fft-transpose-stages.js';
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

/** Whether the fused update applies at this size: radix-4 stages only, at least two of them (N = 16, 64, 256, …). */
export function fusable(p: ScrambledPlan): boolean {
  return p.pow2 && !p.radix2 && p.stages.length >= 2;
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

/**
 * Last forward stage (span 1), modulus constraint and first inverse stage (span 1) on rows
 * 4j … 4j+3 at once. Each spectrum value y is scaled by A/(N|y|): the measured modulus N·A
 * with the inverse's 1/N² folded in. Returns Σ(|Ψ|/N − A)² and Σ A² before the constraint.
 */
function fusedModulus(f: FusedWork, wr: Float64Array, wi: Float64Array, amplitude: Float32Array): { error: number; energy: number } {
  const { N } = f.plan,
    { map } = f,
    inv = 1 / N;
  let error = 0,
    energy = 0;
  for (let g = 0; g < N * N; g += 4 * N) {
    for (let a = g, end = g + N; a < end; a++) {
      const b = a + N,
        c = b + N,
        d = c + N;
      const t0r = wr[a]! + wr[c]!,
        t0i = wi[a]! + wi[c]!,
        t1r = wr[a]! - wr[c]!,
        t1i = wi[a]! - wi[c]!,
        t2r = wr[b]! + wr[d]!,
        t2i = wi[b]! + wi[d]!,
        t3r = wr[b]! - wr[d]!,
        t3i = wi[b]! - wi[d]!;
      let y0r = t0r + t2r,
        y0i = t0i + t2i,
        y1r = t1r + t3i,
        y1i = t1i - t3r,
        y2r = t0r - t2r,
        y2i = t0i - t2i,
        y3r = t1r - t3i,
        y3i = t1i + t3r;
      const A0 = amplitude[map[a]!]!,
        A1 = amplitude[map[b]!]!,
        A2 = amplitude[map[c]!]!,
        A3 = amplitude[map[d]!]!;
      const m0 = Math.sqrt(y0r * y0r + y0i * y0i),
        m1 = Math.sqrt(y1r * y1r + y1i * y1i),
        m2 = Math.sqrt(y2r * y2r + y2i * y2i),
        m3 = Math.sqrt(y3r * y3r + y3i * y3i);
      const e0 = m0 * inv - A0,
        e1 = m1 * inv - A1,
        e2 = m2 * inv - A2,
        e3 = m3 * inv - A3;
      error += e0 * e0 + e1 * e1 + e2 * e2 + e3 * e3;
      energy += A0 * A0 + A1 * A1 + A2 * A2 + A3 * A3;
      const f0 = m0 > 0 ? (A0 * inv) / m0 : 0,
        f1 = m1 > 0 ? (A1 * inv) / m1 : 0,
        f2 = m2 > 0 ? (A2 * inv) / m2 : 0,
        f3 = m3 > 0 ? (A3 * inv) / m3 : 0;
      y0r *= f0;
      y0i *= f0;
      y1r *= f1;
      y1i *= f1;
      y2r *= f2;
      y2i *= f2;
      y3r *= f3;
      y3i *= f3;
      // The inverse butterfly on the constrained y0 … y3.
      const u0r = y0r + y2r,
        u0i = y0i + y2i,
        u1r = y0r - y2r,
        u1i = y0i - y2i,
        u2r = y1r + y3r,
        u2i = y1i + y3i,
        u3r = y1r - y3r,
        u3i = y1i - y3i;
      wr[a] = u0r + u2r;
      wi[a] = u0i + u2i;
      wr[b] = u1r - u3i;
      wi[b] = u1i + u3r;
      wr[c] = u0r - u2r;
      wi[c] = u0i - u2i;
      wr[d] = u1r + u3i;
      wi[d] = u1i - u3r;
    }
  }
  return { error, energy };
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
  const { N, stages } = f.plan,
    { wr, wi, vr, vi } = f,
    S = stages.length,
    base = sy * canvas.width + sx;
  // Along the rows' index in (wr, wi), then, transposed, in (vr, vi); back the same way.
  exitWaveStage(f, canvas, base);
  for (let s = 1; s < S - 1; s++) difStage(wr, wi, N, stages[s]!.q, stages[s]!.tw);
  difLastTransposed(wr, wi, vr, vi, N);
  for (let s = 0; s < S - 1; s++) difStage(vr, vi, N, stages[s]!.q, stages[s]!.tw);
  const misfit = fusedModulus(f, vr, vi, amplitude);
  for (let s = S - 2; s >= 0; s--) ditStage(vr, vi, N, stages[s]!.q, stages[s]!.tw);
  ditFirstTransposed(vr, vi, wr, wi, N);
  for (let s = S - 2; s >= 1; s--) ditStage(wr, wi, N, stages[s]!.q, stages[s]!.tw);
  correctionStage(f, canvas, base, beta);
  return misfit;
}

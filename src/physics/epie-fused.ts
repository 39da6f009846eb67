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
  /** Object-update weight 1 / ((1−α)|P|² + α max|P|²) per pixel. */
  readonly weight: Float64Array;
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

/** Misfit accumulators of fusedModulus: Σ(|Ψ|/N − A)², Σ A². */
const acc = new Float64Array(2);

/** The factor that gives Ψ the measured modulus N·A, with the inverse's 1/N² folded in; accumulates the misfit. */
function factor(yr: number, yi: number, A: number, N: number): number {
  const mag = Math.sqrt(yr * yr + yi * yi),
    e = mag / N - A;
  acc[0] = acc[0]! + e * e;
  acc[1] = acc[1]! + A * A;
  return mag > 0 ? A / (N * mag) : 0;
}

/** Last forward stage (span 1), modulus constraint and first inverse stage (span 1) on rows 4j … 4j+3 at once. */
function fusedModulus(f: FusedWork, wr: Float64Array, wi: Float64Array, amplitude: Float32Array): void {
  const { N } = f.plan,
    { map } = f;
  for (let g = 0; g < N * N; g += 4 * N) {
    for (let a = g, end = g + N; a < end; a++) {
      const b = a + N,
        c = b + N,
        d = c + N;
      const ar = wr[a]!,
        ai = wi[a]!,
        br = wr[b]!,
        bi = wi[b]!,
        cr = wr[c]!,
        ci = wi[c]!,
        dr = wr[d]!,
        di = wi[d]!;
      const t0r = ar + cr,
        t0i = ai + ci,
        t1r = ar - cr,
        t1i = ai - ci,
        t2r = br + dr,
        t2i = bi + di,
        t3r = br - dr,
        t3i = bi - di;
      const fa = factor(t0r + t2r, t0i + t2i, amplitude[map[a]!]!, N),
        fb = factor(t1r + t3i, t1i - t3r, amplitude[map[b]!]!, N),
        fc = factor(t0r - t2r, t0i - t2i, amplitude[map[c]!]!, N),
        fd = factor(t1r - t3i, t1i + t3r, amplitude[map[d]!]!, N);
      // The constrained spectrum y0 … y3, then the inverse butterfly on it.
      const y0r = (t0r + t2r) * fa,
        y0i = (t0i + t2i) * fa,
        y1r = (t1r + t3i) * fb,
        y1i = (t1i - t3r) * fb,
        y2r = (t0r - t2r) * fc,
        y2i = (t0i - t2i) * fc,
        y3r = (t1r - t3i) * fd,
        y3i = (t1i + t3r) * fd;
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
}

/** Adds β·w·P̄(ψ' − P·O) for one pixel: work index t, canvas index o. */
function correct(f: FusedWork, canvas: Canvas, beta: number, t: number, o: number, xr: number, xi: number): void {
  const a = f.pr[t]!,
    b = f.pi[t]!,
    e = canvas.re[o]!,
    g = canvas.im[o]!,
    k = beta * f.weight[t]!;
  const cr = xr - (a * e - b * g),
    ci = xi - (a * g + b * e);
  canvas.re[o] = e + k * (a * cr + b * ci);
  canvas.im[o] = g + k * (a * ci - b * cr);
}

/** The last inverse stage (span N/4) with the object correction added into the canvas at `base`. */
function correctionStage(f: FusedWork, canvas: Canvas, base: number, beta: number): void {
  const { N } = f.plan,
    { q, tw } = f.plan.stages[0]!,
    { wr, wi } = f,
    W = canvas.width,
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
      correct(f, canvas, beta, a, o, t0r + t2r, t0i + t2i);
      correct(f, canvas, beta, a + qN, o + qW, t1r - t3i, t1i + t3r);
      correct(f, canvas, beta, a + 2 * qN, o + 2 * qW, t0r - t2r, t0i - t2i);
      correct(f, canvas, beta, a + 3 * qN, o + 3 * qW, t1r + t3i, t1i - t3r);
    }
  }
}

/** One known-probe ePIE update at whole-pixel corner (sx, sy): Σ(|Ψ|/N − A)² and Σ A² before it. */
export function fusedUpdate(f: FusedWork, canvas: Canvas, amplitude: Float32Array, sx: number, sy: number, beta: number): { error: number; energy: number } {
  const { N, stages } = f.plan,
    { wr, wi, vr, vi } = f,
    S = stages.length,
    base = sy * canvas.width + sx;
  acc.fill(0);
  // Along the rows' index in (wr, wi), then, transposed, in (vr, vi); back the same way.
  exitWaveStage(f, canvas, base);
  for (let s = 1; s < S - 1; s++) difStage(wr, wi, N, stages[s]!.q, stages[s]!.tw);
  difLastTransposed(wr, wi, vr, vi, N);
  for (let s = 0; s < S - 1; s++) difStage(vr, vi, N, stages[s]!.q, stages[s]!.tw);
  fusedModulus(f, vr, vi, amplitude);
  for (let s = S - 2; s >= 0; s--) ditStage(vr, vi, N, stages[s]!.q, stages[s]!.tw);
  ditFirstTransposed(vr, vi, wr, wi, N);
  for (let s = S - 2; s >= 1; s--) ditStage(wr, wi, N, stages[s]!.q, stages[s]!.tw);
  correctionStage(f, canvas, base, beta);
  return { error: acc[0]!, energy: acc[1]! };
}

// One ePIE / rPIE update on plain typed arrays (Maiden & Rodenburg 2009;
// Maiden, Johnson & Li 2017), for one diffraction pattern at a time:
//   ψ_m = P_m · O_j                 exit wave of each probe mode at window j
//   Ψ_m = F ψ_m,  Ψ'_m = Ψ_m · A / √(Σ_m |Ψ_m|²)   modes add in intensity
//   Δ_m = F⁻¹Ψ'_m − ψ_m
//   O_j += β Σ_m P̄_m Δ_m / ((1−α) Σ|P_m|² + α max Σ|P_m|²)
//   P_m += β Ō_j Δ_m / ((1−α) |O_j|² + α max |O_j|²)   (when the probe is refined)
// α = 1 is ePIE, smaller α is rPIE's regularised step. F is the unitary DFT
// of SPEC §1; the modulus constraint is pointwise, so it is applied on the
// unshifted, digit-reversed spectrum of fft-scrambled.ts (the measurement is
// re-indexed through a fixed map) and the inverse comes back in the normal
// layout: no shifts and no bit-reversal passes.
//
// Windows at fractional positions are cut by bilinear interpolation and the
// object correction is spread back with the same weights (canvas-window.ts).
// Position correction is a first-order Gauss–Newton estimate per window
// (epie-position.ts). The common update (one mode, known probe, whole-pixel
// window) runs with its steps folded into the transform (epie-fused.ts).
import { OptionsError } from '../errors.js';
import { gatherWindow, scatterWindow, windowFits, type Canvas } from './canvas-window.js';
import { correctionFactors, fusable, fusedUpdate, type FusedWork } from './epie-fused.js';
import { PositionEstimator } from './epie-position.js';
import { dft2Scrambled, scrambledPlan } from './fft-scrambled.js';
import type { Mode } from './modes.js';

export type { Canvas } from './canvas-window.js';

export interface UpdateSteps {
  /** β for the object (0 leaves it fixed). */
  object: number;
  /** β for the probe modes (0 leaves them fixed). */
  probe: number;
  /** Whether to estimate this window's position error. */
  position: boolean;
}

export interface UpdateResult {
  /** Σ (√I − A)² over the pattern, before the update. */
  error: number;
  /** Σ A². */
  energy: number;
  /** Estimated position error (columns, rows), 0 unless asked for. */
  dx: number;
  dy: number;
}

export class EpieKernel {
  private readonly NN: number;
  private readonly patchRe: Float64Array;
  private readonly patchIm: Float64Array;
  private readonly work: Mode[];
  private readonly dRe: Float64Array;
  private readonly dIm: Float64Array;
  private readonly position: PositionEstimator;
  /** Object-update weights for the current probe (see objectWeights). */
  private weights: Float64Array | undefined;
  /** The fused known-probe update's arrays (epie-fused.ts), rebuilt with the weights. */
  private fused: FusedWork | undefined;
  /** Work index (digit-reversed, unshifted spectrum) → index of the measured (shifted, row-major) pattern. */
  private readonly spectrumIndex: Uint32Array;

  constructor(
    readonly N: number,
    readonly canvas: Canvas,
    readonly modes: Mode[],
    readonly alpha: number,
  ) {
    if (!(alpha > 0 && alpha <= 1))
      throw new OptionsError('BAD_OPTION', `alpha must lie in (0, 1], got ${alpha}`, { key: 'alpha', hint: 'alpha 1 is ePIE; rPIE uses 0.05 to 0.5' });
    if (modes.length === 0) throw new OptionsError('BAD_OPTION', 'the engine needs at least one probe mode', { key: 'probe_modes' });
    const NN = (this.NN = N * N);
    for (const m of modes) {
      if (m.re.length !== NN || m.im.length !== NN)
        throw new OptionsError('SHAPE_MISMATCH', `a probe mode holds ${m.re.length} values, the patterns ${N}×${N}`, { key: 'probe' });
    }
    this.patchRe = new Float64Array(NN);
    this.patchIm = new Float64Array(NN);
    this.work = modes.map(() => ({ re: new Float64Array(NN), im: new Float64Array(NN) }));
    this.dRe = new Float64Array(NN);
    this.dIm = new Float64Array(NN);
    this.position = new PositionEstimator(N);
    // Work index s·N + r holds frequency (ky, kx) = (order[r], order[s]) (fft-scrambled.ts).
    const shift = (k: number): number => (k + (N >> 1)) % N,
      { order } = scrambledPlan(N);
    this.spectrumIndex = new Uint32Array(NN);
    for (let s = 0; s < N; s++) for (let r = 0; r < N; r++) this.spectrumIndex[s * N + r] = shift(order[r]!) * N + shift(order[s]!);
  }

  /** Whether a window whose top-left corner is at canvas (sx, sy) fits the canvas (bilinear spill included). */
  fits(sx: number, sy: number): boolean {
    return windowFits(this.canvas, this.N, sx, sy);
  }

  private gather(sx: number, sy: number): void {
    gatherWindow(this.canvas, this.N, sx, sy, this.patchRe, this.patchIm);
  }

  private scatter(sx: number, sy: number): void {
    scatterWindow(this.canvas, this.N, sx, sy, this.dRe, this.dIm);
  }

  /**
   * Exit waves ψ_m = P_m·patch of every mode, their spectra into work (digit-reversed,
   * unscaled), and I = Σ|Ψ|² per work index into dRe. ψ_m is not kept: the
   * difference step forms it again from P_m and the patch, which costs less than
   * storing and re-reading it.
   */
  private propagate(): void {
    const { NN, N } = this,
      pr = this.patchRe,
      pi = this.patchIm,
      I = this.dRe;
    for (let m = 0; m < this.modes.length; m++) {
      // Typed arrays in locals: the loops then index them directly.
      const Pr = this.modes[m]!.re,
        Pi = this.modes[m]!.im,
        wr = this.work[m]!.re,
        wi = this.work[m]!.im;
      for (let t = 0; t < NN; t++) {
        const a = Pr[t]!,
          b = Pi[t]!,
          c = pr[t]!,
          d = pi[t]!;
        wr[t] = a * c - b * d;
        wi[t] = a * d + b * c;
      }
      dft2Scrambled(wr, wi, N, false);
      // I = Σ_m |Ψ_m|², the first mode assigning (no separate clear).
      if (m === 0) for (let t = 0; t < NN; t++) I[t] = wr[t]! * wr[t]! + wi[t]! * wi[t]!;
      else for (let t = 0; t < NN; t++) I[t] = I[t]! + wr[t]! * wr[t]! + wi[t]! * wi[t]!;
    }
  }

  /** Σ A·Â, Σ Â² and Σ A² for the window at (sx, sy) without updating anything (Â the model's amplitude). */
  predict(amplitude: Float32Array, sx: number, sy: number): { ax: number; aa: number; xx: number } {
    this.gather(sx, sy);
    this.propagate();
    const I = this.dRe,
      map = this.spectrumIndex,
      inv = 1 / this.N;
    let ax = 0,
      aa = 0,
      xx = 0;
    for (let t = 0; t < this.NN; t++) {
      const a = amplitude[map[t]!]!,
        m = Math.sqrt(I[t]!) * inv;
      ax += a * m;
      aa += m * m;
      xx += a * a;
    }
    return { ax, aa, xx };
  }

  /**
   * The best of the current window corner and `directions` trial corners at
   * distance `radius` around it, by the amplitude misfit (a step of the
   * annealing search of Maiden et al. 2012: reaches errors beyond the range
   * of the first-order estimate). Returns the offset to the best one.
   */
  searchShift(amplitude: Float32Array, sx: number, sy: number, radius: number, directions = 8): { dx: number; dy: number } {
    const misfit = (x: number, y: number): number => {
      const r = this.predict(amplitude, x, y);
      return r.aa - 2 * r.ax + r.xx;
    };
    let best = misfit(sx, sy),
      dx = 0,
      dy = 0;
    for (let k = 0; k < directions; k++) {
      const ox = radius * Math.cos((2 * Math.PI * k) / directions),
        oy = radius * Math.sin((2 * Math.PI * k) / directions);
      if (!this.fits(sx + ox, sy + oy)) continue;
      const m = misfit(sx + ox, sy + oy);
      if (m < best) {
        best = m;
        dx = ox;
        dy = oy;
      }
    }
    return { dx, dy };
  }

  /** One ePIE/rPIE update with the pattern `amplitude` (N×N, DC centred) at window corner (sx, sy). */
  update(amplitude: Float32Array, sx: number, sy: number, steps: UpdateSteps): UpdateResult {
    const { N, NN } = this,
      M = this.modes.length;
    const f = this.fusedWork(steps, sx, sy);
    if (f !== undefined) return { ...fusedUpdate(f, this.canvas, amplitude, sx, sy, steps.object), dx: 0, dy: 0 };
    this.gather(sx, sy);
    this.propagate();
    const shift = steps.position
      ? this.position.estimate(amplitude, this.modes, this.work, this.dRe, this.spectrumIndex, this.patchRe, this.patchIm)
      : { dx: 0, dy: 0 };
    // Modulus constraint on the digit-reversed, unshifted spectra: |FFT| = N·A (unitary F).
    // I becomes the factor N·A/|Ψ| every mode's spectrum is multiplied by, with the
    // inverse transform's 1/N² folded in; one mode is scaled in the same loop.
    const I = this.dRe,
      map = this.spectrumIndex,
      w0r = this.work[0]!.re,
      w0i = this.work[0]!.im,
      one = M === 1,
      back = 1 / NN,
      inv = 1 / N;
    let error = 0,
      energy = 0;
    for (let t = 0; t < NN; t++) {
      const a = amplitude[map[t]!]!,
        mag = Math.sqrt(I[t]!),
        e = mag * inv - a;
      error += e * e;
      energy += a * a;
      const f = mag > 0 ? (N * a * back) / mag : 0;
      I[t] = f;
      if (one) {
        w0r[t] = w0r[t]! * f;
        w0i[t] = w0i[t]! * f;
      }
    }
    for (let m = one ? 1 : 0; m < M; m++) {
      const wr = this.work[m]!.re,
        wi = this.work[m]!.im;
      for (let t = 0; t < NN; t++) {
        wr[t] = wr[t]! * I[t]!;
        wi[t] = wi[t]! * I[t]!;
      }
    }
    for (let m = 0; m < M; m++) dft2Scrambled(this.work[m]!.re, this.work[m]!.im, N, true);
    // The object correction uses the probe as it was, the probe correction the object as it
    // was (the patch is not touched until scatter): ePIE's simultaneous update.
    // Δ_m = F⁻¹Ψ'_m − ψ_m and the object correction. The common case (one mode, known
    // probe, whole-pixel window) adds the correction straight into the canvas.
    if (steps.probe === 0 && steps.object > 0 && M === 1 && Number.isInteger(sx) && Number.isInteger(sy)) {
      this.correctInPlace(steps.object, sx, sy);
      return { error, energy, ...shift };
    }
    this.differences(steps.object);
    if (steps.probe > 0) this.updateProbe(steps.probe);
    if (steps.object > 0) this.scatter(sx, sy);
    return { error, energy, ...shift };
  }

  /**
   * The fused update's arrays for the current weights when it applies (one mode, fixed
   * probe, no position estimate, a whole-pixel window, a power of two N ≥ 8).
   */
  private fusedWork(steps: UpdateSteps, sx: number, sy: number): FusedWork | undefined {
    if (steps.probe !== 0 || !(steps.object > 0) || steps.position || this.modes.length !== 1) return undefined;
    const plan = scrambledPlan(this.N);
    if (!fusable(plan) || !Number.isInteger(sx) || !Number.isInteger(sy)) return undefined;
    const weight = this.objectWeights(),
      w = this.work[0]!,
      P = this.modes[0]!;
    if (this.fused?.weight === weight && this.fused.pr === P.re && this.fused.pi === P.im) return this.fused;
    const factors = correctionFactors(P.re, P.im, weight);
    return (this.fused = { plan, wr: w.re, wi: w.im, vr: this.dRe, vi: this.dIm, pr: P.re, pi: P.im, weight, ...factors, map: this.spectrumIndex });
  }

  /** 1 / ((1−α)S + α·max S) with S = Σ|P_m|², recomputed only after the probe changed. */
  private objectWeights(): Float64Array {
    if (this.weights !== undefined) return this.weights;
    const { NN, alpha } = this,
      w = new Float64Array(NN);
    let max = 0;
    for (let t = 0; t < NN; t++) {
      let s = 0;
      for (const P of this.modes) s += P.re[t]! * P.re[t]! + P.im[t]! * P.im[t]!;
      w[t] = s;
      if (s > max) max = s;
    }
    const floor = alpha * max;
    for (let t = 0; t < NN; t++) w[t] = 1 / ((1 - alpha) * w[t]! + floor);
    return (this.weights = w);
  }

  /** The probe modes were changed from outside (e.g. orthogonalised): forget derived weights. */
  probeChanged(): void {
    this.weights = undefined;
  }

  /**
   * work_m ← Δ_m = work_m − P_m·patch and, for β > 0, dRe/dIm ← β Σ_m P̄_m Δ_m · weight
   * (one loop per mode, the first assigning, the last scaling).
   */
  private differences(beta: number): void {
    const { NN } = this,
      dr = this.dRe,
      di = this.dIm,
      M = this.modes.length,
      or = this.patchRe,
      oi = this.patchIm;
    const w = beta > 0 ? this.objectWeights() : undefined;
    for (let m = 0; m < M; m++) {
      const pr = this.modes[m]!.re,
        pi = this.modes[m]!.im,
        xr = this.work[m]!.re,
        xi = this.work[m]!.im;
      const acc = m > 0,
        last = m === M - 1;
      for (let t = 0; t < NN; t++) {
        const a = pr[t]!,
          b = pi[t]!,
          e = or[t]!,
          f = oi[t]!,
          c = xr[t]! - (a * e - b * f),
          d = xi[t]! - (a * f + b * e);
        xr[t] = c;
        xi[t] = d;
        if (w === undefined) continue;
        dr[t] = (acc ? dr[t]! : 0) + a * c + b * d;
        di[t] = (acc ? di[t]! : 0) + a * d - b * c;
      }
      if (last && w !== undefined)
        for (let t = 0; t < NN; t++) {
          const k = beta * w[t]!;
          dr[t] = dr[t]! * k;
          di[t] = di[t]! * k;
        }
    }
  }

  /** One mode, fixed probe, window at whole pixels: O += β·weight·P̄(F⁻¹Ψ' − P·patch), straight into the canvas. */
  private correctInPlace(beta: number, sx: number, sy: number): void {
    const { N } = this,
      { width: W, re, im } = this.canvas,
      w = this.objectWeights();
    const pr = this.modes[0]!.re,
      pi = this.modes[0]!.im,
      xr = this.work[0]!.re,
      xi = this.work[0]!.im,
      or = this.patchRe,
      oi = this.patchIm;
    for (let r = 0; r < N; r++) {
      let o = sy * W + sx + r * W;
      for (let t = r * N, end = t + N; t < end; t++, o++) {
        const a = pr[t]!,
          b = pi[t]!,
          e = or[t]!,
          f = oi[t]!,
          k = beta * w[t]!;
        const c = xr[t]! - (a * e - b * f),
          d = xi[t]! - (a * f + b * e);
        re[o] = re[o]! + k * (a * c + b * d);
        im[o] = im[o]! + k * (a * d - b * c);
      }
    }
  }

  /** P_m += β Ō Δ_m / ((1−α)|O|² + α max|O|²), with the window as it was before this update. */
  private updateProbe(beta: number): void {
    const { NN, alpha } = this,
      pr = this.patchRe,
      pi = this.patchIm;
    let max = 0;
    for (let t = 0; t < NN; t++) max = Math.max(max, pr[t]! * pr[t]! + pi[t]! * pi[t]!);
    if (!(max > 0)) return;
    const floor = alpha * max;
    for (let m = 0; m < this.modes.length; m++) {
      const P = this.modes[m]!,
        D = this.work[m]!;
      for (let t = 0; t < NN; t++) {
        const or = pr[t]!,
          oi = pi[t]!,
          k = beta / ((1 - alpha) * (or * or + oi * oi) + floor);
        P.re[t] = P.re[t]! + k * (or * D.re[t]! + oi * D.im[t]!);
        P.im[t] = P.im[t]! + k * (or * D.im[t]! - oi * D.re[t]!);
      }
    }
    this.weights = undefined;
  }
}

// First-order position estimate of one ePIE window (see physics/epie.ts):
// a window displaced by δ sees O + δ·∇O, so its far field changes by
// δ·F(P·∇O); one Gauss–Newton step on the amplitude misfit gives the δ that
// best explains the measured pattern, at two more transforms per mode.
import { dft2Scrambled } from './fft-scrambled.js';
import type { Mode } from './modes.js';

export class PositionEstimator {
  /** The window's derivative spectra and the Jacobian per frequency. */
  private readonly bx: Mode;
  private readonly by: Mode;
  private readonly jx: Float64Array;
  private readonly jy: Float64Array;

  constructor(readonly N: number) {
    const NN = N * N;
    this.bx = { re: new Float64Array(NN), im: new Float64Array(NN) };
    this.by = { re: new Float64Array(NN), im: new Float64Array(NN) };
    this.jx = new Float64Array(NN);
    this.jy = new Float64Array(NN);
  }

  /**
   * The window displacement (columns, rows) that best fits the measured
   * amplitude to first order (one Gauss–Newton step on Σ(|Ψ| − A)²): with
   * ∂Ψ_m = F(P_m·∂O) (central differences inside the window, one-sided at its
   * edges), J = Σ_m Re(Ψ̄_m ∂Ψ_m)/|Ψ| per axis and δ = (JᵀJ)⁻¹Jᵀ(A − |Ψ|).
   * `spectra` are Ψ_m and `I` = Σ|Ψ_m|² (digit-reversed, unshifted; `map` indexes
   * the measured pattern), `pr`/`pi` the window.
   */
  estimate(
    amplitude: Float32Array,
    modes: readonly Mode[],
    spectra: readonly Mode[],
    I: Float64Array,
    map: Uint32Array,
    pr: Float64Array,
    pi: Float64Array,
  ): { dx: number; dy: number } {
    const { N } = this,
      NN = N * N;
    const jx = this.jx,
      jy = this.jy,
      bx = this.bx,
      by = this.by;
    jx.fill(0);
    jy.fill(0);
    for (let m = 0; m < modes.length; m++) {
      const P = modes[m]!,
        W = spectra[m]!;
      for (let r = 0; r < N; r++) {
        const up = r === 0 ? 0 : r - 1,
          down = r === N - 1 ? N - 1 : r + 1,
          sy = 1 / (down - up);
        for (let c = 0; c < N; c++) {
          const left = c === 0 ? 0 : c - 1,
            right = c === N - 1 ? N - 1 : c + 1,
            sx = 1 / (right - left);
          const t = r * N + c,
            a = P.re[t]!,
            b = P.im[t]!;
          const oxr = (pr[r * N + right]! - pr[r * N + left]!) * sx,
            oxi = (pi[r * N + right]! - pi[r * N + left]!) * sx;
          const oyr = (pr[down * N + c]! - pr[up * N + c]!) * sy,
            oyi = (pi[down * N + c]! - pi[up * N + c]!) * sy;
          bx.re[t] = a * oxr - b * oxi;
          bx.im[t] = a * oxi + b * oxr;
          by.re[t] = a * oyr - b * oyi;
          by.im[t] = a * oyi + b * oyr;
        }
      }
      dft2Scrambled(bx.re, bx.im, N, false);
      dft2Scrambled(by.re, by.im, N, false);
      for (let t = 0; t < NN; t++) {
        jx[t] = jx[t]! + W.re[t]! * bx.re[t]! + W.im[t]! * bx.im[t]!;
        jy[t] = jy[t]! + W.re[t]! * by.re[t]! + W.im[t]! * by.im[t]!;
      }
    }
    let xx = 0,
      xy = 0,
      yy = 0,
      xr = 0,
      yr = 0;
    for (let t = 0; t < NN; t++) {
      const mag = Math.sqrt(I[t]!);
      if (!(mag > 0)) continue;
      const gx = jx[t]! / mag,
        gy = jy[t]! / mag,
        res = N * amplitude[map[t]!]! - mag;
      xx += gx * gx;
      xy += gx * gy;
      yy += gy * gy;
      xr += gx * res;
      yr += gy * res;
    }
    const det = xx * yy - xy * xy;
    if (!(det > 1e-12 * (xx * yy))) return { dx: 0, dy: 0 };
    return { dx: (yy * xr - xy * yr) / det, dy: (xx * yr - xy * xr) / det };
  }
}

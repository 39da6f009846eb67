// Scores a reconstructed complex object against a ground truth (SPEC §7): crop to
// the scanned region, register with sub-pixel phase correlation, remove the
// phase plane (or constant) between the two, scale the amplitude by the ratio of
// means, then MAE/MSE/PSNR/SSIM for amplitude and phase and the FRC curve.
// Unlike the reference (which fits a plane to each image's wrapped phase on its
// own and uses PSNR peak 255), the plane is fitted to the phase *difference*
// (wrap-safe, amplitude-weighted) and PSNR/SSIM use the truth's own range.
import type { Complex2D } from '../records/index.js';
import { DataError, OptionsError } from '../errors.js';
import { frc, type FrcResult } from './frc.js';
import { registerShift, shiftImage } from './register.js';
import { ssim } from './ssim.js';

export interface CropBox {
  x0: number;
  y0: number;
  x1: number;
  y1: number;
}

export interface EvalOptions {
  /** Region to score, [x0, x1) × [y0, y1) in pixels of both images (default: everything). */
  crop?: CropBox;
  register?: boolean;
  /** Register on the complex fields (robust for phase-only objects) or on amplitudes only. */
  register_on?: 'complex' | 'amplitude';
  upsample?: number;
  /**
   * Largest shift (pixels, per axis) registration may apply; a larger measured
   * shift is not trusted (a poor reconstruction correlates anywhere) and the
   * images are scored unshifted. Default: 1/8 of the smaller cropped side.
   */
  max_shift?: number;
  phase_align?: 'plane' | 'mean' | 'none';
  amplitude_scale?: 'mean_ratio' | 'none';
}

export interface ScoreSet {
  mae: number;
  mse: number;
  /** dB; Infinity when MSE = 0 */ psnr: number;
  ssim: number;
  data_range: number;
}

export interface EvalResult {
  /** Shift [dy, dx] applied to the reconstruction to register it. */
  shift: [number, number];
  /** A measured shift larger than max_shift, which was therefore not applied. */
  rejected_shift?: [number, number];
  amplitude: ScoreSet;
  phase: ScoreSet;
  frc: FrcResult;
  /** The region finally scored (after trimming the registration wrap-around), in input pixels. */
  crop: CropBox;
  /** The fitted phase offset: recon phase + (a·(x−xc) + b·(y−yc) + c) ≈ truth phase. */
  phase_plane: { a: number; b: number; c: number };
  amplitude_factor: number;
  /** Aligned images of the scored region (for figures), row-major. */
  images: { width: number; height: number; truthAmp: Float32Array; reconAmp: Float32Array; truthPhase: Float32Array; reconPhase: Float32Array };
}

const wrap = (a: number): number => a - 2 * Math.PI * Math.round(a / (2 * Math.PI));

function cut(img: Complex2D, c: CropBox): Complex2D {
  const w = c.x1 - c.x0,
    h = c.y1 - c.y0,
    re = new Float32Array(w * h),
    im = new Float32Array(w * h);
  for (let y = 0; y < h; y++) {
    const o = (c.y0 + y) * img.width + c.x0;
    re.set(img.re.subarray(o, o + w), y * w);
    im.set(img.im.subarray(o, o + w), y * w);
  }
  return { height: h, width: w, re, im };
}

/** Scores of r against t; a flat truth (range 0) falls back to `fallbackRange`, or max|t| (≥ 1e-12) when null. */
function scores(t: Float32Array, r: Float32Array, h: number, w: number, fallbackRange: number | null): ScoreSet {
  let mae = 0,
    mse = 0,
    lo = Infinity,
    hi = -Infinity;
  for (let i = 0; i < t.length; i++) {
    const d = r[i]! - t[i]!;
    mae += Math.abs(d);
    mse += d * d;
    lo = Math.min(lo, t[i]!);
    hi = Math.max(hi, t[i]!);
  }
  mae /= t.length;
  mse /= t.length;
  const range = hi - lo > 0 ? hi - lo : (fallbackRange ?? Math.max(1e-12, Math.abs(hi), Math.abs(lo)));
  return {
    mae,
    mse,
    psnr: mse === 0 ? Infinity : 10 * Math.log10((range * range) / mse),
    ssim: ssim(t, r, h, w, { dataRange: range }).ssim,
    data_range: range,
  };
}

/**
 * Phase offset plane between z = truth·conj(recon) phases, weighted by |z|: start
 * from circular-mean gradients (robust to wrapping), then refine by weighted least
 * squares on the wrapped residual.
 */
export function fitPhasePlane(zr: Float64Array, zi: Float64Array, h: number, w: number, mode: 'plane' | 'mean'): { a: number; b: number; c: number } {
  const xc = (w - 1) / 2,
    yc = (h - 1) / 2;
  let a = 0,
    b = 0;
  if (mode === 'plane') {
    let gxr = 0,
      gxi = 0,
      gyr = 0,
      gyi = 0;
    for (let y = 0; y < h; y++)
      for (let x = 0; x < w; x++) {
        const i = y * w + x;
        if (x + 1 < w) {
          gxr += zr[i + 1]! * zr[i]! + zi[i + 1]! * zi[i]!;
          gxi += zi[i + 1]! * zr[i]! - zr[i + 1]! * zi[i]!;
        }
        if (y + 1 < h) {
          gyr += zr[i + w]! * zr[i]! + zi[i + w]! * zi[i]!;
          gyi += zi[i + w]! * zr[i]! - zr[i + w]! * zi[i]!;
        }
      }
    a = Math.atan2(gxi, gxr);
    b = Math.atan2(gyi, gyr);
  }
  const constant = (): number => {
    let sr = 0,
      si = 0;
    for (let y = 0; y < h; y++)
      for (let x = 0; x < w; x++) {
        const i = y * w + x,
          p = -(a * (x - xc) + b * (y - yc)),
          c = Math.cos(p),
          s = Math.sin(p);
        sr += zr[i]! * c - zi[i]! * s;
        si += zr[i]! * s + zi[i]! * c;
      }
    return Math.atan2(si, sr);
  };
  let c = constant();
  if (mode === 'mean') return { a, b, c };
  for (let it = 0; it < 3; it++) {
    // Weighted normal equations for d ≈ da·X + db·Y + dc with centred X, Y.
    const M = [0, 0, 0, 0, 0, 0, 0, 0, 0],
      v = [0, 0, 0];
    for (let y = 0; y < h; y++)
      for (let x = 0; x < w; x++) {
        const i = y * w + x,
          wt = Math.hypot(zr[i]!, zi[i]!);
        if (wt === 0) continue;
        const X = x - xc,
          Y = y - yc,
          d = wrap(Math.atan2(zi[i]!, zr[i]!) - (a * X + b * Y + c)),
          f = [X, Y, 1];
        for (let p = 0; p < 3; p++) {
          v[p]! += wt * f[p]! * d;
          for (let q = 0; q < 3; q++) M[p * 3 + q]! += wt * f[p]! * f[q]!;
        }
      }
    const s = solve3(M, v);
    if (s === null) break;
    a += s[0];
    b += s[1];
    c = wrap(c + s[2]);
  }
  return { a, b, c };
}

function solve3(M: number[], v: number[]): [number, number, number] | null {
  const det = (m: number[]): number =>
    m[0]! * (m[4]! * m[8]! - m[5]! * m[7]!) - m[1]! * (m[3]! * m[8]! - m[5]! * m[6]!) + m[2]! * (m[3]! * m[7]! - m[4]! * m[6]!);
  const D = det(M);
  if (!(Math.abs(D) > 1e-300)) return null;
  const col = (k: number): number => det(M.map((m, i) => (i % 3 === k ? v[Math.floor(i / 3)]! : m)));
  return [col(0) / D, col(1) / D, col(2) / D];
}

/** R with the phase plane between T and R taken out: a phase ramp would otherwise move the complex correlation peak. */
function deramp(T: Complex2D, R: Complex2D): Complex2D {
  const { height: h, width: w } = T,
    n = h * w,
    zr = new Float64Array(n),
    zi = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    zr[i] = T.re[i]! * R.re[i]! + T.im[i]! * R.im[i]!;
    zi[i] = T.im[i]! * R.re[i]! - T.re[i]! * R.im[i]!;
  }
  const p = fitPhasePlane(zr, zi, h, w, 'plane'),
    re = new Float32Array(n),
    im = new Float32Array(n);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      const i = y * w + x,
        a = p.a * (x - (w - 1) / 2) + p.b * (y - (h - 1) / 2) + p.c,
        c = Math.cos(a),
        s = Math.sin(a);
      re[i] = R.re[i]! * c - R.im[i]! * s;
      im[i] = R.re[i]! * s + R.im[i]! * c;
    }
  return { height: h, width: w, re, im };
}

function checkPair(truth: Complex2D, recon: Complex2D): void {
  if (truth.height !== recon.height || truth.width !== recon.width) {
    throw new OptionsError('BAD_SHAPE', `evaluateObject: truth is ${truth.height}×${truth.width} but the reconstruction is ${recon.height}×${recon.width}`, {
      hint: 'place both on the same object grid first',
    });
  }
  for (let i = 0; i < recon.re.length; i++) {
    if (!Number.isFinite(recon.re[i]!) || !Number.isFinite(recon.im[i]!))
      throw new DataError('NON_FINITE', `evaluateObject: the reconstruction has a non-finite value at pixel ${i}`);
  }
}

/** The crop box on whole pixels, inside the image. */
function clampCrop(c: CropBox | undefined, width: number, height: number): CropBox {
  if (c === undefined) return { x0: 0, y0: 0, x1: width, y1: height };
  return { x0: Math.max(0, Math.floor(c.x0)), y0: Math.max(0, Math.floor(c.y0)), x1: Math.min(width, Math.ceil(c.x1)), y1: Math.min(height, Math.ceil(c.y1)) };
}

interface Registered {
  T: Complex2D;
  R: Complex2D;
  crop: CropBox;
  shift: [number, number];
  rejected?: [number, number];
}

/**
 * Registers R on T (a shift beyond max_shift is rejected, not applied) and
 * trims the border the shift wrapped around from both and from the crop.
 */
function registerPair(T: Complex2D, R: Complex2D, crop: CropBox, opts: EvalOptions): Registered {
  const amp = (z: Complex2D): Complex2D => ({ ...z, re: z.re.map((r, i) => Math.hypot(r, z.im[i]!)), im: new Float32Array(z.re.length) });
  const upsample = opts.upsample ?? 50;
  const shift = opts.register_on === 'amplitude' ? registerShift(amp(T), amp(R), { upsample }).shift : registerShift(T, deramp(T, R), { upsample }).shift;
  const maxShift = opts.max_shift ?? Math.min(T.height, T.width) / 8;
  if (Math.abs(shift[0]) > maxShift || Math.abs(shift[1]) > maxShift) return { T, R, crop, shift: [0, 0], rejected: shift };
  if (shift[0] === 0 && shift[1] === 0) return { T, R, crop, shift };
  const m = Math.ceil(Math.max(Math.abs(shift[0]), Math.abs(shift[1]))); // wrapped-around border
  const inner = { x0: m, y0: m, x1: T.width - m, y1: T.height - m };
  if (inner.x1 - inner.x0 < 16 || inner.y1 - inner.y0 < 16)
    throw new DataError(
      'REGISTRATION',
      `evaluateObject: registration shift (${shift[0].toFixed(2)}, ${shift[1].toFixed(2)}) leaves less than 16×16 pixels to score`,
      { hint: 'check that truth and reconstruction share one object grid, or set register: false' },
    );
  return {
    T: cut(T, inner),
    R: cut(shiftImage(R, shift[0], shift[1]), inner),
    crop: { x0: crop.x0 + m, y0: crop.y0 + m, x1: crop.x1 - m, y1: crop.y1 - m },
    shift,
  };
}

/** Amplitude scaled by the ratio of means and phase aligned by the fitted plane (or constant), then scored. */
function alignAndScore(
  T: Complex2D,
  R: Complex2D,
  opts: EvalOptions,
): Pick<EvalResult, 'phase_plane' | 'amplitude_factor' | 'amplitude' | 'phase' | 'frc' | 'images'> {
  const { height: h, width: w } = T,
    n = h * w;
  const zr = new Float64Array(n),
    zi = new Float64Array(n),
    ta = new Float32Array(n),
    ra = new Float32Array(n);
  let st = 0,
    sr = 0;
  for (let i = 0; i < n; i++) {
    zr[i] = T.re[i]! * R.re[i]! + T.im[i]! * R.im[i]!;
    zi[i] = T.im[i]! * R.re[i]! - T.re[i]! * R.im[i]!;
    ta[i] = Math.hypot(T.re[i]!, T.im[i]!);
    ra[i] = Math.hypot(R.re[i]!, R.im[i]!);
    st += ta[i]!;
    sr += ra[i]!;
  }
  const factor = opts.amplitude_scale === 'none' || sr === 0 ? 1 : st / sr;
  const mode = opts.phase_align ?? 'plane';
  const plane = mode === 'none' ? { a: 0, b: 0, c: 0 } : fitPhasePlane(zr, zi, h, w, mode);
  const tp = new Float32Array(n),
    rp = new Float32Array(n),
    outRe = new Float32Array(n),
    outIm = new Float32Array(n);
  const xc = (w - 1) / 2,
    yc = (h - 1) / 2;
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      const i = y * w + x,
        t = Math.atan2(T.im[i]!, T.re[i]!);
      const aligned = Math.atan2(R.im[i]!, R.re[i]!) + plane.a * (x - xc) + plane.b * (y - yc) + plane.c;
      tp[i] = t;
      rp[i] = t - wrap(t - aligned); // the branch of the aligned phase nearest the truth
      ra[i] = ra[i]! * factor;
      outRe[i] = ra[i] * Math.cos(rp[i]);
      outIm[i] = ra[i] * Math.sin(rp[i]);
    }
  return {
    phase_plane: plane,
    amplitude_factor: factor,
    amplitude: scores(ta, ra, h, w, null),
    phase: scores(tp, rp, h, w, 2 * Math.PI),
    frc: frc(T, { height: h, width: w, re: outRe, im: outIm }),
    images: { width: w, height: h, truthAmp: ta, reconAmp: ra, truthPhase: tp, reconPhase: rp },
  };
}

export function evaluateObject(truth: Complex2D, recon: Complex2D, opts: EvalOptions = {}): EvalResult {
  checkPair(truth, recon);
  const crop = clampCrop(opts.crop, truth.width, truth.height);
  const T = cut(truth, crop),
    R = cut(recon, crop);
  const reg: Registered = opts.register === false ? { T, R, crop, shift: [0, 0] } : registerPair(T, R, crop, opts);
  const scored = alignAndScore(reg.T, reg.R, opts);
  return { shift: reg.shift, ...(reg.rejected === undefined ? {} : { rejected_shift: reg.rejected }), crop: reg.crop, ...scored };
}

// Structural similarity (Wang et al. 2004) with the standard Gaussian window:
// σ = 1.5, truncated at 3.5σ (11 taps), K1 = 0.01, K2 = 0.03, population
// (not sample) covariances, symmetric-reflect borders, and the mean taken over
// the interior that the window fully covers — the same recipe as scikit-image's
// `structural_similarity(gaussian_weights=True, use_sample_covariance=False)`.
import { OptionsError } from '../errors.js';

export interface SsimOptions {
  /** Dynamic range of the data (e.g. max − min of the ground truth). Required: no 255 default. */
  dataRange: number;
  sigma?: number;
  k1?: number;
  k2?: number;
}

function gaussianKernel(sigma: number): Float64Array {
  const r = Math.floor(3.5 * sigma + 0.5),
    k = new Float64Array(2 * r + 1);
  let sum = 0;
  for (let i = -r; i <= r; i++) sum += k[i + r] = Math.exp(-(i * i) / (2 * sigma * sigma));
  for (let i = 0; i < k.length; i++) k[i] = k[i]! / sum;
  return k;
}

/** Reflect index into [0, n): … c b a | a b c … d | d c … */
function reflect(i: number, n: number): number {
  const p = 2 * n;
  let j = ((i % p) + p) % p;
  if (j >= n) j = p - 1 - j;
  return j;
}

/** Separable Gaussian filter with symmetric borders. */
function blur(src: Float64Array, h: number, w: number, k: Float64Array): Float64Array {
  const r = (k.length - 1) / 2,
    tmp = new Float64Array(h * w),
    out = new Float64Array(h * w);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      let s = 0;
      for (let t = -r; t <= r; t++) s += k[t + r]! * src[y * w + reflect(x + t, w)]!;
      tmp[y * w + x] = s;
    }
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      let s = 0;
      for (let t = -r; t <= r; t++) s += k[t + r]! * tmp[reflect(y + t, h) * w + x]!;
      out[y * w + x] = s;
    }
  return out;
}

/** Mean SSIM of two h×w images (and the SSIM map). */
export function ssim(a: ArrayLike<number>, b: ArrayLike<number>, h: number, w: number, opts: SsimOptions): { ssim: number; map: Float64Array } {
  const { dataRange } = opts;
  if (!(dataRange > 0) || !Number.isFinite(dataRange)) throw new OptionsError('BAD_OPTION', `ssim: dataRange must be a positive number, got ${dataRange}`);
  if (a.length !== h * w || b.length !== h * w) throw new OptionsError('BAD_SHAPE', `ssim: expected ${h}×${w} images`);
  const k = gaussianKernel(opts.sigma ?? 1.5),
    pad = (k.length - 1) / 2;
  if (h <= 2 * pad || w <= 2 * pad) throw new OptionsError('BAD_SHAPE', `ssim: image ${h}×${w} is smaller than the ${k.length}×${k.length} window`);
  const C1 = ((opts.k1 ?? 0.01) * dataRange) ** 2,
    C2 = ((opts.k2 ?? 0.03) * dataRange) ** 2;
  const n = h * w,
    x = Float64Array.from(a),
    y = Float64Array.from(b);
  const xx = new Float64Array(n),
    yy = new Float64Array(n),
    xy = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    xx[i] = x[i]! * x[i]!;
    yy[i] = y[i]! * y[i]!;
    xy[i] = x[i]! * y[i]!;
  }
  const ux = blur(x, h, w, k),
    uy = blur(y, h, w, k),
    uxx = blur(xx, h, w, k),
    uyy = blur(yy, h, w, k),
    uxy = blur(xy, h, w, k);
  const map = new Float64Array(n);
  let sum = 0,
    count = 0;
  for (let r = 0; r < h; r++)
    for (let c = 0; c < w; c++) {
      const i = r * w + c,
        mx = ux[i]!,
        my = uy[i]!;
      const vx = uxx[i]! - mx * mx,
        vy = uyy[i]! - my * my,
        cxy = uxy[i]! - mx * my;
      const s = ((2 * mx * my + C1) * (2 * cxy + C2)) / ((mx * mx + my * my + C1) * (vx + vy + C2));
      map[i] = s;
      if (r >= pad && r < h - pad && c >= pad && c < w - pad) {
        sum += s;
        count++;
      }
    }
  return { ssim: sum / count, map };
}

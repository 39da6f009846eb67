// Fourier ring correlation between two complex images of the same size:
// FRC(r) = |Σ_ring F1·conj(F2)| / sqrt(Σ_ring |F1|² · Σ_ring |F2|²), rings of
// integer radius round(|k|) on the centred spectrum of the central square crop
// (the ring-average of van Heel, as in the reference's vendored FSC). Crossings
// of a threshold are interpolated linearly between rings and reported as a
// resolution in pixels (period = size / ring).
import type { Complex2D } from '../records/index.js';
import { OptionsError } from '../errors.js';
import { fft2, signedFreq } from './register.js';

export interface FrcResult {
  /** Spatial frequency of each ring, cycles per pixel (ring / size), 0 … 0.5. */
  freq: number[];
  curve: number[];
  /** Side of the square that was correlated. */
  size: number;
  /** Resolution (pixels) where the curve first drops below 0.5; null if it never does. */
  frc_half: number | null;
  /** Same for the 1/7 threshold. */
  frc_17: number | null;
  /** The interpolated crossing ring indices (the reference's `frc50`/`frc1over7` units); null if none. */
  frc_half_ring: number | null;
  frc_17_ring: number | null;
}

/** Centre-crops a complex image to an s×s square. */
function centreSquare(img: Complex2D, s: number): { re: Float32Array; im: Float32Array } {
  const y0 = Math.floor((img.height - s) / 2),
    x0 = Math.floor((img.width - s) / 2);
  const re = new Float32Array(s * s),
    im = new Float32Array(s * s);
  for (let y = 0; y < s; y++) {
    const o = (y0 + y) * img.width + x0;
    re.set(img.re.subarray(o, o + s), y * s);
    im.set(img.im.subarray(o, o + s), y * s);
  }
  return { re, im };
}

/** Ring index (fractional) where `curve` first falls below `t`, interpolated; null if it never does. */
export function crossing(curve: readonly number[], t: number): number | null {
  for (let r = 1; r < curve.length; r++) {
    const c = curve[r]!;
    if (c < t) {
      const p = curve[r - 1]!;
      return p === c ? r : r - 1 + (p - t) / (p - c);
    }
  }
  return null;
}

export function frc(a: Complex2D, b: Complex2D): FrcResult {
  if (a.height !== b.height || a.width !== b.width) {
    throw new OptionsError('BAD_SHAPE', `frc: shapes differ (${a.height}×${a.width} vs ${b.height}×${b.width})`);
  }
  const s = Math.min(a.height, a.width);
  if (s < 4) throw new OptionsError('BAD_SHAPE', `frc: image too small (${a.height}×${a.width}); needs at least 4×4`);
  const A = centreSquare(a, s),
    B = centreSquare(b, s);
  const FA = fft2(A.re, A.im, s, s),
    FB = fft2(B.re, B.im, s, s);
  const rings = Math.floor(s / 2) + 1; // up to Nyquist; the corners beyond are left out
  const cr = new Float64Array(rings),
    ci = new Float64Array(rings),
    pa = new Float64Array(rings),
    pb = new Float64Array(rings);
  for (let y = 0; y < s; y++) {
    const fy = signedFreq(y, s);
    for (let x = 0; x < s; x++) {
      const r = Math.round(Math.hypot(fy, signedFreq(x, s)));
      if (r >= rings) continue;
      const i = y * s + x,
        ar = FA.re[i]!,
        ai = FA.im[i]!,
        br = FB.re[i]!,
        bi = FB.im[i]!;
      cr[r] = cr[r]! + ar * br + ai * bi;
      ci[r] = ci[r]! + ai * br - ar * bi;
      pa[r] = pa[r]! + ar * ar + ai * ai;
      pb[r] = pb[r]! + br * br + bi * bi;
    }
  }
  const curve: number[] = [],
    freq: number[] = [];
  for (let r = 0; r < rings; r++) {
    const d = Math.sqrt(pa[r]! * pb[r]!);
    // A ring with no power in either image carries no information: count it as uncorrelated.
    curve.push(d > 0 ? Math.min(1, Math.hypot(cr[r]!, ci[r]!) / d) : 0);
    freq.push(r / s);
  }
  const h = crossing(curve, 0.5),
    q = crossing(curve, 1 / 7);
  const res = (ring: number | null): number | null => (ring === null ? null : ring > 0 ? s / ring : Infinity);
  return { freq, curve, size: s, frc_half: res(h), frc_17: res(q), frc_half_ring: h, frc_17_ring: q };
}

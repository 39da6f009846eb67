// Synthetic complex objects for simulation (SPEC §8): from two grey images
// (amplitude from one, phase from the other), from random line segments, or
// from Gaussian random fields. Every generator produces two maps in [0, 1] and
// composes them the same way:
//   amplitude = amp_min + (1 − amp_min) · a      ∈ [amp_min, 1]
//   phase     = phase_range · (p − 0.5)          ∈ [−phase_range/2, phase_range/2]
// Maps are stretched to the full [0, 1] by their own min and max, so the
// requested ranges are always used entirely. Randomness comes only from the
// Rng passed in; no file access here (the simulate source reads the images).
import { OptionsError } from '../errors.js';
import type { Complex2D } from '../records/index.js';
import type { Rng } from '../util/rng.js';
import { fft2Shifted, ifft2Shifted } from './fftjs.js';

export interface GrayImage {
  readonly width: number;
  readonly height: number;
  /** Row-major grey values (any real range). */
  readonly data: Float32Array;
}

export interface ObjectRanges {
  /** Smallest amplitude (largest is 1). Default 0.5. */
  ampMin?: number;
  /** Total phase span in radians. Default π. */
  phaseRange?: number;
}

function checkSize(size: number, fn: string): void {
  if (!Number.isInteger(size) || size < 2) throw new OptionsError('OBJECT_SIZE', `${fn}: size must be an integer ≥ 2, got ${size}`);
}

/** Rescales values in place to [0, 1] by their min and max (a constant map becomes all 1). */
export function stretch01(data: Float32Array): Float32Array {
  let lo = Infinity,
    hi = -Infinity;
  for (const v of data) {
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  const span = hi - lo;
  for (let i = 0; i < data.length; i++) data[i] = span > 0 ? (data[i]! - lo) / span : 1;
  return data;
}

/** Builds the complex object from an amplitude map and a phase map (both stretched to [0, 1] first). */
export function composeObject(ampMap: Float32Array, phaseMap: Float32Array, width: number, height: number, ranges: ObjectRanges = {}): Complex2D {
  const ampMin = ranges.ampMin ?? 0.5,
    phaseRange = ranges.phaseRange ?? Math.PI;
  if (!(ampMin >= 0 && ampMin <= 1)) throw new OptionsError('OBJECT_RANGE', `amp_min must lie in [0, 1], got ${ampMin}`);
  if (!(phaseRange >= 0 && Number.isFinite(phaseRange))) throw new OptionsError('OBJECT_RANGE', `phase_range must be a finite number ≥ 0, got ${phaseRange}`);
  if (ampMap.length !== width * height || phaseMap.length !== width * height) {
    throw new OptionsError('OBJECT_SIZE', `composeObject: maps must hold ${width}×${height} values, got ${ampMap.length} and ${phaseMap.length}`);
  }
  const a = stretch01(Float32Array.from(ampMap)),
    p = stretch01(Float32Array.from(phaseMap));
  const re = new Float32Array(width * height),
    im = new Float32Array(width * height);
  for (let i = 0; i < re.length; i++) {
    const amp = ampMin + (1 - ampMin) * a[i]!;
    const ph = phaseRange * (p[i]! - 0.5);
    re[i] = amp * Math.cos(ph);
    im[i] = amp * Math.sin(ph);
  }
  return { width, height, re, im };
}

/** 1-D linear resampling of `n` values to `m` along a strided axis; antialiased (wider tent) when shrinking. */
function resampleAxis(
  src: Float32Array,
  dst: Float32Array,
  n: number,
  m: number,
  lines: number,
  srcStride: number,
  dstStride: number,
  lineStrideSrc: number,
  lineStrideDst: number,
): void {
  const scale = n / m;
  const support = Math.max(1, scale); // tent half-width in source pixels
  for (let j = 0; j < m; j++) {
    const centre = (j + 0.5) * scale - 0.5;
    const lo = Math.max(0, Math.ceil(centre - support)),
      hi = Math.min(n - 1, Math.floor(centre + support));
    let wsum = 0;
    const taps: [number, number][] = [];
    for (let i = lo; i <= hi; i++) {
      const w = 1 - Math.abs(i - centre) / support;
      if (w > 0) {
        taps.push([i, w]);
        wsum += w;
      }
    }
    if (taps.length === 0) {
      taps.push([Math.min(n - 1, Math.max(0, Math.round(centre))), 1]);
      wsum = 1;
    }
    for (let l = 0; l < lines; l++) {
      let acc = 0;
      for (const [i, w] of taps) acc += w * src[l * lineStrideSrc + i * srcStride]!;
      dst[l * lineStrideDst + j * dstStride] = acc / wsum;
    }
  }
}

/** Resizes a grey image (bilinear; area-weighted when shrinking so that fine detail does not alias). */
export function resizeGray(img: GrayImage, width: number, height: number): GrayImage {
  const { width: w, height: h, data } = img;
  const tmp = new Float32Array(width * h);
  resampleAxis(data, tmp, w, width, h, 1, 1, w, width);
  const out = new Float32Array(width * height);
  resampleAxis(tmp, out, h, height, width, width, width, 1, 1);
  return { width, height, data: out };
}

/** The largest centred square of an image. */
export function cropSquare(img: GrayImage): GrayImage {
  const s = Math.min(img.width, img.height);
  const x0 = (img.width - s) >> 1,
    y0 = (img.height - s) >> 1;
  const data = new Float32Array(s * s);
  for (let r = 0; r < s; r++) data.set(img.data.subarray((y0 + r) * img.width + x0, (y0 + r) * img.width + x0 + s), r * s);
  return { width: s, height: s, data };
}

/** Object of side `size` from two images: centre-cropped to squares and resized. */
export function objectFromImages(amplitude: GrayImage, phase: GrayImage, size: number, ranges: ObjectRanges = {}): Complex2D {
  checkSize(size, 'objectFromImages');
  const a = resizeGray(cropSquare(amplitude), size, size),
    p = resizeGray(cropSquare(phase), size, size);
  return composeObject(a.data, p.data, size, size, ranges);
}

/** Separable Gaussian blur with edge clamping. */
export function gaussianBlur(data: Float32Array, width: number, height: number, sigma: number): Float32Array {
  if (!(sigma > 0)) return Float32Array.from(data);
  const r = Math.ceil(3 * sigma);
  const k = new Float64Array(2 * r + 1);
  let s = 0;
  for (let i = -r; i <= r; i++) s += k[i + r] = Math.exp((-i * i) / (2 * sigma * sigma));
  for (let i = 0; i < k.length; i++) k[i]! /= s;
  const tmp = new Float32Array(width * height),
    out = new Float32Array(width * height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      let acc = 0;
      for (let i = -r; i <= r; i++) acc += k[i + r]! * data[y * width + Math.min(width - 1, Math.max(0, x + i))]!;
      tmp[y * width + x] = acc;
    }
  }
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      let acc = 0;
      for (let i = -r; i <= r; i++) acc += k[i + r]! * tmp[Math.min(height - 1, Math.max(0, y + i)) * width + x]!;
      out[y * width + x] = acc;
    }
  }
  return out;
}

export interface LinesOptions extends ObjectRanges {
  /** Number of segments; default size²/256 (one per 16×16 area). */
  count?: number;
  /** Gaussian smoothing σ in pixels; default 1. */
  smoothing?: number;
}

/** Random line segments (random position, angle, length, strength), smoothed: dark lines in amplitude, raised phase. */
export function linesObject(size: number, rng: Rng, opts: LinesOptions = {}): Complex2D {
  checkSize(size, 'linesObject');
  const count = opts.count ?? Math.max(1, Math.round((size * size) / 256));
  const canvas = new Float32Array(size * size);
  const deposit = (x: number, y: number, v: number): void => {
    // Bilinear splat keeps sub-pixel line positions smooth.
    const x0 = Math.floor(x),
      y0 = Math.floor(y),
      fx = x - x0,
      fy = y - y0;
    const add = (xx: number, yy: number, w: number): void => {
      if (xx >= 0 && xx < size && yy >= 0 && yy < size) canvas[yy * size + xx]! += w * v;
    };
    add(x0, y0, (1 - fx) * (1 - fy));
    add(x0 + 1, y0, fx * (1 - fy));
    add(x0, y0 + 1, (1 - fx) * fy);
    add(x0 + 1, y0 + 1, fx * fy);
  };
  for (let l = 0; l < count; l++) {
    const cx = rng.uniform() * size,
      cy = rng.uniform() * size;
    const angle = rng.uniform() * Math.PI;
    const len = size * (0.05 + 0.3 * rng.uniform());
    const strength = 0.3 + 0.7 * rng.uniform();
    const dx = Math.cos(angle),
      dy = Math.sin(angle);
    for (let t = -len / 2; t <= len / 2; t += 0.5) deposit(cx + t * dx, cy + t * dy, strength * 0.5);
  }
  for (let i = 0; i < canvas.length; i++) canvas[i] = Math.min(1, canvas[i]!);
  const v = gaussianBlur(canvas, size, size, opts.smoothing ?? 1);
  const amp = new Float32Array(v.length);
  for (let i = 0; i < v.length; i++) amp[i] = 1 - v[i]!;
  return composeObject(amp, v, size, size, opts);
}

export interface GrfOptions extends ObjectRanges {
  /** Correlation length in pixels: σ of the Gaussian kernel that smooths white noise. Default 6. */
  correlationLength?: number;
}

/** One Gaussian random field: white noise filtered in Fourier space by exp(−2π²ℓ²|f|²) (periodic). */
export function gaussianRandomField(size: number, rng: Rng, correlationLength: number): Float32Array {
  checkSize(size, 'gaussianRandomField');
  if (!(correlationLength > 0)) throw new OptionsError('OBJECT_OPTION', `correlation_length must be > 0, got ${correlationLength}`);
  const re = new Float32Array(size * size);
  for (let i = 0; i < re.length; i++) re[i] = rng.normal();
  const F = fft2Shifted(re, new Float32Array(size * size), size);
  const h = size >> 1,
    l2 = correlationLength * correlationLength;
  for (let r = 0; r < size; r++) {
    const fy = (r - h) / size;
    for (let c = 0; c < size; c++) {
      const fx = (c - h) / size;
      const g = Math.exp(-2 * Math.PI * Math.PI * l2 * (fx * fx + fy * fy));
      F.re[r * size + c]! *= g;
      F.im[r * size + c]! *= g;
    }
  }
  return ifft2Shifted(F.re, F.im, size).re;
}

/** Amplitude and phase from two independent Gaussian random fields. */
export function grfObject(size: number, rng: Rng, opts: GrfOptions = {}): Complex2D {
  const ell = opts.correlationLength ?? 6;
  const a = gaussianRandomField(size, rng, ell);
  const p = gaussianRandomField(size, rng, ell);
  return composeObject(a, p, size, size, opts);
}

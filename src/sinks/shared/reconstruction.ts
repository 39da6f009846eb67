// Reconstruction plumbing the sinks share (infer, refine, epie, evaluate):
// where the object canvas lies in object coordinates, writing a canvas as
// NPZ and PNGs, and reading a complex object back from an NPZ. Moved out of
// the infer and evaluate sinks so no sink imports another.
import { DataError } from '../../errors.js';
import { openNpz } from '../../io/npz.js';
import { writeNpz, type NpzArrayInput } from '../../io/npz-writer.js';
import { renderImage, type RgbaImage } from '../../io/png.js';
import { robustRange, withLimits } from '../../io/ranges.js';
import type { Complex2D, Reconstruction, ScanMeta } from '../../pipeline/types.js';
import { savePng } from './util.js';

export interface CanvasPlacement {
  height: number;
  width: number;
  /** Object coordinates of canvas pixel (0, 0). */
  originX: number;
  originY: number;
}

/**
 * The canvas in absolute object coordinates: it starts at object pixel (0, 0)
 * (further out only if a window reaches below 0) and covers the ground-truth
 * object when the scan has one, so the result lines up with `objectGuess`.
 */
export function placementFor(scan: ScanMeta): CanvasPlacement {
  const { N } = scan;
  if (scan.xcoords.length === 0) throw new DataError('NO_POSITIONS', 'the scan has no positions to stitch at');
  let x0 = 0,
    y0 = 0,
    x1 = scan.object?.width ?? 0,
    y1 = scan.object?.height ?? 0;
  for (let j = 0; j < scan.xcoords.length; j++) {
    // A window starts at floor(x − N/2); a fractional start spills one pixel further (bilinear).
    const fx = scan.xcoords[j]! - N / 2,
      fy = scan.ycoords[j]! - N / 2;
    if (!Number.isFinite(fx) || !Number.isFinite(fy)) throw new DataError('BAD_COORDS', `scan position ${j} is not finite`);
    x0 = Math.min(x0, Math.floor(fx));
    y0 = Math.min(y0, Math.floor(fy));
    x1 = Math.max(x1, Math.floor(fx) + N + (Number.isInteger(fx) ? 0 : 1));
    y1 = Math.max(y1, Math.floor(fy) + N + (Number.isInteger(fy) ? 0 : 1));
  }
  return { originX: x0, originY: y0, width: x1 - x0, height: y1 - y0 };
}

/** A stitched object canvas: its values, which pixels a patch covered, and where it lies. */
export interface CanvasResult {
  object: Complex2D;
  covered: Uint8Array;
  placement: CanvasPlacement;
}

/** Bounding box of the covered pixels (the whole canvas when nothing is covered). */
function coveredBox(covered: Uint8Array, width: number, height: number): { x0: number; y0: number; w: number; h: number } {
  let x0 = width,
    y0 = height,
    x1 = -1,
    y1 = -1;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      if (covered[y * width + x] === 0) continue;
      if (x < x0) x0 = x;
      if (x > x1) x1 = x;
      if (y < y0) y0 = y;
      if (y > y1) y1 = y;
    }
  }
  return x1 < 0 ? { x0: 0, y0: 0, w: width, h: height } : { x0, y0, w: x1 - x0 + 1, h: y1 - y0 + 1 };
}

function crop(values: Float32Array, width: number, box: { x0: number; y0: number; w: number; h: number }): Float32Array {
  const out = new Float32Array(box.w * box.h);
  for (let y = 0; y < box.h; y++) out.set(values.subarray((box.y0 + y) * width + box.x0, (box.y0 + y) * width + box.x0 + box.w), y * box.w);
  return out;
}

/** Complex values as numpy's interleaved (re, im) pairs. */
export function interleave(c: Complex2D): Float32Array {
  const out = new Float32Array(2 * c.re.length);
  for (let i = 0; i < c.re.length; i++) {
    out[2 * i] = c.re[i]!;
    out[2 * i + 1] = c.im[i]!;
  }
  return out;
}

export interface InferOutputs {
  npz: string;
  amplitude_png: string;
  phase_png: string;
}

/** Amplitude and phase of a complex canvas. */
function amplitudePhase(object: Complex2D): { amplitude: Float32Array; phase: Float32Array } {
  const n = object.re.length,
    amplitude = new Float32Array(n),
    phase = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    amplitude[i] = Math.hypot(object.re[i]!, object.im[i]!);
    phase[i] = Math.atan2(object.im[i]!, object.re[i]!);
  }
  return { amplitude, phase };
}

/** The NPZ of an object canvas: object/amplitude/phase/probe/origin, plus any `extra` arrays. */
export async function writeReconstructionNpz(
  file: string,
  r: Omit<CanvasResult, 'covered'>,
  probe: Complex2D,
  extra: Record<string, NpzArrayInput> = {},
  compress = true,
): Promise<void> {
  const { object, placement } = r;
  const { amplitude, phase } = amplitudePhase(object);
  const shape = [object.height, object.width];
  await writeNpz(
    file,
    {
      object: { shape, data: interleave(object), descr: '<c8' },
      amplitude: { shape, data: amplitude, descr: '<f4' },
      phase: { shape, data: phase, descr: '<f4' },
      probe: { shape: [probe.height, probe.width], data: interleave(probe), descr: '<c8' },
      origin: { shape: [2], data: Float64Array.of(placement.originX, placement.originY), descr: '<f8' },
      ...extra,
    },
    { compress },
  );
}

/** Colour limits of reconstruction figures: fixed ends (vmin/vmax) or percentiles of the scanned pixels. */
export interface FigureLimits {
  vmin?: number;
  vmax?: number;
  /** Largest |phase| shown (radians, phase relative to its mean); default: the 99th percentile over the scanned pixels. */
  phase_span?: number;
  /** Percentiles (0–100) of the scanned pixels that set the automatic amplitude range. */
  percentiles?: readonly [number, number];
}

/**
 * Amplitude (viridis) and phase (cyclic) images of a canvas, cropped to the
 * covered pixels, with axes in canvas pixels. Colour ranges come from the
 * scanned pixels alone (weights > 0), as percentiles, so neither the empty
 * border nor a few edge pixels set them; the phase is centred (centredPhase).
 */
export function reconstructionImages(
  r: Pick<CanvasResult, 'object' | 'covered'>,
  title: string,
  limits: FigureLimits = {},
): { amplitude: RgbaImage; phase: RgbaImage } {
  const { object, covered } = r;
  const { amplitude, phase } = amplitudePhase(object);
  const box = coveredBox(covered, object.width, object.height);
  const amp = crop(amplitude, object.width, box);
  const mask = crop(Float32Array.from(covered), object.width, box);
  const shown = centredPhase(crop(phase, object.width, box), amp);
  const [pLo, pHi] = limits.percentiles ?? [1, 99];
  const [lo, hi] = withLimits(robustRange(amp, { mask, lo: pLo, hi: pHi }), limits.vmin, limits.vmax);
  const abs = shown.values.map(Math.abs);
  const robustSpan = robustRange(abs, { mask, lo: 0, hi: 99 })[1];
  const span = limits.phase_span ?? (robustSpan > 1e-6 ? Math.min(robustSpan, Math.PI) : Math.PI);
  const axes = { x0: box.x0, y0: box.y0 };
  return {
    amplitude: renderImage(amp, box.w, box.h, { colormap: 'viridis', min: lo, max: hi, colorbar: true, title: `${title} amplitude`, axes }),
    phase: renderImage(shown.values, box.w, box.h, { colormap: 'twilight', min: -span, max: span, colorbar: true, title: `${title} phase (rad)`, axes }),
  };
}

/**
 * Writes an object canvas (NPZ with object/amplitude/phase/probe/origin, plus
 * any `extra` arrays, e.g. an engine's probe modes or corrected positions) and
 * its PNGs (cropped to the covered pixels: the images show the scanned region,
 * the NPZ keeps the whole canvas).
 */
export async function writeReconstruction(
  files: InferOutputs,
  r: CanvasResult,
  probe: Complex2D,
  title: string,
  extra: Record<string, NpzArrayInput> = {},
): Promise<void> {
  await writeReconstructionNpz(files.npz, r, probe, extra);
  const images = reconstructionImages(r, title);
  await savePng(files.amplitude_png, images.amplitude);
  await savePng(files.phase_png, images.phase);
}

/** A Reconstruction record as a canvas. */
export function canvasOf(r: Reconstruction): CanvasResult {
  return { object: r.object, covered: r.weights, placement: { height: r.object.height, width: r.object.width, originX: r.origin[0], originY: r.origin[1] } };
}

/**
 * The phase for display: the global phase of a reconstruction is arbitrary, so
 * the image shows phase minus its amplitude-weighted circular mean (wrapped to
 * (−π, π]) on a symmetric range that just holds it, which keeps small phase
 * contrast visible. The NPZ keeps the phase as reconstructed.
 */
function centredPhase(phase: Float32Array, amplitude: Float32Array): { values: Float32Array; span: number } {
  let c = 0,
    s = 0;
  for (let i = 0; i < phase.length; i++) {
    c += amplitude[i]! * Math.cos(phase[i]!);
    s += amplitude[i]! * Math.sin(phase[i]!);
  }
  const mean = Math.atan2(s, c);
  const values = new Float32Array(phase.length);
  let span = 0;
  for (let i = 0; i < phase.length; i++) {
    const d = phase[i]! - mean;
    values[i] = Math.atan2(Math.sin(d), Math.cos(d));
    span = Math.max(span, Math.abs(values[i]!));
  }
  return { values, span: span > 1e-6 ? span : Math.PI };
}

/** A 2-D complex (or real) array from an NPZ; (H,W,1) and (1,H,W) are squeezed. */
export async function readComplex(
  file: string,
  key: string | undefined,
  fallbacks: readonly string[],
  stage: string,
): Promise<Complex2D & { origin?: [number, number] }> {
  const npz = await openNpz(file);
  try {
    const names = npz.entries(),
      name = key ?? fallbacks.find((k) => names.includes(k));
    if (name === undefined || !names.includes(name)) {
      throw new DataError('MISSING_KEY', `no array '${key ?? fallbacks.join("' or '")}' (has: ${names.join(', ')})`, {
        stage,
        file,
        hint: 'set the *_key option to the array that holds the object',
      });
    }
    const a = await npz.readArray(name),
      shape = [...a.shape];
    while (shape.length > 2 && shape[0] === 1) shape.shift();
    while (shape.length > 2 && shape[shape.length - 1] === 1) shape.pop();
    if (shape.length !== 2) throw new DataError('BAD_SHAPE', `expected a 2-D object, got shape (${a.shape.join(', ')})`, { stage, file, key: name });
    const [h, w] = shape as [number, number],
      complex = a.descr.includes('c'),
      n = h * w;
    const re = new Float32Array(n),
      im = new Float32Array(n),
      d = a.data as ArrayLike<number | bigint>;
    for (let i = 0; i < n; i++) {
      re[i] = Number(complex ? d[2 * i]! : d[i]!);
      if (complex) im[i] = Number(d[2 * i + 1]!);
    }
    const out: Complex2D & { origin?: [number, number] } = { height: h, width: w, re, im };
    if (names.includes('origin')) {
      const o = (await npz.readArray('origin')).data as ArrayLike<number | bigint>;
      if (o.length === 2) out.origin = [Number(o[0]), Number(o[1])];
    }
    return out;
  } finally {
    await npz.close();
  }
}

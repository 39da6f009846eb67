// The `infer` sink (SPEC §6): loads a trained checkpoint, predicts object
// patches batch by batch and adds each patch's central M×M region into one
// whole-object canvas at its absolute scan position (channel c of a group sits
// at centre − offset[c]). Only the canvas is dataset-sized; every batch and
// prediction is disposed as soon as it has been added. Writes the object as
// NPZ plus amplitude and phase PNGs with colour bars (the phase image is shown
// relative to its mean, since the global phase is arbitrary).
import type * as tf from '../tf.js';
import { z } from 'zod';
import { DataError, OptionsError } from '../errors.js';
import { loadCheckpoint } from '../model/checkpoint.js';
import { writeNpz, type NpzArrayInput } from '../io/npz-writer.js';
import { renderImage } from '../io/png.js';
import { StitchCanvas, type StitchWindow } from '../physics/stitch.js';
import { defineSink, type Complex2D, type ScanMeta, type StageContext, type Stream, type TensorBatch } from '../pipeline/types.js';
import { forEachBatch, inPath, outPath, reconstructionOutput, relativeDifference, savePng, secondsSince, tensorBatchStream } from './util.js';

/** What infer needs from a model: object patches for a batch (the caller disposes them). */
export interface PatchPredictor {
  predict(X: tf.Tensor4D, coords: tf.Tensor4D): { re: tf.Tensor4D; im: tf.Tensor4D };
}

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
  let x0 = 0, y0 = 0, x1 = scan.object?.width ?? 0, y1 = scan.object?.height ?? 0;
  for (let j = 0; j < scan.xcoords.length; j++) {
    // A window starts at floor(x − N/2); a fractional start spills one pixel further (bilinear).
    const fx = scan.xcoords[j]! - N / 2, fy = scan.ycoords[j]! - N / 2;
    if (!Number.isFinite(fx) || !Number.isFinite(fy)) throw new DataError('BAD_COORDS', `scan position ${j} is not finite`);
    x0 = Math.min(x0, Math.floor(fx));
    y0 = Math.min(y0, Math.floor(fy));
    x1 = Math.max(x1, Math.floor(fx) + N + (Number.isInteger(fx) ? 0 : 1));
    y1 = Math.max(y1, Math.floor(fy) + N + (Number.isInteger(fy) ? 0 : 1));
  }
  return { originX: x0, originY: y0, width: x1 - x0, height: y1 - y0 };
}

export interface StitchResult {
  object: Complex2D;
  covered: Uint8Array;
  placement: CanvasPlacement;
  /** Patches added (groups × channels). */
  patches: number;
  batches: number;
  /** Patches turned to the canvas's phase (align_phase), and their mean |turn| in radians. */
  aligned: number;
  meanAlignRadians: number;
}

/** Predicts every batch of `input` with `predictor` and stitches the central M×M of each patch. */
export async function stitchPredictions(
  input: Stream<TensorBatch>,
  predictor: PatchPredictor,
  opts: { N: number; M: number; placement: CanvasPlacement; signal: AbortSignal; alignPhase?: boolean; window?: StitchWindow; onBatch?: (batches: number, patches: number) => void },
): Promise<StitchResult> {
  const { N, M, placement } = opts;
  const canvas = new StitchCanvas(placement.height, placement.width, { N, M, originX: placement.originX, originY: placement.originY, alignPhase: opts.alignPhase ?? false, window: opts.window ?? 'flat' });
  const re = new Float32Array(N * N), im = new Float32Array(N * N);
  let patches = 0;
  const batches = await forEachBatch(input, opts.signal, async (batch, index) => {
    if (batch.N !== N) throw new DataError('SHAPE_MISMATCH', `batch has N=${batch.N} but the model was trained at N=${N}`, { hint: 'infer on data with the pattern size of the checkpoint' });
    const C = batch.C, B = batch.size;
    const out = predictor.predict(batch.X, batch.coords);
    let pr: Float32Array, pi: Float32Array, coords: Float32Array;
    try {
      [pr, pi, coords] = (await Promise.all([out.re.data(), out.im.data(), batch.coords.data()])) as [Float32Array, Float32Array, Float32Array];
    } finally {
      out.re.dispose();
      out.im.dispose();
    }
    if (pr.length !== B * N * N * C) throw new DataError('SHAPE_MISMATCH', `model returned ${pr.length} values for a batch of ${B}×${N}×${N}×${C}`);
    for (let b = 0; b < B; b++) {
      const cx = batch.centers[2 * b]!, cy = batch.centers[2 * b + 1]!;
      for (let c = 0; c < C; c++) {
        // HWC patch of group b, channel c → N×N row-major.
        const base = b * N * N * C + c;
        for (let p = 0; p < N * N; p++) {
          re[p] = pr[base + p * C]!;
          im[p] = pi[base + p * C]!;
        }
        const off = b * 2 * C;
        canvas.add(re, im, N, cx - coords[off + c]!, cy - coords[off + C + c]!);
        patches++;
      }
    }
    opts.onBatch?.(index + 1, patches);
  });
  const { object, covered } = canvas.result();
  return { object, covered, placement, patches, batches, aligned: canvas.aligned, meanAlignRadians: canvas.aligned > 0 ? canvas.alignedRadians / canvas.aligned : 0 };
}

/** Bounding box of the covered pixels (the whole canvas when nothing is covered). */
function coveredBox(covered: Uint8Array, width: number, height: number): { x0: number; y0: number; w: number; h: number } {
  let x0 = width, y0 = height, x1 = -1, y1 = -1;
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

/**
 * Writes an object canvas (NPZ with object/amplitude/phase/probe/origin, plus
 * any `extra` arrays, e.g. an engine's probe modes or corrected positions) and
 * its PNGs (cropped to the covered pixels).
 */
export async function writeReconstruction(files: InferOutputs, r: Pick<StitchResult, 'object' | 'covered' | 'placement'>, probe: Complex2D, title: string, extra: Record<string, NpzArrayInput> = {}): Promise<void> {
  const { object, covered, placement } = r;
  const n = object.re.length, amplitude = new Float32Array(n), phase = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    amplitude[i] = Math.hypot(object.re[i]!, object.im[i]!);
    phase[i] = Math.atan2(object.im[i]!, object.re[i]!);
  }
  const shape = [object.height, object.width];
  await writeNpz(
    files.npz,
    {
      object: { shape, data: interleave(object), descr: '<c8' },
      amplitude: { shape, data: amplitude, descr: '<f4' },
      phase: { shape, data: phase, descr: '<f4' },
      probe: { shape: [probe.height, probe.width], data: interleave(probe), descr: '<c8' },
      origin: { shape: [2], data: Float64Array.of(placement.originX, placement.originY), descr: '<f8' },
      ...extra,
    },
    { compress: true },
  );
  // The images show the scanned region only; the NPZ keeps the whole canvas.
  const box = coveredBox(covered, object.width, object.height);
  await savePng(files.amplitude_png, renderImage(crop(amplitude, object.width, box), box.w, box.h, { colormap: 'gray', colorbar: true, title: `${title} amplitude` }));
  const shown = centredPhase(crop(phase, object.width, box), crop(amplitude, object.width, box));
  await savePng(files.phase_png, renderImage(shown.values, box.w, box.h, { colormap: 'twilight', min: -shown.span, max: shown.span, colorbar: true, title: `${title} phase` }));
}

/**
 * The phase for display: the global phase of a reconstruction is arbitrary, so
 * the image shows phase minus its amplitude-weighted circular mean (wrapped to
 * (−π, π]) on a symmetric range that just holds it, which keeps small phase
 * contrast visible. The NPZ keeps the phase as reconstructed.
 */
function centredPhase(phase: Float32Array, amplitude: Float32Array): { values: Float32Array; span: number } {
  let c = 0, s = 0;
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

function scanOf(input: Stream<TensorBatch>, ctx: StageContext): ScanMeta {
  const scan = input.meta.scan;
  if (scan === undefined) {
    throw new OptionsError('NO_SCAN_META', `stage '${ctx.id}': its input carries no scan metadata (positions, probe)`, { stage: ctx.id, hint: 'feed infer from a source through group/batch/tensorify' });
  }
  return scan;
}

export default defineSink({
  kind: 'sink',
  accepts: [['tensor-batch']],
  emits: 'reconstruction',
  type: 'infer',
  description: 'Predicts object patches with a trained checkpoint and stitches them into the whole object (NPZ + PNGs).',
  arity: { min: 1, max: 1 },
  options: z
    .object({
      checkpoint: z.string().default('checkpoint').describe('Checkpoint directory (from a train sink), relative to the run output directory.'),
      stitch_size: z.number().int().positive().optional().describe('Side M of the central region of each patch that is stitched (default N/2).'),
      stitch_window: z
        .enum(['flat', 'taper'])
        .default('flat')
        .describe("Weights over the stitched M×M region: flat, or taper (sin² along each axis: patch centres count most, edges fill in where nothing else covers; use with a larger stitch_size)."),
      align_phase: z
        .boolean()
        .default(false)
        .describe(
          "Turn each patch by the constant phase that best matches the canvas where they overlap before adding it (the far field does not fix a patch's global phase). Patches are aligned in stream order, so feed infer in scan order. Measured: no gain on the demo or on Run1084 (phase SSIM −0.01 to −0.03), hence off.",
        ),
      npz: z.string().default('reconstruction.npz').describe('Output NPZ (object c8, amplitude f4, phase f4, probe c8, origin), relative to the output directory.'),
      amplitude_png: z.string().default('amplitude.png').describe('Amplitude image, relative to the output directory.'),
      phase_png: z.string().default('phase.png').describe('Phase image, relative to the output directory.'),
    })
    .strict(),
  async create(options, { ctx, inputs }) {
    const t0 = performance.now();
    const input = tensorBatchStream(inputs[0], ctx, 'input 0');
    const scan = scanOf(input, ctx);
    const dir = inPath(ctx, options.checkpoint);
    const loaded = await loadCheckpoint(dir);
    const { model, sidecar } = loaded;
    try {
      const N = model.config.N;
      if (scan.N !== N) throw new DataError('SHAPE_MISMATCH', `the scan has N=${scan.N} but the checkpoint was trained at N=${N}`, { stage: ctx.id, file: dir });
      const M = options.stitch_size ?? Math.floor(N / 2);
      if (M > N) throw new OptionsError('BAD_OPTION', `stitch_size ${M} is larger than N=${N}`, { stage: ctx.id, key: 'stitch_size' });
      const have = input.meta.normalization;
      if (have === undefined) ctx.log.warn('input carries no normalisation factor; it must have been scaled like the training data');
      else if (relativeDifference(have, sidecar.normalization) > 1e-3) {
        ctx.log.warn(`input normalisation ${have} differs from the checkpoint's ${sidecar.normalization}; predictions assume the checkpoint's scale (set normalize's factor to it)`);
      }
      const total = input.meta.count;
      const placement = placementFor(scan);
      const result = await stitchPredictions(input, model, {
        N,
        M,
        placement,
        signal: ctx.signal,
        alignPhase: options.align_phase,
        window: options.stitch_window,
        onBatch: (batches, patches) => {
          ctx.ledger.check(ctx.id);
          ctx.progress({ label: 'stitch', done: batches, ...(total !== undefined ? { total } : {}), unit: ' batches', info: { patches } });
        },
      });
      if (result.patches === 0) throw new DataError('EMPTY_INPUT', `stage '${ctx.id}': the input yielded no batches`, { stage: ctx.id });
      const files: InferOutputs = { npz: outPath(ctx, options.npz), amplitude_png: outPath(ctx, options.amplitude_png), phase_png: outPath(ctx, options.phase_png) };
      await writeReconstruction(files, result, model.probe(), ctx.id);
      ctx.progress({ label: 'stitch', done: result.batches, ...(total !== undefined ? { total } : {}), unit: ' batches', info: { patches: result.patches }, finished: true });
      const summary = { ...files, shape: [result.object.height, result.object.width], origin: [placement.originX, placement.originY], stitch_size: M, stitch_window: options.stitch_window, patches: result.patches, ...(options.align_phase ? { phase_aligned: result.aligned, mean_phase_turn_rad: +result.meanAlignRadians.toFixed(4) } : {}), seconds: secondsSince(t0) };
      // The reconstruction is this sink's output record (the NPZ is a file beside it, not the wiring).
      const probe = model.probe();
      return reconstructionOutput(summary, { object: result.object, probe, origin: [placement.originX, placement.originY], weights: result.covered, file: files.npz }, scan);
    } finally {
      model.dispose();
      for (const slot of loaded.optimizerState ?? []) slot.tensor.dispose();
    }
  },
});

// The `infer` sink (SPEC §6): loads a trained checkpoint, predicts object
// patches batch by batch and adds each patch's central M×M region into one
// whole-object canvas at its absolute scan position (channel c of a group sits
// at centre − offset[c]). Only the canvas is dataset-sized; every batch and
// prediction is disposed as soon as it has been added. Writes the object as
// NPZ plus amplitude and phase PNGs with colour bars (the phase image is shown
// relative to its mean, since the global phase is arbitrary).
import type * as tf from '../tf.js';
import { DataError, OptionsError } from '../errors.js';
import { loadCheckpoint, type CheckpointSidecar } from '../model/checkpoint.js';
import { StitchCanvas, type StitchWindow } from '../physics/stitch.js';
import { defineSink, type Complex2D, type ScanMeta, type StageContext, type Stream, type TensorBatch } from '../pipeline/types.js';
import { LiveCanvas, type PatchCanvas } from './shared/live-canvas.js';
import { placementFor, writeReconstruction, type CanvasPlacement, type InferOutputs } from './shared/reconstruction.js';
import { forEachBatch, inPath, outPath, reconstructionOutput, relativeDifference, secondsSince, tensorBatchStream } from './shared/util.js';
import { inferSpec } from './shared/infer-spec.js';

/** What infer needs from a model: object patches for a batch (the caller disposes them). */
export interface PatchPredictor {
  predict(X: tf.Tensor4D, coords: tf.Tensor4D): { re: tf.Tensor4D; im: tf.Tensor4D };
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
  opts: {
    N: number;
    M: number;
    placement: CanvasPlacement | LiveCanvas;
    signal: AbortSignal;
    alignPhase?: boolean;
    window?: StitchWindow;
    onBatch?: (batches: number, patches: number) => void | Promise<void>;
  },
): Promise<StitchResult> {
  const { N, M } = opts;
  const given = opts.placement;
  // A live scan's extent is not known up front: its canvas grows (shared/live-canvas.ts).
  const canvas: PatchCanvas =
    given instanceof LiveCanvas
      ? given
      : new StitchCanvas(given.height, given.width, {
          N,
          M,
          originX: given.originX,
          originY: given.originY,
          alignPhase: opts.alignPhase ?? false,
          window: opts.window ?? 'flat',
        });
  const re = new Float32Array(N * N),
    im = new Float32Array(N * N);
  let patches = 0;
  const batches = await forEachBatch(input, opts.signal, async (batch, index) => {
    if (batch.N !== N)
      throw new DataError('SHAPE_MISMATCH', `batch has N=${batch.N} but the model was trained at N=${N}`, {
        hint: 'infer on data with the pattern size of the checkpoint',
      });
    const C = batch.C,
      B = batch.size;
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
      const cx = batch.centers[2 * b]!,
        cy = batch.centers[2 * b + 1]!;
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
    await opts.onBatch?.(index + 1, patches);
  });
  const { object, covered } = canvas.result();
  const placement = given instanceof LiveCanvas ? given.placement : given;
  return {
    object,
    covered,
    placement,
    patches,
    batches,
    aligned: canvas.aligned,
    meanAlignRadians: canvas.aligned > 0 ? canvas.alignedRadians / canvas.aligned : 0,
  };
}

function scanOf(input: Stream<TensorBatch>, ctx: StageContext): ScanMeta {
  const scan = input.meta.scan;
  if (scan === undefined) {
    throw new OptionsError('NO_SCAN_META', `stage '${ctx.id}': its input carries no scan metadata (positions, probe)`, {
      stage: ctx.id,
      hint: 'feed infer from a source through group/batch/tensorify',
    });
  }
  return scan;
}

/** Warns when the input was not scaled as the checkpoint's training data (predictions assume that scale). */
function warnNormalization(input: Stream<TensorBatch>, sidecar: CheckpointSidecar, ctx: StageContext): void {
  const have = input.meta.normalization;
  const mode = input.meta.normalizationMode,
    trained = sidecar.normalization_mode ?? 'all';
  if (have === undefined) ctx.log.warn('input carries no normalisation factor; it must have been scaled like the training data');
  else if (mode !== trained)
    ctx.log.warn(`input normalised '${mode ?? 'all'}' but the checkpoint's training data '${trained}'; give normalize checkpoint: to match`);
  else if (trained !== 'scan' && relativeDifference(have, sidecar.normalization) > 1e-3) {
    ctx.log.warn(
      `input normalisation ${have} differs from the checkpoint's ${sidecar.normalization}; predictions assume the checkpoint's scale (give normalize checkpoint: or its factor)`,
    );
  }
}

const alignment = (on: boolean, r: StitchResult): Record<string, number> =>
  on ? { phase_aligned: r.aligned, mean_phase_turn_rad: +r.meanAlignRadians.toFixed(4) } : {};

export default defineSink({
  ...inferSpec,
  async create(options, { ctx, inputs }) {
    const t0 = performance.now();
    const input = tensorBatchStream(inputs[0], ctx, 'input 0');
    const scan = scanOf(input, ctx);
    const dir = inPath(ctx, options.checkpoint);
    const loaded = await loadCheckpoint(dir);
    const { model, sidecar } = loaded;
    try {
      const N = model.config.N;
      if (scan.N !== N)
        throw new DataError('SHAPE_MISMATCH', `the scan has N=${scan.N} but the checkpoint was trained at N=${N}`, { stage: ctx.id, file: dir });
      const M = options.stitch_size ?? Math.floor(N / 2);
      if (M > N) throw new OptionsError('BAD_OPTION', `stitch_size ${M} is larger than N=${N}`, { stage: ctx.id, key: 'stitch_size' });
      warnNormalization(input, sidecar, ctx);
      const total = input.meta.count;
      const live = input.meta.live === true || scan.xcoords.length === 0;
      const placement = live ? new LiveCanvas({ N, M, alignPhase: options.align_phase, window: options.stitch_window }) : placementFor(scan);
      const files: InferOutputs = {
        npz: outPath(ctx, options.npz),
        amplitude_png: outPath(ctx, options.amplitude_png),
        phase_png: outPath(ctx, options.phase_png),
      };
      const snapshots = { written: 0, last: performance.now() };
      const result = await stitchPredictions(input, model, {
        N,
        M,
        placement,
        signal: ctx.signal,
        alignPhase: options.align_phase,
        window: options.stitch_window,
        onBatch: async (batches, patches) => {
          ctx.ledger.check(ctx.id);
          ctx.progress({ label: 'stitch', done: batches, ...(total !== undefined ? { total } : {}), unit: 'batches', info: { patches } });
          if (placement instanceof LiveCanvas && performance.now() - snapshots.last >= 1000 * options.snapshot_every_s) {
            await writeReconstruction(files, { ...placement.result(), placement: placement.placement }, model.probe(), `${ctx.id} (${patches} patches so far)`);
            snapshots.written++;
            snapshots.last = performance.now();
          }
        },
      });
      if (result.patches === 0) throw new DataError('EMPTY_INPUT', `stage '${ctx.id}': the input yielded no batches`, { stage: ctx.id });
      await writeReconstruction(files, result, model.probe(), ctx.id);
      ctx.progress({
        label: 'stitch',
        done: result.batches,
        ...(total !== undefined ? { total } : {}),
        unit: 'batches',
        info: { patches: result.patches },
        finished: true,
      });
      const summary = {
        ...files,
        shape: [result.object.height, result.object.width],
        origin: [result.placement.originX, result.placement.originY],
        stitch_size: M,
        stitch_window: options.stitch_window,
        patches: result.patches,
        ...alignment(options.align_phase, result),
        ...(live ? { snapshots: snapshots.written } : {}),
        seconds: secondsSince(t0),
      };
      // The reconstruction is this sink's output record (the NPZ is a file beside it, not the wiring).
      const probe = model.probe();
      return reconstructionOutput(
        summary,
        { object: result.object, probe, origin: [result.placement.originX, result.placement.originY], weights: result.covered, file: files.npz },
        scan,
      );
    } finally {
      model.dispose();
      for (const slot of loaded.optimizerState ?? []) slot.tensor.dispose();
    }
  },
});

// The `scale-contribution` sink: in a rounds job the worker runs it in place
// of the refine sink (it is not a built-in: only the worker's registry has it,
// a closure over the shard's files). It sees the patterns of one tile's core
// (each pattern in exactly one tile) and computes that tile's additive share
// of one refine pass, with refine's own forward model and windows:
//  - round 0: the sums of refine's scale fit (Σ A·X, Σ A², Σ X², values) at
//    the start object, and the pixels the tile's windows light and cover;
//  - round p ≥ 1: Σ ∂(A − X)²/∂(object, probe) at pass p's state (read from
//    `state`), and Σ (A − X)².
// Summed over the tiles these are exactly what refine with `step: pass`
// computes over the whole scan in one process.
import { z } from 'zod';
import * as tf from '../tf.js';
import { OptionsError } from '../errors.js';
import { farFieldAmplitude } from '../physics/forward.js';
import { defineSink, type SinkDef, type StageContext, type Stream, type TensorBatch } from '../pipeline/types.js';
import { cutWindows, measured, startingPoint, windowTaps } from '../sinks/shared/refine-windows.js';
import { addBatchGradient, fitSums } from '../sinks/shared/refine-gradient.js';
import { emptyGradient, PassRefiner } from '../sinks/shared/refine-pass.js';
import { refineOptions } from '../sinks/shared/refine-spec.js';
import type { CanvasPlacement } from '../sinks/shared/reconstruction.js';
import { forEachBatch, tensorBatchStream } from '../sinks/shared/util.js';
import { CONTRIBUTION_STAGE } from './job.js';
import { readState, writeFit, writeGradient } from './rounds-npz.js';

export { CONTRIBUTION_STAGE };

type Taps = { index: tf.Tensor; weight: tf.Tensor | undefined }[];
type Vars = { re: tf.Tensor1D; im: tf.Tensor1D; pre: tf.Tensor2D; pim: tf.Tensor2D };
type RawTaps = { index: Int32Array; weight: Float32Array | undefined }[];

/** Every batch with its windows on `placement`, as refine cuts them. */
function eachWindowed(
  input: Stream<TensorBatch>,
  ctx: StageContext,
  placement: CanvasPlacement,
  N: number,
  fn: (X: tf.Tensor4D, taps: Taps, P: number, raw: RawTaps) => void,
): Promise<number> {
  return forEachBatch(input, ctx.signal, async (batch) => {
    const coords = (await batch.coords.data()) as Float32Array;
    const w = windowTaps(batch.centers, coords, batch.size, batch.C, N, placement, `stage '${ctx.id}'`);
    const taps = w.taps.map((t) => ({
      index: tf.tensor3d(t.index, [w.patterns, N, N], 'int32'),
      weight: t.weight === undefined ? undefined : tf.tensor3d(t.weight, [w.patterns, 1, 1]),
    }));
    try {
      fn(batch.X, taps, w.patterns, w.taps);
    } finally {
      for (const t of taps) {
        t.index.dispose();
        t.weight?.dispose();
      }
    }
  });
}

function makeVars(obj: { re: Float32Array; im: Float32Array }, probe: { re: Float32Array; im: Float32Array }, N: number): Vars {
  return { re: tf.tensor1d(obj.re), im: tf.tensor1d(obj.im), pre: tf.tensor2d(probe.re, [N, N]), pim: tf.tensor2d(probe.im, [N, N]) };
}

const predicted = (v: Vars, taps: Taps, P: number, N: number): tf.Tensor4D =>
  farFieldAmplitude(cutWindows(v.re, taps, P, N), cutWindows(v.im, taps, P, N), v.pre, v.pim);

export function contributionSink(files: { state?: string; out: string }): SinkDef {
  return defineSink({
    kind: 'sink',
    accepts: [['tensor-batch']],
    type: CONTRIBUTION_STAGE,
    description: "One tile's additive share of a refine pass (a rounds job).",
    arity: { min: 1, max: 1 },
    options: z.object({ of: z.string(), round: z.number().int().min(0), refine: z.record(z.string(), z.unknown()) }).strict(),
    async create(o, { ctx, inputs }) {
      const input = tensorBatchStream(inputs[0], ctx, 'input 0 (pattern batches)');
      const scan = input.meta.scan;
      if (scan === undefined) throw new OptionsError('NO_SCAN_META', `stage '${ctx.id}': its input carries no scan metadata`, { stage: ctx.id });
      const options = refineOptions.parse(o.refine);
      const N = scan.N;
      if (o.round === 0) {
        const start = await startingPoint(options, scan, ctx, undefined);
        const { placement } = start,
          HW = placement.width * placement.height;
        const v = makeVars(start.object, start.probe, N);
        const sums: [number, number, number, number] = [0, 0, 0, 0];
        const lit = new Uint8Array(HW),
          centre = new Uint8Array(HW);
        const lo = Math.floor(N / 4),
          hi = lo + Math.floor(N / 2);
        try {
          await eachWindowed(input, ctx, placement, N, (X, taps, P, raw) => {
            const first = raw[0]!.index;
            const r = tf.tidy(() => fitSums(predicted(v, taps, P, N), measured(X)));
            r.forEach((x, k) => (sums[k] = sums[k]! + x));
            sums[3] += P * N * N;
            for (let k = 0; k < P * N * N; k++) {
              lit[first[k]!] = 1;
              const q = k % (N * N),
                row = Math.floor(q / N),
                col = q % N;
              if (row >= lo && row < hi && col >= lo && col < hi) centre[first[k]!] = 1;
            }
          });
        } finally {
          for (const x of Object.values(v)) x.dispose();
        }
        await writeFit(files.out, { sums, lit, centre, start: start.object, probe: start.probe, placement });
        return { round: 0, values: sums[3] };
      }
      if (files.state === undefined) throw new OptionsError('MISSING_INPUT', `stage '${ctx.id}': round ${o.round} needs the pass's state`, { stage: ctx.id });
      const state = await readState(files.state);
      const HW = state.placement.width * state.placement.height;
      const probeOn = PassRefiner.probeOn(options, o.round - 1);
      const g = emptyGradient(HW, probeOn ? N * N : 0);
      const v = makeVars(state.object, state.probe, N);
      try {
        await eachWindowed(input, ctx, state.placement, N, (X, taps, P, raw) =>
          tf.tidy(() => addBatchGradient(g, cutWindows(v.re, taps, P, N), cutWindows(v.im, taps, P, N), v.pre, v.pim, measured(X), raw)),
        );
      } finally {
        for (const x of Object.values(v)) x.dispose();
      }
      await writeGradient(files.out, g);
      return { round: o.round, values: g.values, loss: g.loss };
    },
  });
}

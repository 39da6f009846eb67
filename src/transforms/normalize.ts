// The `normalize` transform (SPEC §3): scales amplitudes by one factor so that
// the mean per-pattern energy mean_j Σ_hw X_j² equals (N/2)². The factor is
// measured in one streaming pass over the input when the stage is created (or
// given as `factor`, e.g. from a checkpoint at inference). It is recorded in
// meta.normalization and applied wherever frames are read (a frame map: the
// streamed Frames and random-access reads alike); declared linear, so `group`
// fuses the factor into its interleave. Unlike the reference, the mean is over
// patterns, not over grouped copies of them.
import { z } from 'zod';
import path from 'node:path';
import { DataError, OptionsError } from '../errors.js';
import { checkpointNormalization } from '../model/checkpoint.js';
import type { Frame, Stream, TransformDef } from '../pipeline/types.js';
import { defineFrameMap } from './frame-map.js';
import { warmupStream } from './normalize-warmup.js';
import { uninitFloat32 } from './util.js';

/** Frames a live stream's factor is measured on when the pipeline names no factor or warmup. */
const DEFAULT_WARMUP = 256;

/** X = factor · A (after a square root for intensities), into a new array. */
export function scaleAmplitude(a: Float32Array, factor: number, intensity: boolean): Float32Array {
  const out = uninitFloat32(a.length);
  if (intensity) for (let k = 0; k < a.length; k++) out[k] = factor * Math.sqrt(a[k]!);
  else for (let k = 0; k < a.length; k++) out[k] = factor * a[k]!;
  return out;
}

/** The factor that brings the mean per-pattern energy to (N/2)². */
export async function measureFactor(frames: AsyncIterable<Frame>, intensity: boolean): Promise<{ factor: number; patterns: number; N: number }> {
  let sum = 0;
  let n = 0;
  let size = 0;
  for await (const f of frames) {
    let e = 0;
    const a = f.amplitude;
    const len = a.length;
    if (intensity) for (let k = 0; k < len; k++) e += a[k]!;
    else {
      for (let k = 0; k < len; k++) {
        const v = a[k]!;
        e += v * v;
      }
    }
    sum += e;
    n++;
    size = a.length;
  }
  const N = Math.round(Math.sqrt(size));
  if (n === 0) throw new DataError('EMPTY_SCAN', 'no patterns to measure the normalisation factor on', { hint: 'check the source, or give normalize a `factor`' });
  if (!(sum > 0) || !Number.isFinite(sum)) throw new DataError('NO_INTENSITY', `the mean pattern energy is ${sum / n}: cannot normalise`, { hint: 'check the data (all zeros, NaN or Inf?)' });
  return { factor: Math.sqrt(((N / 2) * (N / 2)) / (sum / n)), patterns: n, N };
}

const frameMap = defineFrameMap({
  type: 'normalize',
  description: 'Scales amplitudes so the mean per-pattern energy is (N/2)² (SPEC §3); the factor goes into meta.normalization.',
  options: z
    .object({
      factor: z.number().positive().optional().describe('Use this factor instead of measuring it (e.g. the one recorded in a checkpoint).'),
      input: z.enum(['amplitude', 'intensity']).default('amplitude').describe('What the incoming frames hold: amplitude, or intensity (square-rooted first).'),
      checkpoint: z.string().optional().describe('Use the factor a checkpoint was trained with (its directory, relative to the run output directory, as infer’s): what a live stream should be scaled by.'),
      warmup: z.number().int().positive().optional().describe('Measure the factor on the first `warmup` frames only, then freeze it (held meanwhile): for a live stream, which cannot be read twice. A live input without factor or checkpoint uses 256.'),
    })
    .strict(),
  async prepare(o, { ctx, input }) {
    const intensity = o.input === 'intensity';
    if (o.factor !== undefined && o.checkpoint !== undefined) throw new OptionsError('BAD_OPTION', `stage '${ctx.id}': give factor or checkpoint, not both`, { stage: ctx.id, key: 'checkpoint' });
    if (o.factor !== undefined) {
      ctx.log.info(`normalisation factor ${o.factor.toPrecision(6)} (given)`, { factor: o.factor });
      return o.factor;
    }
    if (o.checkpoint !== undefined) {
      const f = await checkpointNormalization(path.resolve(ctx.outDir, o.checkpoint));
      ctx.log.info(`normalisation factor ${f.toPrecision(6)} (from the checkpoint)`, { factor: f });
      return f;
    }
    try {
      // Borrowed frames when the source offers them: the pass keeps nothing, so its read blocks are reused.
      const m = await measureFactor(input.openBorrowed?.(ctx.signal) ?? input.open(ctx.signal), intensity);
      ctx.log.info(`normalisation factor ${m.factor.toPrecision(6)} measured over ${m.patterns} patterns (N=${m.N})`, { factor: m.factor });
      return m.factor;
    } catch (e) {
      if (e instanceof DataError) throw new DataError(e.code, e.message, { stage: ctx.id, cause: e });
      throw e;
    }
  },
  map: (a, _index, factor, o) => scaleAmplitude(a, factor, o.input === 'intensity'),
  // Declared linear, so group reads the frames behind it and scales while it interleaves.
  linear: (factor, o) => ({ factor, intensity: o.input === 'intensity' }),
  meta: (meta, factor) => ({ ...meta, normalization: factor * (meta.normalization ?? 1) }),
});

/** Live input (or a warmup asked for) without a given factor: measured on the first frames, then frozen (normalize-warmup.ts). */
const normalize: TransformDef<typeof frameMap.options> = {
  ...frameMap,
  async create(o, deps) {
    const input = deps.inputs[0] as Stream<Frame> | undefined;
    const given = o.factor !== undefined || o.checkpoint !== undefined;
    if (input !== undefined && !given && (o.warmup !== undefined || input.meta.live === true)) {
      return warmupStream(input, o.warmup ?? DEFAULT_WARMUP, o.input === 'intensity', deps.ctx);
    }
    return frameMap.create(o, deps);
  },
};
export default normalize;

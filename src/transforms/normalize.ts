// The `normalize` transform (SPEC §3): scales amplitudes by one factor so that
// the mean per-pattern energy mean_j Σ_hw X_j² equals (N/2)². The factor is
// measured in one streaming pass over the input when the stage is created (or
// given as `factor`, e.g. from a checkpoint at inference). It is recorded in
// meta.normalization and applied wherever frames are read (a frame map: the
// streamed Frames and random-access reads alike); declared linear, so `group`
// fuses the factor into its interleave. Unlike the reference, the mean is over
// patterns, not over grouped copies of them. `per: scan` scales each scan on
// its own (train records the mode in the checkpoint; `checkpoint` normalises
// a new scan as the training data were). On a live input, which cannot be read
// twice, the factor is measured on the first `warmup` frames and then frozen
// (normalize-warmup.ts), unless a factor or checkpoint gives it.
import { z } from 'zod';
import { DataError, OptionsError } from '../errors.js';
import path from 'node:path';
import { readNormalization } from '../model/checkpoint-sidecar.js';
import type { Frame, StageContext, Stream, TransformDef } from '../pipeline/types.js';
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
  if (n === 0)
    throw new DataError('EMPTY_SCAN', 'no patterns to measure the normalisation factor on', { hint: 'check the source, or give normalize a `factor`' });
  if (!(sum > 0) || !Number.isFinite(sum))
    throw new DataError('NO_INTENSITY', `the mean pattern energy is ${sum / n}: cannot normalise`, { hint: 'check the data (all zeros, NaN or Inf?)' });
  return { factor: Math.sqrt(((N / 2) * (N / 2)) / (sum / n)), patterns: n, N };
}

/** Per-scan factors: each scan's mean pattern energy becomes (N/2)² on its own. */
export async function measureScanFactors(frames: AsyncIterable<Frame>, intensity: boolean): Promise<{ factors: Map<number, number>; patterns: number }> {
  const sums = new Map<number, { e: number; n: number; size: number }>();
  let patterns = 0;
  for await (const f of frames) {
    const k = f.scanIndex ?? 0;
    let s = sums.get(k);
    if (s === undefined) sums.set(k, (s = { e: 0, n: 0, size: f.amplitude.length }));
    const a = f.amplitude;
    let e = 0;
    if (intensity) for (let j = 0; j < a.length; j++) e += a[j]!;
    else for (let j = 0; j < a.length; j++) e += a[j]! * a[j]!;
    s.e += e;
    s.n++;
    patterns++;
  }
  if (patterns === 0) throw new DataError('EMPTY_SCAN', 'no patterns to measure the normalisation factors on', { hint: 'check the source' });
  const factors = new Map<number, number>();
  for (const [k, s] of sums) {
    const N = Math.round(Math.sqrt(s.size));
    if (!(s.e > 0) || !Number.isFinite(s.e))
      throw new DataError('NO_INTENSITY', `scan ${k}: the mean pattern energy is ${s.e / s.n}: cannot normalise`, {
        hint: 'check the data (all zeros, NaN or Inf?)',
      });
    factors.set(k, Math.sqrt(((N / 2) * (N / 2)) / (s.e / s.n)));
  }
  return { factors, patterns };
}

/** One factor for every frame, or one per scan (frame → its scan's factor). */
interface Scaling {
  factor: number;
  perFrame?: Float64Array;
  mode: 'all' | 'scan';
}

async function prepareScaling(
  o: { factor?: number | undefined; per: 'all' | 'scan'; checkpoint?: string | undefined; input: 'amplitude' | 'intensity' },
  ctx: StageContext,
  input: Stream<Frame>,
): Promise<Scaling> {
  const intensity = o.input === 'intensity';
  if (o.factor !== undefined && o.checkpoint !== undefined)
    throw new OptionsError('BAD_OPTION', `stage '${ctx.id}': give factor or checkpoint, not both`, { stage: ctx.id, key: 'checkpoint' });
  let per = o.per;
  let given = o.factor;
  if (o.checkpoint !== undefined) {
    // As the network's training data were: its mode, and with one shared factor that very factor.
    const stored = await readNormalization(path.resolve(ctx.outDir, o.checkpoint));
    per = stored.mode;
    if (per === 'all') given ??= stored.factor;
    ctx.log.info(`normalisation as checkpoint ${o.checkpoint}: ${per === 'all' ? `factor ${stored.factor.toPrecision(6)}` : 'per scan'}`);
  }
  if (per === 'all' && given !== undefined) {
    if (o.checkpoint === undefined) ctx.log.info(`normalisation factor ${given.toPrecision(6)} (given)`, { factor: given });
    return { factor: given, mode: 'all' };
  }
  const frames = (): AsyncIterable<Frame> => input.openBorrowed?.(ctx.signal) ?? input.open(ctx.signal);
  try {
    if (per === 'all') {
      // Borrowed frames when the source offers them: the pass keeps nothing, so its read blocks are reused.
      const m = await measureFactor(frames(), intensity);
      ctx.log.info(`normalisation factor ${m.factor.toPrecision(6)} measured over ${m.patterns} patterns (N=${m.N})`, { factor: m.factor });
      return { factor: m.factor, mode: 'all' };
    }
    const m = await measureScanFactors(frames(), intensity);
    const scanOf = input.meta.scan?.scanIndex;
    const count = input.meta.scan?.count ?? m.patterns;
    const perFrame = new Float64Array(count);
    for (let i = 0; i < count; i++) perFrame[i] = m.factors.get(scanOf?.[i] ?? 0) ?? 1;
    const values = [...m.factors.values()];
    // meta.normalization: the geometric mean, for reports; the frames carry their own scan's factor.
    const factor = Math.exp(values.reduce((a, v) => a + Math.log(v), 0) / values.length);
    ctx.log.info(
      `normalisation per scan: ${values.length} factors ${Math.min(...values).toPrecision(4)}…${Math.max(...values).toPrecision(4)} over ${m.patterns} patterns`,
      { factor },
    );
    return { factor, perFrame, mode: 'scan' };
  } catch (e) {
    if (e instanceof DataError) throw new DataError(e.code, e.message, { stage: ctx.id, cause: e });
    throw e;
  }
}

const frameMap = defineFrameMap({
  type: 'normalize',
  description: 'Scales amplitudes so the mean per-pattern energy is (N/2)² (SPEC §3), over all frames or per scan; the factor goes into meta.normalization.',
  options: z
    .object({
      factor: z.number().positive().optional().describe('Use this factor instead of measuring it (e.g. the one recorded in a checkpoint).'),
      per: z
        .enum(['all', 'scan'])
        .default('all')
        .describe(
          "'all': one factor over every frame (scans keep their relative brightness); 'scan': each scan scaled on its own (its mean energy becomes (N/2)²). Train records which in the checkpoint.",
        ),
      checkpoint: z
        .string()
        .optional()
        .describe(
          "Normalise as this checkpoint's training data were (relative to the run output directory): per scan, or with its one shared factor. For inference on new scans.",
        ),
      input: z.enum(['amplitude', 'intensity']).default('amplitude').describe('What the incoming frames hold: amplitude, or intensity (square-rooted first).'),
      warmup: z
        .number()
        .int()
        .positive()
        .optional()
        .describe(
          'Measure the factor on the first `warmup` frames only, then freeze it (held meanwhile): for a live stream, which cannot be read twice. A live input without factor or checkpoint uses 256.',
        ),
    })
    .strict(),
  prepare: (o, { ctx, input }) => prepareScaling(o, ctx, input),
  map: (a, index, s, o) => scaleAmplitude(a, s.perFrame === undefined ? s.factor : s.perFrame[index]!, o.input === 'intensity'),
  // Declared linear (one factor only), so group reads the frames behind it and scales while it interleaves.
  linear: (s, o) => (s.perFrame === undefined ? { factor: s.factor, intensity: o.input === 'intensity' } : undefined),
  meta: (meta, s) => ({ ...meta, normalization: s.factor * (meta.normalization ?? 1), normalizationMode: s.mode }),
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

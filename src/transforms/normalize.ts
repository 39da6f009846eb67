// The `normalize` transform (SPEC §3): scales amplitudes by one factor so that
// the mean per-pattern energy mean_j Σ_hw X_j² equals (N/2)². The factor is
// measured in one streaming pass over the input when the stage is created (or
// given as `factor`, e.g. from a checkpoint at inference). It is recorded in
// meta.normalization and applied wherever frames are read: the streamed Frames
// and meta.frames, which is wrapped so that `group` (which reads frames by index
// from the store) sees normalised amplitudes too. Unlike the reference, the mean
// is over patterns, not over grouped copies of them.
import { z } from 'zod';
import { DataError } from '../errors.js';
import type { Frame, FrameStore, Stream } from '../pipeline/types.js';
import { defineTransform } from '../pipeline/types.js';
import { markScaled, readFramesInto, requireInput, uninitFloat32 } from './util.js';

/** X = factor · A (after a square root for intensities), into a new array. */
export function scaleAmplitude(a: Float32Array, factor: number, intensity: boolean): Float32Array {
  const out = uninitFloat32(a.length);
  if (intensity) for (let k = 0; k < a.length; k++) out[k] = factor * Math.sqrt(a[k]!);
  else for (let k = 0; k < a.length; k++) out[k] = factor * a[k]!;
  return out;
}

/** a ← factor · a (after a square root for intensities). */
function scaleInPlace(a: Float32Array, factor: number, intensity: boolean): void {
  if (intensity) for (let k = 0; k < a.length; k++) a[k] = factor * Math.sqrt(a[k]!);
  else for (let k = 0; k < a.length; k++) a[k] = factor * a[k]!;
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

export default defineTransform({
  kind: 'transform',
  type: 'normalize',
  description: 'Scales amplitudes so the mean per-pattern energy is (N/2)² (SPEC §3); the factor goes into meta.normalization.',
  options: z
    .object({
      factor: z.number().positive().optional().describe('Use this factor instead of measuring it (e.g. the one recorded in a checkpoint).'),
      input: z.enum(['amplitude', 'intensity']).default('amplitude').describe('What the incoming frames hold: amplitude, or intensity (square-rooted first).'),
    })
    .strict(),
  async create(o, { ctx, inputs }) {
    const input = requireInput<Frame>(ctx, inputs, 'normalize', ['frame']);
    const intensity = o.input === 'intensity';
    let factor = o.factor;
    if (factor === undefined) {
      try {
        // Borrowed frames when the source offers them: the pass keeps nothing, so its read blocks are reused.
        const m = await measureFactor(input.openBorrowed?.(ctx.signal) ?? input.open(ctx.signal), intensity);
        factor = m.factor;
        ctx.log.info(`normalisation factor ${factor.toPrecision(6)} measured over ${m.patterns} patterns (N=${m.N})`, { factor });
      } catch (e) {
        if (e instanceof DataError) throw new DataError(e.code, e.message, { stage: ctx.id, cause: e });
        throw e;
      }
    } else {
      ctx.log.info(`normalisation factor ${factor.toPrecision(6)} (given)`, { factor });
    }
    const k = factor;
    const inner = input.meta.frames;
    // Marked as scaled so that `group` can read the inner frames and apply the
    // factor while it interleaves them (one copy fewer); read() still scales.
    const frames: FrameStore | undefined =
      inner === undefined
        ? undefined
        : markScaled(
            {
              count: inner.count,
              N: inner.N,
              read: async (i) => scaleAmplitude(await inner.read(i), k, intensity),
              readMany: async (ids) => (await inner.readMany(ids)).map((a) => scaleAmplitude(a, k, intensity)),
              readInto: async (ids, out) => {
                await readFramesInto(inner, ids, out);
                for (const a of out) scaleInPlace(a, k, intensity);
              },
              ...(inner.excluded === undefined ? {} : { excluded: () => inner.excluded!() }),
              // The inner store belongs to the source, which closes it.
              close: async () => undefined,
            },
            { inner, factor: k, intensity },
          );
    const stream: Stream<Frame> = {
      meta: { ...input.meta, normalization: k * (input.meta.normalization ?? 1), ...(frames === undefined ? {} : { frames }) },
      open(signal: AbortSignal): AsyncIterable<Frame> {
        return (async function* () {
          for await (const f of input.open(signal)) {
            signal.throwIfAborted();
            yield { ...f, amplitude: scaleAmplitude(f.amplitude, k, intensity) };
          }
        })();
      },
    };
    return stream;
  },
});

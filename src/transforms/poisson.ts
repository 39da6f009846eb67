// The `poisson` transform: turns any frame stream into a lower-dose measurement
// of the same scan, for dose studies. One global factor c is chosen so that the
// MEAN per-pattern total count equals `dose`: c = dose / mean_j Σ A_j² (the mean
// is measured in one pass over the input, on first use). Each frame then gets
// counts ~ Poisson(c · A²), drawn from Rng.derive(seed, 'poisson', frame.index),
// and is emitted as sqrt(counts / c) — the input's amplitude units, so that the
// expected intensity is unchanged and only the noise grows as the dose falls.
// A bright pattern thus keeps more counts than a dark one, as in a real
// measurement with a fixed exposure. meta.frames is wrapped with the same
// per-frame noise, so random-access reads (group) see exactly the streamed data.
import { z } from 'zod';
import { DataError, OptionsError } from '../errors.js';
import type { Frame, FrameStore, ScanMeta, Stream } from '../pipeline/types.js';
import { defineTransform } from '../pipeline/types.js';
import { Rng } from '../util/rng.js';

/** counts ~ Poisson(scale · A²) per pixel, returned as sqrt(counts / scale); null when A holds a non-finite or negative value. */
export function poissonAmplitude(amplitude: Float32Array, scale: number, rng: Rng): Float32Array | null {
  const out = new Float32Array(amplitude.length);
  for (let k = 0; k < amplitude.length; k++) {
    const a = amplitude[k]!;
    if (!(a >= 0) || a === Infinity) return null;
    out[k] = Math.sqrt(rng.poisson(scale * a * a) / scale);
  }
  return out;
}

function badFrame(index: number, stage: string): DataError {
  return new DataError('BAD_FRAME', `frame ${index} has a NaN, infinite or negative amplitude`, { stage, key: `frame ${index}` });
}

export default defineTransform({
  kind: 'transform',
  type: 'poisson',
  description: 'Re-measures frames at a lower dose: Poisson counts with a given mean total per pattern.',
  options: z
    .object({
      dose: z.number().positive().describe('Mean total counts per pattern after the transform.'),
      seed: z.number().int().min(0).max(2 ** 32 - 1).optional().describe('Seed (default: the pipeline seed).'),
      on_error: z.enum(['fail', 'skip', 'route']).default('fail').describe('What to do with a frame holding NaN, Inf or negative values.'),
    })
    .strict(),
  async create(o, { ctx, inputs }) {
    const input = inputs[0] as Stream<Frame> | undefined;
    if (input === undefined) throw new OptionsError('NO_INPUT', 'poisson needs one input stream of frames', { stage: ctx.id });
    if (input.meta.record !== 'frame') {
      throw new OptionsError('WRONG_RECORD', `poisson works on frames, but its input gives '${input.meta.record}' records`, { stage: ctx.id, hint: 'place poisson right after the source, before normalize and group' });
    }
    const seed = o.seed ?? ctx.seed;

    // The scale needs the mean energy of the whole scan: measured once, lazily.
    let scalePromise: Promise<number> | undefined;
    const scale = (signal: AbortSignal): Promise<number> =>
      (scalePromise ??= (async () => {
        let sum = 0, n = 0;
        // Borrowed frames when the input offers them: this pass keeps nothing.
        for await (const f of input.openBorrowed?.(signal) ?? input.open(signal)) {
          let e = 0;
          for (const a of f.amplitude) e += a * a;
          if (Number.isFinite(e)) { sum += e; n++; }
        }
        if (!(n > 0 && sum > 0)) throw new DataError('EMPTY_SCAN', 'the input frames carry no intensity: nothing to scale to the dose', { stage: ctx.id });
        return o.dose / (sum / n);
      })().catch((e: unknown) => {
        scalePromise = undefined; // an aborted pass must not poison later opens
        throw e;
      }));
    const noisy = async (amplitude: Float32Array, index: number, signal: AbortSignal): Promise<Float32Array | null> =>
      poissonAmplitude(amplitude, await scale(signal), Rng.derive(seed, 'poisson', index));

    const inner = input.meta.frames;
    const dropped = new Set<number>();
    const frames: FrameStore | undefined = inner === undefined ? undefined : {
      count: inner.count,
      N: inner.N,
      async read(index) {
        const a = await noisy(await inner.read(index), index, ctx.signal);
        if (a === null) throw badFrame(index, ctx.id);
        return a;
      },
      async readMany(indices) {
        const raw = await inner.readMany(indices);
        const out: Float32Array[] = [];
        for (let j = 0; j < raw.length; j++) {
          const a = await noisy(raw[j]!, indices[j]!, ctx.signal);
          if (a === null) throw badFrame(indices[j]!, ctx.id);
          out.push(a);
        }
        return out;
      },
      excluded: () => (inner.excluded === undefined ? dropped : new Set([...inner.excluded(), ...dropped])),
      // The inner store belongs to the source, which closes it.
      async close() {},
    };
    const scan: ScanMeta | undefined = input.meta.scan === undefined ? undefined : { ...input.meta.scan, notes: { ...input.meta.scan.notes, dose: o.dose } };

    return {
      meta: { ...input.meta, ...(scan === undefined ? {} : { scan }), ...(frames === undefined ? {} : { frames }) },
      open(signal: AbortSignal): AsyncIterable<Frame> {
        return (async function* () {
          const c = await scale(signal);
          for await (const f of input.open(signal)) {
            signal.throwIfAborted();
            const a = poissonAmplitude(f.amplitude, c, Rng.derive(seed, 'poisson', f.index));
            if (a === null) {
              ctx.badRecord(o.on_error, badFrame(f.index, ctx.id), f.index);
              dropped.add(f.index);
              continue;
            }
            yield { ...f, amplitude: a };
          }
        })();
      },
    };
  },
});

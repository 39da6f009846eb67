// The `poisson` transform: turns any frame stream into a lower-dose measurement
// of the same scan, for dose studies. One global factor c is chosen so that the
// MEAN per-pattern total count equals `dose`: c = dose / mean_j Σ A_j² (the mean
// is measured in one pass over the input when the stage is created). Each frame then gets
// counts ~ Poisson(c · A²), drawn from Rng.derive(seed, 'poisson', frame.index),
// and is emitted as sqrt(counts / c) — the input's amplitude units, so that the
// expected intensity is unchanged and only the noise grows as the dose falls.
// A bright pattern thus keeps more counts than a dark one, as in a real
// measurement with a fixed exposure. A frame map: random-access reads (group)
// see exactly the streamed data.
import { z } from 'zod';
import { DataError } from '../errors.js';
import type { Frame } from '../pipeline/types.js';
import { Rng } from '../util/rng.js';
import { defineFrameMap } from './frame-map.js';
import { errorPolicy, stageSeed } from '../core/options.js';

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

/** c = dose / mean per-pattern energy, over the finite patterns of one pass. */
async function doseScale(frames: AsyncIterable<Frame>, dose: number, stage: string): Promise<number> {
  let sum = 0,
    n = 0;
  for await (const f of frames) {
    let e = 0;
    for (const a of f.amplitude) e += a * a;
    if (Number.isFinite(e)) {
      sum += e;
      n++;
    }
  }
  if (!(n > 0 && sum > 0)) throw new DataError('EMPTY_SCAN', 'the input frames carry no intensity: nothing to scale to the dose', { stage });
  return dose / (sum / n);
}

export default defineFrameMap({
  type: 'poisson',
  description: 'Re-measures frames at a lower dose: Poisson counts with a given mean total per pattern.',
  options: z
    .object({
      dose: z.number().positive().describe('Mean total counts per pattern after the transform.'),
      seed: stageSeed(),
      on_error: errorPolicy('What to do with a frame holding NaN, Inf or negative values.'),
      cache: z
        .boolean()
        .default(true)
        .describe(
          'Draw each frame once for random access (an engine re-reading the scan every pass, group): the first read writes the drawn frames to a temp file. The frames are the same either way; false trades disk for a new draw per read.',
        ),
    })
    .strict(),
  // The scale needs the mean energy of the whole scan: one pass (borrowed frames when offered: it keeps nothing).
  prepare: async (o, { ctx, input }) => ({
    scale: await doseScale(input.openBorrowed?.(ctx.signal) ?? input.open(ctx.signal), o.dose, ctx.id),
    seed: o.seed ?? ctx.seed,
    stage: ctx.id,
  }),
  map(amplitude, index, st) {
    const a = poissonAmplitude(amplitude, st.scale, Rng.derive(st.seed, 'poisson', index));
    if (a === null) throw badFrame(index, st.stage);
    return a;
  },
  cache: (o) => o.cache,
  meta: (meta, _st, o) => (meta.scan === undefined ? meta : { ...meta, scan: { ...meta.scan, notes: { ...meta.scan.notes, dose: o.dose } } }),
});

// `normalize` on a live stream without a given factor: the factor is measured
// on the first `warmup` frames (held, at most `warmup` of them) and then
// frozen, so every frame, those first ones included, is scaled by the same
// number and the scale never drifts while the series runs. The factor is
// logged when it is frozen; it cannot be in the stream's metadata, which is
// fixed before the first frame arrives.
import { DataError } from '../errors.js';
import type { Frame, StageContext, Stream } from '../pipeline/types.js';
import { scaleInPlace } from './frame-map.js';

/** factor · A (√ first for intensities), in a new array: the input's frame may be shared. */
function scaled(a: Float32Array, factor: number, intensity: boolean): Float32Array {
  const out = Float32Array.from(a);
  scaleInPlace(out, factor, intensity);
  return out;
}

/** Energy of one pattern: Σ A² (Σ I for intensities). */
function energy(a: Float32Array, intensity: boolean): number {
  let e = 0;
  if (intensity) for (let k = 0; k < a.length; k++) e += a[k]!;
  else for (let k = 0; k < a.length; k++) e += a[k]! * a[k]!;
  return e;
}

export function warmupStream(input: Stream<Frame>, warmup: number, intensity: boolean, ctx: StageContext): Stream<Frame> {
  return {
    meta: input.meta,
    open: (signal) =>
      (async function* () {
        const held: Frame[] = [];
        let sum = 0;
        let factor: number | undefined;
        const freeze = (): number => {
          const N = Math.round(Math.sqrt(held[0]!.amplitude.length));
          const mean = sum / held.length;
          if (!(mean > 0) || !Number.isFinite(mean))
            throw new DataError('NO_INTENSITY', `the mean energy of the first ${held.length} patterns is ${mean}: cannot normalise`, {
              stage: ctx.id,
              hint: 'check the stream, or give normalize a factor (or a checkpoint)',
            });
          const f = Math.sqrt(((N / 2) * (N / 2)) / mean);
          ctx.log.info(`normalisation factor ${f.toPrecision(6)} measured over the first ${held.length} patterns, frozen`, { factor: f });
          return f;
        };
        for await (const fr of input.open(signal)) {
          if (factor !== undefined) {
            yield { ...fr, amplitude: scaled(fr.amplitude, factor, intensity) };
            continue;
          }
          held.push(fr);
          sum += energy(fr.amplitude, intensity);
          if (held.length < warmup) continue;
          factor = freeze();
          for (const h of held.splice(0)) yield { ...h, amplitude: scaled(h.amplitude, factor, intensity) };
        }
        // A stream shorter than the warmup: the factor of what came.
        if (factor === undefined && held.length > 0) {
          const f = freeze();
          for (const h of held.splice(0)) yield { ...h, amplitude: scaled(h.amplitude, f, intensity) };
        }
      })(),
  };
}

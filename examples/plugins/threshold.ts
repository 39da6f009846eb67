// An example plugin: a user-written transform that zeroes diffraction
// amplitudes below a noise floor (a common detector clean-up). Written as a
// frame map: one per-frame function, which ptychoflow applies to the streamed
// frames and to the frames `group` reads by index alike, so no stage can see
// the data without it.
//
// Use it from a pipeline file:
//   plugins: [./examples/plugins/threshold.ts]
//   transforms:
//     clean: { type: threshold, inputs: [scan], floor: 1.5 }
import { z } from 'zod';
import { defineFrameMap } from 'ptychoflow';

export function clip(amplitude: Float32Array, floor: number): Float32Array {
  const out = new Float32Array(amplitude.length);
  for (let i = 0; i < amplitude.length; i++) {
    const v = amplitude[i]!;
    out[i] = v < floor ? 0 : v;
  }
  return out;
}

export const threshold = defineFrameMap({
  type: 'threshold',
  description: 'Sets diffraction amplitudes below `floor` to zero (example plugin).',
  options: z
    .object({
      floor: z.number().min(0).describe('Amplitudes below this value become 0 (in the units of the input stream).'),
    })
    .strict(),
  map: (amplitude, _index, _state, options) => clip(amplitude, options.floor),
});

// An example plugin: a user-written transform that zeroes diffraction
// amplitudes below a noise floor (a common detector clean-up). It shows the
// two things a frame transform must do: map the streamed records, and wrap the
// FrameStore so stages that read frames by index (group) see the same data.
//
// Use it from a pipeline file:
//   plugins: [./examples/plugins/threshold.ts]
//   transforms:
//     clean: { type: threshold, inputs: [scan], floor: 1.5 }
import { z } from 'zod';
import { defineTransform, type Frame, type FrameStore, type Stream } from 'ptychoflow';

function clip(amplitude: Float32Array, floor: number): Float32Array {
  const out = new Float32Array(amplitude.length);
  for (let i = 0; i < amplitude.length; i++) {
    const v = amplitude[i]!;
    out[i] = v < floor ? 0 : v;
  }
  return out;
}

export const threshold = defineTransform({
  kind: 'transform',
  type: 'threshold',
  description: 'Sets diffraction amplitudes below `floor` to zero (example plugin).',
  options: z
    .object({
      floor: z.number().min(0).describe('Amplitudes below this value become 0 (in the units of the input stream).'),
    })
    .strict(),
  async create(options, { inputs }) {
    const input = inputs[0] as Stream<Frame>;
    const store = input.meta.frames;
    const frames: FrameStore | undefined =
      store === undefined
        ? undefined
        : {
            count: store.count,
            N: store.N,
            read: async (i) => clip(await store.read(i), options.floor),
            readMany: async (idx) => (await store.readMany(idx)).map((a) => clip(a, options.floor)),
            close: () => store.close(),
          };
    const out: Stream<Frame> = {
      meta: { ...input.meta, ...(frames !== undefined ? { frames } : {}) },
      open(signal) {
        return (async function* () {
          for await (const f of input.open(signal)) yield { ...f, amplitude: clip(f.amplitude, options.floor) };
        })();
      },
    };
    return out;
  },
});

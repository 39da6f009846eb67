// The `infer` stage's declaration: its options schema, record kinds and
// arity, without the implementation (src/sinks/infer.ts), so that listing and
// validating pipelines do not import TensorFlow.js (see pipeline/lazy.ts).
import { z } from 'zod';
import { reconstructionFiles } from './output-spec.js';
import type { ComponentSpec } from '../../pipeline/lazy.js';
import type { SinkDef } from '../../pipeline/types.js';

export const inferOptions = z
  .object({
    checkpoint: z.string().default('checkpoint').describe('Checkpoint directory (from a train sink), relative to the run output directory.'),
    stitch_size: z.number().int().positive().optional().describe('Side M of the central region of each patch that is stitched (default N/2).'),
    stitch_window: z
      .enum(['flat', 'taper'])
      .default('flat')
      .describe(
        'Weights over the stitched M×M region: flat, or taper (sin² along each axis: patch centres count most, edges fill in where nothing else covers; use with a larger stitch_size).',
      ),
    align_phase: z
      .boolean()
      .default(false)
      .describe(
        "Turn each patch by the constant phase that best matches the canvas where they overlap before adding it (the far field does not fix a patch's global phase). Patches are aligned in stream order, so feed infer in scan order. Measured: no gain on the demo or on Run1084 trained on itself (phase SSIM −0.01 to −0.03), hence off by default; on scans a corpus network never saw it raised the phase SSIM by 0.06 (N = 32) and the amplitude by 0.01–0.08 (N = 64), so pipelines/new-scan.yaml turns it on (docs/RESULTS.md).",
      ),
    ...reconstructionFiles({ npz: 'reconstruction.npz', prefix: '' }, 'object c8, amplitude f4, phase f4, probe c8, origin'),
    snapshot_every_s: z
      .number()
      .positive()
      .default(5)
      .describe(
        'On a live input: write what is stitched so far to the same NPZ and PNGs (each replaced atomically) at most this often; the final reconstruction replaces them at the end of the series.',
      ),
  })
  .strict();

export const inferSpec: ComponentSpec<SinkDef<typeof inferOptions>> = {
  kind: 'sink',
  accepts: [['tensor-batch']],
  emits: 'reconstruction',
  type: 'infer',
  description: 'Predicts object patches with a trained checkpoint and stitches them into the whole object (NPZ + PNGs).',
  arity: { min: 1, max: 1 },
  options: inferOptions,
};

export default inferSpec;

// The `refine` stage's declaration: its options schema, record kinds and
// arity, without the implementation (src/sinks/refine.ts), so that listing and
// validating pipelines do not import TensorFlow.js (see pipeline/lazy.ts).
import { z } from 'zod';
import { passRecords, reconstructionFiles } from './output-spec.js';
import type { ComponentSpec } from '../../pipeline/lazy.js';
import type { SinkDef } from '../../pipeline/types.js';

export const refineOptions = z
  .object({
    reconstruction: z
      .string()
      .optional()
      .describe(
        "An NPZ written by infer or refine in an earlier run (object, probe, origin) to start from, relative to the output directory; within one run, take the reconstruction as input 1 instead (inputs: [patterns, infer]). Neither: a flat object (amplitude 1, phase 0) with the scan's probe",
      ),
    epochs: z.number().int().positive().default(50).describe('Most passes over the patterns.'),
    lr: z.number().positive().default(0.02).describe("Adam step at the start, as a fraction of the object's mean amplitude."),
    final_lr: z.number().positive().default(2e-4).describe('Step at the end of the cosine decay (same units as lr).'),
    max_minutes: z.number().positive().optional().describe('Time budget: stop when less than half a pass of it is left.'),
    refine_probe: z
      .number()
      .int()
      .min(0)
      .default(0)
      .describe(
        "From this pass on (1-based) the probe is refined too, with its own Adam step (lr × the probe's RMS amplitude, same decay); 0 keeps the probe fixed. The NPZ then holds the refined probe.",
      ),
    step: z
      .enum(['batch', 'pass'])
      .default('batch')
      .describe(
        "batch: an Adam step per batch (fast to converge). pass: one step per pass from the whole pass's gradient, which a tile job can sum over its tiles and so reproduce exactly (see docs/SCALING.md).",
      ),
    ...reconstructionFiles({ npz: 'refined.npz', prefix: 'refined_' }, "the layout of infer's"),
    ...passRecords({ history: 'refine_history.json', plot: 'refine_loss.png' }, 'Loss'),
  })
  .strict();

export const refineSpec: ComponentSpec<SinkDef<typeof refineOptions>> = {
  kind: 'sink',
  accepts: [['tensor-batch'], ['reconstruction']],
  emits: 'reconstruction',
  type: 'refine',
  description: 'Refines a stitched object (or a flat start) against the measured patterns by gradient descent through the forward model; writes it like infer.',
  arity: { min: 1, max: 2 },
  options: refineOptions,
};

export default refineSpec;

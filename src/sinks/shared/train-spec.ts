// The `train` sink's declaration: its options schema, record kinds and
// arity, without the implementation (src/sinks/train.ts), so that listing and
// validating pipelines do not import TensorFlow.js (see pipeline/lazy.ts).
import { z } from 'zod';
import { modelConfigSchema } from '../../model/config.js';
import type { ComponentSpec } from '../../pipeline/lazy.js';
import type { SinkDef } from '../../pipeline/types.js';
import { stageSeed } from '../../core/options.js';

/** Model options without their defaults, so that unset keys fall back to the stream (N, gridsize) and then the schema. */
function overridable(shape: Record<string, z.ZodType>): Record<string, z.ZodType> {
  const out: Record<string, z.ZodType> = {};
  for (const [key, field] of Object.entries(shape)) {
    let inner = field;
    let dflt: unknown;
    if (inner instanceof z.ZodDefault) {
      dflt = (inner.def as { defaultValue: unknown }).defaultValue;
      inner = inner.unwrap() as z.ZodType;
    }
    const from = key === 'N' || key === 'gridsize' ? 'from the input stream' : JSON.stringify(dflt);
    out[key] = inner.optional().describe(`${field.description ?? inner.description ?? key} (default: ${from})`);
  }
  return out;
}

export const modelFields = overridable(modelConfigSchema.shape);

export const trainOptions = z
  .object({
    ...modelFields,
    model: z.object(modelFields).strict().optional().describe('Model options as one block (same keys as the top-level model options; these win).'),
    epochs: z.number().int().positive().default(50).describe('Most epochs (passes over the input) to train.'),
    lr: z.number().positive().default(1e-3).describe('Adam learning rate at the start.'),
    lr_schedule: z
      .enum(['plateau', 'cosine'])
      .default('plateau')
      .describe(
        "'plateau': reduce_lr on the monitored loss (the reference's). 'cosine': lr decays to final_lr, step by step, over `epochs` or over max_minutes, whichever ends first (training then stops when less than half an epoch of the budget is left); reduce_lr is not used.",
      ),
    warmup_steps: z
      .number()
      .int()
      .min(0)
      .default(20)
      .describe(
        'Linear learning-rate warm-up over the first optimizer steps of the run: step k trains at lr·(k+1)/warmup_steps (0: none, the reference). At lr 1e-3 without it the Run1084 network collapsed within 5 steps at 1e4 counts (docs/RESULTS.md).',
      ),
    final_lr: z.number().positive().default(1e-5).describe("Learning rate at the end of a 'cosine' schedule."),
    reduce_lr: z
      .object({
        factor: z.number().gt(0).lt(1).default(0.5).describe('Multiply the learning rate by this on a plateau.'),
        patience: z.number().int().min(0).default(2).describe('Epochs without improvement before reducing (0: never reduce).'),
        min_lr: z.number().positive().default(1e-4).describe('Lowest learning rate.'),
      })
      .strict()
      .prefault({})
      .describe('Reduce-on-plateau of the monitored loss (validation loss, else training loss).'),
    early_stop: z
      .object({ patience: z.number().int().min(0).default(3).describe('Epochs without improvement before stopping (0: never stop early).') })
      .strict()
      .prefault({})
      .describe('Early stopping on the monitored loss.'),
    min_delta: z
      .number()
      .min(0)
      .lt(1)
      .default(1e-4)
      .describe(
        'Relative improvement of the monitored loss that counts, for reduce_lr and early_stop: an epoch improves when its loss < best − min_delta·|best| (0: any decrease counts).',
      ),
    collapse: z
      .object({
        tol: z
          .number()
          .min(0)
          .default(1e-3)
          .describe(
            'A branch is flat when its spatial spread falls below this: std(|O|)/mean(|O|) for the amplitude, std(arg O) in radians for the phase, over the central N/2 square (0: no check).',
          ),
        action: z
          .enum(['fail', 'stop', 'warn'])
          .default('fail')
          .describe(
            "On a collapse: 'fail' (error TRAINING_COLLAPSED, checkpoint kept), 'stop' (end training, warn, stopped: 'collapse'), or 'warn' and go on.",
          ),
      })
      .strict()
      .prefault({})
      .describe(
        'Collapse detection: after every epoch the object predicted for the first training batch is measured; an amplitude or phase without spatial structure means dead activations, not slow progress.',
      ),
    checkpoint_dir: z.string().default('checkpoint').describe('Checkpoint directory, relative to the run output directory; rewritten after every epoch.'),
    resume: z.boolean().default(false).describe('Continue from the checkpoint in checkpoint_dir (starts fresh when there is none).'),
    max_minutes: z.number().positive().optional().describe('Time budget: stop after the epoch that crosses it (time before a resume counts).'),
    seed: stageSeed('Seed of the weight initialisation'),
    history: z.string().default('history.json').describe('Loss history (JSON), relative to the run output directory.'),
    loss_plot: z.string().default('loss.png').describe('Loss curve (PNG), relative to the run output directory.'),
  })
  .strict();

export const trainSpec: ComponentSpec<SinkDef<typeof trainOptions>> = {
  kind: 'sink',
  accepts: [['tensor-batch']],
  type: 'train',
  description: 'Trains a PtychoPINN on tensor batches (input 0; optional validation input 1) with checkpoints, LR schedule and early stop.',
  arity: { min: 1, max: 2 },
  options: trainOptions,
};

export default trainSpec;

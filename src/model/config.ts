// The PtychoPINN model configuration (SPEC §5): a strict zod object with
// snake_case keys, reference defaults in every description. Kept a plain
// z.object (no transforms) so stages can reuse `.shape` field by field; aliases
// such as the reference's `pad_object` are resolved by the model.
import { z } from 'zod';
import { OptionsError } from '../errors.js';

export const modelConfigSchema = z
  .object({
    N: z
      .union([z.literal(16), z.literal(32), z.literal(64), z.literal(128), z.literal(256)])
      .default(64)
      .describe('Pattern and object-patch size N (reference default 64; 16/32 follow the same encoder rule and are meant for fast tests).'),
    gridsize: z
      .union([z.literal(1), z.literal(2), z.literal(3)])
      .default(1)
      .describe('Group side g: each group holds C = g² neighbouring positions (reference default 1).'),
    n_filters_scale: z
      .number()
      .positive()
      .default(2)
      .describe('Multiplier of the filter ladder (reference default 2); fractions give small networks for tests.'),
    object_support: z
      .enum(['auto', 'center', 'full', 'border'])
      .default('auto')
      .describe(
        "Where the object may be non-zero in an N×N patch: 'center' = central N/2 square (the reference's pad_object), 'full' = whole N×N, 'border' = centre plus a separately decoded border (reference probe_big, normalised correctly), 'auto' = center if ≥95% of |P|² lies in the central square, else full.",
      ),
    pad_object: z
      .boolean()
      .optional()
      .describe("Reference alias: true = object_support 'center', false = 'full' (only with object_support 'auto' or a matching value)."),
    full_res_convs: z
      .number()
      .int()
      .min(0)
      .max(4)
      .default(0)
      .describe(
        "Extra 3×3 ReLU convolutions at full N×N resolution in each decoder, before the head ('full' support only; not in the reference, whose only full-resolution layer is the head over a 2× nearest-upsampled map). 0 = the reference network.",
      ),
    init: z
      .enum(['he', 'glorot'])
      .default('he')
      .describe(
        "Weight initialisation: 'he' = He-uniform with small output heads and the amplitude bias set to the amplitude the data's energy needs (keeps deep ReLU decoders alive); 'glorot' = the reference's Glorot-uniform with zero biases.",
      ),
    amp_activation: z
      .enum(['sigmoid', 'scaled_sigmoid', 'swish', 'softplus', 'relu'])
      .default('sigmoid')
      .describe(
        "Amplitude head activation (reference default sigmoid, whose output cannot pass 1: when the data need a mean amplitude near 1 the bright parts saturate and the amplitude comes out flat, issue #17). 'scaled_sigmoid' = 2·a₀·σ(x), a₀ the mean amplitude the data's energy needs, so the mean sits at the sigmoid's steepest point.",
      ),
    probe_mask: z.boolean().default(false).describe('Multiply the illuminated field by the disk mask of radius N/4 (reference ModelConfig default false).'),
    probe_scale: z.number().positive().default(4).describe('Probe normalisation: mean over N×N of |M·P| becomes 1/probe_scale (reference default 4).'),
    trainable_probe: z.boolean().default(false).describe('Learn the probe (real and imaginary parts) with the network (reference default false).'),
    trainable_intensity_scale: z
      .boolean()
      .default(false)
      .describe(
        'Learn the intensity scale s (log-parameterised) instead of fixing s = sqrt(nphotons)/(N/2) (reference flag default true but inert; ours trains when on).',
      ),
    nphotons: z
      .number()
      .positive()
      .default(1e9)
      .describe('Photons per pattern assumed by the Poisson likelihood; s = sqrt(nphotons)/(N/2) (reference default 1e9).'),
    loss_poisson: z.number().min(0).default(1).describe('Weight of the Poisson negative log-likelihood on counts (s·A)² (reference nll_weight 1).'),
    loss_mae: z.number().min(0).default(0).describe('Weight of the mean absolute error on scaled amplitudes s·A (reference mae_weight 0).'),
    epsilon: z.number().positive().default(1e-12).describe('Added to the predicted intensity inside the Poisson log (the reference adds none).'),
  })
  .strict();

export type ModelConfig = z.output<typeof modelConfigSchema>;
export type ModelConfigInput = z.input<typeof modelConfigSchema>;
export type SupportMode = 'center' | 'full' | 'border';

/** Parses and validates a (partial) model configuration, filling reference defaults. */
export function parseModelConfig(raw: ModelConfigInput = {}): ModelConfig {
  const r = modelConfigSchema.safeParse(raw);
  if (!r.success) {
    const what = r.error.issues.map((i) => `${i.path.join('.') || '(config)'}: ${i.message}`).join('; ');
    throw new OptionsError('BAD_MODEL_CONFIG', `model config does not validate: ${what}`, { hint: 'see `ptychoflow describe train` for the model keys' });
  }
  return r.data;
}

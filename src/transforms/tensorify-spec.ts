// The `tensorify` stage's declaration: its options schema, record kinds and
// arity, without the implementation (src/transforms/tensorify.ts), so that listing and
// validating pipelines do not import TensorFlow.js (see pipeline/lazy.ts).
import { z } from 'zod';
import type { ComponentSpec } from '../pipeline/lazy.js';
import type { TransformDef } from '../pipeline/types.js';

const tensorifyOptions = z.object({}).strict();

export const tensorifySpec: ComponentSpec<TransformDef<typeof tensorifyOptions>> = {
  kind: 'transform',
  accepts: [['batch']],
  emits: 'tensor-batch',
  type: 'tensorify',
  description: 'Turns batches into tensors (X, coords); the next stage owns and disposes them.',
  options: tensorifyOptions,
};

export default tensorifySpec;

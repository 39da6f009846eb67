// The `scale-capture` sink: a worker adds one after every sink that emits a
// reconstruction in a tile shard, to keep that record (object, coverage,
// probe, origin) for the shard's partial. Made per shard run (a closure over
// the run's map), and only in the worker's registry: not a built-in stage.
import { z } from 'zod';
import { defineSink, type Reconstruction, type ScanMeta, type SinkDef } from '../pipeline/types.js';
import { readReconstruction } from '../sinks/shared/util.js';

export const CAPTURE_STAGE = 'scale-capture';

export interface Captured {
  record: Reconstruction;
  /** The scan it reconstructs (its positions place the tile). */
  scan: ScanMeta | undefined;
}

export function captureSink(into: Map<string, Captured>): SinkDef {
  return defineSink({
    kind: 'sink',
    accepts: [['reconstruction']],
    type: CAPTURE_STAGE,
    description: 'Keeps the reconstruction a sink emitted, for the shard result.',
    arity: { min: 1, max: 1 },
    options: z.object({ of: z.string().describe('The sink whose reconstruction this is.') }).strict(),
    async create(o, { ctx, inputs }) {
      const r = await readReconstruction(inputs[0]!, ctx, `the reconstruction of '${o.of}'`);
      into.set(o.of, { record: r, scan: inputs[0]!.meta.scan });
      return { captured: o.of, shape: [r.object.height, r.object.width] };
    },
  });
}

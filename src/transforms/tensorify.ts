// The `tensorify` transform: the only place in sources and transforms that
// creates tensors. Each Batch becomes a TensorBatch (X (B,N,N,C), coords
// (B,1,2,C)) registered with the tensor ledger; the stage that receives it owns
// it and must call dispose(). A batch created but not handed over (an error
// between creating X and coords) is disposed here. On a backend that copies
// the data (wasm), the batch's memory is released for reuse (Batch.release)
// as soon as the tensors exist.
import * as tf from '../tf.js';
import type { Batch, StageContext, Stream, TensorBatch } from '../pipeline/types.js';
import { defineTransform } from '../pipeline/types.js';
import { tensorifySpec } from './tensorify-spec.js';
import { requireInput } from './util.js';

/**
 * Whether the current backend copies a typed array into memory of its own when
 * a tensor is made from it (tfjs-backend-wasm 4.22, pinned: `move` copies into
 * the wasm heap), so the array may be reused at once.
 */
export function backendCopiesOnWrite(): boolean {
  return tf.getBackend() === 'wasm';
}

/** Turns one Batch into a TensorBatch charged to `ctx.id` in the ledger. */
export function toTensorBatch(b: Batch, ctx: Pick<StageContext, 'id' | 'ledger'>): TensorBatch {
  const made: tf.Tensor[] = [];
  try {
    const X = tf.tensor4d(b.X, [b.size, b.N, b.N, b.C], 'float32');
    made.push(X);
    const coords = tf.tensor4d(b.coords, [b.size, 1, 2, b.C], 'float32');
    made.push(coords);
    // The wasm backend copied X into its own heap: the batch's memory can be reused now.
    // (cpu and tfjs-node keep a reference to the array, which a sink may read back with
    // dataSync() and cpu's Slice hands on as a view to a new tensor, so no release point
    // is safe there, not even X's disposal: it is left to the garbage collector.)
    if (backendCopiesOnWrite()) b.release?.();
    const release = ctx.ledger.track(ctx.id, made);
    let disposed = false;
    return {
      size: b.size,
      N: b.N,
      C: b.C,
      X,
      coords,
      centers: b.centers,
      indices: b.indices,
      groups: b.groups,
      dispose() {
        if (disposed) return;
        disposed = true;
        X.dispose();
        coords.dispose();
        release();
      },
    };
  } catch (e) {
    for (const t of made) t.dispose();
    throw e;
  }
}

export default defineTransform({
  ...tensorifySpec,
  async create(_o, { ctx, inputs }) {
    const input = requireInput<Batch>(ctx, inputs, 'tensorify', ['batch']);
    const stream: Stream<TensorBatch> = {
      meta: { ...input.meta, record: 'tensor-batch' },
      open(signal: AbortSignal): AsyncIterable<TensorBatch> {
        return (async function* () {
          for await (const b of input.open(signal)) {
            signal.throwIfAborted();
            // Created right before the yield: once yielded, the consumer owns it.
            yield toTensorBatch(b, ctx);
          }
        })();
      },
    };
    return stream;
  },
});

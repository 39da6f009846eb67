// The `batch` transform: packs consecutive groups into one Batch of contiguous
// typed arrays per field, the unit `tensorify` turns into tensors. The last
// short batch is kept unless `drop_remainder`. packBatch/unpackBatch are pure;
// the stage also passes on the groups' release (Group.release) so their
// pooled memory can be reused once X has been turned into tensors.
import { z } from 'zod';
import { DataError } from '../errors.js';
import type { Batch, Group, Stream } from '../pipeline/types.js';
import { defineTransform } from '../pipeline/types.js';
import { requireInput, uninitFloat32 } from './util.js';

/**
 * The groups' amplitudes as one array without copying when they already lie
 * back to back in one buffer (as `group` writes a window of groups), else undefined.
 */
function contiguous(groups: readonly Group[], per: number): Float32Array | undefined {
  const first = groups[0]!.amplitudes;
  for (let b = 0; b < groups.length; b++) {
    const a = groups[b]!.amplitudes;
    if (a.buffer !== first.buffer || a.length !== per || a.byteOffset !== first.byteOffset + 4 * b * per) return undefined;
  }
  return new Float32Array(first.buffer, first.byteOffset, groups.length * per);
}

/**
 * Packs groups (same N and C) into one Batch. X is a view (no copy) when the
 * groups' amplitudes are consecutive slices of one buffer, else a copy.
 */
export function packBatch(groups: readonly Group[]): Batch {
  const first = groups[0];
  if (first === undefined) throw new DataError('EMPTY_BATCH', 'cannot pack an empty list of groups');
  const C = first.indices.length;
  const NN = first.amplitudes.length / C;
  const N = Math.round(Math.sqrt(NN));
  const B = groups.length;
  const view = contiguous(groups, NN * C);
  const X = view ?? uninitFloat32(B * NN * C);
  const coords = new Float32Array(B * 2 * C);
  const centers = new Float64Array(B * 2);
  const indices = new Int32Array(B * C);
  const ids = new Int32Array(B);
  groups.forEach((g, b) => {
    if (g.indices.length !== C || g.amplitudes.length !== NN * C || g.offsets.length !== 2 * C) {
      throw new DataError(
        'MIXED_GROUPS',
        `group ${g.index} has C=${g.indices.length}, ${g.amplitudes.length} amplitude values; the batch holds C=${C}, N=${N}`,
      );
    }
    if (view === undefined) X.set(g.amplitudes, b * NN * C);
    coords.set(g.offsets, b * 2 * C);
    centers[2 * b] = g.center[0];
    centers[2 * b + 1] = g.center[1];
    indices.set(g.indices, b * C);
    ids[b] = g.index;
  });
  return { size: B, N, C, X, coords, centers, indices, groups: ids };
}

/**
 * packBatch for groups this stage owns (it received them): when X is a copy
 * the groups are released at once; when X is a view over their memory the
 * Batch carries a release that releases them (tensorify calls it).
 */
function owned(groups: readonly Group[]): Batch {
  const b = packBatch(groups);
  if (b.X.buffer !== groups[0]!.amplitudes.buffer) {
    for (const g of groups) g.release?.();
    return b;
  }
  if (groups.every((g) => g.release === undefined)) return b;
  let released = false;
  return {
    ...b,
    release: () => {
      if (released) return;
      released = true;
      for (const g of groups) g.release?.();
    },
  };
}

/** The groups a Batch was packed from (copies). */
export function unpackBatch(batch: Batch): Group[] {
  const { size, N, C } = batch;
  const per = N * N * C;
  const out: Group[] = [];
  for (let b = 0; b < size; b++) {
    out.push({
      index: batch.groups[b]!,
      indices: batch.indices.slice(b * C, (b + 1) * C),
      center: [batch.centers[2 * b]!, batch.centers[2 * b + 1]!],
      offsets: batch.coords.slice(b * 2 * C, (b + 1) * 2 * C),
      amplitudes: batch.X.slice(b * per, (b + 1) * per),
    });
  }
  return out;
}

export default defineTransform({
  kind: 'transform',
  accepts: [['group']],
  emits: 'batch',
  type: 'batch',
  description: 'Packs groups into batches of contiguous typed arrays.',
  options: z
    .object({
      batch_size: z.number().int().positive().default(16).describe('Groups per batch.'),
      drop_remainder: z.boolean().default(false).describe('Drop the last batch when it is short.'),
    })
    .strict(),
  async create(o, { ctx, inputs }) {
    const input = requireInput<Group>(ctx, inputs, 'batch', ['group']);
    const n = input.meta.count;
    const count = n === undefined ? undefined : o.drop_remainder ? Math.floor(n / o.batch_size) : Math.ceil(n / o.batch_size);
    const stream: Stream<Batch> = {
      meta: { ...input.meta, record: 'batch', batchSize: o.batch_size, ...(count === undefined ? {} : { count }) },
      open(signal: AbortSignal): AsyncIterable<Batch> {
        return (async function* () {
          let pending: Group[] = [];
          for await (const g of input.open(signal)) {
            signal.throwIfAborted();
            pending.push(g);
            if (pending.length === o.batch_size) {
              const b = owned(pending);
              pending = [];
              yield b;
            }
          }
          if (pending.length > 0 && !o.drop_remainder) yield owned(pending);
          else for (const g of pending) g.release?.();
        })();
      },
    };
    return stream;
  },
});

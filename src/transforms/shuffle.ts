// The `shuffle` transform. When its input offers random access to groups
// (Stream.groups, a typed capability its producer set on purpose), it shuffles indices: free in memory, a fresh permutation per
// epoch derived from (seed, epoch), epoch = how many times the stream has been
// opened. Otherwise it shuffles through a seeded bounded buffer of
// `buffer_size` records (also reseeded per epoch).
import { z } from 'zod';
import type { Stream } from '../pipeline/types.js';
import { defineTransform } from '../pipeline/types.js';
import { bufferShuffle } from '../util/buffer-shuffle.js';
import { Rng } from '../util/rng.js';
import { defaultReadWindow, requireInput, streamGroups } from './util.js';
import { stageSeed } from '../core/options.js';

export { bufferShuffle };

export default defineTransform({
  kind: 'transform',
  accepts: [['frame', 'group', 'batch', 'other']],
  emits: 'same',
  type: 'shuffle',
  description: 'Shuffles records: group indices when random access exists, else through a seeded bounded buffer; a new order every epoch.',
  options: z
    .object({
      buffer_size: z.number().int().positive().default(1024).describe('Records held by the buffer shuffle (used when the input has no random access).'),
      seed: stageSeed(),
      read_window: z
        .number()
        .int()
        .min(1)
        .optional()
        .describe(
          'Groups read together when shuffling by index (the next windows are read while this one is consumed). Default: 2 MiB worth of groups (4 to 64), as in group.',
        ),
    })
    .strict(),
  async create(o, { ctx, inputs }) {
    const input = requireInput<unknown>(ctx, inputs, 'shuffle', ['frame', 'group', 'batch', 'other']);
    const seed = o.seed ?? ctx.seed;
    const index = input.groups;
    let epoch = 0;
    ctx.log.debug(index === undefined ? `buffer shuffle of ${o.buffer_size} records` : `index shuffle over ${index.count} groups`);
    const stream: Stream<unknown> = {
      // No capability passed on: the order is no longer the index order.
      meta: input.meta,
      open(signal: AbortSignal): AsyncIterable<unknown> {
        const rng = Rng.derive(seed, 'shuffle', epoch++);
        if (index === undefined) return bufferShuffle(input.open(signal), o.buffer_size, rng, signal);
        const perm = rng.permutation(index.count);
        return streamGroups(index, perm.length, (k) => perm[k]!, o.read_window ?? defaultReadWindow(index.groupBytes), signal);
      },
    };
    return stream;
  },
});

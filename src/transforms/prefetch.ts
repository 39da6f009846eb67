// The `prefetch` transform: pulls up to `n` records ahead of the consumer, so
// reading and grouping overlap with the consumer's work (training steps). On
// early exit or abort it waits for the pull in flight, disposes records the
// consumer never saw (TensorBatches) and closes the upstream; upstream errors
// are kept and rethrown to the consumer, never left as dangling rejections.
import { z } from 'zod';
import { OptionsError } from '../errors.js';
import type { Stream } from '../pipeline/types.js';
import { ANY_RECORD, defineTransform } from '../pipeline/types.js';
import { disposeRecord } from './util.js';

export function prefetchIterable<T>(upstream: Stream<T>, n: number, signal: AbortSignal): AsyncIterable<T> {
  return (async function* () {
    const it = upstream.open(signal)[Symbol.asyncIterator]();
    const queue: T[] = [];
    let done = false;
    let failed = false;
    let error: unknown;
    let stopped = false;
    let wake: (() => void) | undefined;
    let space: (() => void) | undefined;
    const notify = (): void => {
      const w = wake;
      wake = undefined;
      w?.();
    };
    const producer = (async () => {
      try {
        while (!stopped) {
          if (queue.length >= n) {
            await new Promise<void>((r) => (space = r));
            continue;
          }
          const r = await it.next();
          if (r.done === true) break;
          if (stopped) {
            disposeRecord(r.value);
            break;
          }
          queue.push(r.value);
          notify();
        }
      } catch (e) {
        failed = true;
        error = e;
      } finally {
        done = true;
        notify();
      }
    })();
    const onAbort = (): void => notify();
    signal.addEventListener('abort', onAbort);
    try {
      for (;;) {
        signal.throwIfAborted();
        const next = queue.shift();
        if (next !== undefined) {
          const s = space;
          space = undefined;
          s?.();
          yield next;
          continue;
        }
        if (done) {
          if (failed) throw error;
          return;
        }
        await new Promise<void>((r) => (wake = r));
      }
    } finally {
      signal.removeEventListener('abort', onAbort);
      stopped = true;
      const s = space;
      space = undefined;
      s?.();
      await producer;
      for (const r of queue.splice(0)) disposeRecord(r);
      await it.return?.()?.catch(() => undefined);
    }
  })();
}

export default defineTransform({
  kind: 'transform',
  accepts: [ANY_RECORD],
  emits: 'same',
  type: 'prefetch',
  description: 'Pulls up to n records ahead of the consumer, concurrently with it.',
  options: z
    .object({
      n: z.number().int().positive().default(2).describe('Records (batches) held ready ahead of the consumer.'),
    })
    .strict(),
  async create(o, { inputs, ctx }) {
    const input = inputs[0];
    if (input === undefined) throw new OptionsError('NO_INPUT', 'prefetch needs one input stream', { stage: ctx.id });
    const stream: Stream<unknown> = {
      meta: input.meta,
      open: (signal: AbortSignal) => prefetchIterable(input, o.n, signal),
    };
    return stream;
  },
});

// Ordered concurrent map: applies an async function to a stream's records with
// up to `concurrency` calls in flight (p-limit) and yields results in input
// order. The `map` stage (map-stage.ts, `stages.map(fn, { concurrency })`)
// is built on it. The sources' block reads do not use it: the runs of one
// read are all needed at once and libuv's thread pool already bounds the
// positioned reads in flight (group and shuffle read frames in windows: one
// read per window beats many small concurrent reads). Read-ahead is
// bounded by 2 × concurrency; on early exit the pending calls are awaited
// (their errors swallowed) and the source is closed.
import pLimit from 'p-limit';
import { OptionsError } from '../errors.js';

export function mapOrdered<T, U>(source: AsyncIterable<T>, fn: (item: T, position: number) => Promise<U>, concurrency = 2): AsyncIterable<U> {
  if (!Number.isInteger(concurrency) || concurrency < 1) {
    throw new OptionsError('BAD_CONCURRENCY', `concurrency must be a positive integer, got ${concurrency}`);
  }
  return {
    async *[Symbol.asyncIterator]() {
      const limit = pLimit(concurrency);
      const window = 2 * concurrency;
      const pending: Promise<U>[] = [];
      const it = source[Symbol.asyncIterator]();
      let position = 0;
      let exhausted = false;
      let stopped = false;
      try {
        for (;;) {
          while (!exhausted && pending.length < window) {
            const r = await it.next();
            if (r.done === true) {
              exhausted = true;
              break;
            }
            const at = position;
            const p = limit(() => (stopped ? Promise.reject(new Error('mapOrdered stopped')) : fn(r.value, at)));
            position++;
            // Marked handled now; the rejection still reaches the consumer when awaited in order.
            p.catch(() => undefined);
            pending.push(p);
          }
          const head = pending.shift();
          if (head === undefined) return;
          yield await head;
        }
      } finally {
        // Queued calls are skipped, running ones finish; none is left unsettled.
        stopped = true;
        await Promise.allSettled(pending);
        if (!exhausted) await it.return?.();
      }
    },
  };
}

// A seeded bounded shuffle of any async stream: records held in a buffer of
// `size` and drawn at random as new ones arrive. Used by the shuffle stage
// and by the engines that visit frames in random order without random access.
import type { Rng } from './rng.js';

/** Buffer shuffle: keeps up to `size` records, emits a random one as each new one arrives. */
export async function* bufferShuffle<T>(source: AsyncIterable<T>, size: number, rng: Rng, signal: AbortSignal): AsyncGenerator<T> {
  const buf: T[] = [];
  for await (const r of source) {
    signal.throwIfAborted();
    if (buf.length < size) {
      buf.push(r);
      continue;
    }
    const j = rng.int(size);
    const out = buf[j]!;
    buf[j] = r;
    yield out;
  }
  rng.shuffle(buf);
  while (buf.length > 0) {
    signal.throwIfAborted();
    yield buf.pop()!;
  }
}

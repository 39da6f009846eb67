// A synthetic in-memory scan for the transform tests: seeded random positions,
// frames whose values encode their index (so tests can tell which frame went
// where), a FrameStore that counts reads, and counters showing that each
// opened generator's `finally` ran.
import type { Frame, FrameStore, ScanMeta, Stream } from '../../src/pipeline/types.js';
import { Rng } from '../../src/util/rng.js';

export interface SyntheticScan extends Stream<Frame> {
  readonly stats: { opens: number; finished: number; reads: number };
}

/** Frame i: value (i + 1) · (1 + p / NN) at pixel p, so frames differ and are positive. */
export function frameValue(i: number, p: number, NN: number): number {
  return (i + 1) * (1 + p / NN);
}

export function syntheticScan(n: number, N = 4, seed = 5, extent = 100): SyntheticScan {
  const rng = new Rng(seed);
  const xcoords = new Float64Array(n);
  const ycoords = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    xcoords[i] = rng.uniform() * extent;
    ycoords[i] = rng.uniform() * extent;
  }
  const NN = N * N;
  const make = (i: number): Float32Array => Float32Array.from({ length: NN }, (_, p) => frameValue(i, p, NN));
  const stats = { opens: 0, finished: 0, reads: 0 };
  const frames: FrameStore = {
    count: n,
    N,
    async read(i) {
      stats.reads++;
      return make(i);
    },
    async readMany(ids) {
      stats.reads += ids.length;
      return ids.map(make);
    },
    async close() {},
  };
  const scan: ScanMeta = {
    N,
    count: n,
    xcoords,
    ycoords,
    probe: { height: N, width: N, re: new Float32Array(NN).fill(1), im: new Float32Array(NN) },
    origin: 'synthetic',
  };
  return {
    stats,
    meta: { record: 'frame', scan, count: n },
    frames,
    open(signal: AbortSignal): AsyncIterable<Frame> {
      return (async function* () {
        stats.opens++;
        try {
          for (let i = 0; i < n; i++) {
            signal.throwIfAborted();
            await Promise.resolve();
            yield { index: i, x: xcoords[i]!, y: ycoords[i]!, amplitude: make(i) };
          }
        } finally {
          stats.finished++;
        }
      })();
    },
  };
}

/** Runs `fn` and returns the name of what it threw (AbortSignal reasons are DOMExceptions, which ava does not count as errors). */
export async function thrownName(fn: () => Promise<unknown>): Promise<string | undefined> {
  try {
    await fn();
    return undefined;
  } catch (e) {
    return (e as { name?: string }).name ?? String(e);
  }
}

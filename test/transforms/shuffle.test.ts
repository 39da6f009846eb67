// shuffle: a permutation of the input; index shuffle over groups is free and
// changes per epoch (deterministic per seed and epoch); buffer shuffle with a
// bounded buffer; empty input, early stop, abort, bad options.
import test from 'ava';
import fc from 'fast-check';
import type { Group, Stream } from '../../src/pipeline/types.js';
import { collect, collectStream, createStage, testContext } from '../../src/testing/index.js';
import group from '../../src/transforms/group.js';
import shuffle from '../../src/transforms/shuffle.js';
import { syntheticScan, thrownName } from './helpers.js';

const idx = async (s: Stream<unknown>): Promise<number[]> => ((await collectStream(s)) as { index: number }[]).map((r) => r.index);
const range = (n: number): number[] => [...Array(n).keys()];

test('index shuffle over groups: a permutation, new per epoch, same per (seed, epoch), no extra frame reads', async (t) => {
  const src = syntheticScan(40, 2);
  const g = (await createStage(group, { gridsize: 1, cache_frames: 1 }, [src])) as Stream<Group>;
  const s = await createStage(shuffle, {}, [g], testContext({ seed: 3 }));
  const readsBefore = src.stats.reads;
  const e0 = await idx(s);
  t.is(src.stats.reads - readsBefore, 40);
  t.is(src.stats.opens, 0); // never iterated the frames: only random access
  const e1 = await idx(s);
  t.deepEqual(
    [...e0].sort((a, b) => a - b),
    range(40),
  );
  t.notDeepEqual(e0, range(40));
  t.notDeepEqual(e0, e1);
  const s2 = await createStage(shuffle, {}, [g], testContext({ seed: 3 }));
  t.deepEqual(await idx(s2), e0);
  t.deepEqual(await idx(s2), e1);
});

test('property: buffer shuffle is a permutation for any buffer size', async (t) => {
  await fc.assert(
    fc.asyncProperty(fc.integer({ min: 0, max: 60 }), fc.integer({ min: 1, max: 80 }), fc.nat(), async (n, buffer_size, seed) => {
      const s = await createStage(shuffle, { buffer_size, seed }, [syntheticScan(n, 2)]);
      const out = await idx(s);
      return JSON.stringify([...out].sort((a, b) => a - b)) === JSON.stringify(range(n));
    }),
    { numRuns: 40 },
  );
  t.pass();
});

test('buffer shuffle displaces records by at most about the buffer size', async (t) => {
  const out = await idx(await createStage(shuffle, { buffer_size: 4 }, [syntheticScan(200, 2)]));
  // A record can leave the buffer only after it entered: position ≥ index − buffer_size.
  t.true(out.every((r, pos) => pos >= r - 4));
  t.notDeepEqual(out, range(200));
});

test('early stop and abort', async (t) => {
  const src = syntheticScan(30, 2);
  const s = await createStage(shuffle, { buffer_size: 5 }, [src]);
  t.is((await collect(s.open(new AbortController().signal), 3)).length, 3);
  t.is(src.stats.finished, src.stats.opens);
  const ac = new AbortController();
  t.is(
    await thrownName(async () => {
      for await (const _ of s.open(ac.signal)) ac.abort();
    }),
    'AbortError',
  );
  const g = await createStage(shuffle, {}, [await createStage(group, {}, [syntheticScan(30, 2)])]);
  const ac2 = new AbortController();
  t.is(
    await thrownName(async () => {
      for await (const _ of g.open(ac2.signal)) ac2.abort();
    }),
    'AbortError',
  );
  t.deepEqual(await collectStream(await createStage(shuffle, {}, [syntheticScan(0, 2)])), []);
});

test('bad options', (t) => {
  t.throws(() => shuffle.options.parse({ buffer_size: 0 }), { message: /buffer_size/ });
  t.throws(() => shuffle.options.parse({ buffer: 3 }), { message: /buffer/ });
});

// batch: pack/unpack round-trips (property), sizes and remainder, mixed groups
// rejected, empty input, early stop, abort, bad options.
import test from 'ava';
import fc from 'fast-check';
import { DataError } from '../../src/errors.js';
import type { Batch, Group } from '../../src/pipeline/types.js';
import { collect, collectStream, createStage, streamOf } from '../../src/testing/index.js';
import batch, { packBatch, unpackBatch } from '../../src/transforms/batch.js';
import { thrownName } from './helpers.js';

const f32 = fc.float({ noNaN: true, noDefaultInfinity: true });
const groupArb = (N: number, C: number): fc.Arbitrary<Group> =>
  fc.record({
    index: fc.nat(),
    indices: fc.array(fc.nat(), { minLength: C, maxLength: C }).map((a) => Int32Array.from(a)),
    center: fc.tuple(fc.double({ noNaN: true }), fc.double({ noNaN: true })),
    offsets: fc.float32Array({ minLength: 2 * C, maxLength: 2 * C, noNaN: true }),
    amplitudes: fc.array(f32, { minLength: N * N * C, maxLength: N * N * C }).map((a) => Float32Array.from(a)),
  });

test('property: unpackBatch(packBatch(groups)) gives the groups back, in order', (t) => {
  fc.assert(
    fc.property(
      fc.tuple(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 4 })).chain(([N, C]) => fc.array(groupArb(N, C), { minLength: 1, maxLength: 6 })),
      (groups) => {
        const b = packBatch(groups);
        const back = unpackBatch(b);
        t.is(b.size, groups.length);
        t.deepEqual(
          back,
          groups.map((g) => ({ ...g, center: [g.center[0], g.center[1]] })),
        );
      },
    ),
    { numRuns: 60 },
  );
});

test('packs batch_size groups; keeps or drops the remainder; meta.count follows', async (t) => {
  const groups = fc.sample(groupArb(2, 4), { numRuns: 10, seed: 3 }).map((g, i) => ({ ...g, index: i }));
  const src = streamOf<Group>(groups, { record: 'group' });
  const s = await createStage(batch, { batch_size: 4 }, [src]);
  const bs = (await collectStream(s)) as Batch[];
  t.deepEqual(
    bs.map((b) => b.size),
    [4, 4, 2],
  );
  t.is(s.meta.count, 3);
  t.deepEqual([...bs[1]!.groups], [4, 5, 6, 7]);
  t.deepEqual(bs[1]!.X.subarray(0, 16), groups[4]!.amplitudes);
  const d = await createStage(batch, { batch_size: 4, drop_remainder: true }, [src]);
  t.deepEqual(
    ((await collectStream(d)) as Batch[]).map((b) => b.size),
    [4, 4],
  );
  t.is(d.meta.count, 2);
});

test('mixed group shapes are a DataError; empty input gives no batch', async (t) => {
  const [a] = fc.sample(groupArb(2, 1), { numRuns: 1, seed: 1 });
  const [b] = fc.sample(groupArb(2, 4), { numRuns: 1, seed: 1 });
  t.throws(() => packBatch([a!, b!]), { instanceOf: DataError, message: /C=4/ });
  t.throws(() => packBatch([]), { instanceOf: DataError });
  t.deepEqual(await collectStream(await createStage(batch, {}, [streamOf<Group>([], { record: 'group' })])), []);
});

test('early stop and abort', async (t) => {
  let finished = 0;
  const groups = fc.sample(groupArb(2, 1), { numRuns: 40, seed: 2 });
  const src = {
    meta: { record: 'group' as const },
    open: (signal: AbortSignal) =>
      (async function* () {
        try {
          for (const g of groups) {
            signal.throwIfAborted();
            yield g;
          }
        } finally {
          finished++;
        }
      })(),
  };
  const s = await createStage(batch, { batch_size: 3 }, [src]);
  t.is((await collect(s.open(new AbortController().signal), 2)).length, 2);
  t.is(finished, 1);
  const ac = new AbortController();
  const name = await thrownName(async () => {
    for await (const _ of s.open(ac.signal)) ac.abort();
  });
  t.is(name, 'AbortError');
  t.is(finished, 2);
});

test('bad options', (t) => {
  t.throws(() => batch.options.parse({ batch_size: 0 }), { message: /batch_size/ });
  t.throws(() => batch.options.parse({ batchSize: 4 }), { message: /batchSize/ });
});

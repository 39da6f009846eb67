// split: parts are disjoint and cover the input (property, with and without
// random access), exact sizes by fraction, determinism per seed, spatial split,
// named outputs, sub-index for shuffle, empty input, early stop, abort, options.
import test from 'ava';
import fc from 'fast-check';
import type { Frame, Group, Stream } from '../../src/pipeline/types.js';
import { collect, collectStream, createStage, testContext } from '../../src/testing/index.js';
import group from '../../src/transforms/group.js';
import split from '../../src/transforms/split.js';
import simulate from '../../src/sources/simulate.js';
import { syntheticScan, thrownName } from './helpers.js';

const groups = async (n: number): Promise<Stream<Group>> => (await createStage(group, { gridsize: 1 }, [syntheticScan(n, 2)])) as Stream<Group>;
const ids = async (s: Stream<unknown> | undefined): Promise<number[]> => ((await collectStream(s!)) as { index: number }[]).map((r) => r.index);

test('property: parts are disjoint and cover the input (groups with random access, and plain frames)', async (t) => {
  await fc.assert(
    fc.asyncProperty(
      fc.integer({ min: 0, max: 40 }),
      fc.double({ min: 0, max: 1, noNaN: true }),
      fc.double({ min: 0, max: 1, noNaN: true }),
      fc.nat(),
      fc.boolean(),
      async (n, a, b, seed, indexed) => {
        const train = Math.min(a, 1);
        const validation = (1 - train) * b;
        const fractions = { train, validation, test: 1 - train - validation };
        const input: Stream<unknown> = indexed ? await groups(n) : syntheticScan(n, 2);
        const s = await createStage(split, { fractions, seed }, [input]);
        const parts = await Promise.all(['train', 'validation', 'test'].map((p) => ids(s.outputs![p])));
        const all = parts.flat().sort((x, y) => x - y);
        return JSON.stringify(all) === JSON.stringify([...Array(n).keys()]) && JSON.stringify(await ids(s)) === JSON.stringify(parts[0]);
      },
    ),
    { numRuns: 40 },
  );
  t.pass();
});

test('with random access: exact sizes, index order, a sub-index per part, deterministic per seed', async (t) => {
  const input = await groups(50);
  const s = await createStage(split, { fractions: { train: 0.6, validation: 0.2, test: 0.2 } }, [input], testContext({ seed: 4 }));
  const train = await ids(s.outputs!.train);
  t.is(train.length, 30);
  t.is((await ids(s.outputs!.validation)).length, 10);
  t.deepEqual(
    train,
    [...train].sort((x, y) => x - y),
  );
  t.is(s.meta.count, 30);
  const sub = s.outputs!.test!.groups!;
  t.is(sub.count, 10);
  t.is((await sub.get(0)).index, (await ids(s.outputs!.test))[0]!);
  const again = await createStage(split, { fractions: { train: 0.6, validation: 0.2, test: 0.2 } }, [input], testContext({ seed: 4 }));
  t.deepEqual(await ids(again), train);
  const other = await createStage(split, { fractions: { train: 0.6, validation: 0.2, test: 0.2 } }, [input], testContext({ seed: 5 }));
  t.notDeepEqual(await ids(other), train);
  t.is((await ids(await createStage(split, { fraction: 0.5 }, [input]))).length, 25);
});

test('spatial split by a coordinate threshold', async (t) => {
  const src = syntheticScan(60, 2);
  const s = await createStage(split, { axis: 'y', threshold: 50 }, [src]);
  const train = (await collectStream(s.outputs!.train!)) as Frame[];
  const testPart = (await collectStream(s.outputs!.test!)) as Frame[];
  t.true(train.every((f) => f.y < 50));
  t.true(testPart.every((f) => f.y >= 50));
  t.is(train.length + testPart.length, 60);
  t.deepEqual(await collectStream(s.outputs!.validation!), []);
  const g = await createStage(split, { axis: 'x', threshold: 30 }, [await groups(40)]);
  t.true(((await collectStream(g)) as Group[]).every((r) => r.center[0] < 30));
});

test('early stop and abort reach the source', async (t) => {
  const src = syntheticScan(50, 2);
  const s = await createStage(split, { fraction: 0.5 }, [src]);
  t.is((await collect(s.open(new AbortController().signal), 2)).length, 2);
  t.is(src.stats.finished, src.stats.opens);
  const ac = new AbortController();
  t.is(
    await thrownName(async () => {
      for await (const _ of s.open(ac.signal)) ac.abort();
    }),
    'AbortError',
  );
  t.is(src.stats.finished, src.stats.opens);
});

test('bad options say what is wrong', (t) => {
  t.throws(() => split.options.parse({ fractions: { train: 0.5, validation: 0.1, test: 0.1 } }), { message: /sum to 1/ });
  t.throws(() => split.options.parse({ fraction: 0.5, fractions: { train: 1 } }), { message: /either/ });
  t.throws(() => split.options.parse({ axis: 'x' }), { message: /threshold/ });
  t.throws(() => split.options.parse({ fraction: 1.5 }), { message: /fraction/ });
  t.throws(() => split.options.parse({ ratio: 0.5 }), { message: /ratio/ });
});

test('by: scan holds out whole scans, deterministically per seed', async (t) => {
  const scanOf = (meta: { scan?: { scanIndex?: Int32Array } }, gs: Group[]): number[] =>
    [...new Set(gs.map((g) => meta.scan!.scanIndex![g.indices[0]!]!))].sort();
  const run = async (seed: number): Promise<Record<string, number[]>> => {
    const sim = await createStage(
      simulate,
      { N: 16, object: { kind: 'family', size: 32 }, scan: { pattern: 'spiral', step: 3 }, nphotons: 1e4, scans: 6 },
      [],
      testContext({ id: 'sim', seed: 3 }),
    );
    const grouped = (await createStage(group, { gridsize: 2 }, [sim])) as Stream<Group>;
    const s = await createStage(split, { by: 'scan', fractions: { train: 0.5, validation: 0.25, test: 0.25 }, seed }, [grouped]);
    const out: Record<string, number[]> = {};
    let total = 0;
    for (const p of ['train', 'validation', 'test']) {
      const gs = (await collectStream(s.outputs![p]!)) as Group[];
      total += gs.length;
      // Every member of every group belongs to the part's scans.
      const scans = scanOf(grouped.meta, gs);
      for (const g of gs) for (const m of g.indices) t.true(scans.includes(grouped.meta.scan!.scanIndex![m]!));
      out[p] = scans;
    }
    t.is(total, grouped.meta.count ?? -1);
    await sim.close?.();
    return out;
  };
  const a = await run(1);
  t.deepEqual([...a.train!, ...a.validation!, ...a.test!].sort(), [0, 1, 2, 3, 4, 5], 'the parts partition the scans');
  t.is(a.train!.length, 3);
  t.deepEqual(await run(1), a, 'same seed, same scans held out');
  t.throws(() => split.options.parse({ by: 'scan', axis: 'x', threshold: 1 }));
});

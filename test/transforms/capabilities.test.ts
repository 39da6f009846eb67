// Regression tests for typed capabilities, written as a user writes plugins
// from the README: a stage that spreads `...input.meta` and changes records
// passes on no random access, so the stages after it work on what it yields
// (shuffle and split buffer, group spills) instead of reading around it; and
// what group leaves out is the source's knowledge, whichever stage read first.
import path from 'node:path';
import test from 'ava';
import type { Frame, Group, Stream } from '../../src/pipeline/types.js';
import npzSource from '../../src/sources/npz.js';
import group from '../../src/transforms/group.js';
import normalize from '../../src/transforms/normalize.js';
import shuffle from '../../src/transforms/shuffle.js';
import split from '../../src/transforms/split.js';
import { collectStream, createStage, testContext } from '../../src/testing/index.js';
import { threshold } from '../../examples/plugins/threshold.js';
import { syntheticScan } from './helpers.js';

const FIX = path.resolve(import.meta.dirname, '../fixtures/npz');

/** A user's group filter, as the example plugin is written: spreads meta, filters records. */
function centreBelow(input: Stream<Group>, limit: number): Stream<Group> {
  return {
    meta: { ...input.meta },
    open(signal) {
      return (async function* () {
        for await (const g of input.open(signal)) if (g.center[0] < limit) yield g;
      })();
    },
  };
}

/** A user's frame transform that maps the stream and offers no random access. */
function doubled(input: Stream<Frame>): Stream<Frame> {
  return {
    meta: { ...input.meta },
    open(signal) {
      return (async function* () {
        for await (const f of input.open(signal)) yield { ...f, amplitude: f.amplitude.map((v) => 2 * v) };
      })();
    },
  };
}

test('a group filter before shuffle and before split is respected: same count with and without them', async (t) => {
  const grouped = (await createStage(group, { gridsize: 2, k: 6 }, [syntheticScan(120, 2)])) as Stream<Group>;
  const filtered = centreBelow(grouped, 40);
  const direct = await collectStream(filtered);
  t.true(direct.length > 0 && direct.length < 120, `${direct.length} groups kept`);
  const shuffled = (await createStage(shuffle, { buffer_size: 16 }, [filtered])) as Stream<Group>;
  const viaShuffle = await collectStream(shuffled);
  t.is(viaShuffle.length, direct.length);
  t.deepEqual(
    viaShuffle.map((g) => g.index).sort((a, b) => a - b),
    direct.map((g) => g.index).sort((a, b) => a - b),
  );
  t.true(viaShuffle.every((g) => g.center[0] < 40));
  const parts = await createStage(split, { fractions: { train: 0.6, validation: 0.2, test: 0.2 } }, [filtered]);
  let total = 0;
  for (const p of ['train', 'validation', 'test']) {
    const got = (await collectStream(parts.outputs![p]!)) as Group[];
    t.true(
      got.every((g) => g.center[0] < 40),
      `${p} holds only kept groups`,
    );
    total += got.length;
  }
  t.is(total, direct.length);
});

test('a frame transform that offers no random access before group is composed (spilled), never bypassed', async (t) => {
  const src = syntheticScan(60, 2);
  const plain = (await createStage(group, { gridsize: 2, k: 5 }, [src])) as Stream<Group>;
  const ctx = testContext({ id: 'group' });
  const viaSpill = (await createStage(group, { gridsize: 2, k: 5 }, [doubled(src)], ctx)) as Stream<Group>;
  try {
    t.is(viaSpill.meta.count, plain.meta.count);
    const a = await collectStream(plain);
    const b = await collectStream(viaSpill);
    t.is(b.length, a.length);
    for (let k = 0; k < a.length; k++) {
      t.deepEqual(b[k]!.indices, a[k]!.indices);
      t.deepEqual(
        b[k]!.amplitudes,
        a[k]!.amplitudes.map((v) => 2 * v),
      );
    }
    const again = await collectStream(viaSpill);
    t.deepEqual(
      again.map((g) => g.amplitudes),
      b.map((g) => g.amplitudes),
      're-iterable: the spill file is read again',
    );
  } finally {
    await viaSpill.close?.();
  }
});

test('a frame-map plugin before group changes what group emits', async (t) => {
  const src = syntheticScan(40, 2);
  const floor = 20;
  const clean = (await createStage(threshold, { floor }, [src])) as Stream<Frame>;
  t.not(clean.frames, undefined, 'a frame map offers random access when its input does');
  const groups = (await collectStream(await createStage(group, { gridsize: 1 }, [clean]))) as Group[];
  const raw = (await collectStream(await createStage(group, { gridsize: 1 }, [src]))) as Group[];
  t.is(groups.length, raw.length);
  let zeroed = 0;
  for (let k = 0; k < raw.length; k++) {
    for (let p = 0; p < raw[k]!.amplitudes.length; p++) {
      const v = raw[k]!.amplitudes[p]!;
      t.is(groups[k]!.amplitudes[p], v < floor ? 0 : v);
      if (v < floor) zeroed++;
    }
  }
  t.true(zeroed > 0, 'some values fell below the floor');
});

test('group leaves out the frames the source dropped, whichever stage read first', async (t) => {
  const open = async (): Promise<Stream<Frame>> =>
    (await createStage(npzSource, { path: 'bad_nan_frames.npz', on_error: 'skip' }, [], testContext({ id: 'scan', baseDir: FIX }))) as Stream<Frame>;
  const counts: number[] = [];
  const members = (gs: Group[]): Set<number> => new Set(gs.flatMap((g) => [...g.indices]));
  for (const chain of ['group first', 'normalize first', 'streamed first']) {
    const s = await open();
    try {
      if (chain === 'streamed first') await collectStream(s);
      const input = chain === 'normalize first' ? await createStage(normalize, {}, [s]) : s;
      const groups = (await collectStream(await createStage(group, { gridsize: 1 }, [input]))) as Group[];
      counts.push(groups.length);
      t.false(members(groups).has(5), `${chain}: pattern 5 left out`);
      t.false(members(groups).has(9), `${chain}: pattern 9 left out`);
    } finally {
      await s.close?.();
    }
  }
  t.deepEqual(counts, [34, 34, 34]);
});

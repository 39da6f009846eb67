// Windowed grouping (group with `window` on a stream without random access):
// with a window that holds the whole scan the groups are the whole-scan
// plan's; the output depends only on the arrival order; the buffer never
// holds more than the window; a live input is grouped in a window by default;
// with random access the option changes nothing.
import test from 'ava';
import type { Frame, Group, Stream } from '../../src/pipeline/types.js';
import { collectStream, createStage, testContext } from '../../src/testing/index.js';
import group, { GroupPlan } from '../../src/transforms/group.js';
import { WindowGrouper } from '../../src/transforms/group-window.js';
import { syntheticScan } from '../transforms/helpers.js';

/** The scan's frames as a plain stream (no random access), in the order given. */
function plain(src: ReturnType<typeof syntheticScan>, order?: readonly number[], live = false): Stream<Frame> {
  return {
    meta: { record: 'frame', scan: src.meta.scan!, ...(live ? { live: true } : {}) },
    open: (signal) =>
      (async function* () {
        const all: Frame[] = [];
        for await (const f of src.open(signal)) all.push(f);
        for (const i of order ?? all.map((f) => f.index)) yield all[i]!;
      })(),
  };
}

const key = (g: Group): string => `${g.index}:${[...g.indices].join(',')}`;

test('a window holding the whole scan gives the whole-scan plan’s groups (random positions: no ties)', async (t) => {
  const src = syntheticScan(40, 4, 11);
  const s = (await createStage(group, { gridsize: 2, k: 6, window: 128 }, [plain(src)], testContext({ id: 'g', seed: 3 }))) as Stream<Group>;
  const got = await collectStream(s);
  const { xcoords, ycoords } = src.meta.scan!;
  const plan = new GroupPlan(xcoords, ycoords, { gridsize: 2, k: 6, oversample: false, seed: 3 });
  t.is(got.length, 40);
  for (const g of got) {
    t.deepEqual([...g.indices], [...plan.members(g.index)], `group ${g.index}`);
    const { center, offsets } = plan.geometry(g.indices);
    t.deepEqual([...g.center], center);
    t.deepEqual([...g.offsets], [...offsets]);
    // HWC: channel c at pixel p is member c's value at p.
    t.is(g.amplitudes[4 * 3 + 1], (g.indices[1]! + 1) * (1 + 3 / 16));
  }
});

test('the groups depend only on the arrival order, and the buffer never exceeds the window', async (t) => {
  const src = syntheticScan(60, 4, 5);
  const order = Array.from({ length: 60 }, (_, i) => (i * 7) % 60);
  const run = async (): Promise<string[]> => collectStream((await createStage(group, { gridsize: 2, k: 5, window: 16 }, [plain(src, order)], testContext({ id: 'g' }))) as Stream<Group>).then((gs) => gs.map(key));
  const a = await run();
  t.deepEqual(await run(), a);
  t.is(a.length, 60);
  const w = new WindowGrouper({ gridsize: 2, k: 5, window: 16, seed: 1 });
  let most = 0;
  for await (const f of plain(src, order).open(new AbortController().signal)) {
    w.push(f);
    most = Math.max(most, (w as unknown as { buf: unknown[] }).buf.length);
  }
  t.is(most, 16);
});

test('a live input is grouped in a window by default; with random access the window is ignored', async (t) => {
  const src = syntheticScan(20, 4, 2);
  const live = (await createStage(group, { gridsize: 1 }, [plain(src, undefined, true)], testContext({ id: 'g' }))) as Stream<Group>;
  t.is(live.groups, undefined);
  t.is((await collectStream(live)).length, 20);
  const file = (await createStage(group, { gridsize: 2, window: 8 }, [src], testContext({ id: 'g' }))) as Stream<Group>;
  t.not(file.groups, undefined);
  await file.close?.();
});

test('windowed group refuses what it cannot do: oversample, a window smaller than K, a duplicate frame', async (t) => {
  const src = syntheticScan(10, 4, 2);
  await t.throwsAsync(createStage(group, { gridsize: 2, window: 16, oversample: true }, [plain(src)], testContext({ id: 'g' })), { code: 'BAD_OPTION' });
  await t.throwsAsync(createStage(group, { gridsize: 2, k: 7, window: 4 }, [plain(src)], testContext({ id: 'g' })), { code: 'BAD_WINDOW' });
  const s = (await createStage(group, { gridsize: 1, window: 8 }, [plain(src, [0, 1, 2, 1])], testContext({ id: 'g' }))) as Stream<Group>;
  await t.throwsAsync(collectStream(s), { code: 'DUPLICATE_FRAME' });
});

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
  const run = async (): Promise<string[]> =>
    collectStream((await createStage(group, { gridsize: 2, k: 5, window: 16 }, [plain(src, order)], testContext({ id: 'g' }))) as Stream<Group>).then((gs) =>
      gs.map(key),
    );
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

test('a seconds window decides each seed S/2 s after it arrived and keeps frames S s, whatever the frame window', async (t) => {
  const src = syntheticScan(40, 4, 7);
  const frames: Frame[] = [];
  for await (const f of src.open(new AbortController().signal)) frames.push(f);
  const run = (): { decided: number[][]; most: number; keys: string[] } => {
    // One frame every 100 ms; S = 1 s, so a seed is due when the frame 5 after it arrives.
    let clock = 0;
    const w = new WindowGrouper({ gridsize: 2, k: 5, window: 64, seconds: 1, seed: 2, now: () => clock });
    const decided: number[][] = [],
      keys: string[] = [];
    let most = 0;
    for (const [j, f] of frames.entries()) {
      clock = 100 * j;
      const gs = w.push(f);
      decided.push(gs.map((g) => g.index));
      keys.push(...gs.map(key));
      most = Math.max(most, (w as unknown as { buf: unknown[] }).buf.length);
    }
    keys.push(...w.finish().map(key));
    return { decided, most, keys };
  };
  const a = run();
  a.decided.forEach((d, j) => t.deepEqual(d, j >= 5 ? [j - 5] : [], `after frame ${j}`));
  // Frames up to 1 s old stay: 11 at 10 frames/s (a frame window of 64 alone would keep 40).
  t.is(a.most, 11);
  t.is(a.keys.length, 40);
  t.deepEqual(run().keys, a.keys);
  const s = (await createStage(group, { gridsize: 2, k: 5, window: { frames: 32, seconds: 30 } }, [plain(src)], testContext({ id: 'g' }))) as Stream<Group>;
  t.is((await collectStream(s)).length, 40);
  await t.throwsAsync(createStage(group, { gridsize: 2, window: { seconds: 0 } }, [plain(src)], testContext({ id: 'g' })));
  await t.throwsAsync(createStage(group, { gridsize: 2, window: { minutes: 1 } }, [plain(src)], testContext({ id: 'g' })));
});

test('frames that come after a group they would have joined was decided are counted and warned about', async (t) => {
  const src = syntheticScan(40, 4, 9);
  const frames: Frame[] = [];
  for await (const f of src.open(new AbortController().signal)) frames.push(f);
  const late = (order: readonly number[], window: number): number => {
    const w = new WindowGrouper({ gridsize: 2, k: 5, window, seed: 1 });
    for (const i of order) w.push(frames[i]!);
    w.finish();
    return w.late;
  };
  const inOrder = frames.map((f) => f.index);
  // Frame 0 held back to the end: with a window of 8, seeds near it were decided long before.
  const heldBack = [...inOrder.slice(1), 0];
  // A window whose lookahead (64) outlasts the scan decides nothing before the end.
  t.is(late(heldBack, 128), 0);
  t.is(late(inOrder, 128), 0);
  // These positions are random: in index order a short window misses neighbours too.
  t.true(late(inOrder, 16) > late(inOrder, 32));
  t.true(late(heldBack, 8) >= 1);
  const warnings: string[] = [];
  const ctx = testContext({ id: 'g' });
  ctx.log.warn = (m: string): void => void warnings.push(m);
  await collectStream((await createStage(group, { gridsize: 2, k: 5, window: 8 }, [plain(src, heldBack)], ctx)) as Stream<Group>);
  t.true(
    warnings.some((m) => /arrived after a group they would have joined was decided/.test(m)),
    warnings.join('\n'),
  );
});

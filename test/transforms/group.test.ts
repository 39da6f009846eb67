// group: members among the seed's K nearest, offsets = centre − position, HWC
// amplitudes from the frame store, order-independent determinism, gridsize 1,
// n_groups/oversample, bounded frame cache, empty input, early stop, abort,
// bad options.
import test from 'ava';
import fc from 'fast-check';
import { DataError, OptionsError } from '../../src/errors.js';
import type { Frame, Group, Stream } from '../../src/pipeline/types.js';
import { collect, collectStream, createStage, streamOf, testContext } from '../../src/testing/index.js';
import group, { GroupPlan, interleaveInto } from '../../src/transforms/group.js';
import { frameValue, syntheticScan, thrownName } from './helpers.js';

const make = async (src: Stream<Frame>, o: Record<string, unknown>, seed = 1): Promise<Stream<Group>> =>
  (await createStage(group, o, [src], testContext({ id: 'group', seed }))) as Stream<Group>;

test('property: members are distinct and among the seed’s K nearest; offsets = centre − position; amplitudes HWC', async (t) => {
  await fc.assert(
    fc.asyncProperty(fc.integer({ min: 4, max: 40 }), fc.integer({ min: 1, max: 3 }), fc.integer({ min: 0, max: 4 }), fc.nat(), async (n, g, extraK, seed) => {
      const C = g * g;
      fc.pre(n >= C);
      const k = C + extraK;
      const src = syntheticScan(n, 2, seed);
      const s = await make(src, { gridsize: g, k }, seed);
      const { xcoords: xs, ycoords: ys } = src.meta.scan!;
      const plan = new GroupPlan(xs, ys, { gridsize: g, k, oversample: false, seed });
      const groups = await collectStream(s);
      if (groups.length !== n) return false;
      for (const gr of groups) {
        const sd = plan.seedOf(gr.index);
        const d = (m: number): number => Math.hypot(xs[m]! - xs[sd]!, ys[m]! - ys[sd]!);
        const all = Array.from({ length: n }, (_, m) => d(m)).sort((a, b) => a - b);
        const dK = all[Math.min(k, n) - 1]!;
        if (new Set(gr.indices).size !== C) return false;
        let cx = 0;
        let cy = 0;
        for (const m of gr.indices) {
          if (d(m) > dK + 1e-9) return false;
          cx += xs[m]! / C;
          cy += ys[m]! / C;
        }
        if (Math.abs(gr.center[0] - cx) > 1e-9 || Math.abs(gr.center[1] - cy) > 1e-9) return false;
        for (let c = 0; c < C; c++) {
          const m = gr.indices[c]!;
          if (Math.abs(gr.offsets[c]! - (cx - xs[m]!)) > 1e-3 || Math.abs(gr.offsets[C + c]! - (cy - ys[m]!)) > 1e-3) return false;
          for (let p = 0; p < 4; p++) if (gr.amplitudes[p * C + c] !== Math.fround(frameValue(m, p, 4))) return false;
        }
      }
      return true;
    }),
    { numRuns: 40 },
  );
  t.pass();
});

test('property: excluded positions are never seeds or members; members are among the K nearest kept positions', (t) => {
  fc.assert(
    fc.property(fc.integer({ min: 8, max: 40 }), fc.integer({ min: 1, max: 2 }), fc.nat(), fc.array(fc.nat(), { maxLength: 4 }), (n, g, seed, drops) => {
      const C = g * g;
      const k = C + 2;
      const exclude = new Set(drops.map((d) => d % n));
      const { xcoords: xs, ycoords: ys } = syntheticScan(n, 2, seed).meta.scan!;
      const plan = new GroupPlan(xs, ys, { gridsize: g, k, oversample: false, seed, exclude });
      const kept = Array.from({ length: n }, (_, i) => i).filter((i) => !exclude.has(i));
      if (plan.count !== kept.length || plan.positions !== kept.length) return false;
      const seeds = new Set<number>();
      for (let i = 0; i < plan.count; i++) {
        const sd = plan.seedOf(i);
        seeds.add(sd);
        const d = (m: number): number => Math.hypot(xs[m]! - xs[sd]!, ys[m]! - ys[sd]!);
        const dK = kept.map(d).sort((a, b) => a - b)[Math.min(k, kept.length) - 1]!;
        for (const m of plan.members(i)) if (exclude.has(m) || d(m) > dK + 1e-9) return false;
      }
      return seeds.size === kept.length && kept.every((i) => seeds.has(i));
    }),
    { numRuns: 60 },
  );
  t.pass();
});

test('property: the same seed gives the same groups whatever order they are requested in', async (t) => {
  await fc.assert(
    fc.asyncProperty(fc.integer({ min: 4, max: 30 }), fc.nat(), fc.nat(), async (n, seed, shuffleSeed) => {
      const s = await make(syntheticScan(n, 2, 9), { gridsize: 2, k: 6 }, seed);
      const inOrder = await collectStream(s);
      const index = s.groups!;
      const fresh = (await make(syntheticScan(n, 2, 9), { gridsize: 2, k: 6 }, seed)).groups!;
      const order = fc.sample(fc.shuffledSubarray([...Array(n).keys()], { minLength: n, maxLength: n }), { numRuns: 1, seed: shuffleSeed })[0]!;
      for (const i of order) {
        const g = await fresh.get(i);
        if (JSON.stringify([...g.indices]) !== JSON.stringify([...inOrder[i]!.indices])) return false;
      }
      return index.count === n && JSON.stringify((await collectStream(s)).map((g) => [...g.indices])) === JSON.stringify(inOrder.map((g) => [...g.indices]));
    }),
    { numRuns: 20 },
  );
  t.pass();
});

test('another seed gives other groups; gridsize 1 is one position with zero offsets', async (t) => {
  const a = (await collectStream(await make(syntheticScan(30, 2), { gridsize: 2 }, 1))).map((g) => [...g.indices]);
  const b = (await collectStream(await make(syntheticScan(30, 2), { gridsize: 2 }, 2))).map((g) => [...g.indices]);
  t.notDeepEqual(a, b);
  const ones = await collectStream(await make(syntheticScan(10, 2), {}));
  t.deepEqual(
    ones.map((g) => [...g.indices]),
    [...Array(10).keys()].map((i) => [i]),
  );
  t.true(ones.every((g) => g.offsets.every((v) => v === 0)));
});

test('n_groups below the count draws distinct seeds; oversample allows more groups than positions', async (t) => {
  const src = syntheticScan(20, 2);
  const some = await make(src, { gridsize: 1, n_groups: 8 });
  const got = (await collectStream(some)).map((g) => g.indices[0]);
  t.is(got.length, 8);
  t.is(new Set(got).size, 8);
  t.is((await collectStream(await make(src, { gridsize: 2, n_groups: 50 }))).length, 20);
  const over = await make(src, { gridsize: 2, n_groups: 50, oversample: true });
  t.is(over.meta.count, 50);
  t.is((await collectStream(over)).length, 50);
});

test('frames come through the bounded cache: far fewer reads than members', async (t) => {
  const src = syntheticScan(200, 2);
  await collectStream(await make(src, { gridsize: 2, cache_frames: 64 }));
  t.true(src.stats.reads < 200 * 4 * 0.75, `reads ${src.stats.reads}`);
  t.true(src.stats.reads >= 200);
});

test('empty input gives no groups; too few positions or k < C are clear errors', async (t) => {
  t.deepEqual(await collectStream(await make(syntheticScan(0, 2), { gridsize: 2 })), []);
  await t.throwsAsync(make(syntheticScan(3, 2), { gridsize: 2 }), { instanceOf: DataError, message: /fewer than C = 4/ });
  await t.throwsAsync(make(syntheticScan(10, 2), { gridsize: 3, k: 7 }), { instanceOf: OptionsError, message: /k = 7/ });
  // A pure stream (no random access) is spilled: empty in, no groups out.
  t.deepEqual(await collectStream(await createStage(group, {}, [streamOf<Frame>([], { record: 'frame' })])), []);
  t.throws(() => group.options.parse({ gridsize: 0 }), { message: /gridsize/ });
  t.throws(() => group.options.parse({ K: 4 }), { message: /K/ });
});

test('early stop closes the concurrent reader; abort stops it', async (t) => {
  const s = await make(syntheticScan(100, 2), { gridsize: 2 });
  t.is((await collect(s.open(new AbortController().signal), 5)).length, 5);
  const ac = new AbortController();
  let n = 0;
  const name = await thrownName(async () => {
    for await (const _ of s.open(ac.signal)) if (++n === 3) ac.abort();
  });
  t.is(name, 'AbortError');
  t.true(n <= 3);
});

test('property: interleaveInto writes factor · frame (after √ for intensities) in HWC order at the offset, nothing else', (t) => {
  fc.assert(
    fc.property(
      fc.constantFrom(1, 2, 3, 4, 9),
      fc.integer({ min: 1, max: 7 }),
      fc.constantFrom(1, 2.5, 0.3),
      fc.boolean(),
      fc.nat({ max: 5 }),
      (C, N, factor, intensity, offset) => {
        const NN = N * N;
        const frames = Array.from({ length: C }, (_, c) => Float32Array.from({ length: NN }, (_, p) => 1 + c * 100 + p * 0.37));
        const out = new Float32Array(offset + NN * C + 3).fill(-7);
        interleaveInto(frames, NN, out, offset, factor, intensity);
        for (let p = 0; p < NN; p++) {
          for (let c = 0; c < C; c++) {
            const v = frames[c]![p]!;
            if (out[offset + p * C + c] !== Math.fround(factor * (intensity ? Math.sqrt(v) : v))) return false;
          }
        }
        return out.subarray(0, offset).every((v) => v === -7) && out.subarray(offset + NN * C).every((v) => v === -7);
      },
    ),
  );
  t.pass();
});

test('property: with several scans over the same area, groups never mix scans; members are among the K nearest of their own scan', (t) => {
  fc.assert(
    fc.property(fc.integer({ min: 8, max: 30 }), fc.integer({ min: 2, max: 4 }), fc.integer({ min: 1, max: 2 }), fc.nat(), (n, K, g, seed) => {
      const C = g * g;
      const k = C + 2;
      // K scans of n positions each, all drawn over the same area, so spatial neighbours cross scans.
      const xs = new Float64Array(n * K),
        ys = new Float64Array(n * K),
        scanIndex = new Int32Array(n * K);
      for (let s = 0; s < K; s++) {
        const { xcoords, ycoords } = syntheticScan(n, 2, seed + s).meta.scan!;
        xs.set(xcoords, s * n);
        ys.set(ycoords, s * n);
        scanIndex.fill(s, s * n, (s + 1) * n);
      }
      const plan = new GroupPlan(xs, ys, { gridsize: g, k, oversample: false, seed, scanIndex });
      if (plan.count !== n * K) return false;
      for (let i = 0; i < plan.count; i++) {
        const sd = plan.seedOf(i);
        const own = Array.from({ length: n * K }, (_, j) => j).filter((j) => scanIndex[j] === scanIndex[sd]);
        const d = (m: number): number => Math.hypot(xs[m]! - xs[sd]!, ys[m]! - ys[sd]!);
        const dK = own.map(d).sort((a, b) => a - b)[Math.min(k, own.length) - 1]!;
        for (const m of plan.members(i)) if (scanIndex[m] !== scanIndex[sd] || d(m) > dK + 1e-9) return false;
      }
      return true;
    }),
    { numRuns: 40 },
  );
  t.pass();
});

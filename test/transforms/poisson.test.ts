// The poisson transform: mean counts per pattern at the dose, determinism per
// seed and per frame, the wrapped FrameStore equal to the stream, bad frames
// under the error policy.
import test from 'ava';
import { DataError, OptionsError } from '../../src/errors.js';
import type { Frame, FrameStore, Stream } from '../../src/pipeline/types.js';
import simulate from '../../src/sources/simulate.js';
import { collectStream, createStage, streamOf, testContext } from '../../src/testing/index.js';
import poisson from '../../src/transforms/poisson.js';
import { Rng } from '../../src/util/rng.js';

async function clean(): Promise<Stream<Frame>> {
  const opts = { N: 16, object: { kind: 'grf', size: 48, correlation_length: 2 }, scan: { step: 8 }, noise: 'none' };
  return (await createStage(simulate, opts, [], testContext({ id: 'sim', seed: 3 }))) as Stream<Frame>;
}

async function degrade(input: Stream<unknown>, options: Record<string, unknown>, seed = 1): Promise<Stream<Frame>> {
  return (await createStage(poisson, options, [input], testContext({ id: 'dose', seed }))) as Stream<Frame>;
}

function meanEnergy(frames: readonly Frame[]): number {
  let s = 0;
  for (const f of frames) for (const a of f.amplitude) s += a * a;
  return s / frames.length;
}

test('mean counts per pattern ≈ dose; amplitudes stay in the input units', async (t) => {
  const input = await clean();
  const ref = await collectStream(input);
  const dose = 2000;
  const out = await collectStream(await degrade(input, { dose }));
  t.is(out.length, ref.length);
  const c = dose / meanEnergy(ref);
  let total = 0;
  for (const f of out) {
    for (const a of f.amplitude) {
      const counts = c * a * a;
      t.true(Math.abs(counts - Math.round(counts)) < 1e-2 * Math.max(1, counts));
      total += counts;
    }
  }
  const mean = total / out.length;
  t.true(Math.abs(mean - dose) < 5 * Math.sqrt(dose / out.length), `mean counts ${mean}`);
  t.true(Math.abs(meanEnergy(out) / meanEnergy(ref) - 1) < 0.05);
  t.deepEqual(
    out.map((f) => [f.index, f.x, f.y]),
    ref.map((f) => [f.index, f.x, f.y]),
  );
});

test('deterministic per seed (and across re-opens); another seed gives other noise', async (t) => {
  const input = await clean();
  const a = await degrade(input, { dose: 500 }, 7);
  const first = await collectStream(a);
  t.deepEqual(await collectStream(a), first);
  t.deepEqual(await collectStream(await degrade(input, { dose: 500 }, 7)), first);
  t.deepEqual(await collectStream(await degrade(input, { dose: 500, seed: 7 }, 1234)), first);
  t.notDeepEqual((await collectStream(await degrade(input, { dose: 500 }, 8)))[0]!.amplitude, first[0]!.amplitude);
});

test('Stream.frames is mapped too: read(i) gives the streamed noisy frame i in any order', async (t) => {
  const input = await clean();
  const s = await degrade(input, { dose: 800 });
  const store = s.frames!;
  // Random access first, before any stream pass: the scale is measured on demand.
  const order = new Rng(2).permutation(store.count);
  const byRead = new Map<number, Float32Array>();
  for (const i of order) byRead.set(i, await store.read(i));
  const frames = await collectStream(s);
  for (const f of frames) t.deepEqual(byRead.get(f.index), f.amplitude);
  t.deepEqual(await store.readMany([3, 1]), [frames[3]!.amplitude, frames[1]!.amplitude]);
  t.not(store, input.frames);
  t.is(s.meta.scan!.notes!.dose, 800);
  t.is(s.meta.scan!.object, input.meta.scan!.object);
});

test('bad frames: skip counts them, fail throws a DataError; non-frame input is refused', async (t) => {
  const N = 4;
  const good = (i: number): Frame => ({ index: i, x: 0, y: 0, amplitude: new Float32Array(N * N).fill(1) });
  const bad: Frame = { index: 1, x: 0, y: 0, amplitude: new Float32Array(N * N).fill(Number.NaN) };
  const frames = [good(0), bad, good(2)];
  const store: FrameStore = {
    count: 3,
    N,
    read: async (i) => frames[i]!.amplitude,
    readMany: async (ix) => ix.map((i) => frames[i]!.amplitude),
    close: async () => {},
  };
  const input = streamOf(frames, { record: 'frame' }, { frames: store });

  const ctx = testContext({ id: 'dose', seed: 1 });
  const skipped = (await createStage(poisson, { dose: 100, on_error: 'skip' }, [input], ctx)) as Stream<Frame>;
  t.deepEqual(
    (await collectStream(skipped)).map((f) => f.index),
    [0, 2],
  );
  t.is(ctx.stats.errors, 1);
  await t.throwsAsync(skipped.frames!.read(1), { instanceOf: DataError });

  const failing = await degrade(input, { dose: 100 });
  await t.throwsAsync(collectStream(failing), { instanceOf: DataError });

  await t.throwsAsync(degrade(streamOf([1, 2], { record: 'group' }), { dose: 1 }), { instanceOf: OptionsError });
  t.throws(() => poisson.options.parse({}));
  t.throws(() => poisson.options.parse({ dose: -1 }));
});

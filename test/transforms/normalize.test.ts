// normalize: the mean per-pattern energy becomes (N/2)², the factor is in meta
// and applied to the frame store too, inputs are not mutated, intensity input,
// empty input, early stop, abort, bad options; per-scan factors and a
// checkpoint's normalisation (issue #17).
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import test from 'ava';
import { DataError } from '../../src/errors.js';
import type { Frame, Stream } from '../../src/pipeline/types.js';
import simulate from '../../src/sources/simulate.js';
import { collect, collectStream, createStage, streamOf, testContext } from '../../src/testing/index.js';
import normalize from '../../src/transforms/normalize.js';
import { syntheticScan, thrownName } from './helpers.js';

const energy = (fs: readonly Frame[]): number => fs.reduce((s, f) => s + f.amplitude.reduce((a, v) => a + v * v, 0), 0) / fs.length;

test('mean per-pattern energy is (N/2)²; Stream.frames is normalised too; inputs untouched', async (t) => {
  const src = syntheticScan(30, 8);
  const raw = await collectStream(src);
  const s = (await createStage(normalize, {}, [src])) as Stream<Frame>;
  const out = await collectStream(s);
  t.is(out.length, 30);
  t.true(Math.abs(energy(out) - 16) < 1e-3);
  const k = s.meta.normalization!;
  t.true(Math.abs(out[3]!.amplitude[5]! - k * raw[3]!.amplitude[5]!) < 1e-4);
  const [a] = await s.frames!.readMany([3]);
  t.deepEqual(a, out[3]!.amplitude);
  t.is(raw[3]!.amplitude[0], 4); // frameValue(3, 0) = 4, not scaled in place
  t.is(s.meta.scan, src.meta.scan);
});

test('given factor is used as is; intensity input is square-rooted first', async (t) => {
  const src = syntheticScan(5, 4);
  const s = (await createStage(normalize, { factor: 2 }, [src])) as Stream<Frame>;
  const [f] = await collectStream(s, undefined, 1);
  t.is(f!.amplitude[0], 2);
  t.is(s.meta.normalization, 2);
  const si = (await createStage(normalize, { input: 'intensity' }, [src])) as Stream<Frame>;
  t.true(Math.abs(energy(await collectStream(si)) - 4) < 1e-4);
});

test('empty input: a clear DataError unless a factor is given', async (t) => {
  const empty = streamOf<Frame>([], { record: 'frame' });
  const e = await t.throwsAsync(createStage(normalize, {}, [empty]), { instanceOf: DataError });
  t.regex(e.message, /no patterns/);
  t.deepEqual(await collectStream(await createStage(normalize, { factor: 1.5 }, [empty])), []);
});

test('early stop runs the source finally; abort stops it', async (t) => {
  const src = syntheticScan(50);
  const s = await createStage(normalize, { factor: 1 }, [src]);
  t.is((await collect(s.open(new AbortController().signal), 3)).length, 3);
  t.is(src.stats.finished, src.stats.opens);
  const ac = new AbortController();
  let n = 0;
  const name = await thrownName(async () => {
    for await (const _ of s.open(ac.signal)) if (++n === 2) ac.abort();
  });
  t.is(name, 'AbortError');
  t.is(n, 2);
  t.is(src.stats.finished, src.stats.opens);
});

test('bad options are rejected with a message naming the key', async (t) => {
  const src = syntheticScan(3);
  const e = await t.throwsAsync(createStage(normalize, { factor: -1 }, [src]));
  t.regex(e.message, /factor/);
  t.throws(() => normalize.options.parse({ scale: 2 }), { message: /scale/ });
  t.throws(() => normalize.options.parse({ input: 'counts' }), { message: /input/ });
});

test('per: scan scales every scan to (N/2)² on its own, random access too; checkpoint: normalises as the training data were', async (t) => {
  const sim = { N: 16, object: { kind: 'family', size: 32, amp_min: [0.1, 0.9] }, scan: { pattern: 'raster', count: 6 }, noise: 'none', scans: 3, seed: 5 };
  const src = (await createStage(simulate, sim, [])) as Stream<Frame>;
  const byScan = (fs: readonly Frame[]): number[] => [0, 1, 2].map((k) => energy(fs.filter((f) => f.scanIndex === k)));
  try {
    const all = await collectStream((await createStage(normalize, {}, [src])) as Stream<Frame>);
    const shared = byScan(all);
    t.true(Math.max(...shared) - Math.min(...shared) > 1, `one factor keeps the scans' brightness apart: ${shared.join(', ')}`);
    const s = (await createStage(normalize, { per: 'scan' }, [src])) as Stream<Frame>;
    t.is(s.meta.normalizationMode, 'scan');
    const out = await collectStream(s);
    for (const e of byScan(out)) t.true(Math.abs(e - 64) < 1e-2, String(e));
    const [a] = await s.frames!.readMany([13]);
    t.deepEqual(a, out[13]!.amplitude);
    const dir = await mkdtemp(path.join(tmpdir(), 'pf-norm-'));
    try {
      const ctx = testContext({ id: 'n', outDir: dir });
      await writeFile(path.join(dir, 'ptychoflow.json'), JSON.stringify({ format: 'ptychoflow', normalization: 3, normalization_mode: 'all' }));
      const fixed = (await createStage(normalize, { checkpoint: '.' }, [src], ctx)) as Stream<Frame>;
      t.is(fixed.meta.normalization, 3);
      await writeFile(path.join(dir, 'ptychoflow.json'), JSON.stringify({ format: 'ptychoflow', normalization: 3, normalization_mode: 'scan' }));
      const perScan = (await createStage(normalize, { checkpoint: '.' }, [src], ctx)) as Stream<Frame>;
      t.is(perScan.meta.normalizationMode, 'scan');
      for (const e of byScan(await collectStream(perScan))) t.true(Math.abs(e - 64) < 1e-2);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  } finally {
    await src.close?.();
  }
});

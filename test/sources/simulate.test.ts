// The simulate source: determinism per seed, the noise-free forward model
// against extractPatch + fft2Shifted, photon counts at nphotons, random access
// equal to the stream in any order, the object kinds and option errors.
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { OptionsError } from '../../src/errors.js';
import { fft2Shifted } from '../../src/physics/fftjs.js';
import { extractPatch } from '../../src/physics/patch.js';
import type { Frame, Stream } from '../../src/pipeline/types.js';
import simulate from '../../src/sources/simulate.js';
import { collectStream, createStage, testContext } from '../../src/testing/index.js';
import { Rng } from '../../src/util/rng.js';

const FIX = path.resolve(import.meta.dirname, '../fixtures/images');
const small = { N: 16, object: { kind: 'grf', size: 48, correlation_length: 2 }, scan: { step: 8 } };

async function sim(options: Record<string, unknown>, seed = 1): Promise<Stream<Frame>> {
  return (await createStage(simulate, options, [], testContext({ id: 'sim', seed, baseDir: FIX }))) as Stream<Frame>;
}

test('metadata: frame records, ScanMeta with object, probe and positions, a FrameStore', async (t) => {
  const s = await sim(small);
  t.is(s.meta.record, 'frame');
  t.is(s.meta.count, 25);
  const scan = s.meta.scan!;
  t.is(scan.N, 16);
  t.is(scan.count, 25);
  t.is(scan.xcoords.length, 25);
  t.is(scan.object!.width, 48);
  t.is(scan.probe.width, 16);
  t.is(scan.origin, 'simulate');
  t.is(scan.notes!.nphotons, 1e9);
  t.is(s.frames!.count, 25);
  t.is(s.frames!.N, 16);
  const frames = await collectStream(s);
  t.deepEqual(
    frames.map((f) => f.index),
    [...Array(25).keys()],
  );
  t.is(frames[3]!.x, scan.xcoords[3]!);
  t.is(frames[3]!.amplitude.length, 256);
});

test('same seed gives identical frames (also on re-open); another seed gives other noise', async (t) => {
  const a = await collectStream(await sim(small, 4));
  const b = await sim(small, 4);
  t.deepEqual(await collectStream(b), a);
  t.deepEqual(await collectStream(b), a);
  const c = await collectStream(await sim(small, 5));
  t.notDeepEqual(c[0]!.amplitude, a[0]!.amplitude);
  const fixed = await collectStream(await sim({ ...small, seed: 4 }, 99));
  t.deepEqual(fixed, a);
});

test('noise-free frames equal |fft2Shifted(P · extractPatch(O))| at sub-pixel positions', async (t) => {
  const s = await sim({ ...small, noise: 'none', scan: { step: 8, jitter: 1.3 } });
  const { object, probe, N } = s.meta.scan!;
  const frames = await collectStream(s);
  t.false(frames.every((f) => Number.isInteger(f.x)));
  for (const f of frames) {
    const w = extractPatch(object!, f.x, f.y, N);
    const re = new Float32Array(N * N),
      im = new Float32Array(N * N);
    for (let k = 0; k < N * N; k++) {
      re[k] = probe.re[k]! * w.re[k]! - probe.im[k]! * w.im[k]!;
      im[k] = probe.re[k]! * w.im[k]! + probe.im[k]! * w.re[k]!;
    }
    const F = fft2Shifted(re, im, N);
    let err = 0,
      energy = 0,
      waveEnergy = 0;
    for (let k = 0; k < N * N; k++) {
      err = Math.max(err, Math.abs(f.amplitude[k]! - Math.hypot(F.re[k]!, F.im[k]!)));
      energy += f.amplitude[k]! ** 2;
      waveEnergy += re[k]! ** 2 + im[k]! ** 2;
    }
    t.true(err < 1e-5, `frame ${f.index}: ${err}`);
    t.true(Math.abs(energy - waveEnergy) / waveEnergy < 1e-5); // Parseval
  }
});

test('Poisson counts: integers, mean total per pattern ≈ nphotons', async (t) => {
  const nphotons = 1e4;
  const s = await sim({ ...small, nphotons });
  const c = s.meta.scan!.notes!.counts_per_unit_intensity as number;
  const frames = await collectStream(s);
  let total = 0;
  for (const f of frames) {
    for (const a of f.amplitude) {
      const counts = c * a * a;
      t.true(Math.abs(counts - Math.round(counts)) < 1e-2 * Math.max(1, counts));
      total += counts;
    }
  }
  const mean = total / frames.length;
  // The expected mean is nphotons exactly; the Poisson spread of the mean is sqrt(nphotons / n).
  t.true(Math.abs(mean - nphotons) < 5 * Math.sqrt(nphotons / frames.length), `mean counts ${mean}`);
});

test('FrameStore.read(i) equals the i-th streamed frame in any order, with or without cache', async (t) => {
  for (const cache_frames of [0, 4]) {
    const s = await sim({ ...small, cache_frames }, 8);
    const frames = await collectStream(s);
    const store = s.frames!;
    const order = new Rng(3).permutation(frames.length);
    for (const i of [...order, ...order]) t.deepEqual(await store.read(i), frames[i]!.amplitude);
    const many = await store.readMany([7, 2, 7]);
    t.deepEqual(many, [frames[7]!.amplitude, frames[2]!.amplitude, frames[7]!.amplitude]);
    // Returned arrays are copies: changing one does not change later reads.
    many[0]!.fill(-1);
    t.deepEqual(await store.read(7), frames[7]!.amplitude);
    await t.throwsAsync(store.read(25), { instanceOf: OptionsError });
    await s.close?.();
  }
});

test('object kinds: image files, embedded default images, lines', async (t) => {
  const img = await sim({ N: 16, object: { kind: 'image', amplitude: 'camera128.png', phase: 'phantom128.png', size: 40, amp_min: 0.3 }, scan: { step: 12 } });
  t.is(img.meta.scan!.object!.width, 40);
  const emb = await sim({ N: 16, object: { kind: 'image', size: 32 }, scan: { step: 8 } });
  t.is(emb.meta.scan!.object!.width, 32);
  const lines = await sim({ N: 16, object: { kind: 'lines', size: 40 }, scan: { pattern: 'random', count: 7 } });
  t.is(lines.meta.count, 7);
  t.is((await collectStream(lines)).length, 7);
  // A flat (no defocus) disk probe of radius 3: real, zero far from the centre.
  const flat = await sim({ ...small, probe: { radius: 3, rim_phase: 0 } });
  const p = flat.meta.scan!.probe;
  t.true(p.im.every((v) => v === 0));
  t.true(p.re[0]! < 1e-6 && p.re[8 * 16 + 8]! > 0.9);
});

test('defaults parse: N 64, embedded image 256², poisson at 1e9', (t) => {
  const o = simulate.options.parse({});
  t.is(o.N, 64);
  t.deepEqual(o.object, { kind: 'image', size: 256, amp_min: 0.5, phase_range: Math.PI });
  t.is(o.nphotons, 1e9);
  t.is(o.noise, 'poisson');
  t.is(o.probe, 'default');
});

test('option errors name the problem: missing image, one image only, unknown key, scan too big', async (t) => {
  await t.throwsAsync(sim({ N: 16, object: { kind: 'image', amplitude: 'nope.png', phase: 'phantom128.png', size: 32 } }), {
    instanceOf: OptionsError,
    message: /nope\.png/,
  });
  await t.throwsAsync(sim({ N: 16, object: { kind: 'image', amplitude: 'camera128.png', size: 32 } }), { instanceOf: OptionsError });
  t.throws(() => simulate.options.parse({ N: 16, bogus: 1 }));
  t.throws(() => simulate.options.parse({ object: { kind: 'grf', amplitude: 'x.png' } }));
  await t.throwsAsync(sim({ N: 16, object: { kind: 'grf', size: 32 }, scan: { step: 8, count: 100 } }), { instanceOf: OptionsError });
  await t.throwsAsync(sim({ N: 64, object: { kind: 'grf', size: 32 } }), { instanceOf: OptionsError });
});

test('aborting stops the stream', async (t) => {
  const s = await sim(small);
  const ac = new AbortController();
  const it = s.open(ac.signal)[Symbol.asyncIterator]();
  await it.next();
  ac.abort(new Error('stop'));
  await t.throwsAsync(it.next(), { message: 'stop' });
});

const haveNpy = existsSync(path.resolve(import.meta.dirname, '../../src/io/npy.ts')) && existsSync(path.resolve(import.meta.dirname, '../../src/io/npz.ts'));
(haveNpy ? test : test.skip)('probe from a .npy file; wrong size names the file', async (t) => {
  const { encodeNpy } = (await import('../../src/io/npy.js')) as { encodeNpy: (a: { shape: number[]; data: Float32Array; descr: string }) => Uint8Array };
  const dir = await mkdtemp(path.join(os.tmpdir(), 'simprobe-'));
  try {
    const N = 16;
    const data = new Float32Array(2 * N * N);
    for (let i = 0; i < N * N; i++) data[2 * i] = 1 - Math.hypot((i % N) - 7.5, Math.floor(i / N) - 7.5) / 12;
    await writeFile(path.join(dir, 'probe.npy'), encodeNpy({ shape: [N, N], data, descr: '<c8' }));
    const s = await sim({ ...small, probe: path.join(dir, 'probe.npy') });
    t.deepEqual(Array.from(s.meta.scan!.probe.re.subarray(0, 4)), Array.from(data.filter((_, i) => i % 2 === 0).subarray(0, 4)));
    await t.throwsAsync(sim({ ...small, N: 32, object: { kind: 'grf', size: 64 }, probe: path.join(dir, 'probe.npy') }), {
      instanceOf: OptionsError,
      message: /probe\.npy/,
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

const CANON = path.resolve(import.meta.dirname, '../../../shared/fixtures/npz/canonical_deflated.npz');
(haveNpy && existsSync(CANON) ? test : test.skip)('probe from an .npz with probeGuess', async (t) => {
  const s = await sim({ N: 32, object: { kind: 'grf', size: 64 }, scan: { step: 16 }, probe: CANON });
  const p = s.meta.scan!.probe;
  t.is(p.width, 32);
  // First value as listed in the fixture's manifest.json.
  t.true(Math.abs(p.re[0]! - 0.00012202404468553141) < 1e-9 && Math.abs(p.im[0]! + 1.8442131477058865e-5) < 1e-9);
  t.is(s.meta.scan!.notes!.probe, `${CANON}:probeGuess`);
  t.is((await collectStream(s)).length, 9);
});

test('corpus: scans: K gives K objects from the family, frames tagged with their scan; a scan is reproducible alone', async (t) => {
  const opts = { N: 16, object: { kind: 'family', size: 40 }, scan: { pattern: 'spiral', step: 3 }, nphotons: 1e5, scans: 4 };
  const s = await sim(opts, 9);
  const meta = s.meta.scan!;
  const perScan = meta.count / 4;
  t.true(Number.isInteger(perScan) && perScan > 5);
  t.is(meta.object, undefined, 'several scans: no single truth');
  t.deepEqual([...new Set(meta.scanIndex)], [0, 1, 2, 3]);
  const frames = await collectStream(s);
  t.deepEqual(
    frames.map((f) => f.scanIndex),
    [...meta.scanIndex!],
  );
  t.deepEqual(
    frames.map((f) => f.index),
    frames.map((_, i) => i),
  );
  // Scan 2 alone (first_scan: 2, scans: 1): the same positions, truth and frames.
  const alone = await sim({ ...opts, scans: 1, first_scan: 2 }, 9);
  t.truthy(alone.meta.scan!.object);
  const a = await collectStream(alone);
  t.is(a.length, perScan);
  for (let i = 0; i < perScan; i++) {
    const f = frames[2 * perScan + i]!;
    t.is(a[i]!.x, f.x);
    t.deepEqual(a[i]!.amplitude, f.amplitude);
  }
  t.deepEqual(await s.frames!.read(2 * perScan + 3), a[3]!.amplitude, 'random access agrees with the stream');
  // Different scans hold different objects.
  const other = await collectStream(await sim({ ...opts, scans: 1, first_scan: 1 }, 9));
  t.notDeepEqual(other[0]!.amplitude, a[0]!.amplitude);
  await s.close?.();
  await alone.close?.();
});

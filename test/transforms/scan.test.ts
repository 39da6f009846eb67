// openScan: the programmatic API over the canonical NPZ fixture and over an
// in-memory frame stream: normalised batches with the pipeline's semantics,
// groups, whole-array X()/Y() with a size warning, no leaked tensors, clear
// errors for bad options.
import { existsSync } from 'node:fs';
import path from 'node:path';
import * as tf from '../../src/tf.js';
import test from 'ava';
import { DataError, OptionsError } from '../../src/errors.js';
import { openScan } from '../../src/scan.js';
import { collect, trackTensors } from '../../src/testing/index.js';
import { createLogger } from '../../src/util/log.js';
import { syntheticScan } from './helpers.js';

const fixture = [
  path.resolve(import.meta.dirname, '../fixtures/npz/canonical_stored.npz'),
  path.resolve(import.meta.dirname, '../../../shared/fixtures/npz/canonical_stored.npz'),
].find((p) => existsSync(p));

test.before(async () => {
  await tf.setBackend('cpu');
});

(fixture === undefined ? test.serial.skip : test.serial)(
  `canonical NPZ: batches are normalised (mean energy (N/2)²), cover every group, and leak nothing${fixture === undefined ? ' (skipped: canonical_stored.npz not found)' : ''}`,
  async (t) => {
    if (fixture === undefined) return;
    const scan = await openScan(fixture, { gridsize: 2, seed: 3 });
    try {
      t.is(scan.scan.N, 32);
      t.is(scan.meta.count, 36);
      t.true(scan.normalization > 0);
      const { leaked } = await trackTensors(async () => {
        let groups = 0;
        let energy = 0;
        for await (const tb of scan.batches(8, { prefetch: 2 })) {
          t.deepEqual(tb.X.shape.slice(1), [32, 32, 4]);
          groups += tb.size;
          energy += tf.tidy(() => tb.X.square().sum().dataSync()[0]!);
          tb.dispose();
        }
        t.is(groups, 36);
        // Each group holds 4 patterns; patterns repeat across groups, so the mean is near, not at, (N/2)².
        t.true(Math.abs(energy / (36 * 4) / 256 - 1) < 0.5, `mean energy ${energy / 144}`);
      });
      t.is(leaked, 0);
      const [g] = await collect(scan.groups(), 1);
      t.is(g!.indices.length, 4);
      const { leaked: l2 } = await trackTensors(async () => {
        const X = await scan.X();
        t.deepEqual(X.shape, [36, 32, 32, 4]);
        t.deepEqual([...tf.tidy(() => X.slice([0, 0, 0, 0], [1, 32, 32, 4]).dataSync())], [...g!.amplitudes]);
        const Y = await scan.Y();
        t.deepEqual(Y.re.shape, [36, 32, 32, 4]);
        t.true(tf.tidy(() => Y.re.abs().sum().dataSync()[0]!) > 0);
        tf.dispose([X, Y.re, Y.im]);
      });
      t.is(l2, 0);
    } finally {
      await scan.close();
    }
  },
);

test.serial('in-memory frame stream: same semantics, X() warns with its size, Y() needs an object', async (t) => {
  const warnings: string[] = [];
  const log = createLogger('warn', (_l, _s, m) => warnings.push(m));
  const scan = await openScan(syntheticScan(20, 4), { gridsize: 1, log });
  const { leaked } = await trackTensors(async () => {
    const bs = await collect(scan.batches(8, { drop_remainder: true, shuffle: true }));
    t.deepEqual(
      bs.map((b) => b.size),
      [8, 8],
    );
    t.is(new Set(bs.flatMap((b) => [...b.groups])).size, 16);
    for (const b of bs) b.dispose();
    const epoch2 = await collect(scan.batches(8, { drop_remainder: true, shuffle: true }));
    t.notDeepEqual(
      epoch2.map((b) => [...b.groups]),
      bs.map((b) => [...b.groups]),
    );
    for (const b of epoch2) b.dispose();
    const X = await scan.X();
    t.deepEqual(X.shape, [20, 4, 4, 1]);
    const mean = tf.tidy(() => X.square().sum().dataSync()[0]! / 20);
    t.true(Math.abs(mean - 4) < 1e-3);
    X.dispose();
  });
  t.is(leaked, 0);
  t.true(warnings.some((w) => /X\(\).*\(20, 4, 4, 1\)/.test(w)));
  await t.throwsAsync(scan.Y(), { instanceOf: DataError, message: /no ground-truth object/ });
  await scan.close();
});

test('bad options are OptionsErrors naming the key', async (t) => {
  await t.throwsAsync(openScan(syntheticScan(5, 4), { gridsize: 0 }), { instanceOf: OptionsError, message: /gridsize/ });
  await t.throwsAsync(openScan(syntheticScan(5, 4), { factor: -2 }), { instanceOf: OptionsError, message: /factor/ });
});

test.serial('an HDF5 path opens through the hdf5 source: same batch semantics; a CXI file takes the probe option', async (t) => {
  const h5 = path.resolve(import.meta.dirname, '../fixtures/hdf5');
  const scan = await openScan(path.join(h5, 'canonical.h5'), { gridsize: 2, seed: 3 });
  try {
    t.is(scan.scan.N, 16);
    t.is(scan.meta.count, 12);
    const { leaked } = await trackTensors(async () => {
      let groups = 0;
      for await (const tb of scan.batches(5)) {
        t.deepEqual(tb.X.shape.slice(1), [16, 16, 4]);
        groups += tb.size;
        tb.dispose();
      }
      t.is(groups, 12);
    });
    t.is(leaked, 0);
  } finally {
    await scan.close();
  }
  await t.throwsAsync(openScan(path.join(h5, 'scan.cxi')), { instanceOf: OptionsError, message: /no probe/ });
  const cxi = await openScan(path.join(h5, 'scan.cxi'), { probe: path.join(h5, 'probe16.npy') });
  try {
    t.is(cxi.scan.notes?.layout, 'cxi');
  } finally {
    await cxi.close();
  }
});

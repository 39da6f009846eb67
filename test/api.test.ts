// The package's public face, imported by its name as users do: the README's
// programmatic example works and leaves no tensor behind.
import path from 'node:path';
import test from 'ava';
import * as tf from '../src/tf.js';
import { builtinRegistry, openScan, selectBackend } from 'ptychoflow';
import { collect } from 'ptychoflow/testing';

const fixture = path.resolve(import.meta.dirname, 'fixtures/npz/canonical_stored.npz');

test.serial('the registry lists every built-in stage once', (t) => {
  const types = builtinRegistry().types();
  for (const ty of [
    'npz',
    'json',
    'simulate',
    'normalize',
    'group',
    'split',
    'shuffle',
    'batch',
    'prefetch',
    'tensorify',
    'poisson',
    'train',
    'infer',
    'evaluate',
    'write-npz',
    'write-errors',
    'images',
  ]) {
    t.true(types.includes(ty), ty);
  }
  t.is(new Set(types).size, types.length);
});

test.serial('openScan as in the README: batches per epoch, owned and disposed by the caller', async (t) => {
  await selectBackend('cpu');
  const start = tf.memory().numTensors;
  const scan = await openScan(fixture, { gridsize: 2, seed: 1 });
  t.is(scan.scan.N, 32);
  t.is(scan.scan.count, 36);
  const epoch = async (): Promise<number[]> => {
    const firsts: number[] = [];
    for await (const batch of scan.batches(8, { shuffle: true })) {
      try {
        t.deepEqual(batch.X.shape.slice(1), [32, 32, 4]);
        t.deepEqual(batch.coords.shape.slice(1), [1, 2, 4]);
        firsts.push(batch.groups[0]!);
      } finally {
        batch.dispose();
      }
    }
    return firsts;
  };
  const a = await epoch();
  const b = await epoch();
  t.is(a.length, Math.ceil(36 / 8));
  t.notDeepEqual(a, b, 'each epoch is a new shuffle');
  const X = await scan.X();
  t.deepEqual(X.shape, [36, 32, 32, 4]);
  X.dispose();
  t.is((await collect(scan.groups())).length, 36);
  await scan.close();
  t.is(tf.memory().numTensors, start);
});

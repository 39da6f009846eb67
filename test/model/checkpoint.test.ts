// Checkpoints on the cpu backend: the tfjs weights-manifest layout, identical
// predictions after save → load, bit-for-bit resume of training (weights,
// probe, scale and Adam state), atomic replacement, and typed errors.
import test from 'ava';
import * as tf from '../../src/tf.js';
import { mkdtemp, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { loadCheckpoint, makeOptimizer, saveCheckpoint } from '../../src/model/checkpoint.js';
import { PtychoPINN } from '../../src/model/pinn.js';
import { DataError, FormatError } from '../../src/errors.js';
import { simulate, tensors } from './sim.js';

test.before(async () => {
  await tf.setBackend('cpu');
});

async function tempDir(t: { teardown(fn: () => Promise<void>): void }): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'ptychoflow-ckpt-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

const config = { N: 16, gridsize: 1, n_filters_scale: 0.125, nphotons: 1e4, trainable_probe: true, trainable_intensity_scale: true } as const;

test.serial('save → load: standard manifest, identical predictions, bit-for-bit resume', async (t) => {
  const before = tf.memory().numTensors;
  const root = await tempDir(t);
  const dir = path.join(root, 'ckpt');
  const d = simulate({ N: 16, gridsize: 1, groups: 4, seed: 3 });
  const { X, coords } = tensors(d);
  const a = PtychoPINN.create(config, d.probe, 9);
  const optA = makeOptimizer(5e-3);
  for (let i = 0; i < 3; i++) a.trainStep(X, coords, optA);
  const history = [{ epoch: 1, loss: 1.5 }];
  await saveCheckpoint(
    dir,
    a,
    { config: a.config, normalization: 2.5, intensityScale: a.intensityScale(), epoch: 1, seed: 9, history, train: { lr: 5e-3 } },
    optA,
  );

  // Layout: tfjs weightsManifest over weights.bin, optimizer manifest in the sidecar.
  const mj = JSON.parse(await readFile(path.join(dir, 'model.json'), 'utf8')) as {
    format: string;
    weightsManifest: { paths: string[]; weights: { name: string; shape: number[]; dtype: string }[] }[];
  };
  t.is(mj.format, 'ptychoflow');
  t.deepEqual(mj.weightsManifest[0]!.paths, ['weights.bin']);
  const floats = mj.weightsManifest[0]!.weights.reduce((s, w) => s + w.shape.reduce((p, q) => p * q, 1), 0);
  t.is(floats, a.paramCount());
  t.is((await stat(path.join(dir, 'weights.bin'))).size, 4 * floats);
  t.true(mj.weightsManifest[0]!.weights.every((w) => w.dtype === 'float32' && !/^ptychoflow\d/.test(w.name)));
  t.deepEqual((await readdir(root)).sort(), ['ckpt']);
  t.deepEqual((await readdir(dir)).sort(), ['model.json', 'optimizer.bin', 'ptychoflow.json', 'weights.bin']);

  const loaded = await loadCheckpoint(dir);
  const b = loaded.model;
  t.is(loaded.sidecar.normalization, 2.5);
  t.is(loaded.sidecar.epoch, 1);
  t.is(loaded.sidecar.seed, 9);
  t.deepEqual(loaded.sidecar.history, history);
  t.deepEqual(loaded.sidecar.train, { lr: 5e-3 });
  t.deepEqual(b.config, a.config);
  t.is(b.supportMode, a.supportMode);
  t.is(b.probeFactor, a.probeFactor);
  t.is(b.intensityScale(), a.intensityScale());
  t.deepEqual(b.probe(), a.probe());

  const pa = a.predict(X, coords);
  const pb = b.predict(X, coords);
  t.deepEqual(pb.re.dataSync(), pa.re.dataSync());
  t.deepEqual(pb.im.dataSync(), pa.im.dataSync());
  tf.dispose([pa.re, pa.im, pb.re, pb.im]);

  // Resume: two more steps on the original and on the restored model + optimizer.
  const optB = makeOptimizer(5e-3);
  t.truthy(loaded.optimizerState);
  await optB.setWeights(loaded.optimizerState!);
  for (const s of loaded.optimizerState!) s.tensor.dispose();
  for (let i = 0; i < 2; i++) t.is(b.trainStep(X, coords, optB), a.trainStep(X, coords, optA));
  const wa = a.getWeights().map((w) => w.dataSync());
  const wb = b.getWeights().map((w) => w.dataSync());
  t.deepEqual(wb, wa);

  tf.dispose([X, coords]);
  for (const o of [optA, optB]) o.dispose();
  a.dispose();
  b.dispose();
  t.is(tf.memory().numTensors, before);
});

test.serial('saving over a checkpoint replaces it whole; an interrupted swap falls back to the previous one', async (t) => {
  const root = await tempDir(t);
  const dir = path.join(root, 'ckpt');
  const d = simulate({ N: 16, gridsize: 1, groups: 2, seed: 4 });
  const m = PtychoPINN.create({ N: 16, n_filters_scale: 0.125 }, d.probe, 1);
  const side = { config: m.config, normalization: 1, intensityScale: m.intensityScale(), seed: 1 };
  await saveCheckpoint(dir, m, { ...side, epoch: 1 });
  await saveCheckpoint(dir, m, { ...side, epoch: 2 });
  t.deepEqual(await readdir(root), ['ckpt']);
  const l2 = await loadCheckpoint(dir);
  t.is(l2.sidecar.epoch, 2);
  t.is(l2.optimizerState, undefined);
  l2.model.dispose();
  // A crash after moving the old checkpoint aside and before the new one was renamed in.
  await rename(dir, `${dir}.old-crash`);
  const l3 = await loadCheckpoint(dir);
  t.is(l3.sidecar.epoch, 2);
  l3.model.dispose();
  await rename(`${dir}.old-crash`, dir);
  // Corruption and absence are typed errors.
  await writeFile(path.join(dir, 'weights.bin'), new Uint8Array(8));
  await t.throwsAsync(loadCheckpoint(dir), { instanceOf: FormatError });
  await writeFile(path.join(dir, 'ptychoflow.json'), '{ nope');
  await t.throwsAsync(loadCheckpoint(dir), { instanceOf: FormatError });
  await t.throwsAsync(loadCheckpoint(path.join(root, 'missing')), { instanceOf: DataError });
  m.dispose();
});

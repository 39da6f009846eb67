// The checkpoint directory never costs data the run did not write: a
// non-checkpoint directory is refused before any work (train sink and
// saveCheckpoint), output paths stay inside the output directory unless
// `allow.paths_outside`, a save that crashed mid-swap is recovered on the next
// prepare or save, stale temp dirs are removed, and a checkpoint missing
// optimizer.bin gives a typed error without leaking tensors.
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import * as tf from '../../src/tf.js';
import { loadCheckpoint, makeOptimizer, prepareCheckpointDir, saveCheckpoint, setSaveHook } from '../../src/model/checkpoint.js';
import { PtychoPINN } from '../../src/model/pinn.js';
import type { Stream, TensorBatch } from '../../src/pipeline/types.js';
import train from '../../src/sinks/train.js';
import { outPath } from '../../src/sinks/shared/util.js';
import { runSink, testContext } from '../../src/testing/index.js';
import { simulate } from './sim.js';

test.before(async () => {
  await tf.setBackend('cpu');
});

async function tempDir(t: { teardown(fn: () => Promise<void>): void }): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'ptychoflow-ckdir-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

const config = { N: 16, gridsize: 1, n_filters_scale: 0.125, nphotons: 1e4 } as const;

async function save(dir: string, epoch: number, withOptimizer = true): Promise<void> {
  const d = simulate({ N: 16, gridsize: 1, groups: 2, seed: 1 });
  const m = PtychoPINN.create(config, d.probe, 1);
  const opt = withOptimizer ? makeOptimizer(1e-3) : undefined;
  try {
    await saveCheckpoint(dir, m, { config: m.config, normalization: 1, intensityScale: m.intensityScale(), epoch, seed: 1 }, opt);
  } finally {
    opt?.dispose();
    m.dispose();
  }
}

/** A tensor-batch stream that fails the test if anything opens it (no work may start). */
function untouchable(t: { fail(m: string): void }): Stream<TensorBatch> {
  const probe = { height: 16, width: 16, re: new Float32Array(256).fill(1), im: new Float32Array(256) };
  return {
    meta: { record: 'tensor-batch', scan: { N: 16, count: 1, xcoords: new Float64Array(1), ycoords: new Float64Array(1), probe, origin: 'test' } },
    open() {
      t.fail('the stream was opened: work started before the checkpoint directory was checked');
      return (async function* () {})();
    },
  } as unknown as Stream<TensorBatch>;
}

test.serial('train refuses a checkpoint_dir that holds other files, before any work, and deletes nothing', async (t) => {
  const out = await tempDir(t);
  await mkdir(path.join(out, 'mine'));
  await writeFile(path.join(out, 'mine', 'thesis.tex'), 'precious');
  const e = await t.throwsAsync(runSink(train, { checkpoint_dir: 'mine', epochs: 1 }, [untouchable(t)], testContext({ id: 'train', outDir: out })));
  t.is((e as { code?: string }).code, 'CHECKPOINT_DIR_NOT_OURS');
  t.regex(e.message, /mine/);
  t.is(await readFile(path.join(out, 'mine', 'thesis.tex'), 'utf8'), 'precious');
});

test.serial("checkpoint_dir '..' and '.' are refused as leaving (or being) the output directory", async (t) => {
  const root = await tempDir(t);
  const out = path.join(root, 'run');
  await mkdir(out);
  await writeFile(path.join(root, 'other-run.txt'), 'keep');
  await writeFile(path.join(out, 'history.json'), '[]');
  for (const dir of ['..', '.', '../sibling', '/tmp/elsewhere']) {
    const e = await t.throwsAsync(runSink(train, { checkpoint_dir: dir, epochs: 1 }, [untouchable(t)], testContext({ id: 'train', outDir: out })));
    t.is((e as { code?: string }).code, 'PATH_OUTSIDE', dir);
  }
  t.true(existsSync(path.join(root, 'other-run.txt')));
  t.true(existsSync(path.join(out, 'history.json')));
  // The documented relaxation lets an output leave the directory (but '..' is still no checkpoint: refused).
  const allow = { paths_outside: true, hdf5_external_links: false, plugins_outside: false };
  t.is(outPath(testContext({ outDir: out, allow }), '../sibling'), path.join(root, 'sibling'));
  const e = await t.throwsAsync(runSink(train, { checkpoint_dir: '..', epochs: 1 }, [untouchable(t)], testContext({ id: 'train', outDir: out, allow })));
  t.is((e as { code?: string }).code, 'CHECKPOINT_DIR_NOT_OURS');
  t.true(existsSync(path.join(root, 'other-run.txt')));
});

test.serial('saveCheckpoint refuses to replace a non-checkpoint directory or a file', async (t) => {
  const root = await tempDir(t);
  await mkdir(path.join(root, 'data'));
  await writeFile(path.join(root, 'data', 'scan.npz'), 'x');
  await t.throwsAsync(save(path.join(root, 'data'), 1), { code: 'CHECKPOINT_DIR_NOT_OURS' });
  await writeFile(path.join(root, 'file'), 'x');
  await t.throwsAsync(save(path.join(root, 'file'), 1), { code: 'CHECKPOINT_DIR_NOT_OURS' });
  t.deepEqual((await readdir(root)).sort(), ['data', 'file']);
  t.deepEqual(await readdir(path.join(root, 'data')), ['scan.npz']);
  // An empty directory holds nothing to lose, and an earlier checkpoint is replaced as before.
  await mkdir(path.join(root, 'empty'));
  await save(path.join(root, 'empty'), 1);
  await save(path.join(root, 'empty'), 2);
  const { model, sidecar, optimizerState } = await loadCheckpoint(path.join(root, 'empty'));
  model.dispose();
  for (const s of optimizerState ?? []) s.tensor.dispose();
  t.is(sidecar.epoch, 2);
});

test.serial('a save that crashed between its renames is recovered; stale temp dirs are cleaned', async (t) => {
  const root = await tempDir(t);
  const dir = path.join(root, 'ckpt');
  await save(dir, 1);
  setSaveHook((step) => {
    if (step === 'swapped-out') throw new Error('simulated crash');
  });
  try {
    await t.throwsAsync(save(dir, 2), { message: 'simulated crash' });
  } finally {
    setSaveHook(undefined);
  }
  // In-process the failed swap puts the old checkpoint back; a killed process cannot: simulate that state.
  const names = await readdir(root);
  t.true(names.includes('ckpt'));
  const tmp = names.find((n) => n.startsWith('ckpt.tmp-'));
  t.is(tmp, undefined, 'the finally of the failed save removed its temp dir');
  await rename(dir, `${dir}.old-999999-abcd`);
  await mkdir(`${dir}.tmp-999998-ef01`);
  await writeFile(`${dir}.tmp-999998-ef01/weights.bin`, 'partial');
  await mkdir(path.join(root, 'ckpt.tmp-999997-0000'));
  await writeFile(path.join(root, 'ckpt.tmp-999997-0000', 'notes.txt'), 'not ours');
  const recovered = await prepareCheckpointDir(dir);
  t.is(path.basename(recovered ?? ''), 'ckpt.old-999999-abcd');
  const { model, sidecar, optimizerState } = await loadCheckpoint(dir);
  model.dispose();
  for (const s of optimizerState ?? []) s.tensor.dispose();
  t.is(sidecar.epoch, 1);
  // The partial temp dir (checkpoint files only) is gone; the one holding a foreign file is kept.
  t.deepEqual((await readdir(root)).sort(), ['ckpt', 'ckpt.tmp-999997-0000']);
});

test.serial('a checkpoint missing optimizer.bin: typed error naming it, no tensor leaked', async (t) => {
  const root = await tempDir(t);
  const dir = path.join(root, 'ckpt');
  await save(dir, 1);
  await rm(path.join(dir, 'optimizer.bin'));
  const before = tf.memory().numTensors;
  const e = await t.throwsAsync(loadCheckpoint(dir));
  t.is((e as { code?: string }).code, 'CHECKPOINT_INCOMPLETE');
  t.regex(e.message, /optimizer\.bin/);
  t.is(tf.memory().numTensors, before);
});

// The train sink on a tiny simulated scan (simulate → normalize → group →
// shuffle → batch → tensorify; N=16, gridsize 1, wasm backend): the loss falls,
// a checkpoint is written after every epoch, a run interrupted after epoch 1
// and resumed ends with the same weights as an uninterrupted run, the
// schedule (reduce-on-plateau, early stop) follows its rules, and no tensor leaks.
import { readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import test, { type ExecutionContext } from 'ava';
import * as tf from '../../src/tf.js';
import { loadCheckpoint } from '../../src/model/checkpoint.js';
import { TensorLedger } from '../../src/pipeline/ledger.js';
import type { ProgressEvent, StageContext, Stream, TensorBatch } from '../../src/pipeline/types.js';
import simulate from '../../src/sources/simulate.js';
import batch from '../../src/transforms/batch.js';
import group from '../../src/transforms/group.js';
import normalize from '../../src/transforms/normalize.js';
import shuffle from '../../src/transforms/shuffle.js';
import tensorify from '../../src/transforms/tensorify.js';
import train from '../../src/sinks/train.js';
import { budgetSpent, cosineLr, initialState, scheduleStep, shouldStop, trainingProgress, type Schedule } from '../../src/model/schedule.js';
import { createStage, runSink, testContext } from '../../src/testing/index.js';
import { selectBackend } from '../../src/backend/select.js';

// Conv training on the cpu backend is far too slow for a unit test.
async function useFastBackend(): Promise<void> {
  await selectBackend('wasm');
}

const N = 16;

interface Chain {
  stream: Stream<TensorBatch>;
  ledger: TensorLedger;
  close(): Promise<void>;
}

/**
 * simulate → normalize → group → shuffle → batch → tensorify, built afresh (as a
 * new process would): shuffle draws each pass's order from (seed, pass number).
 */
async function chain(seed: number, batchSize: number): Promise<Chain> {
  const ledger = new TensorLedger();
  const ctx = (id: string): StageContext => testContext({ id, seed, ledger });
  const scan = await createStage(simulate, { N, object: { kind: 'image', size: 36 }, scan: { step: 4 }, nphotons: 1e6 }, [], ctx('scan'));
  const norm = await createStage(normalize, {}, [scan], ctx('normalize'));
  const groups = await createStage(group, { gridsize: 1 }, [norm], ctx('group'));
  const shuffled = await createStage(shuffle, {}, [groups], ctx('shuffle'));
  const batches = await createStage(batch, { batch_size: batchSize }, [shuffled], ctx('batch'));
  const stream = (await createStage(tensorify, {}, [batches], ctx('tensorify'))) as Stream<TensorBatch>;
  const all = [stream, batches, shuffled, groups, norm, scan];
  return {
    stream,
    ledger,
    close: async () => {
      for (const st of all) await st.close?.();
    },
  };
}

test.before(async () => {
  await useFastBackend();
});

const modelOptions = { n_filters_scale: 0.25, epochs: 2, lr: 2e-3, reduce_lr: { patience: 0 }, early_stop: { patience: 0 }, seed: 11 };

async function tempDir(t: { teardown(fn: () => Promise<void>): void }): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'ptychoflow-train-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

async function finalWeights(dir: string): Promise<Float32Array[]> {
  const { model, optimizerState } = await loadCheckpoint(dir);
  try {
    return model.getWeights().map((w) => w.dataSync() as Float32Array);
  } finally {
    model.dispose();
    for (const s of optimizerState ?? []) s.tensor.dispose();
  }
}

test.serial('loss falls, a checkpoint is written every epoch, resume after an interrupt matches an uninterrupted run', async (t) => {
  const before = tf.memory().numTensors;

  // Uninterrupted: 2 epochs.
  const full = await tempDir(t);
  const seenCheckpoints: number[] = [];
  const events: ProgressEvent[] = [];
  const ctxFull = testContext({
    id: 'train',
    outDir: full,
    progress: (e) => {
      events.push(e);
      if (e.label === 'epoch' && e.pass !== undefined && e.done === 1 && e.finished !== true && e.pass.index > 1) {
        // At the first batch of epoch k the checkpoint on disk is that of epoch k − 1.
        seenCheckpoints.push((JSON.parse(readFileSync(path.join(full, 'checkpoint', 'ptychoflow.json'), 'utf8')) as { epoch: number }).epoch);
      }
    },
  });
  const a = await chain(5, 12);
  const result = (await runSink(train, modelOptions, [a.stream], ctxFull)) as Record<string, unknown>;
  await a.close();
  t.is(result.epochs_run, 2);
  t.is(result.stopped, 'epochs');
  t.is(result.normalization, a.stream.meta.normalization);
  const history = JSON.parse(await readFile(path.join(full, 'history.json'), 'utf8')) as { epoch: number; loss: number }[];
  t.is(history.length, 2);
  t.true(history[1]!.loss < history[0]!.loss, `loss ${history.map((h) => h.loss.toPrecision(5)).join(' → ')}`);
  t.true((await readFile(path.join(full, 'loss.png'))).length > 100);
  t.deepEqual(seenCheckpoints, [1]);
  t.true(events.some((e) => e.total === a.stream.meta.count && e.total! > 1 && typeof e.info?.groups_per_s === 'number'));
  const sidecar = JSON.parse(await readFile(path.join(full, 'checkpoint', 'ptychoflow.json'), 'utf8')) as { epoch: number };
  t.is(sidecar.epoch, 2);
  t.is(a.ledger.stage('tensorify').tensors, 0, 'every batch disposed');

  await resumeMatches(t, modelOptions, full, result);
  t.is(tf.memory().numTensors, before, 'no tensor leaked');
});

/** Interrupts a run of `options` during epoch 2, resumes it with a fresh chain (as in a new process), and compares with the uninterrupted run in `full`. */
async function resumeMatches(t: ExecutionContext, options: Record<string, unknown>, full: string, result: Record<string, unknown>): Promise<void> {
  const split = await tempDir(t);
  const controller = new AbortController();
  const ctxCut = testContext({
    id: 'train',
    outDir: split,
    signal: controller.signal,
    progress: (e) => {
      if (e.label === 'epoch' && e.pass?.index === 2 && e.done >= 2) controller.abort(new Error('interrupted by test'));
    },
  });
  const b = await chain(5, 12);
  await t.throwsAsync(runSink(train, options, [b.stream], ctxCut), { message: /interrupted by test/ });
  await b.close();
  const cut = JSON.parse(await readFile(path.join(split, 'checkpoint', 'ptychoflow.json'), 'utf8')) as { epoch: number };
  t.is(cut.epoch, 1);
  t.is(b.ledger.stage('tensorify').tensors, 0, 'batches disposed on abort');
  const c = await chain(5, 12);
  const resumed = (await runSink(train, { ...options, resume: true }, [c.stream], testContext({ id: 'train', outDir: split }))) as Record<string, unknown>;
  await c.close();
  t.is(resumed.epochs_run, 2);
  t.true(
    Math.abs((resumed.final_loss as number) - (result.final_loss as number)) <= 1e-5 * Math.abs(result.final_loss as number),
    `${String(resumed.final_loss)} vs ${String(result.final_loss)}`,
  );

  const wa = await finalWeights(path.join(full, 'checkpoint'));
  const wb = await finalWeights(path.join(split, 'checkpoint'));
  t.is(wa.length, wb.length);
  let worst = 0;
  wa.forEach((w, i) => w.forEach((v, k) => (worst = Math.max(worst, Math.abs(v - wb[i]![k]!)))));
  t.true(worst < 1e-5, `largest weight difference ${worst}`);
}

test.serial('cosine schedule: lr decays step by step to final_lr, and a resumed run still matches', async (t) => {
  const before = tf.memory().numTensors;
  const options = { ...modelOptions, lr_schedule: 'cosine', final_lr: 1e-4, warmup_steps: 0 };
  const full = await tempDir(t);
  const lrs: number[] = [];
  const ctx = testContext({
    id: 'train',
    outDir: full,
    progress: (e) => {
      if (e.finished !== true && typeof e.info?.lr === 'number') lrs.push(e.info.lr);
    },
  });
  const a = await chain(5, 12);
  const result = (await runSink(train, options, [a.stream], ctx)) as Record<string, unknown>;
  await a.close();
  const steps = 2 * (a.stream.meta.count as number);
  t.is(lrs.length, steps);
  t.is(lrs[0], 2e-3, 'starts at lr');
  for (let i = 1; i < lrs.length; i++) t.true(lrs[i]! < lrs[i - 1]!, `lr rises at step ${i}: ${lrs[i - 1]} → ${lrs[i]}`);
  t.true(Math.abs(lrs[steps - 1]! - cosineLr(2e-3, 1e-4, (steps - 1) / steps)) < 1e-12);
  const history = JSON.parse(await readFile(path.join(full, 'history.json'), 'utf8')) as { lr: number }[];
  t.deepEqual(
    history.map((h) => h.lr),
    [lrs[steps / 2 - 1], lrs[steps - 1]],
    'history records the last step’s rate',
  );
  t.is(result.lr, lrs[steps - 1]);
  await resumeMatches(t, options, full, result);
  await t.throwsAsync(runSink(train, { ...options, final_lr: 3e-3 }, [a.stream], testContext({ id: 'train', outDir: full })), {
    message: /final_lr 0.003 is not below lr 0.002/,
  });
  t.is(tf.memory().numTensors, before, 'no tensor leaked');
});

test.serial('warm-up: the first warmup_steps steps ramp the rate linearly to lr, then it stays', async (t) => {
  const before = tf.memory().numTensors;
  const lrs: number[] = [];
  const ctx = testContext({
    id: 'train',
    outDir: await tempDir(t),
    progress: (e) => {
      if (e.finished !== true && typeof e.info?.lr === 'number') lrs.push(e.info.lr);
    },
  });
  const a = await chain(5, 12);
  await runSink(train, { ...modelOptions, warmup_steps: 4 }, [a.stream], ctx);
  await a.close();
  t.true(lrs.length > 4, `${lrs.length} steps`);
  lrs.forEach((lr, k) => t.true(Math.abs(lr - 2e-3 * Math.min(1, (k + 1) / 4)) < 1e-15, `step ${k}: ${lr}`));
  t.is(tf.memory().numTensors, before, 'no tensor leaked');
});

test.serial('a validation input is monitored, and a bad input is refused', async (t) => {
  const before = tf.memory().numTensors;
  const dir = await tempDir(t);
  const trainData = await chain(1, 16);
  const valData = await chain(2, 16);
  const r = (await runSink(train, { ...modelOptions, epochs: 1 }, [trainData.stream, valData.stream], testContext({ id: 'train', outDir: dir }))) as Record<
    string,
    unknown
  >;
  await trainData.close();
  await valData.close();
  t.is(typeof r.final_val_loss, 'number');
  t.is(r.monitor, 'val_loss');
  t.is(r.best_epoch, 1);
  const frames: Stream<unknown> = { meta: { record: 'frame' }, open: () => (async function* () {})() };
  await t.throwsAsync(runSink(train, {}, [frames], testContext({ id: 'train', outDir: dir })), { message: /tensor batches/ });
  await t.throwsAsync(runSink(train, { N: 32 }, [trainData.stream], testContext({ id: 'train', outDir: dir })), { message: /N=32/ });
  t.throws(() => train.options.parse({ epochs: 0 }));
  t.throws(() => train.options.parse({ bogus: 1 }));
  t.is(trainData.ledger.stage('tensorify').tensors + valData.ledger.stage('tensorify').tensors, 0);
  t.is(tf.memory().numTensors, before);
});

test('schedule: lr halves after `patience` epochs without improvement, stops after the early-stop patience', (t) => {
  const sched: Schedule = { factor: 0.5, patience: 2, min_lr: 1e-4, stop_patience: 3 };
  let s = initialState(1e-3, 0);
  const losses = [5, 4, 4.5, 4.2, 4.1, 4.3];
  const lrs: number[] = [];
  for (const [i, loss] of losses.entries()) {
    s = scheduleStep(s, { epoch: i + 1, loss, lr: s.lr, seconds: 0 }, sched);
    lrs.push(s.lr);
    if (shouldStop(s, sched)) break;
  }
  t.deepEqual(lrs, [1e-3, 1e-3, 1e-3, 5e-4, 5e-4]);
  t.is(s.epoch, 5);
  t.is(s.best, 4);
  t.is(s.best_epoch, 2);
  t.true(shouldStop(s, sched));
  let low = initialState(2e-4, 0);
  for (let e = 1; e <= 6; e++) low = scheduleStep(low, { epoch: e, loss: 1, lr: low.lr, seconds: 0 }, { ...sched, stop_patience: 0 });
  t.is(low.lr, 1e-4, 'never below min_lr');
  t.false(shouldStop(low, { ...sched, stop_patience: 0 }));
});

test('training progress: the larger of steps done and budget spent; cosine goes from lr to final_lr', (t) => {
  t.is(trainingProgress({ epoch: 0, batch: 0, batches: 10, epochs: 4, seconds: 0, budget: Infinity }), 0);
  t.is(trainingProgress({ epoch: 1, batch: 5, batches: 10, epochs: 4, seconds: 1, budget: Infinity }), 1.5 / 4);
  t.is(trainingProgress({ epoch: 1, batch: 5, batches: undefined, epochs: 4, seconds: 1, budget: Infinity }), 1 / 4, 'unknown pass length: whole epochs');
  t.is(trainingProgress({ epoch: 1, batch: 5, batches: 10, epochs: 4, seconds: 60, budget: 100 }), 0.6, 'the budget runs out first');
  t.is(trainingProgress({ epoch: 3, batch: 9, batches: 10, epochs: 4, seconds: 500, budget: 100 }), 1, 'never past 1');
  t.is(cosineLr(1e-3, 1e-5, 0), 1e-3);
  t.true(Math.abs(cosineLr(1e-3, 1e-5, 0.5) - (1e-3 + 1e-5) / 2) < 1e-15);
  t.is(cosineLr(1e-3, 1e-5, 1), 1e-5);
  t.is(cosineLr(1e-3, 1e-5, 2), 1e-5);
});

test('time budget: spent, or (cosine) less than half an epoch of it left', (t) => {
  t.false(budgetSpent(100, 200, 60, false));
  t.false(budgetSpent(180, 200, 60, false), 'plateau runs the epoch that crosses the budget');
  t.true(budgetSpent(200, 200, 60, false));
  t.false(budgetSpent(160, 200, 60, true));
  t.true(budgetSpent(180, 200, 60, true), 'cosine: 20 s left of 60-s epochs');
  t.false(budgetSpent(1e9, Infinity, 60, true), 'no budget');
});

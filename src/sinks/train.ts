// The `train` sink (SPEC §5): trains a PtychoPINN on a re-iterable stream of
// TensorBatch records, one pass (one `open()`) per epoch, with Adam,
// reduce-on-plateau (or a cosine decay over the run) and early stopping on the
// validation loss (the training loss without a validation input), an optional
// time budget, and an atomic checkpoint after every epoch.
//
// The cosine schedule sets the learning rate before every step from how far
// the run has come: the larger of the fraction of `epochs` done and the
// fraction of `max_minutes` spent. Under a time budget that is what lets a run
// end at a small learning rate whenever the budget ends it, which a plateau
// schedule cannot know to do.
//
// Resume: the checkpoint holds the weights, the Adam state, and the schedule
// state (epoch, lr, plateau and early-stop counters, best loss, history,
// batches per pass, seconds spent). The
// upstream `shuffle` derives each epoch's order from (seed, pass number), so a
// resumed run first advances its inputs by one cheap pass per epoch already
// done (open, pull one batch, close) and then trains exactly the batches the
// uninterrupted run would have seen. On abort (SIGINT) the checkpoint on disk
// is that of the last completed epoch; the error is rethrown.
import { existsSync } from 'node:fs';
import path from 'node:path';
import * as tf from '../tf.js';
import type { z } from 'zod';
import { DataError, OptionsError } from '../errors.js';
import { linePlot } from '../io/png.js';
import { loadCheckpoint, makeOptimizer, prepareCheckpointDir, saveCheckpoint } from '../model/checkpoint.js';
import { COLLAPSE_HINT, describeCollapse, judgeCollapse, type Diagnosis } from '../model/collapse.js';
import { modelConfigSchema, type ModelConfig } from '../model/config.js';
import { PtychoPINN } from '../model/pinn.js';
import { defineSink, type Json, type StageContext, type Stream, type TensorBatch } from '../pipeline/types.js';
import { writeFileAtomic } from '../util/atomic.js';
import { duration, rate, sig } from '../util/format.js';
import {
  batchesPerPass,
  budgetSpent,
  checkCosineRates,
  cosineLr,
  type EpochRecord,
  forEachBatch,
  initialState,
  outPath,
  relativeDifference,
  savePng,
  scheduleStep,
  secondsSince,
  setLearningRate,
  shouldStop,
  skipPass,
  tensorBatchStream,
  trainingProgress,
  type TrainState,
} from './shared/util.js';
import { modelFields, trainSpec, type trainOptions } from './shared/train-spec.js';

type TrainOptions = z.output<typeof trainOptions>;

function pickModelKeys(o: Record<string, unknown> | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(modelFields)) if (o?.[k] !== undefined) out[k] = o[k];
  return out;
}

/** The model config: stream meta (N, gridsize), then top-level keys, then the `model` block, then schema defaults. */
export function resolveModelConfig(options: TrainOptions, input: Stream<TensorBatch>, ctx: StageContext): ModelConfig {
  const raw = { N: input.meta.scan?.N, gridsize: input.meta.gridsize, ...pickModelKeys(options), ...pickModelKeys(options.model) };
  const parsed = modelConfigSchema.safeParse(raw);
  if (!parsed.success) {
    const what = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw new OptionsError('BAD_MODEL_CONFIG', `stage '${ctx.id}': model options do not validate: ${what}`, { stage: ctx.id });
  }
  const config = parsed.data;
  const scanN = input.meta.scan?.N;
  if (scanN !== undefined && config.N !== scanN) {
    throw new OptionsError('BAD_MODEL_CONFIG', `stage '${ctx.id}': model N=${config.N} but the input patterns are ${scanN}×${scanN}`, { stage: ctx.id, key: 'N', hint: 'leave N unset to take it from the data' });
  }
  const g = input.meta.gridsize;
  if (g !== undefined && config.gridsize !== g) {
    throw new OptionsError('BAD_MODEL_CONFIG', `stage '${ctx.id}': model gridsize=${config.gridsize} but the input was grouped with gridsize ${g}`, { stage: ctx.id, key: 'gridsize', hint: 'leave gridsize unset to take it from the group stage' });
  }
  return config;
}

/** Mean loss over one pass of `stream`, weighted by batch size. */
async function passLoss(stream: Stream<TensorBatch>, ctx: StageContext, step: (b: TensorBatch) => number, onBatch: (b: TensorBatch, loss: number, i: number) => void): Promise<number> {
  let sum = 0;
  let groups = 0;
  await forEachBatch(stream, ctx.signal, (b, i) => {
    const loss = step(b);
    if (!Number.isFinite(loss)) {
      throw new DataError('LOSS_NOT_FINITE', `stage '${ctx.id}': the loss became ${loss} at batch ${i}`, { stage: ctx.id, hint: 'lower lr, or check the input normalisation' });
    }
    sum += loss * b.size;
    groups += b.size;
    ctx.ledger.check(ctx.id);
    onBatch(b, loss, i);
  });
  if (groups === 0) throw new DataError('EMPTY_INPUT', `stage '${ctx.id}': an input stream yielded no batches`, { stage: ctx.id });
  return sum / groups;
}

async function writeHistory(ctx: StageContext, options: TrainOptions, history: readonly EpochRecord[]): Promise<void> {
  await writeFileAtomic(outPath(ctx, options.history), JSON.stringify(history, null, 2) + '\n');
  const x = history.map((h) => h.epoch);
  const series = [{ name: 'training loss', x, y: history.map((h) => h.loss) }];
  const val = history.filter((h) => h.val_loss !== undefined);
  if (val.length > 0) series.push({ name: 'validation loss', x: val.map((h) => h.epoch), y: val.map((h) => h.val_loss!) });
  await savePng(outPath(ctx, options.loss_plot), linePlot(series, { title: `${ctx.id} loss`, xlabel: 'epoch', ylabel: 'loss' }));
}

export default defineSink({
  ...trainSpec,
  async create(options, { ctx, inputs }): Promise<Json> {
    const t0 = performance.now();
    const input = tensorBatchStream(inputs[0], ctx, 'input 0 (training batches)');
    const validation = inputs[1] === undefined ? undefined : tensorBatchStream(inputs[1], ctx, 'input 1 (validation batches)');
    const scan = input.meta.scan;
    if (scan === undefined) throw new OptionsError('NO_SCAN_META', `stage '${ctx.id}': its input carries no scan metadata (probe)`, { stage: ctx.id });
    const normalization = input.meta.normalization ?? 1;
    if (input.meta.normalization === undefined) ctx.log.warn('input carries no normalisation factor (no normalize stage?); recording 1');
    const seed = options.seed ?? ctx.seed;
    const cosine = options.lr_schedule === 'cosine';
    if (cosine) checkCosineRates(ctx, options.lr, options.final_lr);
    const dir = outPath(ctx, options.checkpoint_dir);
    const recovered = await prepareCheckpointDir(dir, ctx.id);
    if (recovered !== undefined) ctx.log.warn(`recovered the checkpoint of an interrupted save from ${path.basename(recovered)}`);
    const resuming = options.resume && existsSync(path.join(dir, 'ptychoflow.json'));
    if (options.resume && !resuming) ctx.log.info(`no checkpoint in ${dir}: starting fresh`);

    let model: PtychoPINN | undefined;
    let optimizer: tf.Optimizer | undefined;
    let state: TrainState;
    let saved = -1;
    let saved0 = 0;
    try {
      if (resuming) {
        const loaded = await loadCheckpoint(dir);
        model = loaded.model;
        state = stateFromSidecar(loaded.sidecar, dir);
        if (relativeDifference(loaded.sidecar.normalization, normalization) > 1e-3) {
          ctx.log.warn(`input normalisation ${normalization} differs from the checkpoint's ${loaded.sidecar.normalization}`);
        }
        optimizer = makeOptimizer(state.lr);
        const slots = loaded.optimizerState;
        if (slots === undefined) ctx.log.warn(`checkpoint ${dir} holds no optimizer state: Adam restarts from zero moments`);
        else {
          try {
            await optimizer.setWeights(slots);
          } finally {
            for (const s of slots) s.tensor.dispose();
          }
        }
        saved = state.epoch;
        saved0 = state.epoch;
        ctx.log.info(`resuming from ${dir} after epoch ${state.epoch}`);
        for (let e = 0; e < state.epoch; e++) {
          await skipPass(input, ctx.signal);
          if (validation !== undefined) await skipPass(validation, ctx.signal);
        }
      } else {
        const config = resolveModelConfig(options, input, ctx);
        model = PtychoPINN.create(config, scan.probe, seed);
        optimizer = makeOptimizer(options.lr);
        state = initialState(options.lr, seed);
      }
      const m = model;
      const opt = optimizer;
      ctx.log.info(`model: ${m.paramCount()} parameters, support ${m.supportMode}, N=${m.config.N}, gridsize=${m.config.gridsize}`);

      let stopped: 'epochs' | 'early_stop' | 'time_budget' | 'collapse' = 'epochs';
      let lastDiagnosis: Diagnosis | undefined;
      let total = batchesPerPass(input.meta);
      const budget = options.max_minutes === undefined ? Infinity : options.max_minutes * 60;
      const sched = { ...options.reduce_lr, ...(cosine ? { patience: 0 } : {}), stop_patience: options.early_stop.patience, min_delta: options.min_delta };
      const before = state.seconds ?? 0;
      const spent = (): number => before + secondsSince(t0);
      const r = options.reduce_lr;
      ctx.log.info(cosine
        ? `lr: cosine ${rate(options.lr)} → ${rate(options.final_lr)} over ${options.epochs} epochs${Number.isFinite(budget) ? ` or ${duration(budget)}` : ''}`
        : `lr: ${rate(state.lr)}, ×${r.factor} after ${r.patience} epoch${r.patience === 1 ? '' : 's'} without improvement (floor ${rate(r.min_lr)})${r.patience === 0 ? ' — never reduced' : ''}`);
      if (shouldStop(state, sched)) stopped = 'early_stop';
      while (stopped === 'epochs' && state.epoch < options.epochs) {
        ctx.signal.throwIfAborted();
        const e = state.epoch + 1;
        const te = performance.now();
        let groups = 0;
        let seen = 0;
        let lr = state.lr;
        setLearningRate(opt, lr);
        let step = 0;
        const done = state.epoch;
        const batches = state.batches_per_epoch ?? total;
        const label = 'epoch';
        const pass = { index: e, of: options.epochs };
        let probe: { X: tf.Tensor4D; coords: tf.Tensor4D } | undefined;
        let loss: number;
        try {
          loss = await passLoss(input, ctx, (b) => {
            // The epoch's first batch, kept to measure the trained network on at the epoch's end.
            if (step === 0 && options.collapse.tol > 0) probe = { X: b.X.clone(), coords: b.coords.clone() };
            if (cosine) {
              lr = cosineLr(options.lr, options.final_lr, trainingProgress({ epoch: done, batch: step, batches, epochs: options.epochs, seconds: spent(), budget }));
              setLearningRate(opt, lr);
            }
            step++;
            return m.trainStep(b.X, b.coords, opt);
          }, (b, l, i) => {
            groups += b.size;
            seen = i + 1;
            const s = (performance.now() - te) / 1000;
            ctx.progress({ label, pass, done: i + 1, ...(total !== undefined ? { total } : {}), unit: 'batches', info: { loss: l, lr, groups_per_s: s > 0 ? Math.round(groups / s) : 0 } });
          });
          lastDiagnosis = probe === undefined ? undefined : m.diagnose(probe.X, probe.coords);
        } finally {
          if (probe !== undefined) tf.dispose([probe.X, probe.coords]);
        }
        total ??= seen;
        const valLoss = validation === undefined ? undefined : await passLoss(validation, ctx, (b) => m.evaluateLoss(b.X, b.coords), () => undefined);
        // With the cosine schedule `lr` is the rate of the epoch's last step.
        const d = lastDiagnosis;
        const record: EpochRecord = {
          epoch: e,
          loss,
          ...(valLoss !== undefined ? { val_loss: valLoss } : {}),
          lr,
          seconds: secondsSince(te),
          ...(d !== undefined ? { amp_spread: d.amplitude, phase_spread: d.phase, grad_norm: d.gradNorm } : {}),
        };
        state = { ...scheduleStep({ ...state, lr }, record, sched), batches_per_epoch: state.batches_per_epoch ?? seen };
        state.seconds = spent();
        ctx.progress({ label, pass, done: total ?? 0, ...(total !== undefined ? { total } : {}), unit: 'batches', info: { loss, ...(valLoss !== undefined ? { val_loss: valLoss } : {}), lr: record.lr }, finished: true });
        await saveCheckpoint(dir, m, { config: m.config, normalization, normalization_mode: input.meta.normalizationMode ?? 'all', intensityScale: m.intensityScale(), epoch: state.epoch, seed, history: state.history, train: state }, opt);
        saved = state.epoch;
        await writeHistory(ctx, options, state.history);
        // The one line per epoch; a changed learning rate gets a line of its own.
        ctx.log.info(`epoch ${e}/${options.epochs}: loss ${sig(loss)}${valLoss !== undefined ? `, val_loss ${sig(valLoss)}` : ''}, lr ${rate(record.lr)}, ${duration(record.seconds)}`);
        if (state.lr !== record.lr) ctx.log.info(`lr ${rate(record.lr)} → ${rate(state.lr)}: no improvement of the ${validation === undefined ? 'loss' : 'val_loss'} for ${options.reduce_lr.patience} epoch${options.reduce_lr.patience === 1 ? '' : 's'}`);
        const verdict = d === undefined ? undefined : judgeCollapse(d, options.collapse.tol);
        if (verdict?.collapsed === true) {
          const what = `stage '${ctx.id}': ${describeCollapse(e, verdict, d!)}`;
          if (options.collapse.action === 'fail') throw new DataError('TRAINING_COLLAPSED', what, { stage: ctx.id, hint: COLLAPSE_HINT });
          ctx.log.warn(`${what} (${COLLAPSE_HINT})`, { code: 'TRAINING_COLLAPSED' });
          if (options.collapse.action === 'stop') stopped = 'collapse';
        }
        if (stopped === 'collapse') break;
        if (shouldStop(state, sched)) stopped = 'early_stop';
        else if (state.epoch < options.epochs && budgetSpent(state.seconds, budget, record.seconds, cosine)) stopped = 'time_budget';
      }
      const last = state.history[state.history.length - 1];
      return {
        checkpoint: dir,
        epochs_run: state.epoch,
        resumed_from: resuming ? saved0 : null,
        final_loss: last?.loss ?? null,
        ...(last?.val_loss !== undefined ? { final_val_loss: last.val_loss } : {}),
        best_loss: state.best,
        best_epoch: state.best_epoch,
        monitor: validation === undefined ? 'loss' : 'val_loss',
        lr: state.lr,
        normalization,
        intensity_scale: m.intensityScale(),
        support_mode: m.supportMode,
        param_count: m.paramCount(),
        seconds: secondsSince(t0),
        stopped,
        history: outPath(ctx, options.history),
        loss_plot: outPath(ctx, options.loss_plot),
      };
    } catch (err) {
      if (ctx.signal.aborted) {
        // Every completed epoch was checkpointed when it ended, so the directory already holds the last one.
        if (saved >= 0) ctx.log.warn(`interrupted: checkpoint of epoch ${saved} kept in ${dir} (rerun with resume: true to continue)`);
        else ctx.log.warn('interrupted before the first epoch ended: no checkpoint written');
      }
      throw err;
    } finally {
      optimizer?.dispose();
      model?.dispose();
    }
  },
});

/** The training state stored with a checkpoint (see saveCheckpoint's sidecar `train`). */
function stateFromSidecar(sidecar: { epoch: number; train?: unknown }, dir: string): TrainState {
  const t = sidecar.train as TrainState | undefined;
  if (t === undefined || typeof t.epoch !== 'number' || !Array.isArray(t.history)) {
    throw new DataError('NO_TRAIN_STATE', `checkpoint ${dir} holds no training state to resume from`, { file: dir, hint: 'train without resume: true, or point checkpoint_dir at a train checkpoint' });
  }
  return t;
}

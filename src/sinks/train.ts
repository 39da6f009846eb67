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
import { DataError, OptionsError } from '../errors.js';
import { linePlot } from '../io/png.js';
import { prepareCheckpointDir, saveCheckpoint } from '../model/checkpoint.js';
import { COLLAPSE_HINT, describeCollapse, judgeCollapse, type Diagnosis } from '../model/collapse.js';
import { modelConfigSchema, type ModelConfig } from '../model/config.js';
import { budgetSpent, scheduleStep, shouldStop, type EpochRecord, type TrainState } from '../model/schedule.js';
import { defineSink, type Json, type ScanMeta, type StageContext, type Stream, type TensorBatch } from '../pipeline/types.js';
import { writeFileAtomic } from '../util/atomic.js';
import { duration, rate, sig } from '../util/format.js';
import { modelFields, trainSpec } from './shared/train-spec.js';
import { freshTraining, resumeTraining, trainEpoch, type EpochPlan, type TrainOptions, type Training } from './shared/train-run.js';
import { batchesPerPass, checkCosineRates, outPath, savePng, secondsSince, tensorBatchStream } from './shared/util.js';

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
    throw new OptionsError('BAD_MODEL_CONFIG', `stage '${ctx.id}': model N=${config.N} but the input patterns are ${scanN}×${scanN}`, {
      stage: ctx.id,
      key: 'N',
      hint: 'leave N unset to take it from the data',
    });
  }
  const g = input.meta.gridsize;
  if (g !== undefined && config.gridsize !== g) {
    throw new OptionsError('BAD_MODEL_CONFIG', `stage '${ctx.id}': model gridsize=${config.gridsize} but the input was grouped with gridsize ${g}`, {
      stage: ctx.id,
      key: 'gridsize',
      hint: 'leave gridsize unset to take it from the group stage',
    });
  }
  return config;
}

async function writeHistory(ctx: StageContext, options: TrainOptions, history: readonly EpochRecord[]): Promise<void> {
  await writeFileAtomic(outPath(ctx, options.history), JSON.stringify(history, null, 2) + '\n');
  const x = history.map((h) => h.epoch);
  const series = [{ name: 'training loss', x, y: history.map((h) => h.loss) }];
  const val = history.filter((h) => h.val_loss !== undefined);
  if (val.length > 0) series.push({ name: 'validation loss', x: val.map((h) => h.epoch), y: val.map((h) => h.val_loss!) });
  await savePng(outPath(ctx, options.loss_plot), linePlot(series, { title: `${ctx.id} loss`, xlabel: 'epoch', ylabel: 'loss' }));
}

/** Logs the epoch's line (and a changed learning rate); judges collapse. Returns 'collapse' when training must stop. */
function afterEpoch(
  ctx: StageContext,
  options: TrainOptions,
  record: EpochRecord,
  state: TrainState,
  d: Diagnosis | undefined,
  monitor: string,
  base: number,
): 'collapse' | undefined {
  const e = record.epoch;
  const valLoss = record.val_loss;
  // The one line per epoch; a changed learning rate gets a line of its own.
  ctx.log.info(
    `epoch ${e}/${options.epochs}: loss ${sig(record.loss)}${valLoss !== undefined ? `, val_loss ${sig(valLoss)}` : ''}, lr ${rate(record.lr)}, ${duration(record.seconds)}`,
  );
  const p = options.reduce_lr.patience;
  if (state.lr !== base) ctx.log.info(`lr ${rate(base)} → ${rate(state.lr)}: no improvement of the ${monitor} for ${p} epoch${p === 1 ? '' : 's'}`);
  const verdict = d === undefined ? undefined : judgeCollapse(d, options.collapse.tol);
  if (verdict?.collapsed !== true) return undefined;
  const what = `stage '${ctx.id}': ${describeCollapse(e, verdict, d!)}`;
  if (options.collapse.action === 'fail') throw new DataError('TRAINING_COLLAPSED', what, { stage: ctx.id, hint: COLLAPSE_HINT });
  ctx.log.warn(`${what} (${COLLAPSE_HINT})`, { code: 'TRAINING_COLLAPSED' });
  return options.collapse.action === 'stop' ? 'collapse' : undefined;
}

function logSchedule(ctx: StageContext, options: TrainOptions, state: TrainState, cosine: boolean, budget: number): void {
  const r = options.reduce_lr;
  ctx.log.info(
    cosine
      ? `lr: cosine ${rate(options.lr)} → ${rate(options.final_lr)} over ${options.epochs} epochs${Number.isFinite(budget) ? ` or ${duration(budget)}` : ''}`
      : `lr: ${rate(state.lr)}, ×${r.factor} after ${r.patience} epoch${r.patience === 1 ? '' : 's'} without improvement (floor ${rate(r.min_lr)})${r.patience === 0 ? ' — never reduced' : ''}`,
  );
}

interface Setup {
  input: Stream<TensorBatch>;
  validation?: Stream<TensorBatch>;
  scan: ScanMeta;
  normalization: number;
  seed: number;
  cosine: boolean;
  dir: string;
  resuming: boolean;
}

/** Inputs checked, the checkpoint directory prepared (recovered after a crash), whether to resume. */
async function setUp(options: TrainOptions, ctx: StageContext, inputs: readonly Stream<unknown>[]): Promise<Setup> {
  const input = tensorBatchStream(inputs[0], ctx, 'input 0 (training batches)');
  const validation = inputs[1] === undefined ? undefined : tensorBatchStream(inputs[1], ctx, 'input 1 (validation batches)');
  const scan = input.meta.scan;
  if (scan === undefined) throw new OptionsError('NO_SCAN_META', `stage '${ctx.id}': its input carries no scan metadata (probe)`, { stage: ctx.id });
  if (input.meta.normalization === undefined) ctx.log.warn('input carries no normalisation factor (no normalize stage?); recording 1');
  const cosine = options.lr_schedule === 'cosine';
  if (cosine) checkCosineRates(ctx, options.lr, options.final_lr);
  const dir = outPath(ctx, options.checkpoint_dir);
  const recovered = await prepareCheckpointDir(dir, ctx.id);
  if (recovered !== undefined) ctx.log.warn(`recovered the checkpoint of an interrupted save from ${path.basename(recovered)}`);
  const resuming = options.resume && existsSync(path.join(dir, 'ptychoflow.json'));
  if (options.resume && !resuming) ctx.log.info(`no checkpoint in ${dir}: starting fresh`);
  return {
    input,
    ...(validation !== undefined ? { validation } : {}),
    scan,
    normalization: input.meta.normalization ?? 1,
    seed: options.seed ?? ctx.seed,
    cosine,
    dir,
    resuming,
  };
}

type Stopped = 'epochs' | 'early_stop' | 'time_budget' | 'collapse';

/** Epochs until the last, early stop, the time budget or a collapse; every epoch checkpointed (`onSaved` hears which). */
async function runEpochs(su: Setup, plan: EpochPlan, start: TrainState, onSaved: (epoch: number) => void): Promise<{ state: TrainState; stopped: Stopped }> {
  const { ctx, options, training } = plan;
  const { model: m, optimizer: opt } = training;
  const sched = { ...options.reduce_lr, ...(su.cosine ? { patience: 0 } : {}), stop_patience: options.early_stop.patience, min_delta: options.min_delta };
  let state = start;
  if (shouldStop(state, sched)) return { state, stopped: 'early_stop' };
  while (state.epoch < options.epochs) {
    ctx.signal.throwIfAborted();
    const { record, seen, diagnosis } = await trainEpoch(plan, state);
    plan.total ??= seen;
    // The plateau schedule goes on from the epoch's rate, not from a warm-up step's lower one.
    const base = su.cosine ? record.lr : state.lr;
    state = { ...scheduleStep({ ...state, lr: base }, record, sched), batches_per_epoch: state.batches_per_epoch ?? seen };
    state.seconds = plan.spent();
    const info = { loss: record.loss, ...(record.val_loss !== undefined ? { val_loss: record.val_loss } : {}), lr: record.lr };
    ctx.progress({
      label: 'epoch',
      pass: { index: record.epoch, of: options.epochs },
      done: plan.total,
      total: plan.total,
      unit: 'batches',
      info,
      finished: true,
    });
    const meta = {
      config: m.config,
      normalization: su.normalization,
      normalization_mode: su.input.meta.normalizationMode ?? 'all',
      intensityScale: m.intensityScale(),
      epoch: state.epoch,
      seed: su.seed,
    };
    await saveCheckpoint(su.dir, m, { ...meta, history: state.history, train: state }, opt);
    onSaved(state.epoch);
    await writeHistory(ctx, options, state.history);
    if (afterEpoch(ctx, options, record, state, diagnosis, su.validation === undefined ? 'loss' : 'val_loss', base) === 'collapse')
      return { state, stopped: 'collapse' };
    if (shouldStop(state, sched)) return { state, stopped: 'early_stop' };
    if (state.epoch < options.epochs && budgetSpent(state.seconds, plan.budget, record.seconds, su.cosine)) return { state, stopped: 'time_budget' };
  }
  return { state, stopped: 'epochs' };
}

export default defineSink({
  ...trainSpec,
  async create(options, { ctx, inputs }): Promise<Json> {
    const t0 = performance.now();
    const su = await setUp(options, ctx, inputs);
    const { input, validation, dir } = su;
    const held: Partial<Training> = {};
    let saved = -1;
    try {
      const training = su.resuming
        ? await resumeTraining(dir, input, validation, ctx, su.normalization, held)
        : freshTraining(resolveModelConfig(options, input, ctx), su.scan, options, su.seed, held);
      const m = training.model;
      saved = training.resumedFrom ?? -1;
      ctx.log.info(`model: ${m.paramCount()} parameters, support ${m.supportMode}, N=${m.config.N}, gridsize=${m.config.gridsize}`);
      const budget = options.max_minutes === undefined ? Infinity : options.max_minutes * 60;
      const before = training.state.seconds ?? 0;
      const plan: EpochPlan = {
        ctx,
        options,
        training,
        input,
        ...(validation !== undefined ? { validation } : {}),
        cosine: su.cosine,
        budget,
        spent: () => before + secondsSince(t0),
      };
      const total = batchesPerPass(input.meta);
      if (total !== undefined) plan.total = total;
      logSchedule(ctx, options, training.state, su.cosine, budget);
      const { state, stopped } = await runEpochs(su, plan, training.state, (e) => (saved = e));
      const last = state.history[state.history.length - 1];
      return {
        checkpoint: dir,
        epochs_run: state.epoch,
        resumed_from: training.resumedFrom ?? null,
        final_loss: last?.loss ?? null,
        ...(last?.val_loss !== undefined ? { final_val_loss: last.val_loss } : {}),
        best_loss: state.best,
        best_epoch: state.best_epoch,
        monitor: validation === undefined ? 'loss' : 'val_loss',
        lr: state.lr,
        normalization: su.normalization,
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
      held.optimizer?.dispose();
      held.model?.dispose();
    }
  },
});

// The pieces of a `train` run (sinks/train.ts): the model and optimizer,
// fresh or resumed from a checkpoint, and one training epoch with its
// validation pass, learning-rate steps, progress and collapse diagnosis.
import type { z } from 'zod';
import * as tf from '../../tf.js';
import { DataError } from '../../errors.js';
import { loadCheckpoint, makeOptimizer } from '../../model/checkpoint.js';
import type { Diagnosis } from '../../model/collapse.js';
import type { ModelConfig } from '../../model/config.js';
import { PtychoPINN } from '../../model/pinn.js';
import { cosineLr, initialState, trainingProgress, warmupFactor, type EpochRecord, type TrainState } from '../../model/schedule.js';
import type { ScanMeta, StageContext, Stream, TensorBatch } from '../../pipeline/types.js';
import type { trainOptions } from './train-spec.js';
import { forEachBatch, relativeDifference, secondsSince, setLearningRate, skipPass } from './util.js';

export type TrainOptions = z.output<typeof trainOptions>;

export interface Training {
  model: PtychoPINN;
  optimizer: tf.Optimizer;
  state: TrainState;
  /** The epoch the run resumed after (undefined: fresh). */
  resumedFrom?: number;
}

/** The training state stored with a checkpoint (see saveCheckpoint's sidecar `train`). */
function stateFromSidecar(sidecar: { epoch: number; train?: unknown }, dir: string): TrainState {
  const t = sidecar.train as TrainState | undefined;
  if (t === undefined || typeof t.epoch !== 'number' || !Array.isArray(t.history)) {
    throw new DataError('NO_TRAIN_STATE', `checkpoint ${dir} holds no training state to resume from`, {
      file: dir,
      hint: 'train without resume: true, or point checkpoint_dir at a train checkpoint',
    });
  }
  return t;
}

/**
 * Resumes from the checkpoint in `dir`: weights, Adam's moments and the
 * schedule state, then advances the inputs by one cheap pass per epoch done
 * (shuffle derives each epoch's order from the pass number). `into` receives
 * the model and optimizer as soon as they exist, so the caller disposes them
 * even when a later step throws.
 */
export async function resumeTraining(
  dir: string,
  input: Stream<TensorBatch>,
  validation: Stream<TensorBatch> | undefined,
  ctx: StageContext,
  normalization: number,
  into: Partial<Training>,
): Promise<Training> {
  const loaded = await loadCheckpoint(dir);
  into.model = loaded.model;
  const state = stateFromSidecar(loaded.sidecar, dir);
  if (relativeDifference(loaded.sidecar.normalization, normalization) > 1e-3) {
    ctx.log.warn(`input normalisation ${normalization} differs from the checkpoint's ${loaded.sidecar.normalization}`);
  }
  const optimizer = (into.optimizer = makeOptimizer(state.lr));
  const slots = loaded.optimizerState;
  if (slots === undefined) ctx.log.warn(`checkpoint ${dir} holds no optimizer state: Adam restarts from zero moments`);
  else {
    try {
      await optimizer.setWeights(slots);
    } finally {
      for (const s of slots) s.tensor.dispose();
    }
  }
  ctx.log.info(`resuming from ${dir} after epoch ${state.epoch}`);
  for (let e = 0; e < state.epoch; e++) {
    await skipPass(input, ctx.signal);
    if (validation !== undefined) await skipPass(validation, ctx.signal);
  }
  return { model: loaded.model, optimizer, state, resumedFrom: state.epoch };
}

/** A new model (seeded) and optimizer. */
export function freshTraining(config: ModelConfig, scan: ScanMeta, options: TrainOptions, seed: number, into: Partial<Training>): Training {
  const model = (into.model = PtychoPINN.create(config, scan.probe, seed));
  const optimizer = (into.optimizer = makeOptimizer(options.lr));
  return { model, optimizer, state: initialState(options.lr, seed) };
}

/** Mean loss over one pass of `stream`, weighted by batch size. */
export async function passLoss(
  stream: Stream<TensorBatch>,
  ctx: StageContext,
  step: (b: TensorBatch) => number,
  onBatch: (b: TensorBatch, loss: number, i: number) => void,
): Promise<number> {
  let sum = 0;
  let groups = 0;
  await forEachBatch(stream, ctx.signal, (b, i) => {
    const loss = step(b);
    if (!Number.isFinite(loss)) {
      throw new DataError('LOSS_NOT_FINITE', `stage '${ctx.id}': the loss became ${loss} at batch ${i}`, {
        stage: ctx.id,
        hint: 'lower lr, or check the input normalisation',
      });
    }
    sum += loss * b.size;
    groups += b.size;
    ctx.ledger.check(ctx.id);
    onBatch(b, loss, i);
  });
  if (groups === 0) throw new DataError('EMPTY_INPUT', `stage '${ctx.id}': an input stream yielded no batches`, { stage: ctx.id });
  return sum / groups;
}

/** What one epoch needs besides the state. */
export interface EpochPlan {
  ctx: StageContext;
  options: TrainOptions;
  training: Training;
  input: Stream<TensorBatch>;
  validation?: Stream<TensorBatch>;
  cosine: boolean;
  /** Time budget in seconds (Infinity: none). */
  budget: number;
  /** Seconds of training so far, over resumed runs. */
  spent: () => number;
  /** Batches per pass, when known. */
  total?: number;
}

/**
 * One epoch: a training pass (the cosine schedule and the warm-up set the
 * rate before each step), the network measured on the epoch's first batch (collapse
 * diagnosis), then the validation pass. Returns the epoch's record; `seen` is
 * the number of batches the pass yielded.
 */
export async function trainEpoch(p: EpochPlan, state: TrainState): Promise<{ record: EpochRecord; seen: number; diagnosis?: Diagnosis }> {
  const { ctx, options, training, total } = p;
  const { model: m, optimizer: opt } = training;
  const e = state.epoch + 1;
  const te = performance.now();
  const batches = state.batches_per_epoch ?? total;
  const pass = { index: e, of: options.epochs };
  let groups = 0,
    seen = 0,
    step = 0,
    lr = state.lr;
  setLearningRate(opt, lr);
  let probe: { X: tf.Tensor4D; coords: tf.Tensor4D } | undefined;
  let loss: number;
  let diagnosis: Diagnosis | undefined;
  try {
    loss = await passLoss(
      p.input,
      ctx,
      (b) => {
        // The epoch's first batch, kept to measure the trained network on at the epoch's end.
        if (step === 0 && options.collapse.tol > 0) probe = { X: b.X.clone(), coords: b.coords.clone() };
        const global = (state.epoch > 0 ? state.epoch * (batches ?? 0) : 0) + step;
        if (p.cosine || global <= options.warmup_steps) {
          const base = p.cosine
            ? cosineLr(
                options.lr,
                options.final_lr,
                trainingProgress({ epoch: state.epoch, batch: step, batches, epochs: options.epochs, seconds: p.spent(), budget: p.budget }),
              )
            : state.lr;
          lr = base * warmupFactor(global, options.warmup_steps);
          setLearningRate(opt, lr);
        }
        step++;
        return m.trainStep(b.X, b.coords, opt);
      },
      (b, l, i) => {
        groups += b.size;
        seen = i + 1;
        const s = (performance.now() - te) / 1000;
        ctx.progress({
          label: 'epoch',
          pass,
          done: i + 1,
          ...(total !== undefined ? { total } : {}),
          unit: 'batches',
          info: { loss: l, lr, groups_per_s: s > 0 ? Math.round(groups / s) : 0 },
        });
      },
    );
    diagnosis = probe === undefined ? undefined : m.diagnose(probe.X, probe.coords);
  } finally {
    if (probe !== undefined) tf.dispose([probe.X, probe.coords]);
  }
  const valLoss =
    p.validation === undefined
      ? undefined
      : await passLoss(
          p.validation,
          ctx,
          (b) => m.evaluateLoss(b.X, b.coords),
          () => undefined,
        );
  // With the cosine schedule `lr` is the rate of the epoch's last step.
  const d = diagnosis;
  const record: EpochRecord = {
    epoch: e,
    loss,
    ...(valLoss !== undefined ? { val_loss: valLoss } : {}),
    lr,
    seconds: secondsSince(te),
    ...(d !== undefined ? { amp_spread: d.amplitude, phase_spread: d.phase, grad_norm: d.gradNorm } : {}),
  };
  return { record, seen, ...(d !== undefined ? { diagnosis: d } : {}) };
}

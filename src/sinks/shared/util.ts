// Helpers shared by the tensor-consuming sinks (train, infer, refine): checking that an
// input really carries TensorBatch records, consuming such a stream while
// disposing every batch (also on early exit), and small path/number helpers.
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import type * as tf from '../../tf.js';
import { OptionsError } from '../../errors.js';
import type { Reconstruction, ScanMeta, SinkOutput, StageContext, Stream, StreamMeta, TensorBatch } from '../../pipeline/types.js';
import { writePng, type RgbaImage } from '../../io/png.js';
import { confinedPath } from '../../io/paths.js';
import { yieldToEventLoop } from '../../util/signals.js';

/** An output path option resolved inside the run output directory (refused outside it unless `allow.paths_outside`). */
export function outPath(ctx: StageContext, p: string): string {
  return confinedPath(ctx.outDir, p, { what: 'output path', relax: 'allow.paths_outside', allowOutside: ctx.allow?.paths_outside === true, details: { stage: ctx.id } });
}

/** An input path option (an earlier run's checkpoint or reconstruction) resolved against the output directory; reading may leave it. */
export function inPath(ctx: StageContext, p: string): string {
  return path.resolve(ctx.outDir, p);
}

/** Throws an OptionsError unless `stream` yields TensorBatch records (i.e. comes from `tensorify`). */
export function tensorBatchStream(stream: Stream<unknown> | undefined, ctx: StageContext, which: string): Stream<TensorBatch> {
  if (stream === undefined) throw new OptionsError('MISSING_INPUT', `stage '${ctx.id}' needs ${which}`, { stage: ctx.id });
  if (stream.meta.record !== 'tensor-batch') {
    throw new OptionsError('WRONG_INPUT', `stage '${ctx.id}': ${which} carries '${stream.meta.record}' records, not tensor batches`, {
      stage: ctx.id,
      hint: 'end the input chain with `batch` and `tensorify`',
    });
  }
  return stream as Stream<TensorBatch>;
}

/** Batches one pass yields, when the stream says (its records are batches). */
export function batchesPerPass(meta: StreamMeta): number | undefined {
  return meta.count !== undefined && meta.count >= 0 ? meta.count : undefined;
}

/**
 * Opens `stream` once and hands every batch to `fn`, disposing each batch after
 * `fn` (whether it returns, throws, or the loop ends early). Returns how many
 * batches were seen. The signal is checked before every batch.
 */
export async function forEachBatch(
  stream: Stream<TensorBatch>,
  signal: AbortSignal,
  fn: (batch: TensorBatch, index: number) => void | Promise<void>,
): Promise<number> {
  let i = 0;
  for await (const batch of stream.open(signal)) {
    try {
      // A signal handler only runs when the event loop does: let it, so a stop request lands within one batch.
      await yieldToEventLoop();
      signal.throwIfAborted();
      await fn(batch, i);
    } finally {
      batch.dispose();
    }
    i++;
  }
  return i;
}

/**
 * Advances a stream by one pass without using it: opens it, pulls a single
 * record (so a lazily started generator registers the pass) and closes it.
 * Upstream `shuffle` derives each pass's order from (seed, pass number), so a
 * resumed training run calls this once per epoch already done.
 */
export async function skipPass(stream: Stream<TensorBatch>, signal: AbortSignal): Promise<void> {
  const it = stream.open(signal)[Symbol.asyncIterator]();
  try {
    const first = await it.next();
    if (first.done !== true) first.value.dispose();
  } finally {
    await it.return?.();
  }
}

/** |a − b| / max(|a|, |b|), 0 when both are 0. */
export function relativeDifference(a: number, b: number): number {
  const m = Math.max(Math.abs(a), Math.abs(b));
  return m === 0 ? 0 : Math.abs(a - b) / m;
}

/** Writes a rendered image as PNG (atomically, via writePng). */
export async function savePng(file: string, image: RgbaImage): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  await writePng(file, image.rgba, image.width, image.height);
}

/** Refuses a cosine decay that does not decay: final_lr must lie below lr. */
export function checkCosineRates(ctx: StageContext, lr: number, finalLr: number): void {
  if (finalLr >= lr) {
    throw new OptionsError('BAD_OPTION', `stage '${ctx.id}': final_lr ${finalLr} is not below lr ${lr}`, { stage: ctx.id, key: 'final_lr', hint: 'a cosine schedule decays from lr to final_lr: choose final_lr < lr' });
  }
}

/** Sets an optimizer's learning rate for its next steps. */
export function setLearningRate(optimizer: tf.Optimizer, lr: number): void {
  // tfjs optimizers read `learningRate` at every step; it is protected only in the typings.
  (optimizer as unknown as { learningRate: number }).learningRate = lr;
}

/** Seconds since `t0` (a performance.now() value), rounded to ms. */
export function secondsSince(t0: number): number {
  return Math.round(performance.now() - t0) / 1000;
}

// ---- training schedule (reduce-on-plateau, early stop), pure and serialisable ----

export interface EpochRecord {
  /** 1-based epoch number. */
  epoch: number;
  loss: number;
  val_loss?: number;
  /** Learning rate used during the epoch. */
  lr: number;
  seconds: number;
  /** Collapse measurements after the epoch (model/collapse.ts), when taken. */
  amp_spread?: number;
  phase_spread?: number;
  grad_norm?: number;
}

/** Everything besides weights and Adam state that a resumed run needs (JSON-safe). */
export interface TrainState {
  /** Completed epochs. */
  epoch: number;
  /** Learning rate for the next epoch. */
  lr: number;
  seed: number;
  /** Best monitored loss so far (null before the first epoch) and the epoch it came from. */
  best: number | null;
  best_epoch: number;
  /** Epochs since the monitored loss last improved (plateau counter resets when the lr drops). */
  plateau_wait: number;
  stop_wait: number;
  history: EpochRecord[];
  /** Batches in one training pass, once known (fixes the step count of the cosine schedule). */
  batches_per_epoch?: number;
  /** Seconds spent training at the last checkpoint, over all runs that resumed it (the time budget counts them). */
  seconds?: number;
}

export interface Schedule {
  factor: number;
  /** 0 disables the reduction. */
  patience: number;
  min_lr: number;
  /** 0 disables early stopping. */
  stop_patience: number;
  /**
   * Smallest relative improvement that counts (default 0): the monitored loss
   * improves only when it falls below best − min_delta·|best|. The Poisson NLL
   * carries a large data-dependent offset, so absolute changes in its 7th digit
   * are noise, not progress.
   */
  min_delta?: number;
}

export function initialState(lr: number, seed: number): TrainState {
  return { epoch: 0, lr, seed, best: null, best_epoch: 0, plateau_wait: 0, stop_wait: 0, history: [] };
}

/** The state after an epoch: monitors the validation loss when there is one, else the training loss. */
export function scheduleStep(s: TrainState, rec: EpochRecord, sched: Schedule): TrainState {
  const monitor = rec.val_loss ?? rec.loss;
  const improved = s.best === null || monitor < s.best - (sched.min_delta ?? 0) * Math.abs(s.best);
  let plateau = improved ? 0 : s.plateau_wait + 1;
  let lr = s.lr;
  if (sched.patience > 0 && plateau >= sched.patience && lr > sched.min_lr) {
    lr = Math.max(lr * sched.factor, sched.min_lr);
    plateau = 0;
  }
  return {
    ...s,
    epoch: rec.epoch,
    lr,
    best: improved ? monitor : s.best,
    best_epoch: improved ? rec.epoch : s.best_epoch,
    plateau_wait: plateau,
    stop_wait: improved ? 0 : s.stop_wait + 1,
    history: [...s.history, rec],
  };
}

/** Where training stands, 0 … 1: the larger of the step fraction (of `epochs` passes) and the time fraction (of the budget). */
export function trainingProgress(at: { epoch: number; batch: number; batches?: number | undefined; epochs: number; seconds: number; budget: number }): number {
  const within = at.batches === undefined || at.batches <= 0 ? 0 : Math.min(at.batch / at.batches, 1);
  const steps = (at.epoch + within) / at.epochs;
  const time = Number.isFinite(at.budget) && at.budget > 0 ? at.seconds / at.budget : 0;
  return Math.min(Math.max(steps, time, 0), 1);
}

/** Cosine decay from `lr` at progress 0 to `final` at progress 1 (and after). */
export function cosineLr(lr: number, final: number, progress: number): number {
  const p = Math.min(Math.max(progress, 0), 1);
  return final + ((lr - final) * (1 + Math.cos(Math.PI * p))) / 2;
}

/**
 * Whether a time budget ends training after an epoch that took `epochSeconds`:
 * once it is spent, or (cosine schedule) once less than half an epoch of it
 * is left, since the next epoch would run almost entirely at the final rate.
 */
export function budgetSpent(seconds: number, budget: number, epochSeconds: number, cosine: boolean): boolean {
  return seconds >= budget || (cosine && budget - seconds < epochSeconds / 2);
}

export function shouldStop(s: TrainState, sched: Schedule): boolean {
  return sched.stop_patience > 0 && s.stop_wait >= sched.stop_patience;
}

/** A sink's summary and its reconstruction as a one-record stream (kept in memory: it is one canvas). */
export function reconstructionOutput(summary: SinkOutput['summary'], r: Reconstruction, scan: ScanMeta | undefined): SinkOutput {
  const stream: Stream<Reconstruction> = {
    meta: { record: 'reconstruction', count: 1, ...(scan === undefined ? {} : { scan }) },
    open: (signal) =>
      (async function* () {
        signal.throwIfAborted();
        yield r;
      })(),
  };
  return { summary, stream };
}

/** The reconstruction an input stream carries (its first record), checked. */
export async function readReconstruction(stream: Stream<unknown>, ctx: StageContext, which: string): Promise<Reconstruction> {
  if (stream.meta.record !== 'reconstruction') {
    throw new OptionsError('WRONG_INPUT', `stage '${ctx.id}': ${which} carries '${stream.meta.record}' records, not a reconstruction`, { stage: ctx.id, hint: 'take it from infer, refine or epie: inputs: [infer]' });
  }
  for await (const r of stream.open(ctx.signal)) return r as Reconstruction;
  throw new OptionsError('EMPTY_INPUT', `stage '${ctx.id}': ${which} yielded no reconstruction`, { stage: ctx.id });
}

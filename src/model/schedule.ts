// The training schedule: reduce-on-plateau, early stopping, cosine decay and the
// time budget. Pure and JSON-serialisable, so a checkpoint can resume it.
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
 * Linear learning-rate warm-up: the factor for optimizer step `step` (0-based,
 * counted over the whole run), (step + 1)/steps until it reaches 1 (steps 0: none).
 * Adam's first updates are ±lr in every weight whatever the gradient's size; in
 * the He-initialised decoders those steps, all of one sign over a channel's
 * post-ReLU inputs, raised the activations ×70 in five steps on Run1084 at 1e4
 * counts until π·tanh held the phase at ±π (docs/RESULTS.md, issue #17).
 */
export function warmupFactor(step: number, steps: number): number {
  return steps > 0 ? Math.min(1, (step + 1) / steps) : 1;
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

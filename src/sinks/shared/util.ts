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
  return confinedPath(ctx.outDir, p, {
    what: 'output path',
    relax: 'allow.paths_outside',
    allowOutside: ctx.allow?.paths_outside === true,
    details: { stage: ctx.id },
  });
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
    throw new OptionsError('BAD_OPTION', `stage '${ctx.id}': final_lr ${finalLr} is not below lr ${lr}`, {
      stage: ctx.id,
      key: 'final_lr',
      hint: 'a cosine schedule decays from lr to final_lr: choose final_lr < lr',
    });
  }
}

/**
 * Sets an optimizer's learning rate for its next steps. It belongs in
 * model/optimizer.ts, and moves there once train-run and refine (loaded
 * lazily) import it from there: a re-export here would load tfjs at `validate`, which
 * loads this module through evaluate and write-npz.
 */
export function setLearningRate(optimizer: tf.Optimizer, lr: number): void {
  // tfjs optimizers read `learningRate` at every step; it is protected only in the typings.
  (optimizer as unknown as { learningRate: number }).learningRate = lr;
}

/** Seconds since `t0` (a performance.now() value), rounded to ms. */
export function secondsSince(t0: number): number {
  return Math.round(performance.now() - t0) / 1000;
}

// The training schedule lives in model/schedule.ts. These named re-exports only
// bridge refine and epie until they import it directly; new code imports
// model/schedule.js itself.
export { budgetSpent, cosineLr, trainingProgress } from '../../model/schedule.js';

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
    throw new OptionsError('WRONG_INPUT', `stage '${ctx.id}': ${which} carries '${stream.meta.record}' records, not a reconstruction`, {
      stage: ctx.id,
      hint: 'take it from infer, refine or epie: inputs: [infer]',
    });
  }
  for await (const r of stream.open(ctx.signal)) return r as Reconstruction;
  throw new OptionsError('EMPTY_INPUT', `stage '${ctx.id}': ${which} yielded no reconstruction`, { stage: ctx.id });
}

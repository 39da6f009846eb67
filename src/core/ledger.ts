// The tensor ledger: which stage holds how many live tensors and bytes.
//
// `tensorify` (the only data stage that creates tensors) registers what it
// creates with `track`, and the TensorBatch's dispose releases it, so the
// ledger knows exactly which stage's tensors are alive. Global use is sampled
// from `tf.memory()` by `check`, which the runner calls after every record a
// stage yields and sinks call during long work (training steps); it keeps the
// peak and enforces `memory.tensor_bytes`. A strict enter/exit stack cannot
// attribute work here: prefetching interleaves stages asynchronously.
import * as tf from '../tf.js';
import { BudgetError } from '../errors.js';

export interface StageTensors {
  /** Net tensors created by this stage that are still counted against it. */
  tensors: number;
  bytes: number;
  /** Highest `bytes` this stage has held at once. */
  peakBytes: number;
}

export interface LedgerReport {
  peak_count: number;
  peak_bytes: number;
  leaked: number;
  leaked_bytes: number;
  by_stage: Record<string, { tensors: number; bytes: number; peak_bytes: number }>;
}

export class TensorLedger {
  private readonly baseTensors: number;
  private readonly baseBytes: number;
  private readonly stages = new Map<string, StageTensors>();
  private peakCount = 0;
  private peakBytes = 0;

  /** @param budgetBytes `memory.tensor_bytes`: live tensor bytes allowed above the start (undefined: no limit). */
  constructor(readonly budgetBytes?: number) {
    const m = tf.memory();
    this.baseTensors = m.numTensors;
    this.baseBytes = m.numBytes;
  }

  /** Live tensors and bytes above the ledger's start. */
  live(): { tensors: number; bytes: number } {
    const m = tf.memory();
    return { tensors: m.numTensors - this.baseTensors, bytes: m.numBytes - this.baseBytes };
  }

  /**
   * Registers tensors a stage created; returns the function that releases them
   * (call it when they are disposed).
   */
  track(stage: string, tensors: readonly tf.Tensor[]): () => void {
    let bytes = 0;
    for (const t of tensors) bytes += t.size * bytesPerElement(t.dtype);
    this.charge(stage, tensors.length, bytes);
    this.check(stage);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.charge(stage, -tensors.length, -bytes);
    };
  }

  /** Runs `fn` for `stage`, then checks the budget. */
  async measure<T>(stage: string, fn: () => Promise<T>): Promise<T> {
    const out = await fn();
    this.check(stage);
    return out;
  }

  /** Updates the peak without enforcing the budget (for points where the caller did not allocate). */
  observe(): void {
    const { tensors, bytes } = this.live();
    if (tensors > this.peakCount) this.peakCount = tensors;
    if (bytes > this.peakBytes) this.peakBytes = bytes;
  }

  /**
   * Updates the peak and enforces the budget; sinks that run long tensor work
   * between records (training steps) call this themselves.
   */
  check(stage: string): void {
    const { tensors, bytes } = this.live();
    if (tensors > this.peakCount) this.peakCount = tensors;
    if (bytes > this.peakBytes) this.peakBytes = bytes;
    if (this.budgetBytes !== undefined && bytes > this.budgetBytes) {
      throw new BudgetError(
        'TENSOR_BUDGET',
        `stage '${stage}' took live tensor memory to ${fmtBytes(bytes)}, over memory.tensor_bytes = ${fmtBytes(this.budgetBytes)}`,
        { stage, hint: 'lower batch or prefetch sizes, or raise memory.tensor_bytes' },
      );
    }
  }

  private charge(stage: string, tensors: number, bytes: number): void {
    let s = this.stages.get(stage);
    if (s === undefined) {
      s = { tensors: 0, bytes: 0, peakBytes: 0 };
      this.stages.set(stage, s);
    }
    s.tensors += tensors;
    s.bytes += bytes;
    if (s.bytes > s.peakBytes) s.peakBytes = s.bytes;
  }

  stage(stage: string): StageTensors {
    return this.stages.get(stage) ?? { tensors: 0, bytes: 0, peakBytes: 0 };
  }

  report(): LedgerReport {
    const { tensors, bytes } = this.live();
    const by: LedgerReport['by_stage'] = {};
    for (const [id, s] of this.stages) by[id] = { tensors: s.tensors, bytes: s.bytes, peak_bytes: s.peakBytes };
    return {
      peak_count: Math.max(this.peakCount, tensors),
      peak_bytes: Math.max(this.peakBytes, bytes),
      leaked: tensors,
      leaked_bytes: bytes,
      by_stage: by,
    };
  }
}

function bytesPerElement(dtype: tf.DataType): number {
  return dtype === 'complex64' ? 8 : dtype === 'string' ? 0 : 4;
}

export function fmtBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let u = 0;
  while (Math.abs(v) >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${u === 0 ? v : v.toFixed(1)} ${units[u]}`;
}

// The tensor ledger: which stage holds how many live tensors and bytes.
//
// The runner brackets every step of every stage (each `next()` of its
// iterator, and a sink's own work) with `enter`/`exit`; the change in
// `tf.memory()` over a step, minus what nested steps already accounted for, is
// charged to that stage. So tensorify is charged for the batches it creates and
// the sink is credited when it disposes them. The ledger also keeps the peak
// over the run, enforces `memory.tensor_bytes`, and reports leaks at the end.
import * as tf from '@tensorflow/tfjs';
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

interface Frame {
  stage: string;
  tensors: number;
  bytes: number;
  /** What nested frames accounted for, to subtract from this one. */
  childTensors: number;
  childBytes: number;
}

export class TensorLedger {
  private readonly baseTensors: number;
  private readonly baseBytes: number;
  private readonly stages = new Map<string, StageTensors>();
  private readonly stack: Frame[] = [];
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

  enter(stage: string): void {
    const m = tf.memory();
    this.stack.push({ stage, tensors: m.numTensors, bytes: m.numBytes, childTensors: 0, childBytes: 0 });
  }

  /** Closes the step opened by the matching `enter`, charges the stage, and checks the budget. */
  exit(stage: string): void {
    const frame = this.stack.pop();
    if (frame === undefined || frame.stage !== stage) {
      throw new Error(`ledger: exit(${stage}) does not match enter(${frame?.stage ?? 'nothing'})`);
    }
    const m = tf.memory();
    const dT = m.numTensors - frame.tensors;
    const dB = m.numBytes - frame.bytes;
    const parent = this.stack[this.stack.length - 1];
    if (parent !== undefined) {
      parent.childTensors += dT;
      parent.childBytes += dB;
    }
    this.charge(stage, dT - frame.childTensors, dB - frame.childBytes);
    this.check(stage);
  }

  /** Runs `fn` as one step of `stage`. */
  async measure<T>(stage: string, fn: () => Promise<T>): Promise<T> {
    this.enter(stage);
    try {
      return await fn();
    } finally {
      this.exit(stage);
    }
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

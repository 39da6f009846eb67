// Helpers the transforms share: streaming groups from a GroupIndex in read
// windows, reading frames into given buffers, buffer pools, input checks, and
// the helper that disposes a record that owns tensors.
import { Buffer } from 'node:buffer';
import { OptionsError } from '../errors.js';
import type { Group, GroupIndex, StageContext, Stream, StreamMeta } from '../pipeline/types.js';

/**
 * A Float32Array of `n` values that are NOT zeroed, for buffers the caller
 * overwrites entirely (skips the zero-fill pass). Own memory, byte offset 0.
 */
export function uninitFloat32(n: number): Float32Array {
  return new Float32Array(Buffer.allocUnsafeSlow(4 * n).buffer, 0, n);
}

export { readFramesInto } from '../core/frames.js';

/**
 * Float32 buffers of one size handed out and given back (at most `keep`
 * kept): a stage that writes every buffer anew reuses memory instead of
 * leaving it to the garbage collector, and touches no fresh pages. A buffer
 * never given back is simply collected.
 */
export class BufferPool {
  private readonly free: Float32Array[] = [];
  constructor(
    readonly length: number,
    readonly keep: number,
  ) {}

  /** A buffer of `length` values (not zeroed). */
  take(): Float32Array {
    return this.free.pop() ?? uninitFloat32(this.length);
  }

  give(buffer: Float32Array): void {
    if (buffer.length === this.length && this.free.length < this.keep && !this.free.includes(buffer)) this.free.push(buffer);
  }

  /** Buffers waiting to be reused (for tests). */
  get available(): number {
    return this.free.length;
  }
}

export type { GroupIndex } from '../pipeline/types.js';

/** Bytes of group data a read window holds by default (three windows are in flight). */
const WINDOW_BYTES = 2 << 20;

/**
 * Groups per read window when the option is not set: 2 MiB worth (64 groups
 * at N = 64, gridsize 2; 8 at N = 128), between 4 and 64. Measured at N = 128
 * (bench/memory.ts): 64-group windows let the peak RSS grow 1.34× from 2 000
 * to 20 000 patterns (more buffers awaiting collection), 8-group ones 1.06×.
 */
export function defaultReadWindow(groupBytes: number): number {
  return Math.max(4, Math.min(64, Math.floor(WINDOW_BYTES / Math.max(1, groupBytes))));
}

/** Windows being read ahead of the one consumed (reads of one overlap the building of another). */
export const READ_AHEAD = 2;

/**
 * Streams groups `order(0..count-1)` from a GroupIndex in windows of `window`
 * groups, reading the next windows while the current one is consumed. On early
 * exit the reads in flight are awaited and their errors, if any, dropped.
 */
export async function* streamGroups(
  index: GroupIndex,
  count: number,
  order: (k: number) => number,
  window: number,
  signal: AbortSignal,
): AsyncGenerator<Group> {
  const fetch = (start: number): Promise<Group[]> => {
    const ids: number[] = [];
    for (let k = start; k < Math.min(count, start + window); k++) ids.push(order(k));
    const p = index.getMany(ids);
    p.catch(() => undefined);
    return p;
  };
  const pending: Promise<Group[]>[] = [];
  let issued = 0;
  const fill = (): void => {
    while (pending.length < READ_AHEAD && issued < count) {
      pending.push(fetch(issued));
      issued += window;
    }
  };
  try {
    fill();
    for (let next = pending.shift(); next !== undefined; next = pending.shift()) {
      signal.throwIfAborted();
      const groups: Group[] = await next;
      fill();
      for (const g of groups) {
        signal.throwIfAborted();
        yield g;
      }
    }
  } finally {
    for (const p of pending) await p.catch(() => undefined);
  }
}

/**
 * The stage's single input, checked for the record kinds it accepts (validate
 * checks the wiring of a pipeline file first; this guards programmatic use).
 */
export function requireInput<T>(ctx: StageContext, inputs: readonly Stream<unknown>[], stage: string, records: readonly StreamMeta['record'][]): Stream<T> {
  const input = inputs[0];
  if (input === undefined) throw new OptionsError('NO_INPUT', `${stage} needs one input stream`, { stage: ctx.id });
  if (!records.includes(input.meta.record)) {
    throw new OptionsError('WRONG_RECORD', `${stage} accepts ${records.join(' or ')} records, but its input gives '${input.meta.record}' records`, {
      stage: ctx.id,
    });
  }
  return input as Stream<T>;
}

/** Disposes a record that owns tensors (a TensorBatch) when it is dropped unseen. */
export function disposeRecord(r: unknown): void {
  if (typeof r === 'object' && r !== null && typeof (r as { dispose?: unknown }).dispose === 'function') {
    (r as { dispose(): void }).dispose();
  }
}

// Random access to the patterns of an HDF5 dataset (n, N, N), by hyperslab:
// a block of consecutive frames per read. The source that owns the store
// passes `verify`, which checks what was read (NaN, Inf, negative) under its
// error policy.
import { readManyViaInto } from '../../core/frames.js';
import type { FrameStore } from '../../core/stream.js';
import { DataError } from '../../errors.js';
import type { H5File } from './file.js';
import { BLOCK_BYTES, numbers } from './reader.js';

/** Checks patterns after a random read (the source's exclusions). */
export type VerifyRead = (indices: readonly number[], out: readonly Float32Array[]) => void;

/** Random access to the patterns of an HDF5 dataset (n, N, N), by hyperslab. */
export class H5FrameStore implements FrameStore {
  readonly N: number;
  private closed = false;

  constructor(
    private readonly scan: H5File,
    readonly key: string,
    readonly count: number,
    N: number,
    private readonly intensity: boolean,
    /** Pixels to set to 0 (the detector's bad-pixel mask), or undefined. */
    private readonly masked: Int32Array | undefined,
    private readonly verify: VerifyRead,
  ) {
    this.N = N;
  }

  private check(index: number): void {
    if (this.closed) throw new DataError('STORE_CLOSED', 'the frame store is closed', { file: this.scan.label, key: this.key });
    if (!Number.isInteger(index) || index < 0 || index >= this.count)
      throw new DataError('BAD_INDEX', `frame index ${index} is outside 0..${this.count - 1}`, { file: this.scan.label, key: this.key });
  }

  /** Frames first .. first + len − 1 as one hyperslab. */
  private async slab(first: number, len: number): Promise<ArrayLike<number>> {
    return numbers(await this.scan.slice(this.key, first, len));
  }

  /** Frame j of a hyperslab into `out`, converted to amplitude. */
  private convert(src: ArrayLike<number>, j: number, out: Float32Array): void {
    const NN = this.N * this.N;
    const base = j * NN;
    if (src instanceof Float32Array) out.set(src.subarray(base, base + NN));
    else for (let p = 0; p < NN; p++) out[p] = src[base + p]!;
    if (this.intensity) for (let p = 0; p < NN; p++) out[p] = Math.sqrt(out[p]!);
    if (this.masked !== undefined) for (const p of this.masked) out[p] = 0;
  }

  async read(index: number): Promise<Float32Array> {
    return (await readManyViaInto(this, [index]))[0]!;
  }

  readMany(indices: readonly number[]): Promise<Float32Array[]> {
    return readManyViaInto(this, indices);
  }

  /** Frames `indices[j]` into `out[j]`, one hyperslab per run of consecutive indices; checked like streamed ones. */
  async readInto(indices: readonly number[], out: readonly Float32Array[]): Promise<void> {
    const NN = this.N * this.N;
    if (out.length !== indices.length) throw new RangeError(`readInto: ${indices.length} indices but ${out.length} targets`);
    for (const o of out) if (o.length !== NN) throw new RangeError(`readInto: a target holds ${o.length} values, not ${this.N}×${this.N}`);
    for (const i of indices) this.check(i);
    const order = indices.map((_, j) => j).sort((a, b) => indices[a]! - indices[b]!);
    const maxRun = Math.max(1, Math.floor(BLOCK_BYTES / (4 * NN)));
    for (let k = 0; k < order.length;) {
      let end = k + 1;
      while (end < order.length && indices[order[end]!] === indices[order[end - 1]!]! + 1 && end - k < maxRun) end++;
      const first = indices[order[k]!]!;
      const slab = await this.slab(first, end - k);
      for (let j = k; j < end; j++) this.convert(slab, j - k, out[order[j]!]!);
      k = end;
    }
    this.verify(indices, out);
  }

  /** Patterns in order, a hyperslab of consecutive frames at a time. */
  async *sequential(signal: AbortSignal): AsyncGenerator<{ index: number; amplitude: Float32Array }> {
    const NN = this.N * this.N;
    const per = Math.max(1, Math.floor(BLOCK_BYTES / (4 * NN)));
    for (let first = 0; first < this.count; first += per) {
      signal.throwIfAborted();
      if (this.closed) throw new DataError('STORE_CLOSED', 'the frame store is closed', { file: this.scan.label, key: this.key });
      const len = Math.min(per, this.count - first);
      const slab = await this.slab(first, len);
      for (let j = 0; j < len; j++) {
        // Per frame, not per hyperslab: a block can hold the whole scan.
        signal.throwIfAborted();
        const a = new Float32Array(NN);
        this.convert(slab, j, a);
        yield { index: first + j, amplitude: a };
      }
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.scan.close();
  }
}

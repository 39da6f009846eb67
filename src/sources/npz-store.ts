// The npz source's frame store: random access to the patterns of an open NPZ
// by positioned reads (runs of consecutive frames in one read, concurrent
// runs, straight into the caller's buffers when the file holds host-order
// float32), a sequential pass in blocks, and legacy strided layouts gathered
// once into memory.
import { Buffer } from 'node:buffer';
import path from 'node:path';
import { DataError } from '../errors.js';
import type { PatternLayout } from '../io/canonical.js';
import { dtypeInfo, toFloat32 } from '../io/npy.js';
import type { NpzReader } from '../io/npz.js';
import type { FrameStore } from '../pipeline/types.js';
import { PatternChecks, patternProblem } from './checks.js';

const HOST_LITTLE_ENDIAN = new Uint8Array(Uint16Array.of(1).buffer)[0] === 1;

/** Frames read per positioned read on a sequential pass. */
const BLOCK_BYTES = 4 << 20;
/** Scratch blocks a store keeps for readInto (one per concurrent run is plenty). */
const SCRATCH_KEPT = 4;

function sqrtInPlace(a: Float32Array): void {
  for (let k = 0; k < a.length; k++) a[k] = Math.sqrt(a[k]!);
}

/** Random access to the patterns of an open NPZ. */
export class NpzFrameStore implements FrameStore {
  readonly N: number;
  /** Archive key holding the patterns. */
  readonly key: string;
  private readonly frameBytes: number;
  /** Patterns are float32 in host byte order: frames can be views over the bytes read. */
  private readonly f4View: boolean;
  private strided: Float32Array | undefined;
  /** Which patterns are known clean or dropped (the source's exclusions). */
  readonly checks: PatternChecks;
  private closed = false;

  constructor(
    private readonly npz: NpzReader,
    private readonly layout: PatternLayout,
    readonly count: number,
    private readonly intensity: boolean,
  ) {
    this.N = layout.N;
    this.key = layout.key;
    const info = dtypeInfo(layout.descr);
    this.frameBytes = layout.N * layout.N * info.itemsize;
    this.f4View = info.dtype === 'f4' && info.littleEndian && HOST_LITTLE_ENDIAN;
    this.checks = new PatternChecks(count, layout.N, { file: path.basename(npz.path), key: layout.key }, patternProblem);
  }

  /**
   * Converts raw pattern bytes to float32 amplitudes. `bytes` is always a
   * fresh read this store owns, so little-endian float32 patterns at an
   * aligned offset become a view over it (no copy; intensities are
   * square-rooted in place).
   */
  private convert(bytes: Uint8Array): Float32Array {
    const NN = this.N * this.N;
    const a =
      this.f4View && bytes.byteOffset % 4 === 0 && bytes.length >= 4 * NN
        ? new Float32Array(bytes.buffer, bytes.byteOffset, NN)
        : toFloat32(bytes, this.layout.descr, NN);
    if (this.intensity) sqrtInPlace(a);
    return a;
  }

  /**
   * Legacy (N, N, n) or Fortran-order patterns are not contiguous on disk; they
   * are gathered once into memory in (n, N, N) order (legacy files are small).
   */
  private async gathered(): Promise<Float32Array> {
    if (this.strided !== undefined) return this.strided;
    const a = await this.npz.readArray(this.layout.key);
    const { n, N } = this.layout;
    const src = a.data instanceof Float32Array ? a.data : Float32Array.from(a.data as ArrayLike<number | bigint>, Number);
    let out = src;
    if (this.layout.transposed) {
      out = new Float32Array(src.length);
      for (let r = 0; r < N; r++) for (let c = 0; c < N; c++) for (let j = 0; j < n; j++) out[(j * N + r) * N + c] = src[(r * N + c) * n + j]!;
    }
    if (this.intensity) for (let k = 0; k < out.length; k++) out[k] = Math.sqrt(out[k]!);
    this.strided = out;
    return out;
  }

  private check(index: number): void {
    if (this.closed) throw new DataError('STORE_CLOSED', 'the frame store is closed', { file: path.basename(this.npz.path), key: this.layout.key });
    if (!Number.isInteger(index) || index < 0 || index >= this.count)
      throw new DataError('BAD_INDEX', `frame index ${index} is outside 0..${this.count - 1}`, { file: path.basename(this.npz.path), key: this.layout.key });
  }

  async read(index: number): Promise<Float32Array> {
    const [a] = await this.readMany([index]);
    return a!;
  }

  /** Reads frames, one positioned read per run of consecutive indices (capped at BLOCK_BYTES). */
  async readMany(indices: readonly number[]): Promise<Float32Array[]> {
    for (const i of indices) this.check(i);
    const NN = this.N * this.N;
    if (this.layout.storage === 'strided') {
      const all = await this.gathered();
      return this.checked(
        indices,
        indices.map((i) => all.slice(i * NN, (i + 1) * NN)),
      );
    }
    const order = [...new Set(indices)].sort((a, b) => a - b);
    const got = new Map<number, Float32Array>();
    const maxRun = Math.max(1, Math.floor(BLOCK_BYTES / this.frameBytes));
    const runs: Promise<void>[] = [];
    for (let k = 0; k < order.length;) {
      let end = k + 1;
      while (end < order.length && order[end] === order[end - 1]! + 1 && end - k < maxRun) end++;
      const first = order[k]!,
        len = end - k;
      // Runs are read concurrently (positioned reads do not interfere).
      runs.push(
        this.npz.readRange(this.layout.key, first * this.frameBytes, len * this.frameBytes).then((bytes) => {
          for (let j = 0; j < len; j++) got.set(first + j, this.convert(bytes.subarray(j * this.frameBytes, (j + 1) * this.frameBytes)));
        }),
      );
      k = end;
    }
    // allSettled first: no read may still be running when an error reaches the caller (who may close the file).
    const settled = await Promise.allSettled(runs);
    for (const r of settled) if (r.status === 'rejected') throw r.reason;
    return this.checked(
      indices,
      indices.map((i) => got.get(i)!),
    );
  }

  /** Scratch blocks for reads that cannot land in place, kept for reuse (at most SCRATCH_KEPT). */
  private readonly scratch: Uint8Array[] = [];

  /**
   * Reads frames `indices[j]` into `out[j]` (N×N values each), one positioned
   * read per run of consecutive indices whose targets lie back to back,
   * straight into place when the file holds float32 in host byte order (else
   * through a reused scratch block and a conversion). Nothing is allocated
   * per frame, so a caller with fixed buffers (group's frame slots) reads
   * without leaving garbage behind. Checked like readMany.
   */
  async readInto(indices: readonly number[], out: readonly Float32Array[]): Promise<void> {
    const NN = this.N * this.N;
    if (out.length !== indices.length) throw new RangeError(`readInto: ${indices.length} indices but ${out.length} targets`);
    for (const o of out) if (o.length !== NN) throw new RangeError(`readInto: a target holds ${o.length} values, not ${this.N}×${this.N}`);
    for (const i of indices) this.check(i);
    if (this.layout.storage === 'strided') {
      const all = await this.gathered();
      indices.forEach((i, j) => out[j]!.set(all.subarray(i * NN, (i + 1) * NN)));
      this.checked(indices, out);
      return;
    }
    const order = indices.map((_, j) => j).sort((a, b) => indices[a]! - indices[b]!);
    const maxRun = Math.max(1, Math.floor(BLOCK_BYTES / this.frameBytes));
    const runs: Promise<void>[] = [];
    for (let k = 0; k < order.length;) {
      let end = k + 1;
      while (end < order.length && indices[order[end]!] === indices[order[end - 1]!]! + 1 && end - k < maxRun) end++;
      runs.push(
        this.readRun(
          indices[order[k]!]!,
          order.slice(k, end).map((j) => out[j]!),
        ),
      );
      k = end;
    }
    // allSettled first: no read may still be writing into `out` when an error reaches the caller.
    const settled = await Promise.allSettled(runs);
    for (const r of settled) if (r.status === 'rejected') throw r.reason;
    this.checked(indices, out);
  }

  /** Frames first, first + 1, … into `dests`. */
  private async readRun(first: number, dests: readonly Float32Array[]): Promise<void> {
    const fb = this.frameBytes;
    if (this.f4View) {
      // Straight into place: one read per stretch of targets that lie back to back.
      const reads: Promise<void>[] = [];
      for (let j = 0; j < dests.length;) {
        const d0 = dests[j]!;
        let end = j + 1;
        while (end < dests.length && dests[end]!.buffer === d0.buffer && dests[end]!.byteOffset === d0.byteOffset + (end - j) * fb) end++;
        reads.push(this.npz.readRangeInto(this.layout.key, (first + j) * fb, new Uint8Array(d0.buffer, d0.byteOffset, (end - j) * fb)));
        j = end;
      }
      const settled = await Promise.allSettled(reads);
      for (const r of settled) if (r.status === 'rejected') throw r.reason;
      if (this.intensity) for (const d of dests) sqrtInPlace(d);
      return;
    }
    // Other dtypes: read the run into a scratch block, then convert.
    const bytes = dests.length * fb;
    const k = this.scratch.findIndex((b) => b.length >= bytes);
    const block = k >= 0 ? this.scratch.splice(k, 1)[0]! : new Uint8Array(Buffer.allocUnsafeSlow(bytes).buffer);
    try {
      const raw = block.subarray(0, bytes);
      await this.npz.readRangeInto(this.layout.key, first * fb, raw);
      dests.forEach((d, j) => d.set(this.convert(raw.subarray(j * fb, (j + 1) * fb))));
    } finally {
      if (this.scratch.length < SCRATCH_KEPT) this.scratch.push(block);
    }
  }

  /** Frames read by index are checked like streamed ones (see PatternChecks.checkRead). */
  private checked<T extends readonly Float32Array[]>(indices: readonly number[], frames: T): T {
    this.checks.checkRead(indices, frames);
    return frames;
  }

  /**
   * Patterns in order, in blocks; a complete pass checks the entry's CRC-32.
   * With `reuse` the blocks are reused: a pattern (of a float32 file) is valid
   * only until the next one is asked for.
   */
  async *sequential(signal: AbortSignal, reuse = false): AsyncGenerator<{ index: number; amplitude: Float32Array }> {
    const NN = this.N * this.N;
    if (this.layout.storage === 'strided') {
      const all = await this.gathered();
      for (let i = 0; i < this.count; i++) {
        signal.throwIfAborted();
        yield { index: i, amplitude: all.slice(i * NN, (i + 1) * NN) };
      }
      return;
    }
    const per = Math.max(1, Math.floor(BLOCK_BYTES / this.frameBytes));
    let index = 0;
    for await (const block of this.npz.chunks(this.layout.key, per * this.frameBytes, { reuse })) {
      for (let o = 0; o + this.frameBytes <= block.length; o += this.frameBytes) {
        if (index >= this.count) return;
        signal.throwIfAborted();
        yield { index, amplitude: this.convert(block.subarray(o, o + this.frameBytes)) };
        index++;
      }
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.strided = undefined;
    await this.npz.close();
  }
}

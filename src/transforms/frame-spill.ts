// Random access for a frame stream that offers none (a hand-written frame
// transform, a filter, a live source): the stream is read once and each
// frame's amplitude written to a temp file at its index (consecutive frames
// in one write), with its position. Reads are then positioned reads straight
// into the caller's buffers, as from an NPZ. Memory stays bounded: one write
// block and the positions; the patterns live on disk. Positions the stream
// never yielded (dropped or filtered upstream) are the exclusions.
import { readSync } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { open } from 'node:fs/promises';
import { DataError } from '../errors.js';
import { SpillDir } from '../io/spill.js';
import type { Frame, FrameStore } from '../pipeline/types.js';
import { readManyViaInto } from '../core/frames.js';

/** Bytes per write: consecutive frames are gathered up to this. */
const BLOCK_BYTES = 4 << 20;

/** A growable float64 list (positions). */
class Column {
  private data = new Float64Array(1024);
  set(i: number, v: number): void {
    if (i >= this.data.length) {
      const next = new Float64Array(Math.max(i + 1, 2 * this.data.length));
      next.set(this.data);
      this.data = next;
    }
    this.data[i] = v;
  }
  values(n: number): Float64Array {
    return this.data.slice(0, n);
  }
}

export class SpilledFrames implements FrameStore {
  private constructor(
    private readonly fh: FileHandle,
    private readonly dir: SpillDir,
    readonly N: number,
    readonly count: number,
    /** 1 where the stream yielded the frame. */
    private readonly seen: Uint8Array,
    /** Frame positions as the stream gave them. */
    readonly xs: Float64Array,
    readonly ys: Float64Array,
  ) {}

  /**
   * Reads `frames` to the end into a spill file. `expected`: the scan's
   * pattern count and size, when the stream's metadata says.
   */
  static async write(frames: AsyncIterable<Frame>, expected: { N?: number | undefined; count?: number | undefined }, stage: string): Promise<SpilledFrames> {
    const dir = new SpillDir();
    const fh = await open(await dir.file('frames.f32'), 'w+');
    try {
      const xs = new Column(),
        ys = new Column();
      let seen = new Uint8Array(expected.count ?? 1024);
      let N = expected.N,
        per = 0,
        block: Float32Array | undefined;
      let start = 0,
        len = 0,
        count = 0;
      const flush = async (): Promise<void> => {
        if (len > 0 && block !== undefined) await fh.write(new Uint8Array(block.buffer, 0, len * per * 4), 0, len * per * 4, start * per * 4);
        len = 0;
      };
      for await (const f of frames) {
        N ??= Math.round(Math.sqrt(f.amplitude.length));
        per = N * N;
        const i = f.index;
        if (!Number.isInteger(i) || i < 0) throw new DataError('BAD_INDEX', `frame index ${i} is not a non-negative integer`, { stage });
        if (f.amplitude.length !== per) throw new DataError('BAD_FRAME', `frame ${i} has ${f.amplitude.length} values, expected ${N}×${N}`, { stage });
        if (i >= seen.length) {
          const grown = new Uint8Array(Math.max(i + 1, 2 * seen.length));
          grown.set(seen);
          seen = grown;
        }
        if (seen[i] === 1)
          throw new DataError('DUPLICATE_FRAME', `frame ${i} came twice in one pass`, {
            stage,
            hint: 'a frame transform must yield each frame index at most once',
          });
        seen[i] = 1;
        block ??= new Float32Array(Math.max(1, Math.floor(BLOCK_BYTES / (4 * per))) * per);
        if (len > 0 && (i !== start + len || (len + 1) * per > block.length)) await flush();
        if (len === 0) start = i;
        block.set(f.amplitude, len * per);
        len++;
        xs.set(i, f.x);
        ys.set(i, f.y);
        count = Math.max(count, i + 1);
      }
      await flush();
      count = Math.max(count, expected.count ?? 0);
      return new SpilledFrames(fh, dir, N ?? 0, count, seen.slice(0, count), xs.values(count), ys.values(count));
    } catch (e) {
      await fh.close();
      await dir.remove();
      throw e;
    }
  }

  /** Positions the stream did not yield. */
  async excluded(): Promise<ReadonlySet<number>> {
    const out = new Set<number>();
    for (let i = 0; i < this.count; i++) if (this.seen[i] !== 1) out.add(i);
    return out;
  }

  async read(index: number): Promise<Float32Array> {
    return (await readManyViaInto(this, [index]))[0]!;
  }

  readMany(indices: readonly number[]): Promise<Float32Array[]> {
    return readManyViaInto(this, indices);
  }

  /**
   * Frames `indices[j]` into `out[j]`: one positioned read per run of consecutive frames whose
   * targets lie back to back. The reads are synchronous: the file is this process's own temp
   * file, just written and so in the page cache, and an engine reading one frame at a time in
   * random order spent ~30 µs of CPU per frame on the thread-pool round trip of an async read
   * against ~5 µs for the system call itself (N = 64).
   */
  async readInto(indices: readonly number[], out: readonly Float32Array[]): Promise<void> {
    const fb = this.N * this.N * 4;
    for (const i of indices) {
      if (!(i >= 0 && i < this.count && this.seen[i] === 1))
        throw new DataError('EXCLUDED_FRAME', `frame ${i} was not in the stream that was spilled`, { hint: 'leave the exclusions out (FrameAccess.excluded)' });
    }
    const order = indices.map((_, j) => j).sort((a, b) => indices[a]! - indices[b]!);
    for (let k = 0; k < order.length;) {
      const d0 = out[order[k]!]!;
      let end = k + 1;
      while (end < order.length) {
        const d = out[order[end]!]!;
        if (indices[order[end]!] !== indices[order[k]!]! + (end - k) || d.buffer !== d0.buffer || d.byteOffset !== d0.byteOffset + (end - k) * fb) break;
        end++;
      }
      const bytes = (end - k) * fb,
        at = indices[order[k]!]! * fb;
      const got = readSync(this.fh.fd, new Uint8Array(d0.buffer, d0.byteOffset, bytes), 0, bytes, at);
      if (got !== bytes)
        throw new DataError('BAD_FRAME', `the spill file of frames ${indices[order[k]!]!}… ended after ${got} of ${bytes} bytes at offset ${at}`, {
          hint: 'the temp file was truncated or removed while in use; run again',
        });
      k = end;
    }
  }

  async close(): Promise<void> {
    await this.fh.close().catch(() => undefined);
    await this.dir.remove();
  }
}

// The `spill` transform: a frame stream that can be read once (a live source)
// made readable again. The first pass yields the frames as they arrive and
// appends each to a temp file (its index, position and scan stay in memory,
// 32 bytes a frame); once that pass has reached the end of the stream, every
// later pass reads them back from the file in arrival order. So a live
// pipeline can end with `refine` over what arrived: `group` (windowed) and
// `infer` read the first pass while the series runs, refine its passes after
// infer's final reconstruction. Memory: one write or read block, whatever the
// series' length; the patterns live on disk until the run ends.
import { open, type FileHandle } from 'node:fs/promises';
import { z } from 'zod';
import { DataError, StageError } from '../errors.js';
import { SpillDir } from '../io/spill.js';
import { defineTransform, type Frame, type Stream } from '../pipeline/types.js';
import { requireInput } from './util.js';

/** Bytes per write or read: frames are gathered up to this. */
const BLOCK_BYTES = 4 << 20;

/** A growable float64 column (index, x, y, scan of each frame, arrival order). */
class Column {
  data = new Float64Array(1024);
  set(i: number, v: number): void {
    if (i >= this.data.length) {
      const next = new Float64Array(2 * this.data.length);
      next.set(this.data);
      this.data = next;
    }
    this.data[i] = v;
  }
}

/** The frames of one pass, recorded as they go by, then played back. */
export class FrameTape {
  private readonly dir = new SpillDir();
  private fh: FileHandle | undefined;
  private state: 'fresh' | 'recording' | 'done' | 'broken' = 'fresh';
  private readonly cols = { index: new Column(), x: new Column(), y: new Column(), scan: new Column() };
  /** Frames recorded. */
  count = 0;
  /** The spill file, once the first pass has begun. */
  file: string | undefined;
  private per = 0;

  constructor(private readonly stage: string) {}

  /** One pass: the first records `input`'s frames as it yields them; later ones play them back. */
  async *pass(input: Stream<Frame>, signal: AbortSignal): AsyncGenerator<Frame> {
    if (this.state === 'done') {
      yield* this.playback(signal);
      return;
    }
    // An input that can be read again is simply recorded again after a pass that stopped early.
    if (this.state === 'broken' && input.meta.live !== true) await this.reset();
    if (this.state !== 'fresh') {
      const why =
        this.state === 'recording'
          ? 'before the first pass reached the end of the stream'
          : 'after the first pass stopped early (only part of the stream was recorded)';
      throw new StageError('LIVE_REOPENED', `stage '${this.stage}': read again ${why}`, {
        stage: this.stage,
        hint: 'read the spilled stream again only after its first reader is done (refine after infer: inputs [patterns, infer])',
      });
    }
    this.state = 'recording';
    yield* this.record(input, signal);
  }

  private async *record(input: Stream<Frame>, signal: AbortSignal): AsyncGenerator<Frame> {
    let block: Float32Array | undefined,
      len = 0,
      at = 0;
    const flush = async (): Promise<void> => {
      if (len > 0) await this.fh!.write(new Uint8Array(block!.buffer, 0, len * this.per * 4), 0, len * this.per * 4, at);
      at += len * this.per * 4;
      len = 0;
    };
    try {
      this.file = await this.dir.file('frames.f32');
      this.fh = await open(this.file, 'w+');
      for await (const f of input.open(signal)) {
        if (block === undefined) {
          this.per = f.amplitude.length;
          block = new Float32Array(Math.max(1, Math.floor(BLOCK_BYTES / (4 * this.per))) * this.per);
        }
        if (f.amplitude.length !== this.per)
          throw new DataError('BAD_FRAME', `stage '${this.stage}': frame ${f.index} has ${f.amplitude.length} values, the stream's first had ${this.per}`, {
            stage: this.stage,
            key: `frame ${f.index}`,
          });
        if ((len + 1) * this.per > block.length) await flush();
        block.set(f.amplitude, len * this.per);
        len++;
        const k = this.count++;
        this.cols.index.set(k, f.index);
        this.cols.x.set(k, f.x);
        this.cols.y.set(k, f.y);
        this.cols.scan.set(k, f.scanIndex ?? -1);
        yield f;
      }
      await flush();
      this.state = 'done';
    } catch (e) {
      this.state = 'broken';
      throw e;
    } finally {
      // Reached without the end of the stream: the consumer stopped early.
      if (this.state === 'recording') this.state = 'broken';
    }
  }

  private async *playback(signal: AbortSignal): AsyncGenerator<Frame> {
    const per = this.per,
      { index, x, y, scan } = this.cols;
    const perBlock = Math.max(1, Math.floor(BLOCK_BYTES / (4 * Math.max(per, 1))));
    const block = new Float32Array(perBlock * per);
    for (let k0 = 0; k0 < this.count; k0 += perBlock) {
      signal.throwIfAborted();
      const n = Math.min(perBlock, this.count - k0);
      await this.fh!.read(new Uint8Array(block.buffer, 0, n * per * 4), 0, n * per * 4, k0 * per * 4);
      for (let j = 0; j < n; j++) {
        const k = k0 + j,
          s = scan.data[k]!;
        // A copy per frame: a windowed group keeps frames by reference.
        const f: Frame = { index: index.data[k]!, x: x.data[k]!, y: y.data[k]!, amplitude: block.slice(j * per, (j + 1) * per) };
        yield s < 0 ? f : { ...f, scanIndex: s };
      }
    }
  }

  private async reset(): Promise<void> {
    await this.fh?.close();
    this.fh = undefined;
    this.count = 0;
    this.state = 'fresh';
  }

  async remove(): Promise<void> {
    await this.fh?.close();
    this.fh = undefined;
    await this.dir.remove();
  }
}

export default defineTransform({
  kind: 'transform',
  accepts: [['frame']],
  emits: 'frame',
  type: 'spill',
  description:
    "Makes a frame stream that can be read once (a live source) readable again: the first pass yields the frames as they arrive and appends them to a temp file, every later pass (once the first has reached the stream's end) reads them back in arrival order. For refine at the end of a live series over what arrived. Disk: N²·4 bytes a frame until the run ends; memory: one 4 MiB block.",
  options: z.object({}).strict(),
  create(_o, { ctx, inputs }) {
    const input = requireInput<Frame>(ctx, inputs, 'spill', ['frame']);
    const tape = new FrameTape(ctx.id);
    const stream: Stream<Frame> = {
      meta: input.meta,
      open: (signal) => tape.pass(input, signal),
      close: () => tape.remove(),
    };
    return Promise.resolve(stream);
  },
});

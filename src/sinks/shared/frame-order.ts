// How the classical engines see their input: every frame of the scan once per
// pass, in a new seeded random order each pass (sequential ePIE converges
// much better than in scan order). This is the one place that knows how a
// sink gets at frames: by index from the stream's frame store when it offers
// one (`Stream.frames`; reads `chunk` frames at a time into reused buffers), else by streaming
// the frames in their order through a bounded seeded shuffle buffer.
import { DataError, OptionsError } from '../../errors.js';
import type { Frame, StageContext, Stream } from '../../pipeline/types.js';
import { readFramesInto } from '../../core/frames.js';
import { bufferShuffle } from '../../util/buffer-shuffle.js';
import { Rng } from '../../util/rng.js';

/** One frame as the engines use it: valid until the next one is asked for. */
export interface EngineFrame {
  readonly index: number;
  readonly x: number;
  readonly y: number;
  readonly amplitude: Float32Array;
}

export interface FrameOrderOptions {
  /** Pass number: with the seed it fixes the order. */
  pass: number;
  seed: number;
  /** Frames read from the store at once. */
  chunk: number;
  /** Frames held by the shuffle buffer when there is no store. */
  buffer: number;
  signal: AbortSignal;
}

/** Checks that `stream` yields frames with scan metadata (positions) and returns it typed. */
export function frameStream(stream: Stream<unknown> | undefined, ctx: StageContext): Stream<Frame> {
  if (stream === undefined) throw new OptionsError('MISSING_INPUT', `stage '${ctx.id}' needs an input of frames`, { stage: ctx.id });
  if (stream.meta.record !== 'frame') {
    throw new OptionsError('WRONG_INPUT', `stage '${ctx.id}': its input carries '${stream.meta.record}' records, not frames`, {
      stage: ctx.id,
      hint: 'feed it from a source (npz, simulate), optionally through poisson and normalize, not from group or batch',
    });
  }
  if (stream.meta.scan === undefined)
    throw new OptionsError('NO_SCAN_META', `stage '${ctx.id}': its input carries no scan metadata (positions, probe)`, {
      stage: ctx.id,
      hint: 'feed it from a source',
    });
  return stream as Stream<Frame>;
}

/** The frames of one pass in a seeded random order (see the module comment). */
export async function* framesInRandomOrder(input: Stream<Frame>, o: FrameOrderOptions): AsyncGenerator<EngineFrame> {
  const rng = Rng.derive(o.seed, 'engine-frame-order', o.pass);
  const store = input.frames,
    scan = input.meta.scan!;
  if (store === undefined) {
    for await (const f of bufferShuffle(input.open(o.signal), o.buffer, rng, o.signal)) yield f;
    return;
  }
  const excluded = (await store.excluded?.(o.signal)) ?? new Set<number>();
  const order = Array.from(rng.permutation(store.count)).filter((i) => !excluded.has(i));
  const NN = store.N * store.N,
    chunk = Math.max(1, Math.min(o.chunk, order.length));
  const buffers = Array.from({ length: chunk }, () => new Float32Array(NN));
  for (let at = 0; at < order.length; at += chunk) {
    o.signal.throwIfAborted();
    const ids = order.slice(at, at + chunk);
    await readFramesInto(store, ids, buffers.slice(0, ids.length));
    for (let j = 0; j < ids.length; j++) {
      const index = ids[j]!,
        x = scan.xcoords[index],
        y = scan.ycoords[index];
      if (x === undefined || y === undefined)
        throw new DataError('BAD_COORDS', `frame ${index} has no scan position (the scan lists ${scan.xcoords.length})`, { key: `frame ${index}` });
      yield { index, x, y, amplitude: buffers[j]! };
    }
  }
}

// `defineFrameMap`: a frame transform written once, as one per-frame function,
// and applied alike to the streamed pass and to random-access reads. The stage
// it makes offers `Stream.frames` (so `group` reads mapped frames by index)
// exactly when its input does; a map that declares itself linear (factor ·
// v, or factor · √v) lets a reader fuse the scale into its own copy. A map
// that throws a DataError for a bad frame puts it through the stage's
// `on_error` option when it has one (dropped frames are the stage's
// exclusions; with skip or route, asking for them maps every frame once).
// A costly map (`cache` returns true) is applied once per frame for random
// access: the first read maps the whole input pass into a temp file
// (transforms/frame-spill.ts) and every later read is a positioned read.
import type { z } from 'zod';
import { DataError } from '../errors.js';
import type { FrameAccess, Frame, StageContext, Stream, StreamMeta, TransformDef, ErrorPolicy } from '../pipeline/types.js';
import { SpilledFrames } from './frame-spill.js';
import { readFramesInto, requireInput } from './util.js';

export interface FrameMapSpec<S extends z.ZodType, P> {
  readonly type: string;
  readonly description: string;
  readonly options: S;
  /** Work done once when the stage is created (a measuring pass over `input`); its result is handed to every map. */
  prepare?(options: z.output<S>, deps: { ctx: StageContext; input: Stream<Frame> }): Promise<P>;
  /**
   * The mapped amplitude of frame `index`, in a new array (never change
   * `amplitude`: it may be the input's cached or reused memory). Throw a
   * DataError for a bad frame.
   */
  map(amplitude: Float32Array, index: number, state: P, options: z.output<S>): Float32Array;
  /** Declares the map linear: map(v) = factor · v (factor · √v for intensities), so group can fuse it. */
  linear?(state: P, options: z.output<S>): { factor: number; intensity: boolean } | undefined;
  /** The output's metadata (default: the input's). */
  meta?(meta: StreamMeta, state: P, options: z.output<S>): StreamMeta;
  /** Whether random-access reads come from the mapped frames kept in a temp file (for a map that costs more than a read). */
  cache?(options: z.output<S>): boolean;
}

/** a ← factor · a (after a square root for intensities). */
export function scaleInPlace(a: Float32Array, factor: number, intensity: boolean): void {
  if (intensity) for (let k = 0; k < a.length; k++) a[k] = factor * Math.sqrt(a[k]!);
  else for (let k = 0; k < a.length; k++) a[k] = factor * a[k]!;
}

function policyOf(options: unknown): ErrorPolicy | undefined {
  const p = (options as { on_error?: unknown } | null)?.on_error;
  return p === 'fail' || p === 'skip' || p === 'route' ? p : undefined;
}

export function defineFrameMap<S extends z.ZodType, P = undefined>(spec: FrameMapSpec<S, P>): TransformDef<S> {
  return {
    kind: 'transform',
    type: spec.type,
    accepts: [['frame']],
    emits: 'frame',
    description: spec.description,
    options: spec.options,
    async create(options, { ctx, inputs }) {
      const input = requireInput<Frame>(ctx, inputs, spec.type, ['frame']);
      const state = (spec.prepare === undefined ? undefined : await spec.prepare(options, { ctx, input })) as P;
      const policy = policyOf(options);
      const linear = spec.linear?.(state, options);
      const dropped = new Set<number>();
      const apply = (a: Float32Array, index: number): Float32Array => spec.map(a, index, state, options);
      // Mapped frames, bad ones through the policy: the streamed pass (borrowed: the map's output is new memory anyway).
      const mapped = (frames: AsyncIterable<Frame>, signal: AbortSignal): AsyncIterable<Frame> =>
        (async function* () {
          for await (const f of frames) {
            signal.throwIfAborted();
            let amplitude: Float32Array;
            try {
              amplitude = apply(f.amplitude, f.index);
            } catch (e) {
              if (policy === undefined || !(e instanceof DataError)) throw e;
              ctx.badRecord(policy, e, f.index);
              dropped.add(f.index);
              continue;
            }
            yield { ...f, amplitude };
          }
        })();
      const deps = { apply, linear, policy, dropped, ctx, input, mapped };
      const cached = input.frames !== undefined && linear === undefined && spec.cache?.(options) === true ? new CachedAccess(input.frames, deps) : undefined;
      const frames = input.frames === undefined ? undefined : (cached ?? mappedAccess(input.frames, deps));
      const meta = spec.meta?.(input.meta, state, options) ?? input.meta;
      const stream: Stream<Frame> = {
        meta,
        ...(frames === undefined ? {} : { frames }),
        open: (signal) => mapped(input.open(signal), signal),
        openBorrowed: (signal) => mapped(input.openBorrowed?.(signal) ?? input.open(signal), signal),
        ...(cached === undefined ? {} : { close: () => cached.close() }),
      };
      return stream;
    },
  };
}

interface AccessDeps {
  apply(a: Float32Array, index: number): Float32Array;
  linear: { factor: number; intensity: boolean } | undefined;
  policy: ErrorPolicy | undefined;
  dropped: Set<number>;
  ctx: StageContext;
  input: Stream<Frame>;
  mapped(frames: AsyncIterable<Frame>, signal: AbortSignal): AsyncIterable<Frame>;
}

/** The input's random access with the map applied to every read. */
function mappedAccess(inner: FrameAccess, d: AccessDeps): FrameAccess {
  let checked: Promise<void> | undefined;
  const into = async (ids: readonly number[], out: readonly Float32Array[]): Promise<void> => {
    await readFramesInto(inner, ids, out);
    out.forEach((a, j) => {
      if (d.linear !== undefined) scaleInPlace(a, d.linear.factor, d.linear.intensity);
      else a.set(d.apply(a, ids[j]!));
    });
  };
  return {
    count: inner.count,
    N: inner.N,
    read: async (i) => d.apply(await inner.read(i), i),
    readMany: async (ids) => (await inner.readMany(ids)).map((a, j) => d.apply(a, ids[j]!)),
    readInto: into,
    async excluded(signal) {
      const upstream = (await inner.excluded?.(signal)) ?? new Set<number>();
      if (d.policy === undefined || d.policy === 'fail') return upstream;
      // Which frames the map drops is known only by mapping them: once, over the input's pass.
      checked ??= (async () => {
        for await (const _ of d.mapped(d.input.openBorrowed?.(signal) ?? d.input.open(signal), signal)) void _;
      })().catch((e: unknown) => {
        checked = undefined;
        throw e;
      });
      await checked;
      return new Set([...upstream, ...d.dropped]);
    },
    ...(d.linear === undefined ? {} : { linear: { of: inner, factor: d.linear.factor, intensity: d.linear.intensity } }),
  };
}

/** Random access to the mapped frames, mapped once: the input's pass spilled to a temp file on the first read. */
class CachedAccess implements FrameAccess {
  readonly count: number;
  readonly N: number;
  private spill: Promise<SpilledFrames> | undefined;

  constructor(
    inner: FrameAccess,
    private readonly d: AccessDeps,
  ) {
    this.count = inner.count;
    this.N = inner.N;
  }

  private frames(): Promise<SpilledFrames> {
    const signal = this.d.ctx.signal;
    this.spill ??= SpilledFrames.write(
      this.d.mapped(this.d.input.openBorrowed?.(signal) ?? this.d.input.open(signal), signal),
      { N: this.N, count: this.count },
      this.d.ctx.id,
    );
    // A failed pass (an abort, a bad frame under fail) is not cached: the next read tries again.
    this.spill.catch(() => (this.spill = undefined));
    return this.spill;
  }

  async read(i: number): Promise<Float32Array> {
    return (await this.frames()).read(i);
  }

  async readMany(ids: readonly number[]): Promise<Float32Array[]> {
    return (await this.frames()).readMany(ids);
  }

  async readInto(ids: readonly number[], out: readonly Float32Array[]): Promise<void> {
    await (await this.frames()).readInto(ids, out);
  }

  /** Frames dropped upstream or by the map: those the spilled pass did not yield. */
  async excluded(): Promise<ReadonlySet<number>> {
    return (await this.frames()).excluded();
  }

  async close(): Promise<void> {
    const s = this.spill;
    this.spill = undefined;
    await (await s?.catch(() => undefined))?.close();
  }
}

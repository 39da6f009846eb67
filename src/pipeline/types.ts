// The contracts every stage is written against: records, streams, the stage
// context and the component definition. Records are plain typed arrays; only
// `tensorify` creates tensors (TensorBatch), and the stage that receives a
// TensorBatch owns it and must dispose it.
import type * as tf from '@tensorflow/tfjs';
import type { z } from 'zod';
import type { Logger } from '../util/log.js';
import type { Rng } from '../util/rng.js';
import type { TensorLedger } from './ledger.js';

/** A complex 2-D array, row-major (row = y, column = x), real and imaginary parts apart. */
export interface Complex2D {
  readonly height: number;
  readonly width: number;
  readonly re: Float32Array;
  readonly im: Float32Array;
}

/** One diffraction pattern and where it was taken. */
export interface Frame {
  /** Index of the pattern in its scan (0-based, stable). */
  readonly index: number;
  /** Probe-window centre in object pixels: x is the column, y the row. */
  readonly x: number;
  readonly y: number;
  /** Diffraction amplitude, N×N row-major, DC at (N/2, N/2). */
  readonly amplitude: Float32Array;
  readonly scanIndex?: number;
}

/**
 * Random access to the frames a stream yields, by frame index: the same
 * values its `open()` gives for that frame. Reads from disk (or computes),
 * never holds the whole scan. Offered only through `Stream.frames`, which a
 * stage sets on purpose.
 */
export interface FrameAccess {
  /** Positions addressed (0..count-1; some may be excluded). */
  readonly count: number;
  readonly N: number;
  /** Amplitude of frame `index` (N×N float32, row-major). */
  read(index: number): Promise<Float32Array>;
  /** Amplitudes of several frames, in the order asked. */
  readMany(indices: readonly number[]): Promise<Float32Array[]>;
  /**
   * Frame `indices[j]` into `out[j]` (N×N values each): for callers that keep
   * their own fixed buffers, so a read leaves no garbage behind. Optional;
   * `readFramesInto` (transforms/util) falls back to readMany and a copy.
   */
  readInto?(indices: readonly number[], out: readonly Float32Array[]): Promise<void>;
  /**
   * The positions whose frames the stream does not yield (dropped by an
   * `on_error: skip | route` policy), complete when it resolves: the owner
   * checks every frame it has not seen yet. Optional: none are excluded.
   */
  excluded?(signal: AbortSignal): Promise<ReadonlySet<number>>;
  /**
   * Declares this access a linear map of another one: value = factor · v (or
   * factor · √v for intensities) of `of`'s value. A reader may read `of` and
   * apply the factor while it copies (group's interleave), one pass fewer.
   */
  readonly linear?: LinearFrames;
}

/** See FrameAccess.linear. */
export interface LinearFrames {
  readonly of: FrameAccess;
  readonly factor: number;
  readonly intensity: boolean;
}

/** A source's FrameAccess, which it closes. */
export interface FrameStore extends FrameAccess {
  close(): Promise<void>;
}

/** What a source knows about the whole scan (small: no patterns in here). */
export interface ScanMeta {
  /** Pattern size (N×N). */
  readonly N: number;
  /** Number of patterns. */
  readonly count: number;
  readonly xcoords: Float64Array;
  readonly ycoords: Float64Array;
  readonly probe: Complex2D;
  /** Ground-truth object when known (simulation, canonical NPZ with objectGuess). */
  readonly object?: Complex2D;
  /** Where the scan came from (file path or 'simulate'). */
  readonly origin: string;
  /** Counts per pattern etc.: free-form numbers worth reporting. */
  readonly notes?: Readonly<Record<string, number | string>>;
}

/** A group of C = gridsize² neighbouring patterns: the model's unit of input. */
export interface Group {
  /** Group number (stable; seeds the per-group randomness). */
  readonly index: number;
  /** C member frame indices. */
  readonly indices: Int32Array;
  /** Mean of member positions, [x, y]. */
  readonly center: readonly [number, number];
  /** (1, 2, C) row-major: offsets[c] = x offset, offsets[C + c] = y offset; offset = centre − position. */
  readonly offsets: Float32Array;
  /** N×N×C, HWC row-major. */
  readonly amplitudes: Float32Array;
  /**
   * Optional: gives the amplitudes' memory back to the stage that made them
   * (group's window buffers are pooled). The consumer that owns the record
   * may call it once nothing will read `amplitudes` again; a record never
   * released is simply garbage-collected.
   */
  readonly release?: () => void;
}

/**
 * Random access to the groups a stream yields: `get(i)` is the i-th record
 * its `open()` gives, for i in 0..count-1, in any order. Offered only through
 * `Stream.groups`, which a stage sets on purpose.
 */
export interface GroupIndex {
  readonly count: number;
  /** Bytes of one group's amplitudes (N²·C·4), to size read windows. */
  readonly groupBytes: number;
  get(i: number): Promise<Group>;
  /** Several groups at once (frames shared between them read once, in as few reads as possible). */
  getMany(ids: readonly number[]): Promise<Group[]>;
}

/** Groups packed into contiguous typed arrays, one per field. */
export interface Batch {
  readonly size: number;
  readonly N: number;
  readonly C: number;
  /** (B, N, N, C) */
  readonly X: Float32Array;
  /** (B, 1, 2, C) */
  readonly coords: Float32Array;
  /** (B, 2): [x, y] centre of each group */
  readonly centers: Float64Array;
  /** (B, C) member frame indices */
  readonly indices: Int32Array;
  /** (B,) group numbers */
  readonly groups: Int32Array;
  /** Optional, as Group.release: X's memory may be reused once this is called. */
  readonly release?: () => void;
}

/** A Batch as tensors. The receiving stage owns it and must call dispose(). */
export interface TensorBatch {
  readonly size: number;
  readonly N: number;
  readonly C: number;
  /** (B, N, N, C) normalised amplitudes: model input and training target. */
  readonly X: tf.Tensor4D;
  /** (B, 1, 2, C) offsets */
  readonly coords: tf.Tensor4D;
  /** Host-side copies of bookkeeping fields (no tensors). */
  readonly centers: Float64Array;
  readonly indices: Int32Array;
  readonly groups: Int32Array;
  dispose(): void;
}

/**
 * What a stream's records are: it describes and carries no capability, so a
 * stage that spreads `...input.meta` passes on a description, never random
 * access to data it may have changed.
 */
export interface StreamMeta {
  /** What the records are. */
  readonly record: RecordKind;
  readonly scan?: ScanMeta;
  /** Number of records one pass yields, when known. */
  readonly count?: number;
  /** Amplitude normalisation factor applied upstream (SPEC §3). */
  readonly normalization?: number;
  /** gridsize when records are groups or batches. */
  readonly gridsize?: number;
  readonly batchSize?: number;
}

/** The record kinds streams carry ('other' for anything a plugin defines). */
export type RecordKind = 'frame' | 'group' | 'batch' | 'tensor-batch' | 'reconstruction' | 'error' | 'other';

/**
 * A re-iterable stream: `open` may be called once per epoch; with the same seed
 * it yields the same records in the same order.
 */
export interface Stream<T> {
  readonly meta: StreamMeta;
  open(signal: AbortSignal): AsyncIterable<T>;
  /**
   * Like open, but a record's typed arrays are valid only until the next record
   * is asked for (the stream reuses its buffers). Optional, for single-pass
   * consumers that keep nothing, such as normalize's measuring pass.
   */
  openBorrowed?(signal: AbortSignal): AsyncIterable<T>;
  /** Named extra outputs (e.g. split's `validation`), addressed in pipeline files as `id.name`. */
  readonly outputs?: Readonly<Record<string, Stream<unknown>>>;
  /** Releases what the stream holds open (files, spill dirs); the runner calls it once at the end. */
  close?(): Promise<void>;
  /**
   * Capability: random access to exactly the frames `open()` yields. Set only
   * by a stage that guarantees it (a source, a frame map); a stage that
   * changes or filters frames any other way must not pass its input's on.
   */
  readonly frames?: FrameAccess;
  /** Capability: random access to exactly the groups `open()` yields, in order (see GroupIndex). */
  readonly groups?: GroupIndex;
}

/** Progress of long work, rendered by the CLI (bar on a TTY, lines otherwise). */
export interface ProgressEvent {
  readonly stage: string;
  readonly label: string;
  readonly done: number;
  readonly total?: number;
  readonly unit?: string;
  /** Extra fields to show (loss, lr, …). */
  readonly info?: Readonly<Record<string, number | string>>;
  /** True once the task is complete. */
  readonly finished?: boolean;
}

export type ErrorPolicy = 'fail' | 'skip' | 'route';

/** A bad record that a stage's `on_error: route` sent to its `errors` output. */
export interface RoutedError {
  readonly stage: string;
  readonly code: string;
  readonly message: string;
  /** Frame index or other identifier of the bad record. */
  readonly record?: number | string;
}

export interface StageContext {
  /** Id of the stage in the pipeline file. */
  readonly id: string;
  readonly signal: AbortSignal;
  readonly log: Logger;
  readonly progress: (event: Omit<ProgressEvent, 'stage'>) => void;
  readonly ledger: TensorLedger;
  /** Seeded RNG for this stage (derived from the pipeline seed and the stage id). */
  readonly rng: Rng;
  /** The pipeline seed, to derive further generators (e.g. per group). */
  readonly seed: number;
  /** Directory that relative paths in options are resolved against (the pipeline file's). */
  readonly baseDir: string;
  /** Directory for run outputs (the pipeline's `output` setting). */
  readonly outDir: string;
  /** Name of the compute backend in use. */
  readonly backend: string;
  /**
   * Apply the stage's error policy to a bad record: throws under `fail`,
   * counts under `skip`, counts and stores under `route`.
   */
  readonly badRecord: (policy: ErrorPolicy, error: Error & { code?: string }, record?: number | string) => void;
  /** Live stats the runner reports (records in/out are counted by the runner). */
  readonly stats: { errors: number; routed: RoutedError[] };
}

export interface CreateDeps {
  readonly ctx: StageContext;
  /** Input streams, in the order of the stage's `inputs`. Empty for sources. */
  readonly inputs: readonly Stream<unknown>[];
}

/** A JSON-serialisable value (what sinks return for the run summary). */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/**
 * What each input of a stage may carry: entry i for input i, the last entry
 * for every further input. Checked by `validate` before anything opens.
 */
export type Accepts = readonly (readonly RecordKind[])[];

/** What a stage's output carries: a kind, or 'same' as its first input. */
export type Emits = RecordKind | 'same';

/** Every record kind, for stages that pass anything on (prefetch). */
export const ANY_RECORD: readonly RecordKind[] = ['frame', 'group', 'batch', 'tensor-batch', 'reconstruction', 'error', 'other'];

interface ComponentBase<S extends z.ZodType> {
  readonly type: string;
  /** One line: what the stage does. */
  readonly description: string;
  /** zod schema of the options; every field has .describe() and a default where sensible. */
  readonly options: S;
  /** Record kinds its inputs may carry (plugins that leave it out are not checked). */
  readonly accepts?: Accepts;
  /** Record kind of its output (sources and transforms; a sink that emits a record stream). */
  readonly emits?: Emits;
}

export interface SourceDef<S extends z.ZodType = z.ZodType> extends ComponentBase<S> {
  readonly kind: 'source';
  create(options: z.output<S>, deps: CreateDeps): Promise<Stream<unknown>>;
}

export interface TransformDef<S extends z.ZodType = z.ZodType> extends ComponentBase<S> {
  readonly kind: 'transform';
  /** How many inputs it takes (default exactly 1). */
  readonly arity?: { readonly min: number; readonly max: number };
  create(options: z.output<S>, deps: CreateDeps): Promise<Stream<unknown>>;
}

/** What a sink that declares `emits` returns: its summary, and the record stream later stages take as input. */
export interface SinkOutput {
  readonly summary: Json;
  readonly stream: Stream<unknown>;
}

export interface SinkDef<S extends z.ZodType = z.ZodType> extends ComponentBase<S> {
  readonly kind: 'sink';
  readonly arity?: { readonly min: number; readonly max: number };
  /**
   * Consumes its inputs to the end and returns its result for the run
   * summary; a sink that declares `emits` returns a SinkOutput (summary and stream).
   */
  create(options: z.output<S>, deps: CreateDeps): Promise<Json | SinkOutput>;
}

export type ComponentDef = SourceDef | TransformDef | SinkDef;

/** Identity helpers that keep the option types while checking the shape. */
export function defineSource<S extends z.ZodType>(def: SourceDef<S>): SourceDef<S> {
  return def;
}
export function defineTransform<S extends z.ZodType>(def: TransformDef<S>): TransformDef<S> {
  return def;
}
export function defineSink<S extends z.ZodType>(def: SinkDef<S>): SinkDef<S> {
  return def;
}

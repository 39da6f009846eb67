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

/** Random access to frames by index; reads from disk, never holds the whole scan. */
export interface FrameStore {
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
   * Frames dropped so far by a stage's `on_error: skip | route` on a streamed
   * pass (e.g. the pass `normalize` makes to measure its factor); `group`
   * leaves their positions out. Optional: a store without it drops nothing.
   */
  excluded?(): ReadonlySet<number>;
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
  /** Scan number of each frame, when the source holds several scans (absent: all scan 0). */
  readonly scanIndex?: Int32Array;
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

/** Metadata that travels with a stream from stage to stage. */
export interface StreamMeta {
  /** What the records are. */
  readonly record: 'frame' | 'group' | 'batch' | 'tensor-batch' | 'error' | 'other';
  readonly scan?: ScanMeta;
  readonly frames?: FrameStore;
  /** Number of records one pass yields, when known. */
  readonly count?: number;
  /** Amplitude normalisation factor applied upstream (SPEC §3). */
  readonly normalization?: number;
  /** gridsize when records are groups or batches. */
  readonly gridsize?: number;
  readonly batchSize?: number;
  /** Free-form extras a stage passes on (e.g. split part). */
  readonly extra?: Readonly<Record<string, unknown>>;
}

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

interface ComponentBase<S extends z.ZodType> {
  readonly type: string;
  /** One line: what the stage does. */
  readonly description: string;
  /** zod schema of the options; every field has .describe() and a default where sensible. */
  readonly options: S;
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

export interface SinkDef<S extends z.ZodType = z.ZodType> extends ComponentBase<S> {
  readonly kind: 'sink';
  readonly arity?: { readonly min: number; readonly max: number };
  /** Consumes its inputs to the end and returns its result for the run summary. */
  create(options: z.output<S>, deps: CreateDeps): Promise<Json>;
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

// Engine contract: the re-iterable stream, what it describes (StreamMeta)
// and the typed capabilities a stage may offer on purpose (random access to
// frames or to groups). Capabilities are fields of the stream, never of its
// metadata, so spreading `...input.meta` cannot pass one on.
import type { Group, RecordKind, ScanMeta } from '../records/index.js';

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
  /** How `normalize` scaled: one factor for all frames, or one per scan (issue #17). */
  readonly normalizationMode?: 'all' | 'scan';
  /** gridsize when records are groups or batches. */
  readonly gridsize?: number;
  readonly batchSize?: number;
  /** The records come live (a detector stream): one pass only, no count or positions known up front. */
  readonly live?: boolean;
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
  /**
   * Capability: random access to exactly the frames `open()` yields. Set only
   * by a stage that guarantees it (a source, a frame map); a stage that
   * changes or filters frames any other way must not pass its input's on.
   */
  readonly frames?: FrameAccess;
  /** Capability: random access to exactly the groups `open()` yields, in order (see GroupIndex). */
  readonly groups?: GroupIndex;
}

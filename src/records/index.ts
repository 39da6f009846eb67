// The ptychography records that flow through a pipeline: plain typed arrays,
// except TensorBatch, which only `tensorify` creates and whose receiver owns
// and disposes it. No engine code here: physics, model and io may import this.
import type * as tf from '../tf.js';

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

/** A stitched object on its canvas: what infer and refine emit, evaluate and refine take. */
export interface Reconstruction {
  readonly object: Complex2D;
  readonly probe: Complex2D;
  /** Object coordinates [x, y] of canvas pixel (0, 0). */
  readonly origin: readonly [number, number];
  /** Canvas pixels some patch covered (1) or none (0), height × width. */
  readonly weights: Uint8Array;
  /** The NPZ it was also written to, if any. */
  readonly file?: string;
}

/** The record kinds streams carry ('other' for anything a plugin defines). */
export type RecordKind = 'frame' | 'group' | 'batch' | 'tensor-batch' | 'reconstruction' | 'error' | 'other';

/** A bad record that a stage's `on_error: route` sent to its `errors` output. */
export interface RoutedError {
  readonly stage: string;
  readonly code: string;
  readonly message: string;
  /** Frame index or other identifier of the bad record. */
  readonly record?: number | string;
}

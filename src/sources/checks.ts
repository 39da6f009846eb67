// Shared plumbing of the file sources (npz, hdf5, json): which patterns are
// known good, which were dropped by the source's `on_error: skip | route`, and
// the one checked pass that streams them. The source owns this knowledge, so
// what `group` leaves out does not depend on which stage happened to read
// first: `exclusions()` finishes the check (one sequential pass over the
// patterns not seen yet) before it answers. patternProblem is the check itself
// (size, NaN, Inf, negative) every file source applies.
import { DataError } from '../errors.js';
import type { ErrorPolicy, Frame, FrameStore, ScanMeta, StageContext } from '../pipeline/types.js';

/** The one hint for a bad pattern met by a read by index (group) under `on_error: fail`. */
export const READ_BY_INDEX_HINT = 'fix or remove the pattern in the file, or set on_error: skip or route on the source to leave it out';

/** A pattern of a sequential pass, or the error that stopped it being read (a missing frame file). */
export type RawPattern = { index: number; amplitude: Float32Array; error?: undefined } | { index: number; amplitude?: undefined; error: DataError };

/** Where errors point: the file and key of the patterns. */
export interface PatternSite {
  readonly file: string;
  /** The key holding the patterns, or the key of pattern i (a manifest entry). */
  readonly key: string | ((index: number) => string);
}

/** Why a pattern cannot be used, or undefined when it is fine (the source's value check). */
export type PatternCheck = (a: Float32Array, N: number) => string | undefined;

export class PatternChecks {
  /** 1 for a pattern found clean, 2 for one dropped (one byte per pattern). */
  private readonly state: Uint8Array;
  private readonly dropped = new Set<number>();
  private pending: Promise<ReadonlySet<number>> | undefined;

  constructor(
    readonly count: number,
    readonly N: number,
    private readonly site: PatternSite,
    private readonly check: PatternCheck,
  ) {
    this.state = new Uint8Array(count);
  }

  markChecked(index: number): void {
    if (index >= 0 && index < this.count && this.state[index] === 0) this.state[index] = 1;
  }

  markDropped(index: number): void {
    if (index >= 0 && index < this.count) this.state[index] = 2;
    this.dropped.add(index);
  }

  /** Every pattern checked (or dropped) already. */
  get complete(): boolean {
    return this.state.every((s) => s !== 0);
  }

  /**
   * Patterns read by index are checked like streamed ones (NaN, Inf,
   * negative); a bad one is an error (a reader by index cannot leave a frame
   * out: the exclusions it was planned with are final).
   */
  checkRead(indices: readonly number[], frames: readonly Float32Array[]): void {
    frames.forEach((a, j) => {
      const i = indices[j]!;
      if (this.state[i] === 1) return;
      const problem = this.check(a, this.N);
      if (this.state[i] === 2) {
        throw new DataError('BAD_PATTERN', `pattern ${i}: ${problem ?? 'unreadable'}; the source dropped it (on_error) and a read by index cannot use it`, {
          ...this.where(i),
          hint: 'leave out the positions FrameAccess.excluded() reports',
        });
      }
      if (problem !== undefined) throw new DataError('BAD_PATTERN', `pattern ${i}: ${problem}`, { ...this.where(i), hint: READ_BY_INDEX_HINT });
      this.state[i] = 1;
    });
  }

  /**
   * The dropped patterns, complete: under `fail` none can be dropped (a bad
   * one fails whatever reads it); otherwise the patterns not checked yet are
   * checked now, in one pass of `pass`, each bad one through the policy.
   */
  exclusions(
    policy: ErrorPolicy,
    ctx: StageContext,
    pass: (signal: AbortSignal) => AsyncIterable<RawPattern>,
    signal: AbortSignal,
  ): Promise<ReadonlySet<number>> {
    if (policy === 'fail' || this.complete) return Promise.resolve(this.dropped);
    this.pending ??= (async () => {
      for await (const p of pass(signal)) {
        if (this.state[p.index] !== 0) continue;
        const problem = p.error ?? this.problemOf(p.index, p.amplitude, ctx);
        if (problem === undefined) this.state[p.index] = 1;
        else {
          ctx.badRecord(policy, problem, p.index);
          this.markDropped(p.index);
        }
      }
      return this.dropped;
    })().finally(() => {
      this.pending = undefined;
    });
    return this.pending;
  }

  /** The error for a bad streamed pattern, or undefined when it is fine. */
  problemOf(index: number, a: Float32Array, ctx: StageContext): DataError | undefined {
    const problem = this.check(a, this.N);
    return problem === undefined
      ? undefined
      : new DataError('BAD_PATTERN', `pattern ${index}: ${problem}`, {
          stage: ctx.id,
          ...this.where(index),
          hint: 'fix the data or set on_error: skip or route',
        });
  }

  private where(index: number): { file: string; key: string } {
    const { file, key } = this.site;
    return { file, key: typeof key === 'string' ? key : key(index) };
  }
}

/**
 * Frames of a sequential pass, each pattern checked (NaN, Inf, negative): a
 * bad one goes through the stage's error policy and is recorded as dropped,
 * a good one as checked (so reads by index need not check it again).
 */
export async function* checkedFrames(
  patterns: AsyncIterable<RawPattern>,
  o: { scan: ScanMeta; checks: PatternChecks; ctx: StageContext; policy: ErrorPolicy; scanIndex?: Float64Array | undefined },
): AsyncGenerator<Frame> {
  const { scan, checks, ctx, scanIndex } = o;
  for await (const p of patterns) {
    const problem = p.error ?? checks.problemOf(p.index, p.amplitude, ctx);
    if (problem !== undefined) {
      ctx.badRecord(o.policy, problem, p.index);
      checks.markDropped(p.index);
      continue;
    }
    checks.markChecked(p.index);
    const index = p.index;
    yield {
      index,
      x: scan.xcoords[index]!,
      y: scan.ycoords[index]!,
      amplitude: p.amplitude!,
      ...(scanIndex === undefined ? {} : { scanIndex: scanIndex[index]! }),
    };
  }
}

/**
 * The FrameStore a file source offers as its stream's `frames`: its store's
 * reads, and exclusions complete by the source's own checked pass.
 */
export function offeredStore(
  store: FrameStore,
  checks: PatternChecks,
  policy: ErrorPolicy,
  ctx: StageContext,
  pass: (signal: AbortSignal) => AsyncIterable<RawPattern>,
): FrameStore {
  const readInto = store.readInto?.bind(store);
  return {
    count: store.count,
    N: store.N,
    read: (i) => store.read(i),
    readMany: (ids) => store.readMany(ids),
    ...(readInto === undefined ? {} : { readInto }),
    excluded: (signal) => checks.exclusions(policy, ctx, pass, signal),
    close: () => store.close(),
  };
}

/** Why a pattern cannot be used, or undefined when it is fine. */
export function patternProblem(a: Float32Array, N: number): string | undefined {
  if (a.length !== N * N) return `pattern has ${a.length} values, expected ${N}×${N}`;
  // Clean path on the bits: a float32 is finite, not NaN and ≥ +0 exactly when
  // its bit pattern, read as int32, lies in [0, 0x7f800000). −0 also leaves
  // this loop; the exact checks from there on accept it.
  const bits = new Int32Array(a.buffer, a.byteOffset, a.length);
  const n = bits.length;
  let k = 0;
  while (k < n) {
    const b = bits[k]!;
    if (b < 0 || b >= 0x7f800000) break;
    k++;
  }
  if (k === n) return undefined;
  for (; k < a.length; k++) {
    const v = a[k]!;
    if (Number.isNaN(v)) return `pattern holds NaN (pixel ${k})`;
    if (!Number.isFinite(v)) return `pattern holds Inf (pixel ${k})`;
    if (v < 0) return `pattern holds a negative amplitude ${v} (pixel ${k})`;
  }
  return undefined;
}

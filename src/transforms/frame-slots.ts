// A frame cache of fixed memory for `group`: `capacity` slots of N×N float32 in
// one array allocated once, filled by reads straight into the slots
// (FrameStore.readInto), slots reused in turn like a ring (first in, first
// out: fresh frames land in consecutive slots, so a run of consecutive frames
// is one read straight into place, which least-recently-used order would
// scatter; for the sliding band of frames that neighbour groups share, the
// hit rate is about the same). Because no
// memory is allocated per read, a long scan leaves no trail of dead read
// buffers for the garbage collector to catch up with, which is what kept the
// streaming peak RSS growing with the scan (docs/BENCHMARKS.md, memory).
// Slots handed to a caller stay pinned until it releases them, so a
// concurrent read can never overwrite a frame still being interleaved; when
// every slot is pinned, the extra frames go to temporary arrays (uncached).
import { uninitFloat32 } from './util.js';

/** Frames pinned for one caller: views by frame index, valid until release(). */
export interface FrameLease {
  readonly frames: ReadonlyMap<number, Float32Array>;
  /** Unpins the slots (idempotent). */
  release(): void;
}

/** Reads frames `ids[j]` into `out[j]`. */
export type FrameReader = (ids: readonly number[], out: readonly Float32Array[]) => Promise<void>;

export class FrameSlots {
  private data: Float32Array | undefined;
  /** Frame index → slot. */
  private readonly slotOf = new Map<number, number>();
  /** Slot → frame index, −1 when it holds none. */
  private readonly frameOf: Int32Array;
  /** Callers holding each slot. */
  private readonly pins: Int32Array;
  /** The read still filling a slot, if any. */
  private readonly loading: (Promise<void> | undefined)[];
  /** The next slot to reuse (the ring's hand). */
  private hand = 0;

  constructor(
    readonly capacity: number,
    readonly frameSize: number,
  ) {
    if (!(capacity >= 1 && Number.isInteger(capacity))) throw new RangeError(`FrameSlots: capacity ${capacity} must be a positive integer`);
    this.frameOf = new Int32Array(capacity).fill(-1);
    this.pins = new Int32Array(capacity);
    this.loading = new Array<Promise<void> | undefined>(capacity).fill(undefined);
  }

  /** Frames cached now (for tests and diagnostics). */
  get size(): number {
    return this.slotOf.size;
  }

  /**
   * Pins frames `ids` and returns views of them, reading the ones not cached
   * with `read` (in ascending order, into slots taken in turn, so a run of
   * consecutive frames mostly lies back to back). A failed read forgets its
   * slots and rejects every caller waiting on them.
   */
  async acquire(ids: readonly number[], read: FrameReader): Promise<FrameLease> {
    const frames = new Map<number, Float32Array>();
    const pinned: number[] = [];
    const waits: Promise<void>[] = [];
    const missIds: number[] = [];
    const missOut: Float32Array[] = [];
    const missSlots: number[] = [];
    for (const id of [...ids].sort((a, b) => a - b)) {
      if (frames.has(id)) continue;
      const hit = this.slotOf.get(id);
      if (hit !== undefined) {
        this.pin(hit, pinned);
        frames.set(id, this.view(hit));
        const pending = this.loading[hit];
        if (pending !== undefined) waits.push(pending);
        continue;
      }
      const slot = this.take();
      // Every slot pinned by other callers: read into a temporary array instead.
      const out = slot < 0 ? new Float32Array(this.frameSize) : this.view(slot);
      if (slot >= 0) {
        this.frameOf[slot] = id;
        this.slotOf.set(id, slot);
        this.pin(slot, pinned);
        missSlots.push(slot);
      }
      frames.set(id, out);
      missIds.push(id);
      missOut.push(out);
    }
    let released = false;
    const release = (): void => {
      if (released) return;
      released = true;
      for (const s of pinned) this.pins[s]!--;
    };
    if (missIds.length > 0) {
      const done: Promise<void> = read(missIds, missOut).then(
        () => {
          for (const s of missSlots) if (this.loading[s] === done) this.loading[s] = undefined;
        },
        (e: unknown) => {
          for (const s of missSlots) if (this.loading[s] === done) this.forget(s);
          throw e;
        },
      );
      for (const s of missSlots) this.loading[s] = done;
      waits.push(done);
    }
    // Every read settles before an error is passed on: none may still be writing into a slot once it is unpinned.
    const settled = await Promise.allSettled(waits);
    const failed = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed !== undefined) {
      release();
      throw failed.reason;
    }
    return { frames, release };
  }

  private view(slot: number): Float32Array {
    this.data ??= uninitFloat32(this.capacity * this.frameSize);
    return this.data.subarray(slot * this.frameSize, (slot + 1) * this.frameSize);
  }

  private pin(slot: number, pinned: number[]): void {
    this.pins[slot]!++;
    pinned.push(slot);
  }

  /** A slot to fill: the next unpinned one from the hand on (its frame evicted); −1 if all are pinned. */
  private take(): number {
    for (let tries = 0; tries < this.capacity; tries++) {
      const s = this.hand;
      this.hand = (s + 1) % this.capacity;
      if (this.pins[s] !== 0) continue;
      const old = this.frameOf[s]!;
      if (old >= 0) this.slotOf.delete(old);
      this.frameOf[s] = -1;
      return s;
    }
    return -1;
  }

  /** Drops a slot's frame (its read failed); the slot is reused once unpinned. */
  private forget(slot: number): void {
    const id = this.frameOf[slot]!;
    if (id >= 0 && this.slotOf.get(id) === slot) this.slotOf.delete(id);
    this.frameOf[slot] = -1;
    this.loading[slot] = undefined;
  }
}

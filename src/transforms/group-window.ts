// Windowed grouping for streams without random access (a live detector
// stream): `group` with `window: W` keeps the W most recent frames and makes
// each arriving frame the seed of one group. A seed is decided once W/2
// further frames have arrived (or the stream ends): a frame arriving later
// could not share the buffer with every frame that came W/2 before the seed,
// so the candidate set no longer depends on what comes next, and memory is W
// frames whatever the stream's length. Its candidates are the K nearest
// buffered frames of its scan (ties by frame index), its C members a seeded
// draw from them exactly as GroupPlan draws (Rng.derive(seed, 'group', i)
// with i the seed's frame index), so with a window holding the whole scan the
// groups are the whole-scan plan's up to ties, and for a given arrival order
// the output is always the same. `window: {seconds: S}` adds a time bound (a
// slow stream need not wait W/2 frames): a seed is also decided once S/2 s
// have passed since it arrived, a frame also leaves S s after it arrived;
// both are checked as frames arrive (arrival times from the grouper's clock),
// so the output is the same for a given arrival order and arrival times.
import { DataError, OptionsError } from '../errors.js';
import type { Frame, Group } from '../pipeline/types.js';
import { Rng } from '../util/rng.js';
import { interleaveInto } from './group-plan.js';

export interface WindowOptions {
  gridsize: number;
  k: number;
  /** Frames kept (W); a seed is decided W/2 frames after it arrived. */
  window: number;
  /** Seconds a frame is kept (S); a seed is also decided S/2 s after it arrived. */
  seconds?: number | undefined;
  /** Clock in ms (default performance.now); a test passes its own arrival times. */
  now?: (() => number) | undefined;
  seed: number;
  /** Stop making groups after this many (default: one per frame). */
  nGroups?: number | undefined;
}

interface Slot {
  readonly frame: Frame;
  /** Arrival number. */
  readonly ord: number;
  /** Arrival time (ms). */
  readonly t: number;
  /** Once decided as a seed: its K-th candidate's squared distance (a nearer frame arriving later came too late). */
  reach?: number;
}

export class WindowGrouper {
  readonly C: number;
  private readonly buf: Slot[] = [];
  private readonly pending: Slot[] = [];
  private readonly seen = new Set<number>();
  private ord = 0;
  private made = 0;
  /** Seeds whose window held fewer than C frames of their scan (no group made). */
  skipped = 0;
  /** Frames that arrived after a seed they would have been a candidate of was decided (the window is short for the stream's disorder). */
  late = 0;
  private readonly lookahead: number;
  /** Half the seconds window in ms (Infinity without one). */
  private readonly halfMs: number;
  private readonly now: () => number;

  constructor(readonly o: WindowOptions) {
    this.C = o.gridsize * o.gridsize;
    if (this.C > 1 && o.k < this.C)
      throw new OptionsError('BAD_K', `k = ${o.k} neighbours cannot fill groups of C = ${this.C} (gridsize ${o.gridsize})`, {
        key: 'k',
        hint: `set k ≥ ${this.C}`,
      });
    if (o.window < Math.max(2, o.k))
      throw new OptionsError('BAD_WINDOW', `window = ${o.window} frames cannot hold K = ${o.k} candidates`, {
        key: 'window',
        hint: `set window ≥ ${Math.max(2, 2 * o.k)}`,
      });
    if (o.seconds !== undefined && !(o.seconds > 0))
      throw new OptionsError('BAD_WINDOW', `window.seconds = ${o.seconds}: expected a positive number of seconds`, { key: 'window.seconds' });
    this.lookahead = Math.floor(o.window / 2);
    this.halfMs = o.seconds === undefined ? Infinity : (o.seconds * 1000) / 2;
    this.now = o.now ?? (() => performance.now());
  }

  /** Adds a frame (kept by reference: pass frames nobody reuses) and returns the groups it settled. */
  push(frame: Frame): Group[] {
    if (this.seen.has(frame.index))
      throw new DataError('DUPLICATE_FRAME', `frame ${frame.index} came twice`, {
        key: `frame ${frame.index}`,
        hint: 'a windowed group takes each frame index once',
      });
    // Only the indices still in the window matter for duplicates; older ones leave with their frames.
    this.seen.add(frame.index);
    if (this.C > 1 && this.cameLate(frame)) this.late++;
    const slot: Slot = { frame, ord: this.ord++, t: this.now() };
    this.buf.push(slot);
    this.pending.push(slot);
    while (this.buf.length > this.o.window) this.seen.delete(this.buf.shift()!.frame.index);
    const out: Group[] = [];
    const due = (p: Slot): boolean => slot.ord - p.ord >= this.lookahead || slot.t - p.t >= this.halfMs;
    while (this.pending.length > 0 && due(this.pending[0]!)) this.decide(this.pending.shift()!, out);
    // Frames older than S leave after the seeds due now were decided (those saw S/2 s either side).
    while (slot.t - this.buf[0]!.t > 2 * this.halfMs) this.seen.delete(this.buf.shift()!.frame.index);
    return out;
  }

  /** The groups of the seeds still pending (the stream ended). */
  finish(): Group[] {
    const out: Group[] = [];
    while (this.pending.length > 0) this.decide(this.pending.shift()!, out);
    return out;
  }

  /** Whether a decided seed still buffered would have taken `f` among its K nearest. */
  private cameLate(f: Frame): boolean {
    const scan = f.scanIndex ?? 0;
    for (const { frame: s, reach } of this.buf) {
      if (reach === undefined || (s.scanIndex ?? 0) !== scan) continue;
      const dx = f.x - s.x,
        dy = f.y - s.y;
      if (dx * dx + dy * dy < reach) return true;
    }
    return false;
  }

  /** The K nearest buffered frames of the seed's scan, nearest first, ties by frame index; `reach`: the K-th's squared distance. */
  private candidates(seed: Frame): { pool: Frame[]; reach: number } {
    const scan = seed.scanIndex ?? 0;
    const near: { f: Frame; d: number }[] = [];
    for (const { frame: f } of this.buf) {
      if ((f.scanIndex ?? 0) !== scan) continue;
      const dx = f.x - seed.x,
        dy = f.y - seed.y;
      near.push({ f, d: dx * dx + dy * dy });
    }
    near.sort((a, b) => a.d - b.d || a.f.index - b.f.index);
    return { pool: near.slice(0, this.o.k).map((n) => n.f), reach: near.length >= this.o.k ? near[this.o.k - 1]!.d : Infinity };
  }

  private decide(slot: Slot, out: Group[]): void {
    if (this.o.nGroups !== undefined && this.made >= this.o.nGroups) return;
    const seed = slot.frame;
    let members: Frame[];
    if (this.C === 1) members = [seed];
    else {
      const { pool, reach } = this.candidates(seed);
      slot.reach = reach;
      if (pool.length < this.C) {
        this.skipped++;
        return;
      }
      // The same draw as GroupPlan.members: a seeded C-subset of the pool, in draw order.
      const rng = Rng.derive(this.o.seed, 'group', seed.index);
      for (let c = 0; c < this.C; c++) {
        const j = c + rng.int(pool.length - c);
        const t = pool[c]!;
        pool[c] = pool[j]!;
        pool[j] = t;
      }
      members = pool.slice(0, this.C);
    }
    this.made++;
    out.push(groupOf(seed.index, members));
  }
}

/** A group record of `members` (centre, offsets = centre − position, HWC amplitudes). */
function groupOf(index: number, members: readonly Frame[]): Group {
  const C = members.length;
  const NN = members[0]!.amplitude.length;
  let cx = 0,
    cy = 0;
  for (const m of members) {
    cx += m.x;
    cy += m.y;
  }
  cx /= C;
  cy /= C;
  const offsets = new Float32Array(2 * C);
  members.forEach((m, c) => {
    offsets[c] = cx - m.x;
    offsets[C + c] = cy - m.y;
  });
  const amplitudes = new Float32Array(NN * C);
  interleaveInto(
    members.map((m) => m.amplitude),
    NN,
    amplitudes,
    0,
    1,
    false,
  );
  return { index, indices: Int32Array.from(members, (m) => m.index), center: [cx, cy], offsets, amplitudes };
}

/** The windowed groups of a frame stream, one pass. */
export async function* windowedGroups(
  frames: AsyncIterable<Frame>,
  o: WindowOptions,
  signal: AbortSignal,
  onEnd: (g: WindowGrouper) => void,
): AsyncGenerator<Group> {
  const grouper = new WindowGrouper(o);
  let N: number | undefined;
  for await (const f of frames) {
    signal.throwIfAborted();
    N ??= f.amplitude.length;
    if (f.amplitude.length !== N)
      throw new DataError('BAD_FRAME', `frame ${f.index} has ${f.amplitude.length} values, the stream's first had ${N}`, { key: `frame ${f.index}` });
    yield* grouper.push(f);
  }
  yield* grouper.finish();
  onEnd(grouper);
}

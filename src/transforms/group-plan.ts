// Which positions each group holds (SPEC §4), from positions alone: a
// flatbush KD-tree over the positions in use, group i's seed from a seeded
// permutation and its members from Rng.derive(seed, 'group', i) (i: the seed's
// position when every kept position seeds one group), so any group
// can be built on its own and the order of evaluation does not matter. As in
// the reference, members are a random C-subset of the seed's K nearest
// neighbours kept in draw order (not sorted); unlike the reference the seed
// itself belongs to the candidate pool. Positions left out (`exclude`: frames
// dropped by the source, and later a shard's outside) are neither seeds nor
// members. Also the interleave that writes C frames as one HWC group.
import Flatbush from 'flatbush';
import { DataError, OptionsError } from '../errors.js';
import { Rng } from '../util/rng.js';
import { uninitFloat32 } from './util.js';

export interface GroupPlanOptions {
  gridsize: number;
  k: number;
  nGroups?: number | undefined;
  oversample: boolean;
  seed: number;
  /** Positions to leave out (frames a source dropped as bad): never a seed, never a member. */
  exclude?: ReadonlySet<number> | undefined;
  /** Scan of each position (several scans in one stream): groups never mix scans. */
  scanIndex?: Int32Array | undefined;
}

/** Tree spacing of scans: twice the span of all positions, so no query crosses into another scan. */
function scanStride(xs: Float64Array, ys: Float64Array, scanIndex: Int32Array | undefined): number {
  let lo = Infinity,
    hi = -Infinity;
  for (const v of xs) {
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  for (const v of ys) {
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  return scanIndex === undefined || !(hi >= lo) ? Infinity : 4 * (hi - lo) + 16;
}

/** Which positions each group holds: pure, positions only. */
export class GroupPlan {
  readonly C: number;
  readonly count: number;
  /** Positions in use (all but the excluded ones). */
  readonly positions: number;
  private readonly tree: Flatbush | undefined;
  private readonly perms = new Map<number, Int32Array>();
  /** Position of the k-th kept one, when some are excluded. */
  private readonly kept: Int32Array | undefined;
  /** Scans sit this far apart along x in the tree, and a neighbour query reaches half as far. */
  private readonly stride: number;

  constructor(
    readonly xs: Float64Array,
    readonly ys: Float64Array,
    readonly o: GroupPlanOptions,
  ) {
    const skip = o.exclude;
    if (skip !== undefined && skip.size > 0) {
      const kept: number[] = [];
      for (let i = 0; i < xs.length; i++) if (!skip.has(i)) kept.push(i);
      this.kept = Int32Array.from(kept);
    }
    const n = this.kept?.length ?? xs.length;
    this.positions = n;
    this.C = o.gridsize * o.gridsize;
    if (this.C > 1 && n > 0) {
      if (o.k < this.C)
        throw new OptionsError('BAD_K', `k = ${o.k} neighbours cannot fill groups of C = ${this.C} (gridsize ${o.gridsize})`, {
          key: 'k',
          hint: `set k ≥ ${this.C}`,
        });
      if (n < this.C)
        throw new DataError('TOO_FEW_POSITIONS', `the scan has ${n} usable positions, fewer than C = ${this.C} per group`, { hint: 'use a smaller gridsize' });
    }
    const wanted = o.nGroups ?? n;
    this.count = n === 0 ? 0 : o.oversample ? wanted : Math.min(wanted, n);
    this.stride = scanStride(xs, ys, o.scanIndex);
    if (n > 0 && this.C > 1) {
      this.tree = new Flatbush(n);
      for (let k = 0; k < n; k++) {
        const i = this.position(k);
        const x = this.treeX(i);
        this.tree.add(x, ys[i]!, x, ys[i]);
      }
      this.tree.finish();
    }
  }

  /** x of position i in the tree: each scan shifted by its own multiple of the stride. */
  private treeX(i: number): number {
    const k = this.o.scanIndex?.[i] ?? 0;
    return k === 0 ? this.xs[i]! : this.xs[i]! + k * this.stride;
  }

  /** Scan position of the k-th position in use. */
  private position(k: number): number {
    return this.kept === undefined ? k : this.kept[k]!;
  }

  /** Seed of group i among the positions in use: all in order when every one is used, else a seeded permutation (one per round when oversampling). */
  private seedIndex(i: number): number {
    const n = this.positions;
    if (this.count === n && !this.o.oversample) return i;
    const round = Math.floor(i / n);
    let p = this.perms.get(round);
    if (p === undefined) {
      p = Rng.derive(this.o.seed, 'group-seeds', round).permutation(n);
      this.perms.set(round, p);
    }
    return p[i % n]!;
  }

  /** Seed position of group i. */
  seedOf(i: number): number {
    return this.position(this.seedIndex(i));
  }

  /** The K nearest positions in use to the seed of group i (nearest first). */
  candidates(i: number): number[] {
    const s = this.seedOf(i);
    if (this.tree === undefined) return [s];
    const near = this.tree.neighbors(this.treeX(s), this.ys[s]!, Math.min(this.o.k, this.positions), this.stride / 2);
    return this.kept === undefined ? near : near.map((k) => this.position(k));
  }

  /** Member positions of group i, in draw order. */
  members(i: number): Int32Array {
    if (i < 0 || i >= this.count || !Number.isInteger(i)) throw new OptionsError('BAD_GROUP', `group ${i} is outside 0..${this.count - 1}`);
    const pool = this.candidates(i);
    if (this.C === 1) return Int32Array.of(pool[0]!);
    if (pool.length < this.C)
      throw new DataError(
        'TOO_FEW_POSITIONS',
        `the scan of position ${this.seedOf(i)} has ${pool.length} usable positions, fewer than C = ${this.C} per group`,
        { hint: 'use a smaller gridsize or more positions per scan' },
      );
    // With one group per position, keyed by the seed's own index: a position left out
    // then changes only the groups it was a candidate of, not every later group's draw
    // (and a windowed group over a lossy stream draws the same, see group-window.ts).
    const key = this.count === this.positions && !this.o.oversample ? this.seedOf(i) : i;
    const rng = Rng.derive(this.o.seed, 'group', key);
    const out = new Int32Array(this.C);
    for (let c = 0; c < this.C; c++) {
      const j = c + rng.int(pool.length - c);
      const t = pool[c]!;
      pool[c] = pool[j]!;
      pool[j] = t;
      out[c] = pool[c]!;
    }
    return out;
  }

  /** Centre and offsets (centre − position, [x…, y…]) of a member set. */
  geometry(indices: Int32Array): { center: [number, number]; offsets: Float32Array } {
    const C = indices.length;
    let cx = 0;
    let cy = 0;
    for (const m of indices) {
      cx += this.xs[m]!;
      cy += this.ys[m]!;
    }
    cx /= C;
    cy /= C;
    const offsets = new Float32Array(2 * C);
    for (let c = 0; c < C; c++) {
      offsets[c] = cx - this.xs[indices[c]!]!;
      offsets[C + c] = cy - this.ys[indices[c]!]!;
    }
    return { center: [cx, cy], offsets };
  }
}

/** Interleaves C frames (N×N each) into one N×N×C HWC array. */
export function interleave(frames: readonly Float32Array[], NN: number): Float32Array {
  const out = uninitFloat32(NN * frames.length);
  interleaveInto(frames, NN, out, 0, 1, false);
  return out;
}

/**
 * Writes C frames interleaved (HWC) into `out` from `offset`, each value
 * taken as factor · v (factor · √v for intensities): the `normalize` scaling
 * applied during the copy, with the same float32 result as scaling first.
 */
export function interleaveInto(frames: readonly Float32Array[], NN: number, out: Float32Array, offset: number, factor: number, intensity: boolean): void {
  const C = frames.length;
  if (intensity) {
    for (let c = 0; c < C; c++) {
      const f = frames[c]!;
      for (let p = 0, o = offset + c; p < NN; p++, o += C) out[o] = factor * Math.sqrt(f[p]!);
    }
    return;
  }
  if (C === 4) {
    // The common gridsize 2: one sequential pass over the output, two pixels
    // per step (about 20 % faster than one in V8), the odd last pixel after.
    const [f0, f1, f2, f3] = frames as [Float32Array, Float32Array, Float32Array, Float32Array];
    const even = NN - (NN % 2);
    let o = offset;
    for (let p = 0; p < even; p += 2, o += 8) {
      out[o] = factor * f0[p]!;
      out[o + 1] = factor * f1[p]!;
      out[o + 2] = factor * f2[p]!;
      out[o + 3] = factor * f3[p]!;
      out[o + 4] = factor * f0[p + 1]!;
      out[o + 5] = factor * f1[p + 1]!;
      out[o + 6] = factor * f2[p + 1]!;
      out[o + 7] = factor * f3[p + 1]!;
    }
    if (even < NN) {
      out[o] = factor * f0[even]!;
      out[o + 1] = factor * f1[even]!;
      out[o + 2] = factor * f2[even]!;
      out[o + 3] = factor * f3[even]!;
    }
    return;
  }
  if (C === 1) {
    const f = frames[0]!;
    if (factor === 1) out.set(f.subarray(0, NN), offset);
    else for (let p = 0; p < NN; p++) out[offset + p] = factor * f[p]!;
    return;
  }
  for (let c = 0; c < C; c++) {
    const f = frames[c]!;
    for (let p = 0, o = offset + c; p < NN; p++, o += C) out[o] = factor * f[p]!;
  }
}

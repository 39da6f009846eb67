// Spatial tiles of one scan, from its positions alone, so submit, workers and
// merge agree without exchanging more than (index, kx, ky, margin). The
// bounding box of the probe centres is cut at integer pixel columns and rows
// into kx × ky cores; the outer cores reach to infinity, so the cores
// partition the object plane and every canvas pixel belongs to exactly one
// tile. A tile's shard reads the positions within `margin` pixels of its core
// (every pattern whose N×N window touches a core pixel when margin ≥ N/2 + 1)
// and its result counts only on its core: the merge weight is the core's
// indicator, a partition of unity, so each pixel comes from one shard.
import { OptionsError } from '../errors.js';
import type { CanvasPlacement } from '../sinks/shared/reconstruction.js';

export interface TileSpec {
  index: number;
  kx: number;
  ky: number;
  /** Pixels of positions read beyond the core (default N). */
  margin?: number;
}

export interface TileGeometry {
  /** Core columns [x0, x1) and rows [y0, y1) in object pixels (±Infinity at the outside). */
  x0: number;
  x1: number;
  y0: number;
  y1: number;
  margin: number;
  /** Positions this tile reads. */
  kept: Uint8Array;
  keptCount: number;
}

/** kx × ky = K with the grid as square as K allows (4 → 2×2, 6 → 3×2, 3 → 3×1). */
export function tileGrid(K: number): { kx: number; ky: number } {
  if (!Number.isInteger(K) || K < 1 || K > 1024)
    throw new OptionsError('BAD_SHARDS', `tiles:${K}: expected 1 to 1024 tiles`, { hint: 'e.g. --shards tiles:4' });
  let ky = Math.floor(Math.sqrt(K));
  while (K % ky !== 0) ky--;
  return { kx: K / ky, ky };
}

function cuts(lo: number, hi: number, k: number): number[] {
  const out = [-Infinity];
  for (let i = 1; i < k; i++) out.push(Math.round(lo + ((hi - lo) * i) / k));
  out.push(Infinity);
  return out;
}

export function tileGeometry(xs: Float64Array, ys: Float64Array, N: number, spec: TileSpec): TileGeometry {
  const { kx, ky, index } = spec;
  if (!(index >= 0 && index < kx * ky)) throw new OptionsError('BAD_TILE', `tile ${index} of a ${kx}×${ky} grid does not exist`);
  let minX = Infinity,
    maxX = -Infinity,
    minY = Infinity,
    maxY = -Infinity;
  for (let j = 0; j < xs.length; j++) {
    minX = Math.min(minX, xs[j]!);
    maxX = Math.max(maxX, xs[j]!);
    minY = Math.min(minY, ys[j]!);
    maxY = Math.max(maxY, ys[j]!);
  }
  const cx = cuts(minX, maxX, kx),
    cy = cuts(minY, maxY, ky);
  const ix = index % kx,
    iy = Math.floor(index / kx);
  const g = { x0: cx[ix]!, x1: cx[ix + 1]!, y0: cy[iy]!, y1: cy[iy + 1]! };
  const margin = spec.margin ?? N;
  const kept = new Uint8Array(xs.length);
  let keptCount = 0;
  for (let j = 0; j < xs.length; j++) {
    const x = xs[j]!,
      y = ys[j]!;
    if (x >= g.x0 - margin && x < g.x1 + margin && y >= g.y0 - margin && y < g.y1 + margin) {
      kept[j] = 1;
      keptCount++;
    }
  }
  return { ...g, margin, kept, keptCount };
}

/** The merge weight of a tile on a canvas: 1 on the core's pixels, 0 elsewhere. */
export function coreWeights(g: Pick<TileGeometry, 'x0' | 'x1' | 'y0' | 'y1'>, p: CanvasPlacement): Float32Array {
  const w = new Float32Array(p.width * p.height);
  for (let r = 0; r < p.height; r++) {
    const y = p.originY + r;
    if (y < g.y0 || y >= g.y1) continue;
    for (let c = 0; c < p.width; c++) {
      const x = p.originX + c;
      if (x >= g.x0 && x < g.x1) w[r * p.width + c] = 1;
    }
  }
  return w;
}

// The whole-object canvas for inference (SPEC §6): each predicted N×N patch adds
// its central M×M region at its absolute scan position into a value canvas and a
// weight canvas; the result is their ratio. Sub-pixel positions are splatted
// bilinearly, so integer positions are exact. This canvas is the only
// dataset-sized buffer of an inference run (object size, not patterns × size).
//
// Phase alignment (option): the far field does not see a patch's global phase,
// so a network may give each patch (each group, at gridsize > 1) its own
// constant phase offset, and averaging such patches keeps their edges but
// washes out the phase levels. With `alignPhase`, each patch is first turned by
// the phase that best matches what the canvas already holds where they overlap
// (arg Σ canvas·conj(patch)), so a scan streamed in acquisition order is stitched
// onto one common phase reference. A patch that overlaps nothing is added as is.
import type { Complex2D } from '../records/index.js';
import { OptionsError } from '../errors.js';

export interface StitchOptions {
  /** Pattern size of the patches that will be added. */
  N: number;
  /** Side of the central region kept from each patch (default N/2). */
  M?: number;
  /** Object coordinates of canvas pixel (0, 0): position (x, y) lands at column x − originX, row y − originY. */
  originX?: number;
  originY?: number;
  /** Turn each patch by the constant phase that best matches the canvas where they overlap (default false). */
  alignPhase?: boolean;
  /**
   * Weight of each pixel of the M×M region: 'flat' (1, the default) or 'taper'
   * (sin²(π(i + ½)/M) along each axis: a patch's centre counts most, its edges
   * only where nothing better covers the pixel).
   */
  window?: StitchWindow;
}

export type StitchWindow = 'flat' | 'taper';

export interface CanvasLayout {
  height: number;
  width: number;
  originX: number;
  originY: number;
}

/**
 * A canvas that holds every patch of a scan: the bounding box of the positions
 * ± N/2 (the whole patch window), plus one pixel for the bilinear spill.
 */
export function canvasSizeFor(xcoords: ArrayLike<number>, ycoords: ArrayLike<number>, N: number): CanvasLayout {
  if (xcoords.length === 0 || xcoords.length !== ycoords.length) {
    throw new OptionsError('BAD_COORDS', `canvasSizeFor: need equal, non-empty coordinate lists (got ${xcoords.length} and ${ycoords.length})`);
  }
  let x0 = Infinity,
    x1 = -Infinity,
    y0 = Infinity,
    y1 = -Infinity;
  for (let i = 0; i < xcoords.length; i++) {
    const x = xcoords[i]!,
      y = ycoords[i]!;
    if (!Number.isFinite(x) || !Number.isFinite(y)) throw new OptionsError('BAD_COORDS', `canvasSizeFor: position ${i} is not finite`);
    x0 = Math.min(x0, x);
    x1 = Math.max(x1, x);
    y0 = Math.min(y0, y);
    y1 = Math.max(y1, y);
  }
  const originX = Math.floor(x0 - N / 2),
    originY = Math.floor(y0 - N / 2);
  return { originX, originY, width: Math.ceil(x1 + N / 2) - originX + 1, height: Math.ceil(y1 + N / 2) - originY + 1 };
}

export class StitchCanvas {
  readonly height: number;
  readonly width: number;
  readonly N: number;
  readonly M: number;
  readonly originX: number;
  readonly originY: number;
  readonly alignPhase: boolean;
  /** Patches that were turned to match the canvas, and the sum of |turn| in radians. */
  aligned = 0;
  alignedRadians = 0;
  // float32 accumulators: the canvas is the one dataset-sized buffer, and the few
  // dozen additions per pixel stay far inside float32 precision.
  private readonly re: Float32Array;
  private readonly im: Float32Array;
  private readonly weight: Float32Array;
  /** Per-pixel weights of the M×M region (row-major), or undefined for flat. */
  private readonly win: Float32Array | undefined;

  constructor(height: number, width: number, opts: StitchOptions) {
    const M = opts.M ?? Math.floor(opts.N / 2);
    if (!(Number.isInteger(height) && Number.isInteger(width) && height > 0 && width > 0))
      throw new OptionsError('BAD_SHAPE', `StitchCanvas: bad canvas size ${height}×${width}`);
    if (!(Number.isInteger(M) && M > 0 && M <= opts.N)) throw new OptionsError('BAD_OPTION', `StitchCanvas: M must be an integer in 1..N=${opts.N}, got ${M}`);
    this.height = height;
    this.width = width;
    this.N = opts.N;
    this.M = M;
    this.originX = opts.originX ?? 0;
    this.originY = opts.originY ?? 0;
    this.alignPhase = opts.alignPhase ?? false;
    this.re = new Float32Array(height * width);
    this.im = new Float32Array(height * width);
    this.weight = new Float32Array(height * width);
    if (opts.window === 'taper') {
      const w1 = Float64Array.from({ length: M }, (_, i) => Math.sin((Math.PI * (i + 0.5)) / M) ** 2);
      this.win = Float32Array.from({ length: M * M }, (_, k) => w1[Math.floor(k / M)]! * w1[k % M]!);
    }
  }

  /** Adds the central M×M region of an N×N patch (row-major) centred at scan position (cx, cy). */
  add(re: Float32Array, im: Float32Array, N: number, cx: number, cy: number): void {
    if (N !== this.N || re.length !== N * N || im.length !== N * N)
      throw new OptionsError('BAD_SHAPE', `StitchCanvas.add: expected an ${this.N}×${this.N} patch, got N=${N} with ${re.length} values`);
    if (!Number.isFinite(cx) || !Number.isFinite(cy)) throw new OptionsError('BAD_COORDS', `StitchCanvas.add: position (${cx}, ${cy}) is not finite`);
    if (this.alignPhase) {
      // S = Σ canvas · conj(patch) over the overlap, with the splat's own weights.
      let sr = 0,
        si = 0;
      this.splat(N, cx, cy, (o, p, wt) => {
        const cr = this.re[o]!,
          ci = this.im[o]!,
          pr = re[p]!,
          pi = im[p]!;
        sr += wt * (cr * pr + ci * pi);
        si += wt * (ci * pr - cr * pi);
      });
      if (Math.hypot(sr, si) > 1e-12) {
        const phi = Math.atan2(si, sr),
          cos = Math.cos(phi),
          sin = Math.sin(phi);
        const tr = new Float32Array(re.length),
          ti = new Float32Array(im.length);
        for (let p = 0; p < re.length; p++) {
          tr[p] = re[p]! * cos - im[p]! * sin;
          ti[p] = re[p]! * sin + im[p]! * cos;
        }
        re = tr;
        im = ti;
        this.aligned++;
        this.alignedRadians += Math.abs(phi);
      }
    }
    this.splat(N, cx, cy, (o, p, wt) => {
      this.re[o] = this.re[o]! + wt * re[p]!;
      this.im[o] = this.im[o]! + wt * im[p]!;
      this.weight[o] = this.weight[o]! + wt;
    });
  }

  /**
   * Visits every (canvas index o, patch index p, bilinear weight) of the central
   * M×M region of a patch at (cx, cy): patch pixel (r, c) sits at object
   * (cy − N/2 + r, cx − N/2 + c) (SPEC §1), split over four canvas pixels.
   */
  private splat(N: number, cx: number, cy: number, visit: (o: number, p: number, wt: number) => void): void {
    const fy = cy - N / 2 - this.originY,
      fx = cx - N / 2 - this.originX;
    const iy = Math.floor(fy),
      ix = Math.floor(fx),
      wy = fy - iy,
      wx = fx - ix;
    const lo = Math.floor((N - this.M) / 2),
      hi = lo + this.M;
    const taps: [number, number, number][] = [
      [0, 0, (1 - wy) * (1 - wx)],
      [0, 1, (1 - wy) * wx],
      [1, 0, wy * (1 - wx)],
      [1, 1, wy * wx],
    ];
    const win = this.win;
    for (const [dy, dx, wt] of taps) {
      if (wt === 0) continue;
      for (let r = lo; r < hi; r++) {
        const y = iy + r + dy;
        if (y < 0 || y >= this.height) continue;
        for (let c = lo; c < hi; c++) {
          const x = ix + c + dx;
          if (x < 0 || x >= this.width) continue;
          visit(y * this.width + x, r * N + c, win === undefined ? wt : wt * win[(r - lo) * this.M + (c - lo)]!);
        }
      }
    }
  }

  /**
   * A larger canvas holding everything added so far, for a scan whose extent
   * is not known up front (a live stream): `layout` must contain this canvas.
   */
  regrid(layout: CanvasLayout): StitchCanvas {
    const dx = this.originX - layout.originX,
      dy = this.originY - layout.originY;
    if (dx < 0 || dy < 0 || dx + this.width > layout.width || dy + this.height > layout.height)
      throw new OptionsError('BAD_SHAPE', 'StitchCanvas.regrid: the new layout must contain the canvas');
    const next = new StitchCanvas(layout.height, layout.width, {
      N: this.N,
      M: this.M,
      originX: layout.originX,
      originY: layout.originY,
      alignPhase: this.alignPhase,
      ...(this.win === undefined ? {} : { window: 'taper' }),
    });
    for (let y = 0; y < this.height; y++) {
      const from = y * this.width,
        to = (y + dy) * layout.width + dx;
      next.re.set(this.re.subarray(from, from + this.width), to);
      next.im.set(this.im.subarray(from, from + this.width), to);
      next.weight.set(this.weight.subarray(from, from + this.width), to);
    }
    next.aligned = this.aligned;
    next.alignedRadians = this.alignedRadians;
    return next;
  }

  /** Weighted average of everything added; uncovered pixels (weight ≤ 1e-9) are 0 with covered[i] = 0. */
  result(): { object: Complex2D; weight: Float32Array; covered: Uint8Array } {
    const n = this.height * this.width,
      re = new Float32Array(n),
      im = new Float32Array(n),
      covered = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      const w = this.weight[i]!;
      if (w > 1e-9) {
        re[i] = this.re[i]! / w;
        im[i] = this.im[i]! / w;
        covered[i] = 1;
      }
    }
    return { object: { height: this.height, width: this.width, re, im }, weight: Float32Array.from(this.weight), covered };
  }
}

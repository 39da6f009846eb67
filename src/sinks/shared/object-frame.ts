// Where a reconstruction sits on the truth's object grid, and which part of it
// is scored: shared by `evaluate` and the per-pass scoring of the engines, so
// a pass's score and the final evaluation crop and place alike.
import type { CropBox } from '../../physics/metrics.js';
import type { Complex2D, ScanMeta } from '../../pipeline/types.js';

/** Any complex canvas: float32 as records hold it, or an engine's float64 working copy. */
export interface ComplexGrid {
  readonly height: number;
  readonly width: number;
  readonly re: ArrayLike<number>;
  readonly im: ArrayLike<number>;
}

/** Places a canvas whose pixel (0,0) is object pixel (ox, oy) on an h×w object grid (uncovered → 0). */
export function toObjectFrame(c: ComplexGrid, ox: number, oy: number, h: number, w: number): Complex2D {
  const re = new Float32Array(h * w),
    im = new Float32Array(h * w),
    dx = Math.round(ox),
    dy = Math.round(oy);
  for (let y = 0; y < h; y++) {
    const sy = y - dy;
    if (sy < 0 || sy >= c.height) continue;
    for (let x = 0; x < w; x++) {
      const sx = x - dx;
      if (sx < 0 || sx >= c.width) continue;
      re[y * w + x] = c.re[sy * c.width + sx]!;
      im[y * w + x] = c.im[sy * c.width + sx]!;
    }
  }
  return { height: h, width: w, re, im };
}

/** The scan's bounding box of positions ± margin (default N/4, the half-width of the stitched M = N/2 centre). */
export function scanCrop(scan: ScanMeta, margin: number | undefined): CropBox {
  const m = margin ?? scan.N / 4;
  let x0 = Infinity,
    x1 = -Infinity,
    y0 = Infinity,
    y1 = -Infinity;
  for (let i = 0; i < scan.xcoords.length; i++) {
    x0 = Math.min(x0, scan.xcoords[i]!);
    x1 = Math.max(x1, scan.xcoords[i]!);
    y0 = Math.min(y0, scan.ycoords[i]!);
    y1 = Math.max(y1, scan.ycoords[i]!);
  }
  return { x0: Math.floor(x0 - m), y0: Math.floor(y0 - m), x1: Math.ceil(x1 + m), y1: Math.ceil(y1 + m) };
}

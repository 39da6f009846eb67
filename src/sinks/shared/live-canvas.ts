// The canvas of a live reconstruction: the scan's extent is not known when
// the first patch arrives, so the canvas starts around it and grows (by at
// least a quarter of its side, so growing costs amortised constant time per
// patch) whenever a patch lands outside. Memory is the object's size, as for
// a file scan. Snapshots write what is stitched so far as NPZ and PNGs (both
// written to a temp file and renamed, so a viewer never sees half a file).
import { StitchCanvas, type CanvasLayout, type StitchWindow } from '../../physics/stitch.js';
import type { Complex2D } from '../../pipeline/types.js';
import type { CanvasPlacement } from './reconstruction.js';

export interface PatchCanvas {
  add(re: Float32Array, im: Float32Array, N: number, cx: number, cy: number): void;
  result(): { object: Complex2D; covered: Uint8Array };
  readonly aligned: number;
  readonly alignedRadians: number;
}

export class LiveCanvas implements PatchCanvas {
  private canvas: StitchCanvas | undefined;
  /** Times the canvas grew. */
  grown = 0;

  constructor(private readonly o: { N: number; M: number; alignPhase: boolean; window: StitchWindow }) {}

  get aligned(): number {
    return this.canvas?.aligned ?? 0;
  }

  get alignedRadians(): number {
    return this.canvas?.alignedRadians ?? 0;
  }

  /** Where the canvas lies now (a 1×1 canvas at 0 before any patch). */
  get placement(): CanvasPlacement {
    const c = this.canvas;
    return c === undefined ? { height: 1, width: 1, originX: 0, originY: 0 } : { height: c.height, width: c.width, originX: c.originX, originY: c.originY };
  }

  add(re: Float32Array, im: Float32Array, N: number, cx: number, cy: number): void {
    // The patch window with the bilinear spill, as canvasSizeFor lays it out.
    const x0 = Math.floor(cx - N / 2),
      y0 = Math.floor(cy - N / 2),
      x1 = Math.ceil(cx + N / 2) + 1,
      y1 = Math.ceil(cy + N / 2) + 1;
    const c = this.canvas;
    if (c === undefined) {
      this.canvas = new StitchCanvas(y1 - y0, x1 - x0, {
        N: this.o.N,
        M: this.o.M,
        originX: x0,
        originY: y0,
        alignPhase: this.o.alignPhase,
        window: this.o.window,
      });
    } else if (x0 < c.originX || y0 < c.originY || x1 > c.originX + c.width || y1 > c.originY + c.height) {
      this.canvas = c.regrid(grownLayout(c, x0, y0, x1, y1));
      this.grown++;
    }
    this.canvas!.add(re, im, N, cx, cy);
  }

  result(): { object: Complex2D; covered: Uint8Array } {
    if (this.canvas === undefined) return { object: { height: 1, width: 1, re: new Float32Array(1), im: new Float32Array(1) }, covered: new Uint8Array(1) };
    return this.canvas.result();
  }
}

/** The union of the canvas and a window, widened on each side it grows by a quarter of the canvas's side. */
function grownLayout(c: CanvasLayout, x0: number, y0: number, x1: number, y1: number): CanvasLayout {
  const padX = Math.ceil(c.width / 4),
    padY = Math.ceil(c.height / 4);
  const nx0 = x0 < c.originX ? Math.min(x0, c.originX - padX) : c.originX;
  const ny0 = y0 < c.originY ? Math.min(y0, c.originY - padY) : c.originY;
  const nx1 = x1 > c.originX + c.width ? Math.max(x1, c.originX + c.width + padX) : c.originX + c.width;
  const ny1 = y1 > c.originY + c.height ? Math.max(y1, c.originY + c.height + padY) : c.originY + c.height;
  return { originX: nx0, originY: ny0, width: nx1 - nx0, height: ny1 - ny0 };
}

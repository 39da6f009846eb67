// Scan positions as an engine refines them: the nominal ones from the scan,
// the current ones, where each window starts on the object canvas, and what
// the correction amounts to (RMS shift, arrays for the output NPZ). A global
// translation of all positions is not measurable (the object moves with it),
// so each pass's mean shift is taken out again.
import { DataError } from '../../errors.js';
import type { NpzArrayInput } from '../../io/npz-writer.js';
import type { ScanMeta } from '../../pipeline/types.js';
import type { CanvasPlacement } from './reconstruction.js';

export class PositionTracker {
  readonly x: Float64Array;
  readonly y: Float64Array;
  private readonly x0: Float64Array;
  private readonly y0: Float64Array;

  constructor(
    scan: ScanMeta,
    private readonly placement: CanvasPlacement,
    private readonly N: number,
    private readonly fits: (sx: number, sy: number) => boolean,
    private readonly where: string,
  ) {
    this.x0 = Float64Array.from(scan.xcoords);
    this.y0 = Float64Array.from(scan.ycoords);
    this.x = Float64Array.from(scan.xcoords);
    this.y = Float64Array.from(scan.ycoords);
  }

  private cornerOf(x: number, y: number): [number, number] {
    return [x - this.N / 2 - this.placement.originX, y - this.N / 2 - this.placement.originY];
  }

  /** Canvas position of the top-left corner of frame i's window. */
  corner(i: number): [number, number] {
    const x = this.x[i],
      y = this.y[i];
    if (x === undefined || y === undefined)
      throw new DataError('BAD_COORDS', `${this.where}: frame ${i} has no scan position (the scan lists ${this.x.length})`, { key: `frame ${i}` });
    const c = this.cornerOf(x, y);
    if (!this.fits(c[0], c[1])) {
      throw new DataError(
        'OUTSIDE_CANVAS',
        `${this.where}: the window of frame ${i} at (${x}, ${y}) reaches outside the object canvas (${this.placement.width}×${this.placement.height} from (${this.placement.originX}, ${this.placement.originY}))`,
        {
          key: `frame ${i}`,
          hint: 'start from a reconstruction of this same scan, or without one (the canvas then covers every window)',
        },
      );
    }
    return c;
  }

  /** Moves position i by (dx, dy), each clamped to ±max, unless its window would leave the canvas. */
  move(i: number, dx: number, dy: number, max: number): void {
    const nx = this.x[i]! + Math.max(-max, Math.min(max, dx)),
      ny = this.y[i]! + Math.max(-max, Math.min(max, dy));
    const c = this.cornerOf(nx, ny);
    if (!this.fits(c[0], c[1])) return;
    this.x[i] = nx;
    this.y[i] = ny;
  }

  /** Takes out the mean shift from the nominal positions (where every window still fits). */
  recentre(): void {
    let mx = 0,
      my = 0;
    const n = this.x.length;
    for (let i = 0; i < n; i++) {
      mx += this.x[i]! - this.x0[i]!;
      my += this.y[i]! - this.y0[i]!;
    }
    mx /= n;
    my /= n;
    for (let i = 0; i < n; i++) {
      const c = this.cornerOf(this.x[i]! - mx, this.y[i]! - my);
      if (!this.fits(c[0], c[1])) continue;
      this.x[i] = this.x[i]! - mx;
      this.y[i] = this.y[i]! - my;
    }
  }

  /** RMS and largest distance of the current positions from the nominal ones, pixels. */
  shifts(): { rms: number; max: number } {
    let s = 0,
      max = 0;
    for (let i = 0; i < this.x.length; i++) {
      const d2 = (this.x[i]! - this.x0[i]!) ** 2 + (this.y[i]! - this.y0[i]!) ** 2;
      s += d2;
      max = Math.max(max, Math.sqrt(d2));
    }
    return { rms: Math.sqrt(s / Math.max(this.x.length, 1)), max };
  }

  rmsShift(): number {
    return +this.shifts().rms.toFixed(4);
  }

  summary(): { position_rms_shift: number; position_max_shift: number } {
    const s = this.shifts();
    return { position_rms_shift: +s.rms.toFixed(4), position_max_shift: +s.max.toFixed(4) };
  }

  /** The corrected positions (xcoords, ycoords) and the nominal ones (…_start), as NPZ arrays. */
  arrays(): Record<string, NpzArrayInput> {
    const a = (d: Float64Array): NpzArrayInput => ({ shape: [d.length], data: Float64Array.from(d), descr: '<f8' });
    return { xcoords: a(this.x), ycoords: a(this.y), xcoords_start: a(this.x0), ycoords_start: a(this.y0) };
  }

  /** Canvas pixels under the central N/2 × N/2 of some window (what the images show). */
  covered(n: number): Uint8Array {
    const out = new Uint8Array(n),
      { N } = this,
      { width: W, height: H } = this.placement,
      lo = Math.floor(N / 4);
    for (let i = 0; i < this.x.length; i++) {
      const [sx, sy] = this.cornerOf(this.x[i]!, this.y[i]!);
      const x0 = Math.max(0, Math.floor(sx) + lo),
        y0 = Math.max(0, Math.floor(sy) + lo);
      for (let yy = y0; yy < Math.min(H, y0 + Math.floor(N / 2)); yy++) out.fill(1, yy * W + x0, yy * W + Math.min(W, x0 + Math.floor(N / 2)));
    }
    return out;
  }
}

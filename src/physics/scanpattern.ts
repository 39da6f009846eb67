// Scan positions for simulation (SPEC §8): a raster with optional Gaussian
// jitter, or positions drawn uniformly at random. Positions are probe-window
// centres in object pixels (x = column, y = row), always inside
// [N/2 + margin, size − N/2 − margin] on both axes, which keeps every window —
// including the bilinear neighbours of a sub-pixel window — on the object.
import { OptionsError } from '../errors.js';
import type { Rng } from '../util/rng.js';

export interface ScanPositions {
  readonly x: Float64Array;
  readonly y: Float64Array;
}

export interface ScanArea {
  /** Object width and height in pixels. */
  readonly width: number;
  readonly height: number;
  /** Probe window size. */
  readonly N: number;
  /** Extra distance from the edges beyond N/2; default 0. */
  readonly margin?: number;
}

/** The allowed range of window centres per axis. */
export function scanBounds(area: ScanArea): { xmin: number; xmax: number; ymin: number; ymax: number } {
  const m = area.margin ?? 0;
  if (!(m >= 0)) throw new OptionsError('SCAN_OPTION', `scan margin must be ≥ 0, got ${m}`);
  const xmin = area.N / 2 + m,
    xmax = area.width - area.N / 2 - m;
  const ymin = area.N / 2 + m,
    ymax = area.height - area.N / 2 - m;
  if (xmax < xmin || ymax < ymin) {
    throw new OptionsError('SCAN_AREA', `a ${area.width}×${area.height} object leaves no room for ${area.N}×${area.N} windows with margin ${m}`, {
      hint: `use an object of at least ${area.N + 2 * m} pixels a side`,
    });
  }
  return { xmin, xmax, ymin, ymax };
}

const clamp = (v: number, lo: number, hi: number): number => Math.min(hi, Math.max(lo, v));

export interface RasterOptions {
  /**
   * Grid spacing in pixels. Default: N/8 (about 70 % linear overlap for the default
   * probe of diameter 0.4·N), or, with `count`, the spacing that fits ⌈√count⌉ points per row.
   */
  step?: number;
  /** σ of Gaussian jitter added to each position, in pixels (clamped to the bounds); default 0. */
  jitter?: number;
  /** At most this many positions, taken in raster order. */
  count?: number;
}

/**
 * A raster centred in the allowed area, row by row (y outer, x inner), then
 * jittered. Without jitter, positions are integers when N/2 + margin is and
 * the step is an integer.
 */
export function rasterPositions(area: ScanArea, rng: Rng, opts: RasterOptions = {}): ScanPositions {
  const { xmin, xmax, ymin, ymax } = scanBounds(area);
  let step = opts.step;
  if (step === undefined) {
    if (opts.count !== undefined) {
      const side = Math.ceil(Math.sqrt(opts.count));
      step = side > 1 ? Math.min(xmax - xmin, ymax - ymin) / (side - 1) : area.N / 8;
    } else {
      step = area.N / 8;
    }
  }
  if (!(step > 0)) throw new OptionsError('SCAN_OPTION', `raster step must be > 0, got ${step}`);
  const nx = Math.floor((xmax - xmin) / step + 1e-9) + 1,
    ny = Math.floor((ymax - ymin) / step + 1e-9) + 1;
  // Centre the grid; round the start so integer steps give integer positions.
  const x0 = xmin + Math.floor((xmax - xmin - (nx - 1) * step) / 2),
    y0 = ymin + Math.floor((ymax - ymin - (ny - 1) * step) / 2);
  const total = nx * ny;
  const n = opts.count === undefined ? total : opts.count;
  if (!Number.isInteger(n) || n < 1 || n > total) {
    throw new OptionsError('SCAN_COUNT', `a raster with step ${step} has ${nx}×${ny} = ${total} positions; count ${n} is not in 1..${total}`, {
      hint: 'lower the step or the count, or use a larger object',
    });
  }
  const jitter = opts.jitter ?? 0;
  if (!(jitter >= 0)) throw new OptionsError('SCAN_OPTION', `jitter must be ≥ 0, got ${jitter}`);
  const x = new Float64Array(n),
    y = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const r = Math.floor(i / nx),
      c = i % nx;
    x[i] = x0 + c * step;
    y[i] = y0 + r * step;
    if (jitter > 0) {
      x[i] = clamp(x[i]! + jitter * rng.normal(), xmin, xmax);
      y[i] = clamp(y[i]! + jitter * rng.normal(), ymin, ymax);
    }
  }
  return { x, y };
}

/** `count` positions drawn uniformly within the allowed area. */
export function randomPositions(area: ScanArea, rng: Rng, count: number): ScanPositions {
  const { xmin, xmax, ymin, ymax } = scanBounds(area);
  if (!Number.isInteger(count) || count < 1) throw new OptionsError('SCAN_COUNT', `random scan count must be a positive integer, got ${count}`);
  const x = new Float64Array(count),
    y = new Float64Array(count);
  for (let i = 0; i < count; i++) {
    x[i] = xmin + rng.uniform() * (xmax - xmin);
    y[i] = ymin + rng.uniform() * (ymax - ymin);
  }
  return { x, y };
}

/**
 * A Fermat spiral (r = step·√i, angle i·golden angle) about the centre of the
 * allowed area: even coverage without the raster's periodicity (which lets
 * raster artefacts hide), and sub-pixel positions throughout. Points outside
 * the area are skipped; `count` defaults to as many as fit.
 */
export function spiralPositions(area: ScanArea, opts: { step?: number; count?: number } = {}): ScanPositions {
  const { xmin, xmax, ymin, ymax } = scanBounds(area);
  const step = opts.step ?? area.N / 8;
  if (!(step > 0)) throw new OptionsError('SCAN_OPTION', `spiral step must be > 0, got ${step}`);
  const cx = (xmin + xmax) / 2,
    cy = (ymin + ymax) / 2;
  // Points within the inscribed square's circumcircle: beyond it none lies inside the area.
  const rmax = Math.hypot(xmax - xmin, ymax - ymin) / 2;
  const last = Math.ceil((rmax / step) ** 2);
  const golden = Math.PI * (3 - Math.sqrt(5));
  const xs: number[] = [],
    ys: number[] = [];
  for (let i = 0; i <= last && (opts.count === undefined || xs.length < opts.count); i++) {
    const r = step * Math.sqrt(i),
      a = i * golden;
    const x = cx + r * Math.cos(a),
      y = cy + r * Math.sin(a);
    if (x >= xmin && x <= xmax && y >= ymin && y <= ymax) {
      xs.push(x);
      ys.push(y);
    }
  }
  if (opts.count !== undefined && xs.length < opts.count) {
    throw new OptionsError('SCAN_COUNT', `a spiral with step ${step} fits ${xs.length} positions; count ${opts.count} is more`, {
      hint: 'lower the step or the count, or use a larger object',
    });
  }
  return { x: Float64Array.from(xs), y: Float64Array.from(ys) };
}

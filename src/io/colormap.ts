// Colour maps (matplotlib-like: grey, viridis, a cyclic map for phase) and
// round axis ticks with compact labels.
import type { RGB } from './raster.js';

const MAPS: Record<'gray' | 'viridis' | 'twilight', RGB[]> = {
  gray: [
    [0, 0, 0],
    [255, 255, 255],
  ],
  viridis: [
    [68, 1, 84],
    [71, 44, 122],
    [59, 81, 139],
    [44, 113, 142],
    [33, 144, 141],
    [39, 173, 129],
    [92, 200, 99],
    [170, 220, 50],
    [253, 231, 37],
  ],
  // A twilight-like cyclic map: both ends are the same light grey, so −π and π look alike.
  twilight: [
    [226, 217, 226],
    [150, 170, 205],
    [95, 110, 180],
    [85, 55, 140],
    [47, 20, 54],
    [120, 40, 70],
    [175, 85, 75],
    [210, 160, 140],
    [226, 217, 226],
  ],
};
export type Colormap = keyof typeof MAPS;
const NAN_COLOUR: RGB = [255, 0, 255];

export function colour(map: Colormap, t: number): RGB {
  if (!Number.isFinite(t)) return NAN_COLOUR;
  const a = MAPS[map],
    u = Math.min(1, Math.max(0, t)) * (a.length - 1),
    i = Math.min(a.length - 2, Math.floor(u)),
    f = u - i;
  const p = a[i]!,
    q = a[i + 1]!;
  return [Math.round(p[0] + (q[0] - p[0]) * f), Math.round(p[1] + (q[1] - p[1]) * f), Math.round(p[2] + (q[2] - p[2]) * f)];
}

/** About `target` round tick values (1, 2, 5 × 10^k steps) inside [lo, hi]. */
export function niceTicks(lo: number, hi: number, target = 5): { ticks: number[]; step: number } {
  if (!(hi > lo)) return { ticks: [lo], step: 1 };
  const raw = (hi - lo) / target,
    mag = 10 ** Math.floor(Math.log10(raw)),
    n = raw / mag;
  const step = (n < 1.5 ? 1 : n < 3.5 ? 2 : n < 7.5 ? 5 : 10) * mag,
    ticks: number[] = [];
  for (let k = Math.ceil(lo / step - 1e-9); k * step <= hi + step * 1e-9; k++) ticks.push(k * step);
  return { ticks, step };
}

/** Short label for a tick value given the tick spacing (exponent form for very large or small values). */
export function formatTick(v: number, step: number): string {
  if (Math.abs(v) < step * 1e-6) return '0';
  const a = Math.abs(v);
  if (a >= 1e5 || a < 1e-3) {
    const digits = Math.min(3, Math.max(0, Math.floor(Math.log10(a)) - Math.floor(Math.log10(step))));
    return v.toExponential(digits).replace('e+', 'e');
  }
  return v.toFixed(Math.max(0, Math.min(6, -Math.floor(Math.log10(step) + 1e-9))));
}

export function finiteRange(v: ArrayLike<number>): [number, number] {
  let lo = Infinity,
    hi = -Infinity;
  for (let i = 0; i < v.length; i++) {
    const x = v[i]!;
    if (Number.isFinite(x)) {
      if (x < lo) lo = x;
      if (x > hi) hi = x;
    }
  }
  return lo <= hi ? [lo, hi] : [0, 1];
}

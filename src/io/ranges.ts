// Colour ranges for figures. A reconstruction's canvas has an unscanned
// border and a few wild pixels at the scan's edge; a min–max range spends
// the colour map on them. A robust range takes percentiles of the pixels
// that count (a mask: the scanned region, weights > 0) instead.

/** The `lo` and `hi` percentiles (0–100) of the finite values where `mask` is set (everywhere without a mask). */
export function robustRange(values: ArrayLike<number>, opts: { mask?: ArrayLike<number>; lo?: number; hi?: number } = {}): [number, number] {
  const lo = opts.lo ?? 1,
    hi = opts.hi ?? 99;
  const picked: number[] = [];
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (Number.isFinite(v) && (opts.mask === undefined || opts.mask[i]! > 0)) picked.push(v);
  }
  if (picked.length === 0) return [0, 1];
  const sorted = Float64Array.from(picked).sort();
  const at = (p: number): number => {
    const x = (Math.min(Math.max(p, 0), 100) / 100) * (sorted.length - 1),
      i = Math.floor(x),
      f = x - i;
    return i + 1 < sorted.length ? sorted[i]! + (sorted[i + 1]! - sorted[i]!) * f : sorted[i]!;
  };
  return [at(lo), at(hi)];
}

/** A range given in part: each of `vmin`, `vmax` set replaces that end of `auto`. */
export function withLimits(auto: [number, number], vmin?: number, vmax?: number): [number, number] {
  return [vmin ?? auto[0], vmax ?? auto[1]];
}

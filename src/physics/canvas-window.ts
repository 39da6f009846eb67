// A probe-sized window of the object canvas at a (sub-pixel) corner: whether
// it fits, cutting it out by bilinear interpolation, and adding a correction
// back with the same weights (the adjoint). Whole-pixel axes use one tap, so
// nothing past the window is read.

/** The object canvas the engine updates in place (float64, row-major). */
export interface Canvas {
  readonly width: number;
  readonly height: number;
  readonly re: Float64Array;
  readonly im: Float64Array;
}

/** Whether a window whose top-left corner is at canvas (sx, sy) fits the canvas (bilinear spill included). */
export function windowFits(canvas: Canvas, N: number, sx: number, sy: number): boolean {
  if (!Number.isFinite(sx) || !Number.isFinite(sy)) return false;
  const ix = Math.floor(sx),
    iy = Math.floor(sy);
  return ix >= 0 && iy >= 0 && ix + N + (sx > ix ? 1 : 0) <= canvas.width && iy + N + (sy > iy ? 1 : 0) <= canvas.height;
}

/** Canvas offset of the window's first pixel and its bilinear taps (offset, weight). */
function taps(canvas: Canvas, sx: number, sy: number): { base: number; taps: [number, number][] } {
  const W = canvas.width,
    ix = Math.floor(sx),
    iy = Math.floor(sy),
    fx = sx - ix,
    fy = sy - iy;
  const along = (f: number, step: number): [number, number][] =>
    f === 0
      ? [[0, 1]]
      : [
          [0, 1 - f],
          [step, f],
        ];
  const out: [number, number][] = [];
  for (const [oy, wy] of along(fy, W)) for (const [ox, wx] of along(fx, 1)) out.push([oy + ox, wy * wx]);
  return { base: iy * W + ix, taps: out };
}

/** Cuts the N×N window with top-left corner (sx, sy) (canvas pixels) into pr/pi. */
export function gatherWindow(canvas: Canvas, N: number, sx: number, sy: number, pr: Float64Array, pi: Float64Array): void {
  const { width: W, re, im } = canvas,
    { base, taps: t } = taps(canvas, sx, sy);
  if (t.length === 1) {
    for (let r = 0; r < N; r++) {
      const src = base + r * W;
      pr.set(re.subarray(src, src + N), r * N);
      pi.set(im.subarray(src, src + N), r * N);
    }
    return;
  }
  pr.fill(0);
  pi.fill(0);
  for (const [off, w] of t) {
    for (let r = 0; r < N; r++) {
      let a = base + r * W + off;
      for (let c = 0, o = r * N; c < N; c++, a++, o++) {
        pr[o] = pr[o]! + w * re[a]!;
        pi[o] = pi[o]! + w * im[a]!;
      }
    }
  }
}

/** Adds dr/di into the canvas at the window (sx, sy), with gatherWindow's bilinear weights (its adjoint). */
export function scatterWindow(canvas: Canvas, N: number, sx: number, sy: number, dr: Float64Array, di: Float64Array): void {
  const { width: W, re, im } = canvas,
    { base, taps: t } = taps(canvas, sx, sy);
  for (const [off, w] of t) {
    for (let r = 0; r < N; r++) {
      let a = base + r * W + off;
      for (let c = 0, o = r * N; c < N; c++, a++, o++) {
        re[a] = re[a]! + w * dr[o]!;
        im[a] = im[a]! + w * di[o]!;
      }
    }
  }
}

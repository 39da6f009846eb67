// Cuts the N×N window a probe sees out of a complex object (SPEC §1): the window
// centred at (cx, cy) covers rows cy − N/2 … cy + N/2 − 1 and columns
// cx − N/2 … cx + N/2 − 1. When cy − N/2 and cx − N/2 are integers the copy is
// exact; otherwise each value is the bilinear interpolation of its four
// neighbours (the fractional offset is the same for the whole window, so the
// weights are computed once). Pixels outside the object read as zero.
import { OptionsError } from '../errors.js';
import type { Complex2D } from '../records/index.js';

interface Window {
  /** Object column and row of the window's first pixel (floored). */
  x0: number;
  y0: number;
  N: number;
  outRe: Float32Array;
  outIm: Float32Array;
}

/** Integer offset: an exact copy of the in-bounds part of each row. */
function copyWindow(obj: Complex2D, w: Window): void {
  const { width: W, height: H, re, im } = obj;
  const { x0, y0, N, outRe, outIm } = w;
  const c0 = Math.max(0, -x0),
    c1 = Math.min(N, W - x0);
  for (let r = 0; r < N; r++) {
    const y = y0 + r;
    if (y < 0 || y >= H || c1 <= c0) continue;
    const src = y * W + x0;
    outRe.set(re.subarray(src + c0, src + c1), r * N + c0);
    outIm.set(im.subarray(src + c0, src + c1), r * N + c0);
  }
}

/** Fractional offset (fx, fy): bilinear interpolation, with one set of weights for the whole window. */
function interpolateWindow(obj: Complex2D, w: Window, fx: number, fy: number): void {
  const { width: W, height: H, re, im } = obj;
  const { x0, y0, N, outRe, outIm } = w;
  const w00 = (1 - fx) * (1 - fy),
    w01 = fx * (1 - fy),
    w10 = (1 - fx) * fy,
    w11 = fx * fy;
  // Zero outside the object: a neighbour that falls outside contributes nothing.
  const at = (arr: Float32Array, y: number, x: number): number => (y >= 0 && y < H && x >= 0 && x < W ? arr[y * W + x]! : 0);
  // Columns whose two neighbours are both inside: c in [cLo, cHi).
  const cLo = Math.min(N, Math.max(0, -x0)),
    cHi = Math.max(cLo, Math.min(N, W - 1 - x0));
  for (let r = 0; r < N; r++) {
    const ya = y0 + r,
      yb = ya + 1;
    if (yb < 0 || ya >= H) continue;
    const o = r * N;
    const inner = ya >= 0 && yb < H;
    const fastLo = inner ? cLo : N,
      fastHi = inner ? cHi : N;
    for (let c = 0; c < N; c++) {
      if (c === fastLo) {
        // Interior run: the four neighbours are consecutive pairs of two rows.
        let a = ya * W + x0 + c,
          b = a + W;
        for (; c < fastHi; c++, a++, b++) {
          outRe[o + c] = w00 * re[a]! + w01 * re[a + 1]! + w10 * re[b]! + w11 * re[b + 1]!;
          outIm[o + c] = w00 * im[a]! + w01 * im[a + 1]! + w10 * im[b]! + w11 * im[b + 1]!;
        }
        if (c >= N) break;
      }
      const xa = x0 + c,
        xb = xa + 1;
      if (xb < 0 || xa >= W) continue;
      outRe[o + c] = w00 * at(re, ya, xa) + w01 * at(re, ya, xb) + w10 * at(re, yb, xa) + w11 * at(re, yb, xb);
      outIm[o + c] = w00 * at(im, ya, xa) + w01 * at(im, ya, xb) + w10 * at(im, yb, xa) + w11 * at(im, yb, xb);
    }
  }
}

/** The N×N patch of `obj` centred at column cx, row cy. */
export function extractPatch(obj: Complex2D, cx: number, cy: number, N: number): Complex2D {
  if (!Number.isInteger(N) || N < 1) throw new OptionsError('PATCH_SIZE', `extractPatch: N must be a positive integer, got ${N}`);
  if (!Number.isFinite(cx) || !Number.isFinite(cy)) throw new OptionsError('PATCH_POSITION', `extractPatch: position (${cx}, ${cy}) is not finite`);
  const sx = cx - N / 2,
    sy = cy - N / 2;
  const x0 = Math.floor(sx),
    y0 = Math.floor(sy);
  const fx = sx - x0,
    fy = sy - y0;
  const w: Window = { x0, y0, N, outRe: new Float32Array(N * N), outIm: new Float32Array(N * N) };
  if (fx === 0 && fy === 0) copyWindow(obj, w);
  else interpolateWindow(obj, w, fx, fy);
  return { width: N, height: N, re: w.outRe, im: w.outIm };
}

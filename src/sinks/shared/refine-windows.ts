// What refine (and a tile job's worker, scale/contribution.ts) need to put
// patterns on the object canvas: each pattern's window as canvas indices with
// bilinear taps, the windows cut out of a canvas tensor, the measured
// amplitudes in pattern order, and the starting object (infer's
// reconstruction, a file, or flat).
import * as tf from '../../tf.js';
import type { z } from 'zod';
import { DataError, OptionsError } from '../../errors.js';
import type { Complex2D, ScanMeta, StageContext, Stream } from '../../pipeline/types.js';
import { placementFor, readComplex, type CanvasPlacement } from './reconstruction.js';
import type { refineOptions } from './refine-spec.js';
import { inPath, readReconstruction } from './util.js';

export type RefineOptions = z.output<typeof refineOptions>;

/** Canvas indices and bilinear weights of every pattern window of a batch. */
export interface Windows {
  /** One entry per bilinear tap that some window of the batch uses. */
  taps: { index: Int32Array; weight: Float32Array | undefined }[];
  patterns: number;
}

/**
 * The flat canvas indices of each pattern's N×N window (pattern p = b·C + c sits
 * at centre_b − offset_{b,c}, like infer's patches), for the bilinear taps the
 * batch needs; integer positions need only the first tap, unweighted.
 */
export function windowTaps(centers: Float64Array, coords: Float32Array, B: number, C: number, N: number, placement: CanvasPlacement, where: string): Windows {
  const P = B * C,
    NN = N * N,
    { width: W, height: H } = placement;
  const starts = new Int32Array(2 * P),
    fracs = new Float64Array(2 * P);
  let fractional = false;
  for (let b = 0; b < B; b++) {
    for (let c = 0; c < C; c++) {
      const p = b * C + c;
      const x = centers[2 * b]! - coords[b * 2 * C + c]!,
        y = centers[2 * b + 1]! - coords[b * 2 * C + C + c]!;
      const sx = x - N / 2 - placement.originX,
        sy = y - N / 2 - placement.originY;
      const ix = Math.floor(sx),
        iy = Math.floor(sy);
      fracs[2 * p] = sx - ix;
      fracs[2 * p + 1] = sy - iy;
      if (fracs[2 * p] !== 0 || fracs[2 * p + 1] !== 0) fractional = true;
      const spillX = fracs[2 * p] === 0 ? 0 : 1,
        spillY = fracs[2 * p + 1] === 0 ? 0 : 1;
      if (ix < 0 || iy < 0 || ix + N + spillX > W || iy + N + spillY > H) {
        throw new DataError(
          'OUTSIDE_CANVAS',
          `${where}: the window of the pattern at (${x}, ${y}) reaches outside the object canvas (${W}×${H} from (${placement.originX}, ${placement.originY}))`,
          {
            hint: 'refine the reconstruction that infer made from this same scan',
          },
        );
      }
      starts[2 * p] = ix;
      starts[2 * p + 1] = iy;
    }
  }
  const offsets: [number, number][] = fractional
    ? [
        [0, 0],
        [1, 0],
        [0, 1],
        [1, 1],
      ]
    : [[0, 0]];
  const taps = offsets.map(([dx, dy]) => {
    const index = new Int32Array(P * NN);
    const weight = fractional ? new Float32Array(P) : undefined;
    for (let p = 0; p < P; p++) {
      const x0 = starts[2 * p]! + dx,
        y0 = starts[2 * p + 1]! + dy;
      if (weight !== undefined) {
        const fx = fracs[2 * p]!,
          fy = fracs[2 * p + 1]!;
        weight[p] = (dx === 1 ? fx : 1 - fx) * (dy === 1 ? fy : 1 - fy);
      }
      for (let r = 0; r < N; r++) {
        // A zero-weight tap may point one pixel past the canvas; clamp it (its weight is 0).
        const row = Math.min(y0 + r, H - 1) * W;
        for (let c = 0; c < N; c++) index[p * NN + r * N + c] = row + Math.min(x0 + c, W - 1);
      }
    }
    return { index, weight };
  });
  return { taps, patterns: P };
}

/** The pattern windows of a canvas (H·W, flat) as (P, N, N, 1), bilinear where the taps say. */
export function cutWindows(canvas: tf.Tensor1D, taps: readonly { index: tf.Tensor; weight: tf.Tensor | undefined }[], P: number, N: number): tf.Tensor4D {
  let sum: tf.Tensor | undefined;
  for (const t of taps) {
    let v: tf.Tensor = tf.gather(canvas, t.index);
    if (t.weight !== undefined) v = v.mul(t.weight);
    sum = sum === undefined ? v : sum.add(v);
  }
  return sum!.reshape([P, N, N, 1]);
}

/** The measured amplitudes of a batch, (B,N,N,C) → (B·C,N,N,1) in pattern order b·C + c. */
export function measured(X: tf.Tensor4D): tf.Tensor4D {
  const [B, N, , C] = X.shape;
  return (C === 1 ? X : X.transpose([0, 3, 1, 2])).reshape([B * C, N, N, 1]);
}

export interface Start {
  object: Complex2D;
  probe: Complex2D;
  placement: CanvasPlacement;
  from: string;
}

export async function startingPoint(options: RefineOptions, scan: ScanMeta, ctx: StageContext, given: Stream<unknown> | undefined): Promise<Start> {
  if (given !== undefined) {
    if (options.reconstruction !== undefined)
      throw new OptionsError('BAD_OPTION', `stage '${ctx.id}': give the starting reconstruction as input 1 or as the reconstruction option, not both`, {
        stage: ctx.id,
        key: 'reconstruction',
      });
    const r = await readReconstruction(given, ctx, 'input 1 (the starting reconstruction)');
    return {
      object: r.object,
      probe: r.probe,
      placement: { originX: r.origin[0], originY: r.origin[1], width: r.object.width, height: r.object.height },
      from: r.file ?? 'input 1',
    };
  }
  if (options.reconstruction === undefined) {
    const placement = placementFor(scan);
    const n = placement.width * placement.height;
    return {
      object: { height: placement.height, width: placement.width, re: new Float32Array(n).fill(1), im: new Float32Array(n) },
      probe: scan.probe,
      placement,
      from: 'flat',
    };
  }
  const file = inPath(ctx, options.reconstruction);
  const object = await readComplex(file, 'object', [], ctx.id);
  const probe = await readComplex(file, 'probe', [], ctx.id);
  if (object.origin === undefined) {
    throw new DataError('MISSING_KEY', `no 'origin' array: the canvas cannot be placed on the scan positions`, {
      stage: ctx.id,
      file,
      hint: 'refine an NPZ written by the infer sink',
    });
  }
  return { object, probe, placement: { originX: object.origin[0], originY: object.origin[1], width: object.width, height: object.height }, from: file };
}

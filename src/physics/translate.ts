// Sub-pixel translation of image batches by bilinear interpolation with zero
// fill, via the Transform kernel (tf.image.transform: present on cpu, wasm, webgl
// and tensorflow; O(pixels), one transform per image, no gather). Each of the four
// bilinear corners is zeroed on its own when it falls outside the image, as in the
// reference's XLA translation.
//
// Sign convention (same as the reference, ptychopinn-upstream §0): a shift
// [dx, dy] moves content by +dx columns (to the right) and +dy rows (down):
// out[y, x] = img[y − dy, x − dx]; samples that fall outside the image are zero.
//
// tfjs-backend-cpu 4.22's Transform returns after the first image of a batch (the
// rest stay zero-filled), so where a one-time probe finds that, images are
// transformed one at a time.
//
// tfjs has no gradient for Transform, so one is supplied: bilinear sampling at
// x + a is a matrix with entries tent(q + a − i), whose transpose is sampling at
// i − a — the adjoint of a shift is the opposite shift (into the input's shape).
// Differentiable w.r.t. the image; the shift/offset inputs get a zero gradient.
import * as tf from '../tf.js';
import { OptionsError } from '../errors.js';

/** Flips the translation entries (a2, b2) of [1,0,a2, 0,1,b2, 0,0] rows. */
const ADJOINT_SIGN = [1, 1, -1, 1, 1, -1, 1, 1];

const batchOk = new Map<string, boolean>();

/** Whether the active backend's Transform handles batches (probed once per backend). */
function transformHandlesBatches(): boolean {
  const name = tf.getBackend();
  let ok = batchOk.get(name);
  if (ok === undefined) {
    ok = tf.tidy(() => {
      const out = tf.image.transform(tf.ones([2, 1, 1, 1]), tf.tensor2d([[1, 0, 0, 0, 1, 0, 0, 0]]), 'bilinear', 'constant', 0);
      return out.dataSync()[1] === 1;
    });
    batchOk.set(name, ok);
  }
  return ok;
}

function transform(img: tf.Tensor4D, tr: tf.Tensor2D, outShape: [number, number]): tf.Tensor4D {
  if (img.shape[0] === 1 || transformHandlesBatches()) return tf.image.transform(img, tr, 'bilinear', 'constant', 0, outShape);
  return tf.tidy(() => {
    const imgs = tf.split<tf.Tensor4D>(img, img.shape[0]);
    const rows = tf.split<tf.Tensor2D>(tr, tr.shape[0]);
    return tf.concat(imgs.map((x, b) => tf.image.transform(x, rows[b]!, 'bilinear', 'constant', 0, outShape)));
  });
}

function sampleOp(outShape: [number, number], inShape: [number, number]): (img: tf.Tensor4D, transforms: tf.Tensor2D) => tf.Tensor4D {
  return tf.customGrad<tf.Tensor4D>((...args) => {
    const [img, tr, save] = args as [tf.Tensor4D, tf.Tensor2D, tf.GradSaveFunc];
    save([tr]);
    return {
      value: transform(img, tr, outShape),
      gradFunc: (dy: tf.Tensor4D, saved: tf.Tensor[]) => {
        const t = saved[0] as tf.Tensor2D;
        return [transform(dy, t.mul<tf.Tensor2D>(tf.tensor1d(ADJOINT_SIGN)), inShape), tf.zerosLike(t)];
      },
    };
  });
}

/**
 * Resamples each image b of (B,H,W,C) onto an outShape grid where output pixel
 * (x, y) takes the bilinear value at input (x + at[b,0], y + at[b,1]), zero outside.
 * `at` is (B,2) [ax, ay]; one row per image (never recycled).
 */
export function sampleShifted(img: tf.Tensor4D, at: tf.Tensor2D, outShape: [number, number]): tf.Tensor4D {
  const [B, H, W] = img.shape;
  if (at.rank !== 2 || at.shape[0] !== B || at.shape[1] !== 2) {
    throw new OptionsError('PHYSICS_SHAPE', `sampleShifted: the offsets must be (B, 2) = (${B}, 2), got [${at.shape.join(',')}]`, {
      hint: 'give one [x, y] per image',
    });
  }
  return tf.tidy(() => {
    // Rows [1, 0, ax, 0, 1, ay, 0, 0] = base + at · E, E placing ax at 2 and ay at 5.
    const E = tf.tensor2d([0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0], [2, 8]);
    const transforms = tf.matMul(at, E).add<tf.Tensor2D>(tf.tensor2d([[1, 0, 0, 0, 1, 0, 0, 0]]));
    return sampleOp(outShape, [H, W])(img, transforms);
  });
}

/**
 * Bilinear translation of NHWC images by per-image shifts (B, 2) given as [dx, dy]
 * (content moves +dx columns, +dy rows), zero fill, same output size. The batch
 * sizes must match — shifts are never recycled.
 */
export function translate(img: tf.Tensor4D, shifts: tf.Tensor2D): tf.Tensor4D {
  const [B, H, W] = img.shape;
  if (shifts.rank !== 2 || shifts.shape[0] !== B || shifts.shape[1] !== 2) {
    throw new OptionsError(
      'PHYSICS_SHAPE',
      `translate: shifts must be (B, 2) = (${B}, 2) [dx, dy] for images [${img.shape.join(',')}], got [${shifts.shape.join(',')}]`,
      { hint: 'give one [dx, dy] per image' },
    );
  }
  return tf.tidy(() => sampleShifted(img, shifts.neg(), [H, W]));
}

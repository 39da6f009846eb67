// MaxPoolGrad for wasm, replacing the package's own. tfjs-backend-wasm 4.22's
// kernel starts each window's search for the maximum at 0, so in a window whose
// values are all negative the gradient goes to the window's first element
// instead of its maximum (the cpu backend and TensorFlow get it right; found by
// test/backend/coverage.test.ts). The network pools ReLU outputs (≥ 0), where
// the two agree, but the kernel is global. This one loops over the wasm heap:
// first maximum of each window's in-bounds elements (as cpu), padding never
// wins; O(output × window), a few ms at the network's sizes.
import * as tf from '../../tf.js';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';

interface Attrs {
  filterSize: number | [number, number];
  strides: number | [number, number];
  pad: 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
}

function maxPoolGrad(args: { inputs: tf.NamedTensorInfoMap; backend: tf.KernelBackend; attrs?: tf.NamedAttrMap }): tf.TensorInfo {
  const backend = args.backend as BackendWasm;
  const { dy, input } = args.inputs as { dy: tf.TensorInfo; input: tf.TensorInfo };
  const attrs = args.attrs as unknown as Attrs;
  const info = tf.backend_util.computePool2DInfo(
    input.shape as [number, number, number, number],
    attrs.filterSize,
    attrs.strides,
    1,
    attrs.pad,
    attrs.dimRoundingMode,
  );
  const { batchSize: B, inHeight: H, inWidth: W, inChannels: C, outHeight: OH, outWidth: OW, strideHeight: sh, strideWidth: sw } = info;
  const { effectiveFilterHeight: KH, effectiveFilterWidth: KW } = info;
  const { top, left } = info.padInfo;
  const dx = backend.makeOutput(input.shape, 'float32');
  const out = backend.typedArrayFromHeap(dx);
  out.fill(0);
  const x = backend.typedArrayFromHeap(input);
  const g = backend.typedArrayFromHeap(dy);
  if (KH === 2 && KW === 2 && sh === 2 && sw === 2 && top === 0 && left === 0 && 2 * OH <= H && 2 * OW <= W) {
    pool2x2(x, g, out, B, H, W, C, OH, OW);
    return dx;
  }
  poolGeneral(x, g, out, info);
  return dx;
}

/**
 * Any window, stride, dilation and padding: each window's gradient goes to
 * the first maximum of its in-bounds elements (padding never wins).
 */
function poolGeneral(x: tf.TypedArray, g: tf.TypedArray, out: tf.TypedArray, info: tf.backend_util.Conv2DInfo): void {
  const { batchSize: B, inHeight: H, inWidth: W, inChannels: C, outHeight: OH, outWidth: OW, strideHeight: sh, strideWidth: sw } = info;
  const { top, left } = info.padInfo;
  for (let b = 0; b < B; b++) {
    for (let oy = 0; oy < OH; oy++) {
      for (let ox = 0; ox < OW; ox++) {
        const gBase = ((b * OH + oy) * OW + ox) * C;
        const image = b * H * W * C;
        for (let c = 0; c < C; c++) {
          const at = windowArgmax(x, info, image + c, oy * sh - top, ox * sw - left);
          if (at >= 0) out[at] = out[at]! + g[gBase + c]!;
        }
      }
    }
  }
}

/** Index of the first maximum in the window whose top-left is (y0, x0) in image `base` (offset of its pixel (0, 0), channel included); −1 when no element is in bounds. */
function windowArgmax(x: tf.TypedArray, info: tf.backend_util.Conv2DInfo, base: number, y0: number, x0: number): number {
  const { inHeight: H, inWidth: W, inChannels: C, effectiveFilterHeight: KH, effectiveFilterWidth: KW, dilationHeight: dh, dilationWidth: dw } = info;
  let best = -Infinity;
  let at = -1;
  for (let ky = 0; ky < KH; ky += dh) {
    const y = y0 + ky;
    if (y < 0 || y >= H) continue;
    for (let kx = 0; kx < KW; kx += dw) {
      const xx = x0 + kx;
      if (xx < 0 || xx >= W) continue;
      const i = base + (y * W + xx) * C;
      const v = x[i]!;
      if (v > best || at < 0) {
        best = v;
        at = i;
      }
    }
  }
  return at;
}

/**
 * The network's case, 2×2 windows at stride 2 without padding (every window in
 * bounds), with the same rule as the general loop (first maximum in row-major
 * window order; a NaN first element keeps the gradient): about twice as fast
 * as the general loop (27 against 51–64 ms at (16,64,64,64)).
 */
function pool2x2(x: tf.TypedArray, g: tf.TypedArray, out: tf.TypedArray, B: number, H: number, W: number, C: number, OH: number, OW: number): void {
  const row = W * C;
  for (let b = 0; b < B; b++) {
    for (let oy = 0; oy < OH; oy++) {
      for (let ox = 0; ox < OW; ox++) {
        const base = (b * H + 2 * oy) * row + 2 * ox * C;
        const gBase = ((b * OH + oy) * OW + ox) * C;
        for (let c = 0; c < C; c++) {
          const i00 = base + c,
            i01 = i00 + C,
            i10 = i00 + row,
            i11 = i10 + C;
          let at = i00;
          let best = x[i00]!;
          if (x[i01]! > best) {
            best = x[i01]!;
            at = i01;
          }
          if (x[i10]! > best) {
            best = x[i10]!;
            at = i10;
          }
          if (x[i11]! > best) at = i11;
          out[at] = out[at]! + g[gBase + c]!;
        }
      }
    }
  }
}

export const maxPoolGradConfig: tf.KernelConfig = {
  kernelName: tf.MaxPoolGrad,
  backendName: 'wasm',
  kernelFunc: maxPoolGrad as unknown as tf.KernelFunc,
};

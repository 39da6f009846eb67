// Conv2DBackpropFilter for wasm: tfjs-backend-wasm 4.22 has none, so any conv
// net training on wasm fails with "Kernel not registered". The filter gradient
// dW[i,j,:,:] = Σ_{b,y,x} xpad[b, y·s+i·d, x·s+j·d, :]ᵀ · dy[b,y,x,:] is one
// matmul per filter tap: a (strided) slice of the padded, channels-first input,
// viewed as (Ci, B·OH·OW), times dy viewed as (B·OH·OW, Co). Built from wasm's
// own Pad, Transpose, Slice/StridedSlice, BatchMatMul and Concat so the heavy
// part runs in wasm (XNNPACK-speed matmul: about the cost of the forward conv);
// per-tap matmuls keep the working set at one input-sized slice (an im2col
// of the whole layer would be KH·KW times the input). A single 'valid' Conv2D
// of the transposed input with dy as the filter was measured too: within ±25%
// of this either way at the network's layer sizes, and stride 1 only.
import * as tf from '../../tf.js';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { call, release, reshape } from './compose.js';

interface Attrs {
  strides: number | [number, number];
  pad: 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;
  dataFormat: 'NHWC' | 'NCHW';
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
  filterShape: [number, number, number, number];
}

function conv2DBackpropFilter(args: { inputs: tf.NamedTensorInfoMap; backend: tf.KernelBackend; attrs?: tf.NamedAttrMap }): tf.TensorInfo {
  const backend = args.backend as BackendWasm;
  const x = args.inputs['x']!;
  const dy = args.inputs['dy']!;
  const { strides, pad, dataFormat, dimRoundingMode, filterShape } = args.attrs as unknown as Attrs;
  if (dataFormat === 'NCHW') throw new Error('Conv2DBackpropFilter on wasm supports NHWC only');
  const info = tf.backend_util.computeConv2DInfo(
    x.shape as [number, number, number, number],
    filterShape,
    strides,
    1,
    pad,
    dimRoundingMode,
    false,
    'channelsLast',
  );
  const { batchSize: B, outChannels: Co, outHeight: OH, outWidth: OW } = info;
  const { top, left, bottom, right } = info.padInfo;
  const padded = top === 0 && left === 0 && bottom === 0 && right === 0;
  const xp = padded
    ? x
    : call(
        backend,
        'PadV2',
        { x },
        {
          paddings: [
            [0, 0],
            [top, Math.max(0, bottom)],
            [left, Math.max(0, right)],
            [0, 0],
          ],
          constantValue: 0,
        },
      );
  // Channels first, once: each tap's slice is then already the (Ci, rows) left
  // operand. wasm's BatchMatMul is ~12× slower with transposeA than on a
  // pre-transposed operand at these shapes.
  const xt = call(backend, 'Transpose', { x: xp }, { perm: [3, 0, 1, 2] });
  if (xp !== x) release(backend, xp);
  const rows = B * OH * OW;
  const dy2 = reshape(backend, dy, [1, rows, Co]);
  const taps: tf.TensorInfo[] = [];
  try {
    for (let i = 0; i < info.filterHeight; i++) for (let j = 0; j < info.filterWidth; j++) taps.push(tapProduct(backend, xt, dy2, info, i, j));
    const stacked = taps.length === 1 ? taps.pop()! : call(backend, 'Concat', taps, { axis: 0 });
    const out = reshape(backend, stacked, filterShape);
    release(backend, stacked);
    return out;
  } finally {
    release(backend, dy2, xt, ...taps);
  }
}

/** dW at filter tap (i, j): the tap's slice of the channels-first input, (Ci, rows), times dy, (rows, Co). */
function tapProduct(backend: BackendWasm, xt: tf.TensorInfo, dy2: tf.TensorInfo, info: tf.backend_util.Conv2DInfo, i: number, j: number): tf.TensorInfo {
  const { batchSize: B, inChannels: Ci, outHeight: OH, outWidth: OW, strideHeight: sh, strideWidth: sw } = info;
  const tap =
    sh === 1 && sw === 1
      ? call(backend, 'Slice', { x: xt }, { begin: [0, 0, i, j], size: [Ci, B, OH, OW] })
      : call(
          backend,
          'StridedSlice',
          { x: xt },
          {
            begin: [0, 0, i, j],
            end: [Ci, B, i + (OH - 1) * sh + 1, j + (OW - 1) * sw + 1],
            strides: [1, 1, sh, sw],
            beginMask: 0,
            endMask: 0,
            ellipsisMask: 0,
            newAxisMask: 0,
            shrinkAxisMask: 0,
          },
        );
  const tap2 = reshape(backend, tap, [1, Ci, B * OH * OW]);
  release(backend, tap);
  try {
    return call(backend, 'BatchMatMul', { a: tap2, b: dy2 }, { transposeA: false, transposeB: false });
  } finally {
    release(backend, tap2);
  }
}

export const conv2DBackpropFilterConfig: tf.KernelConfig = {
  kernelName: tf.Conv2DBackpropFilter,
  backendName: 'wasm',
  kernelFunc: conv2DBackpropFilter as unknown as tf.KernelFunc,
};

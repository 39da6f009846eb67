// Conv2DBackpropInput for wasm, wrapping the package's own. At stride 1 the
// input gradient is a plain convolution of dy with the filter rotated by 180°
// and its in/out channels swapped, padded by (K−1−pad) per side; run through
// wasm's XNNPACK Conv2D that is ~10× faster than tfjs-backend-wasm 4.22's
// Conv2DBackpropInput (a direct loop) at the network's layer sizes — see
// docs/BACKENDS.md. Strided or NCHW cases go to the original kernel.
import * as tf from '../../tf.js';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { call, release } from './compose.js';

interface Attrs {
  strides: number | [number, number];
  pad: 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;
  dataFormat: 'NHWC' | 'NCHW';
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
  inputShape: [number, number, number, number];
}

export function conv2DBackpropInputConfig(original: tf.KernelConfig): tf.KernelConfig {
  const kernelFunc = (args: { inputs: tf.NamedTensorInfoMap; backend: tf.KernelBackend; attrs?: tf.NamedAttrMap }): tf.TensorInfo => {
    const backend = args.backend as BackendWasm;
    const { dy, filter } = args.inputs as { dy: tf.TensorInfo; filter: tf.TensorInfo };
    const attrs = args.attrs as unknown as Attrs;
    const filterShape = filter.shape as [number, number, number, number];
    const info = tf.backend_util.computeConv2DInfo(attrs.inputShape, filterShape, attrs.strides, 1, attrs.pad, attrs.dimRoundingMode, false, 'channelsLast');
    const { top, bottom, left, right } = info.padInfo;
    const [KH, KW] = filterShape;
    const pads = [KH - 1 - top, KH - 1 - bottom, KW - 1 - left, KW - 1 - right];
    if (attrs.dataFormat === 'NCHW' || info.strideHeight !== 1 || info.strideWidth !== 1 || pads.some((p) => p < 0)) {
      return original.kernelFunc(args) as tf.TensorInfo;
    }
    const flipped = call(backend, 'Reverse', { x: filter }, { dims: [0, 1] });
    const swapped = call(backend, 'Transpose', { x: flipped }, { perm: [0, 1, 3, 2] });
    release(backend, flipped);
    try {
      const pad = [
        [0, 0],
        [pads[0], pads[1]],
        [pads[2], pads[3]],
        [0, 0],
      ];
      return call(backend, 'Conv2D', { x: dy, filter: swapped }, { strides: 1, pad, dataFormat: 'NHWC', dilations: 1 });
    } finally {
      release(backend, swapped);
    }
  };
  const config: tf.KernelConfig = { kernelName: tf.Conv2DBackpropInput, backendName: 'wasm', kernelFunc: kernelFunc as unknown as tf.KernelFunc };
  // The original's setup (binding its wasm function) must still run when the backend initialises.
  if (original.setupFunc !== undefined) config.setupFunc = original.setupFunc;
  return config;
}

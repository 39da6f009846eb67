// Transform (tf.image.transform) for the native 'tensorflow' backend:
// tfjs-node 4.22 registers no Transform kernel, so the physics' bilinear
// translation (src/physics/translate.ts, gridsize > 1) failed there with
// "Kernel 'Transform' not registered". TensorFlow's own
// ImageProjectiveTransformV3 op has the same contract (tfjs' Transform is
// modelled on it), so the kernel forwards to it through the backend's
// executeSingleOutput, the way tfjs-node's own kernels call TF ops (checked
// equal to wasm's Transform for bilinear/nearest × constant/wrap/nearest fill,
// batch 2, non-square output, with the tfjs-node-local.sh build).
import * as tf from '../../tf.js';
import type { NativeBackend } from './native.js';

interface Attrs {
  interpolation: 'nearest' | 'bilinear';
  fillMode: 'constant' | 'reflect' | 'wrap' | 'nearest';
  fillValue: number;
  outputShape?: [number, number];
}

function transform(args: { inputs: tf.NamedTensorInfoMap; backend: tf.KernelBackend; attrs?: tf.NamedAttrMap }): tf.TensorInfo {
  const backend = args.backend as unknown as NativeBackend;
  const { image, transforms } = args.inputs as { image: tf.TensorInfo; transforms: tf.TensorInfo };
  const { interpolation, fillMode, fillValue, outputShape } = args.attrs as unknown as Attrs;
  if (image.dtype !== 'float32') throw new Error(`Transform on 'tensorflow' supports float32 images, got ${image.dtype}`);
  // TF's REFLECT edge rule differs from tfjs' 'reflect' (checked against wasm);
  // constant, wrap and nearest agree exactly.
  if (fillMode === 'reflect') throw new Error(`Transform on 'tensorflow' does not support fillMode 'reflect'; use 'constant', 'wrap' or 'nearest'`);
  const b = backend.binding;
  const opAttrs = [
    { name: 'dtype', type: b.TF_ATTR_TYPE, value: b.TF_FLOAT },
    { name: 'interpolation', type: b.TF_ATTR_STRING, value: interpolation.toUpperCase() },
    { name: 'fill_mode', type: b.TF_ATTR_STRING, value: fillMode.toUpperCase() },
  ];
  const shape = tf.tensor1d(outputShape ?? [image.shape[1]!, image.shape[2]!], 'int32');
  const fill = tf.scalar(fillValue, 'float32');
  try {
    return backend.executeSingleOutput('ImageProjectiveTransformV3', opAttrs, [image, transforms, shape, fill]);
  } finally {
    tf.dispose([shape, fill]);
  }
}

export const tensorflowTransformConfig: tf.KernelConfig = {
  kernelName: tf.Transform,
  backendName: 'tensorflow',
  kernelFunc: transform as unknown as tf.KernelFunc,
};

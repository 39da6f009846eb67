// GatherV2 for the native 'tensorflow' backend, wrapping tfjs-node 4.22's own.
// That kernel checks every index in JavaScript through a closure per index that
// reads `tfjs.util` through a CommonJS re-export getter: in a CPU profile of
// `refine` (4.45 M indices per pass over Run1084), that check took ~0.6 s of a
// 2.1 s pass. This one checks in one tight loop (same error message; TensorFlow
// itself does not check on GPU) and then runs TensorFlow's GatherV2 the way
// tfjs-node does. Dtypes other than float32/int32/bool go to the original.
import * as tf from '../../tf.js';
import type { NativeBackend, NativeBinding } from './native.js';
import { checkGatherIndices } from './gather.js';

function tfType(b: NativeBinding, dtype: tf.DataType): number | undefined {
  return dtype === 'float32' ? b.TF_FLOAT : dtype === 'int32' ? b.TF_INT32 : dtype === 'bool' ? b.TF_BOOL : undefined;
}

export function tensorflowGatherV2Config(original: tf.KernelConfig): tf.KernelConfig {
  const kernelFunc = (args: { inputs: tf.NamedTensorInfoMap; backend: tf.KernelBackend; attrs?: tf.NamedAttrMap }): tf.TensorInfo => {
    const backend = args.backend as unknown as NativeBackend;
    const { x, indices } = args.inputs as { x: tf.TensorInfo; indices: tf.TensorInfo };
    const { axis, batchDims } = args.attrs as unknown as { axis: number; batchDims: number };
    const b = backend.binding;
    const xType = tfType(b, x.dtype);
    if (xType === undefined || indices.dtype !== 'int32') return original.kernelFunc(args) as tf.TensorInfo;
    const ax = tf.util.parseAxisParam(axis, x.shape)[0]!;
    checkGatherIndices(backend.readSync(indices.dataId), x.shape[ax]!);
    // Shape checks (throws tfjs' errors for a bad batch_dims).
    tf.backend_util.segment_util.collectGatherOpShapeInfo(x, indices, ax, batchDims ?? 0);
    const opAttrs = [
      { name: 'batch_dims', type: b.TF_ATTR_INT, value: batchDims ?? 0 },
      { name: 'Tparams', type: b.TF_ATTR_TYPE, value: xType },
      { name: 'Tindices', type: b.TF_ATTR_TYPE, value: b.TF_INT32 },
      { name: 'Taxis', type: b.TF_ATTR_TYPE, value: b.TF_INT32 },
    ];
    const axisTensor = tf.scalar(ax, 'int32');
    try {
      return backend.executeSingleOutput(tf.GatherV2, opAttrs, [x, indices, axisTensor]);
    } finally {
      axisTensor.dispose();
    }
  };
  const config: tf.KernelConfig = { kernelName: tf.GatherV2, backendName: 'tensorflow', kernelFunc: kernelFunc as unknown as tf.KernelFunc };
  if (original.setupFunc !== undefined) config.setupFunc = original.setupFunc;
  return config;
}

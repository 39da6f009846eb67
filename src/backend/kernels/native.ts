// The parts of tfjs-node's backend that the project's native kernels call,
// typed structurally: tfjs-node is an optional package and may be absent at
// type-check time. The calls are the ones tfjs-node's own kernels make.
import type * as tf from '../../tf.js';

export interface NativeBinding {
  TF_ATTR_INT: number;
  TF_ATTR_STRING: number;
  TF_ATTR_TYPE: number;
  TF_FLOAT: number;
  TF_INT32: number;
  TF_BOOL: number;
}

export interface NativeOpAttr {
  name: string;
  type: number;
  value: unknown;
}

export interface NativeBackend {
  binding: NativeBinding;
  readSync(dataId: tf.DataId): ArrayLike<number>;
  /** Runs TensorFlow op `name` eagerly; the result is a new tensor. */
  executeSingleOutput(name: string, opAttrs: NativeOpAttr[], inputs: tf.TensorInfo[]): tf.Tensor;
}

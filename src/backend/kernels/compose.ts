// Helpers for kernels that are built from other wasm kernels. A kernelFunc
// receives the backend and returns TensorInfo; calling sibling kernel funcs
// directly (not through tf ops) keeps the work out of the engine's tape and
// scopes, so every intermediate must be released here by hand.
import * as tf from '../../tf.js';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';

export type Attrs = Record<string, unknown>;

/** Runs the backend's own kernel `name` on `inputs`; the caller owns the result. */
export function call(backend: BackendWasm, name: string, inputs: Record<string, tf.TensorInfo> | tf.TensorInfo[], attrs: Attrs = {}): tf.TensorInfo {
  const kernel = tf.getKernel(name, 'wasm');
  if (kernel === undefined) throw new Error(`wasm kernel ${name} is not registered`);
  const out = kernel.kernelFunc({ inputs: inputs as unknown as tf.NamedTensorInfoMap, backend, attrs: attrs as tf.NamedAttrMap });
  if (Array.isArray(out)) throw new Error(`wasm kernel ${name} returned several outputs`);
  return out;
}

/** Releases intermediates made by `call` (reshape shares data and counts a reference). */
export function release(backend: BackendWasm, ...infos: tf.TensorInfo[]): void {
  for (const info of infos) backend.disposeData(info.dataId);
}

export function reshape(backend: BackendWasm, x: tf.TensorInfo, shape: number[]): tf.TensorInfo {
  return call(backend, 'Reshape', { x }, { shape });
}

export const sizeOf = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

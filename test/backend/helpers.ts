// Shared test helpers for the backend area: seeded inputs, running a function
// and its gradients on a named backend, and relative comparison.
import * as tf from '../../src/tf.js';
import '@tensorflow/tfjs-backend-wasm';
import { registerWasmKernels } from '../../src/backend/kernels.js';
import { Rng } from '../../src/util/rng.js';

export interface Input {
  shape: number[];
  data: Float32Array;
}

export function randomInput(shape: number[], seed: number, lo = -1, hi = 1): Input {
  const rng = new Rng(seed);
  const data = new Float32Array(shape.reduce((a, b) => a * b, 1));
  for (let i = 0; i < data.length; i++) data[i] = lo + (hi - lo) * rng.uniform();
  return { shape, data };
}

export interface Run {
  value: Float32Array;
  grads: Float32Array[];
}

/** Value and gradients of sum(f(...inputs)·w) (w a fixed random weighting) on `backend`. */
export async function runOn(backend: 'cpu' | 'wasm', inputs: Input[], f: (...xs: tf.Tensor[]) => tf.Tensor, withGrads = true): Promise<Run> {
  registerWasmKernels();
  await tf.setBackend(backend);
  await tf.ready();
  return tf.tidy(() => {
    const xs = inputs.map((x) => tf.tensor(x.data, x.shape));
    if (!withGrads) return { value: Float32Array.from(f(...xs).dataSync()), grads: [] };
    let out: tf.Tensor | undefined;
    const g = tf.grads((...args: tf.Tensor[]) => {
      const y = f(...args);
      out = tf.keep(y.clone());
      // A non-uniform weighting so every gradient entry is exercised, not just sums.
      const w = tf.tensor(randomInput(y.shape, 7).data, y.shape);
      return y.mul(w).sum();
    });
    const grads = g(xs).map((t) => t.dataSync() as Float32Array);
    const value = out!.dataSync() as Float32Array;
    out!.dispose();
    return { value: Float32Array.from(value), grads: grads.map((a) => Float32Array.from(a)) };
  });
}

/** max |a − b| / max(|b|, floor): the relative error against the reference b. */
export function relErr(a: Float32Array, b: Float32Array, floor = 1e-3): number {
  if (a.length !== b.length) return Infinity;
  let diff = 0;
  let scale = floor;
  for (let i = 0; i < a.length; i++) {
    diff = Math.max(diff, Math.abs(a[i]! - b[i]!));
    scale = Math.max(scale, Math.abs(b[i]!));
  }
  return diff / scale;
}

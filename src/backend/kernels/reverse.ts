// Reverse for wasm, wrapping the package's own. tfjs-backend-wasm 4.22 reverses
// element by element with index arithmetic: flipping a (3,3,256,256) kernel in
// space, as the network's convolution gradients do for every layer on every
// step, took 40–48 ms, ~15× a plain copy of the same tensor. When the axes
// after the last reversed one span a block of at least MIN_BLOCK elements, the
// result is the input's contiguous blocks in another order, copied here with
// TypedArray.set (a memcpy inside the wasm heap). Smaller blocks (reversing the
// last axis, say) go to the original kernel.
import * as tf from '../../tf.js';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';

/** Smallest contiguous block (elements) worth copying with set(); below it the original kernel runs. */
export const MIN_BLOCK = 64;

/**
 * Source block of each output block: output blocks are numbered row-major over
 * the axes up to the last reversed one (`outer`); reversed axes count down.
 */
export function reversedBlockOrder(outer: readonly number[], reversed: ReadonlySet<number>): Int32Array {
  const n = outer.reduce((a, b) => a * b, 1);
  const order = new Int32Array(n);
  const coord = new Array<number>(outer.length).fill(0);
  for (let o = 0; o < n; o++) {
    let src = 0;
    for (let k = 0; k < outer.length; k++) src = src * outer[k]! + (reversed.has(k) ? outer[k]! - 1 - coord[k]! : coord[k]!);
    order[o] = src;
    // Advance the row-major counter.
    for (let k = outer.length - 1; k >= 0; k--) {
      if (++coord[k]! < outer[k]!) break;
      coord[k] = 0;
    }
  }
  return order;
}

export function reverseConfig(original: tf.KernelConfig): tf.KernelConfig {
  const kernelFunc = (args: { inputs: tf.NamedTensorInfoMap; backend: tf.KernelBackend; attrs?: tf.NamedAttrMap }): tf.TensorInfo => {
    const backend = args.backend as BackendWasm;
    const { x } = args.inputs as { x: tf.TensorInfo };
    const dims = (args.attrs as { dims: number | number[] }).dims;
    const shape = x.shape;
    const axes = tf.util.parseAxisParam(dims, shape);
    if (axes.length === 0 || x.dtype === 'string' || x.dtype === 'complex64') return original.kernelFunc(args) as tf.TensorInfo;
    const last = Math.max(...axes);
    const block = shape.slice(last + 1).reduce((a, b) => a * b, 1);
    const size = shape.reduce((a, b) => a * b, 1);
    if (block < MIN_BLOCK || size === 0) return original.kernelFunc(args) as tf.TensorInfo;
    const order = reversedBlockOrder(shape.slice(0, last + 1), new Set(axes));
    const out = backend.makeOutput(shape, x.dtype);
    const dst = backend.typedArrayFromHeap(out);
    const src = backend.typedArrayFromHeap(x);
    for (let o = 0; o < order.length; o++) {
      const s = order[o]! * block;
      dst.set(src.subarray(s, s + block), o * block);
    }
    return out;
  };
  const config: tf.KernelConfig = { kernelName: tf.Reverse, backendName: 'wasm', kernelFunc: kernelFunc as unknown as tf.KernelFunc };
  if (original.setupFunc !== undefined) config.setupFunc = original.setupFunc;
  return config;
}

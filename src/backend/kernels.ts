// The project's extra kernels: for wasm, what tfjs-backend-wasm 4.22 lacks (or
// gets wrong, or runs slowly) for training the PtychoPINN network and its
// physics, found by test/backend/coverage.test.ts, which runs forward +
// gradient of every op the model reaches on wasm against cpu; for the native
// 'tensorflow' backend, the Transform kernel tfjs-node lacks. Registration is
// global to the tfjs-core instance: once per process, idempotent.
import * as tf from '../tf.js';
import '@tensorflow/tfjs-backend-wasm';
import { conv2DBackpropFilterConfig } from './kernels/conv2d-backprop-filter.js';
import { conv2DBackpropInputConfig } from './kernels/conv2d-backprop-input.js';
import { gatherV2Config } from './kernels/gather.js';
import { maxPoolGradConfig } from './kernels/max-pool-grad.js';
import { reverseConfig } from './kernels/reverse.js';
import { tensorflowGatherV2Config } from './kernels/tensorflow-gather.js';
import { tensorflowTransformConfig } from './kernels/tensorflow-transform.js';
import { unsortedSegmentSumConfig } from './kernels/unsorted-segment-sum.js';

/** Kernels wasm does not have at all (kept as they are if a later wasm version adds its own). */
const ADDED: readonly tf.KernelConfig[] = [conv2DBackpropFilterConfig, unsortedSegmentSumConfig];

/** Kernels wasm has but gets wrong; replaced. */
const REPLACED: readonly tf.KernelConfig[] = [maxPoolGradConfig];

type Wrapper = { kernelName: string; wrap: (original: tf.KernelConfig) => tf.KernelConfig };

/** Kernels wasm has but are slow in common cases; wrapped (the original serves the rest). */
const WRAPPED: readonly Wrapper[] = [
  { kernelName: tf.Conv2DBackpropInput, wrap: conv2DBackpropInputConfig },
  { kernelName: tf.Reverse, wrap: reverseConfig },
  { kernelName: tf.GatherV2, wrap: gatherV2Config },
];

/** Our kernel funcs, to recognise a registration that already happened. */
const ours = new Set<tf.KernelFunc>();

/** Names of the kernels this module provides for 'wasm'. */
export const WASM_KERNEL_NAMES: readonly string[] = [...[...ADDED, ...REPLACED].map((k) => k.kernelName), ...WRAPPED.map((k) => k.kernelName)];

/** Registers `config` for its backend in place of whatever is there. */
function install(config: tf.KernelConfig): void {
  if (tf.getKernel(config.kernelName, config.backendName) !== undefined) tf.unregisterKernel(config.kernelName, config.backendName);
  tf.registerKernel(config);
  ours.add(config.kernelFunc);
}

/** Installs the kernels `backend` does not have at all; appends their names to `added`. */
function addMissing(configs: readonly tf.KernelConfig[], added: string[]): void {
  for (const config of configs) {
    if (tf.getKernel(config.kernelName, config.backendName) !== undefined) continue;
    install(config);
    added.push(config.kernelName);
  }
}

/** Wraps each kernel `backend` has and we have not wrapped yet; appends their names to `added`. */
function wrapExisting(wrappers: readonly Wrapper[], backend: string, added: string[]): void {
  for (const { kernelName, wrap } of wrappers) {
    const current = tf.getKernel(kernelName, backend);
    if (current === undefined || ours.has(current.kernelFunc)) continue;
    install(wrap(current));
    added.push(kernelName);
  }
}

/**
 * Registers the project's wasm kernels; returns the names newly registered
 * (empty on later calls). Works before or after the wasm backend initialises.
 */
export function registerWasmKernels(): string[] {
  const added: string[] = [];
  addMissing(ADDED, added);
  for (const config of REPLACED) {
    const current = tf.getKernel(config.kernelName, 'wasm');
    if (current !== undefined && ours.has(current.kernelFunc)) continue;
    install(config);
    added.push(config.kernelName);
  }
  wrapExisting(WRAPPED, 'wasm', added);
  return added;
}

/** Kernels the native 'tensorflow' backend (tfjs-node 4.22) lacks; registered only where missing. */
const NATIVE_ADDED: readonly tf.KernelConfig[] = [tensorflowTransformConfig];

/** Native kernels that are slow in common cases; wrapped (the original serves the rest). */
const NATIVE_WRAPPED: readonly Wrapper[] = [{ kernelName: tf.GatherV2, wrap: tensorflowGatherV2Config }];

/** Registers the project's kernels for the native 'tensorflow' backend; returns the names newly registered. */
export function registerTensorflowKernels(): string[] {
  const added: string[] = [];
  addMissing(NATIVE_ADDED, added);
  // Wraps only what a loaded native package registered: before that there is nothing to wrap.
  wrapExisting(NATIVE_WRAPPED, 'tensorflow', added);
  return added;
}

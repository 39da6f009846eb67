// UnsortedSegmentSum for wasm: the gradient of gather (tf.gather's backward pass
// scatters dy back onto the gathered rows). A direct loop over the wasm heap is
// O(size of x) and needs no (n × numSegments) one-hot matrix, which for a
// gather over image pixels would be far larger than the data. Ids outside
// [0, numSegments) are dropped, as in TensorFlow.
import * as tf from '../../tf.js';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { sizeOf } from './compose.js';

function unsortedSegmentSum(args: { inputs: tf.NamedTensorInfoMap; backend: tf.KernelBackend; attrs?: tf.NamedAttrMap }): tf.TensorInfo {
  const backend = args.backend as BackendWasm;
  const x = args.inputs['x']!;
  const segmentIds = args.inputs['segmentIds']!;
  const numSegments = (args.attrs as { numSegments: number }).numSegments;
  const idRank = segmentIds.shape.length;
  for (let k = 0; k < idRank; k++) {
    if (segmentIds.shape[k] !== x.shape[k])
      throw new Error(`UnsortedSegmentSum: segmentIds shape [${segmentIds.shape.join(',')}] must prefix x shape [${x.shape.join(',')}]`);
  }
  const n = sizeOf(segmentIds.shape);
  const inner = sizeOf(x.shape.slice(idRank));
  const out = backend.makeOutput([numSegments, ...x.shape.slice(idRank)], x.dtype);
  const dst = backend.typedArrayFromHeap(out);
  dst.fill(0);
  const src = backend.typedArrayFromHeap(x);
  const ids = backend.typedArrayFromHeap(segmentIds);
  for (let r = 0; r < n; r++) {
    const s = ids[r]!;
    if (s < 0 || s >= numSegments) continue;
    const so = r * inner;
    const dO = s * inner;
    for (let c = 0; c < inner; c++) dst[dO + c] = dst[dO + c]! + src[so + c]!;
  }
  return out;
}

export const unsortedSegmentSumConfig: tf.KernelConfig = {
  kernelName: tf.UnsortedSegmentSum,
  backendName: 'wasm',
  kernelFunc: unsortedSegmentSum as unknown as tf.KernelFunc,
};

// The project's wasm kernels, called directly through the engine, against the
// cpu backend's kernels on small odd shapes; plus leak and idempotence checks.
import test, { type ExecutionContext } from 'ava';
import * as tf from '../../src/tf.js';
import { registerWasmKernels, WASM_KERNEL_NAMES } from '../../src/backend/kernels.js';
import { MIN_BLOCK, reversedBlockOrder } from '../../src/backend/kernels/reverse.js';
import { randomInput, relErr, type Input } from './helpers.js';

type Attrs = Record<string, unknown>;

/** Runs one kernel on `backend`, returns its output values; checks nothing leaked. */
async function kernelOn(
  backend: 'cpu' | 'wasm',
  name: string,
  inputs: Record<string, Input | { ints: number[]; shape: number[] }>,
  attrs: Attrs,
): Promise<{ data: Float32Array; shape: number[]; leaked: number }> {
  await tf.setBackend(backend);
  const dataIds = tf.engine().backend.numDataIds();
  const tensors: tf.NamedTensorMap = {};
  for (const [k, v] of Object.entries(inputs)) tensors[k] = 'ints' in v ? tf.tensor(v.ints, v.shape, 'int32') : tf.tensor(v.data, v.shape);
  const out = tf.engine().runKernel<tf.Tensor>(name, tensors, attrs as tf.NamedAttrMap);
  const data = Float32Array.from(await out.data());
  const shape = out.shape;
  out.dispose();
  Object.values(tensors).forEach((t) => t.dispose());
  return { data, shape, leaked: tf.engine().backend.numDataIds() - dataIds };
}

async function compare(t: ExecutionContext, name: string, inputs: Parameters<typeof kernelOn>[2], attrs: Attrs): Promise<void> {
  const ref = await kernelOn('cpu', name, inputs, attrs);
  const got = await kernelOn('wasm', name, inputs, attrs);
  t.deepEqual(got.shape, ref.shape);
  const err = relErr(got.data, ref.data);
  t.true(err < 1e-4, `${name} ${JSON.stringify(attrs)}: rel err ${err}`);
  t.is(got.leaked, 0, 'wasm intermediates released');
}

test.before(() => {
  registerWasmKernels();
});

test.serial('registerWasmKernels is idempotent and names what it provides', (t) => {
  t.deepEqual(registerWasmKernels(), []);
  for (const name of WASM_KERNEL_NAMES) t.truthy(tf.getKernel(name, 'wasm'), name);
  t.true(WASM_KERNEL_NAMES.includes('Conv2DBackpropFilter'));
  t.true(WASM_KERNEL_NAMES.includes('UnsortedSegmentSum'));
});

const convCases: { x: number[]; f: number[]; strides: number | [number, number]; pad: 'same' | 'valid' }[] = [
  { x: [2, 7, 5, 3], f: [3, 3, 3, 4], strides: 1, pad: 'same' },
  { x: [2, 7, 5, 3], f: [3, 3, 3, 4], strides: 1, pad: 'valid' },
  { x: [1, 8, 6, 2], f: [2, 3, 2, 5], strides: 1, pad: 'same' },
  { x: [3, 9, 7, 2], f: [3, 3, 2, 3], strides: 2, pad: 'same' },
  { x: [2, 9, 8, 4], f: [3, 2, 4, 2], strides: [2, 1], pad: 'valid' },
  { x: [1, 5, 5, 1], f: [1, 1, 1, 1], strides: 1, pad: 'valid' },
];

for (const [k, c] of convCases.entries()) {
  const info = tf.backend_util.computeConv2DInfo(c.x as [number, number, number, number], c.f as [number, number, number, number], c.strides, 1, c.pad);
  const dyShape = [info.batchSize, info.outHeight, info.outWidth, info.outChannels];
  test.serial(`Conv2DBackpropFilter x=${c.x.join(',')} f=${c.f.join(',')} s=${String(c.strides)} ${c.pad}`, async (t) => {
    await compare(
      t,
      'Conv2DBackpropFilter',
      { x: randomInput(c.x, 10 + k), dy: randomInput(dyShape, 20 + k) },
      { strides: c.strides, pad: c.pad, dataFormat: 'NHWC', filterShape: c.f },
    );
  });
  test.serial(`Conv2DBackpropInput x=${c.x.join(',')} f=${c.f.join(',')} s=${String(c.strides)} ${c.pad}`, async (t) => {
    await compare(
      t,
      'Conv2DBackpropInput',
      { dy: randomInput(dyShape, 30 + k), filter: randomInput(c.f, 40 + k) },
      { strides: c.strides, pad: c.pad, dataFormat: 'NHWC', inputShape: c.x },
    );
  });
}

test.serial('UnsortedSegmentSum: 1-D ids with repeats, gaps and out-of-range ids', async (t) => {
  await compare(t, 'UnsortedSegmentSum', { x: randomInput([6, 3, 2], 50), segmentIds: { ints: [4, 0, 4, -1, 2, 7], shape: [6] } }, { numSegments: 5 });
});

test.serial('UnsortedSegmentSum: 2-D ids over a prefix of x equal the flattened 1-D case', async (t) => {
  // cpu's kernel takes 1-D ids only; the 2-D case must match its flattened form.
  const x = randomInput([2, 3, 4], 51);
  const ids = [1, 0, 1, 2, 2, 0];
  const ref = await kernelOn('cpu', 'UnsortedSegmentSum', { x: { data: x.data, shape: [6, 4] }, segmentIds: { ints: ids, shape: [6] } }, { numSegments: 3 });
  const got = await kernelOn('wasm', 'UnsortedSegmentSum', { x, segmentIds: { ints: ids, shape: [2, 3] } }, { numSegments: 3 });
  t.deepEqual(got.shape, [3, 4]);
  t.true(relErr(got.data, ref.data) < 1e-6);
  t.is(got.leaked, 0);
});

test.serial('MaxPoolGrad: windows whose values are all negative, padded and not', async (t) => {
  for (const [shape, filterSize, strides, pad] of [
    [[2, 5, 6, 3], 2, 2, 'same'],
    [[1, 4, 4, 2], 2, 2, 'valid'],
    [[1, 7, 5, 2], 3, [2, 1], 'same'],
  ] as const) {
    const input = randomInput([...shape], 60, -2, -0.1);
    const info = tf.backend_util.computePool2DInfo([...shape], filterSize, strides as number | [number, number], 1, pad);
    const dy = randomInput([info.batchSize, info.outHeight, info.outWidth, info.outChannels], 61);
    // The kernel reads `input` only; `output` is required by the signature.
    await compare(t, 'MaxPoolGrad', { dy, input, output: dy }, { filterSize, strides, pad });
  }
});

test('Reverse: the order of contiguous blocks when the leading axes are reversed', (t) => {
  t.deepEqual(Array.from(reversedBlockOrder([3, 3], new Set([0, 1]))), [8, 7, 6, 5, 4, 3, 2, 1, 0]);
  t.deepEqual(Array.from(reversedBlockOrder([2, 3], new Set([1]))), [2, 1, 0, 5, 4, 3]);
  t.deepEqual(Array.from(reversedBlockOrder([2, 3], new Set([0]))), [3, 4, 5, 0, 1, 2]);
  t.deepEqual(Array.from(reversedBlockOrder([4], new Set([0]))), [3, 2, 1, 0]);
});

test.serial('Reverse: block copies (kernel flips and others) and the fallback for small blocks equal cpu', async (t) => {
  const cases: { shape: number[]; dims: number | number[] }[] = [
    { shape: [3, 3, 5, 13], dims: [0, 1] }, // the convolution gradient's kernel flip, block 65
    { shape: [4, 2, 40], dims: 0 },
    { shape: [2, 3, 70], dims: [1] },
    { shape: [2, 3, 70], dims: [-2, -3] },
    { shape: [2, 5, 3, 64], dims: [0, 2] }, // an unreversed axis between reversed ones
    { shape: [3, 3, 5, 13], dims: [3] }, // block 1: the package's kernel
    { shape: [5, 7], dims: [0] }, // block 7: the package's kernel
  ];
  for (const [k, c] of cases.entries()) {
    await compare(t, 'Reverse', { x: randomInput(c.shape, 80 + k) }, { dims: c.dims });
  }
  const ints = Array.from({ length: 3 * 2 * MIN_BLOCK }, (_, i) => i * 7 - 300);
  await compare(t, 'Reverse', { x: { ints, shape: [3, 2, MIN_BLOCK] } }, { dims: [0, 1] });
});

test.serial("GatherV2: single elements (refine's windows), whole slices and short slices, any axis, equal cpu", async (t) => {
  const cases: { shape: number[]; idx: number[]; idxShape: number[]; axis: number }[] = [
    { shape: [50], idx: [3, 49, 0, 3, 17, 17, 8], idxShape: [7], axis: 0 }, // element gather, repeats
    { shape: [40], idx: [1, 2, 3, 4, 39, 0], idxShape: [2, 3], axis: 0 }, // 2-D indices
    { shape: [5, 2, 70], idx: [4, 0, 4], idxShape: [3], axis: 0 }, // slices of 140: set()
    { shape: [3, 6, 65], idx: [5, 1], idxShape: [2], axis: 1 }, // outer 3, slices of 65
    { shape: [3, 6, 5], idx: [2, 2, 0, 5], idxShape: [4], axis: 1 }, // slices of 5: loop
    { shape: [4, 3, 7], idx: [6, 0, 3], idxShape: [3], axis: -1 }, // last axis, outer 12
  ];
  for (const [k, c] of cases.entries()) {
    await compare(t, 'GatherV2', { x: randomInput(c.shape, 90 + k), indices: { ints: c.idx, shape: c.idxShape } }, { axis: c.axis, batchDims: 0 });
  }
  const x = { ints: Array.from({ length: 24 }, (_, i) => i * 3 - 20), shape: [4, 6] };
  await compare(t, 'GatherV2', { x, indices: { ints: [3, 0, 3], shape: [3] } }, { axis: 0, batchDims: 0 });
});

test.serial('GatherV2 on wasm: an index out of range is an error naming it, and nothing is left allocated', async (t) => {
  await tf.setBackend('wasm');
  const before = tf.engine().backend.numDataIds();
  const x = tf.tensor1d([1, 2, 3]);
  for (const bad of [3, -1]) {
    const idx = tf.tensor1d([0, bad], 'int32');
    t.throws(() => tf.engine().runKernel<tf.Tensor>('GatherV2', { x, indices: idx }, { axis: 0, batchDims: 0 }), {
      message: new RegExp(`index value ${bad} is not in \\[0, 2\\]`),
    });
    idx.dispose();
  }
  x.dispose();
  t.is(tf.engine().backend.numDataIds(), before);
});

test.serial('MaxPoolGrad: the 2×2, stride 2 path (odd sizes, ties, mixed signs) equals cpu', async (t) => {
  for (const [k, [shape, pad]] of (
    [
      [[2, 8, 6, 5], 'valid'],
      [[1, 7, 9, 3], 'valid'], // the last row and column belong to no window
      [[3, 6, 4, 64], 'same'], // even sizes: 'same' adds no padding
    ] as const
  ).entries()) {
    const input = randomInput([...shape], 62 + k, -1, 1);
    // Ties: a third of the values rounded to a coarse grid, so some windows hold equal maxima.
    for (let i = 0; i < input.data.length; i += 3) input.data[i] = Math.round(input.data[i]! * 2) / 2;
    const info = tf.backend_util.computePool2DInfo([...shape], 2, 2, 1, pad);
    const dy = randomInput([info.batchSize, info.outHeight, info.outWidth, info.outChannels], 70 + k);
    await compare(t, 'MaxPoolGrad', { dy, input, output: dy }, { filterSize: 2, strides: 2, pad });
  }
});

test.serial('ResizeNearestNeighborGrad on wasm: batch > 1 equals per-image gradients', async (t) => {
  // The cpu reference gets batch > 1 wrong, so the batch is checked image by image.
  const x = randomInput([2, 3, 4, 2], 70);
  await tf.setBackend('wasm');
  const g = tf.grad((v: tf.Tensor) =>
    tf.image
      .resizeNearestNeighbor(v as tf.Tensor4D, [6, 8])
      .mul(tf.range(1, 2 * 6 * 8 * 2 + 1).reshape([2, 6, 8, 2]))
      .sum(),
  );
  const whole = g(tf.tensor4d(x.data, [2, 3, 4, 2]));
  await tf.setBackend('cpu');
  const parts = [0, 1].map((b) => {
    const w = tf
      .range(1, 2 * 6 * 8 * 2 + 1)
      .reshape([2, 6, 8, 2])
      .slice([b, 0, 0, 0], [1, 6, 8, 2]);
    return tf.grad((v: tf.Tensor) =>
      tf.image
        .resizeNearestNeighbor(v as tf.Tensor4D, [6, 8])
        .mul(w)
        .sum(),
    )(tf.tensor4d(x.data, [2, 3, 4, 2]).slice([b, 0, 0, 0], [1, 3, 4, 2]));
  });
  const ref = tf.concat(parts);
  t.true(relErr(whole.dataSync() as Float32Array, ref.dataSync() as Float32Array) < 1e-6);
  tf.disposeVariables();
  tf.dispose([whole, ref, ...parts]);
});

// Forward + gradient of every op the model and physics reach, on wasm, against
// the cpu backend. A missing wasm kernel shows up as "Kernel 'X' not registered
// for backend 'wasm'"; a wrong one as a value or gradient mismatch.
import test from 'ava';
import * as tf from '../../src/tf.js';
import { randomInput, relErr, runOn, type Input } from './helpers.js';

// `grads: false` where tfjs-core itself has no gradient for the op (any backend).
type Case = [name: string, inputs: Input[], f: (...xs: tf.Tensor[]) => tf.Tensor, grads?: boolean];

const r = (shape: number[], seed: number, lo = -1, hi = 1): Input => randomInput(shape, seed, lo, hi);
const x4 = (): Input => r([2, 6, 5, 3], 1);
const f4 = (): Input => r([3, 3, 3, 4], 2);
const idx = (): tf.Tensor1D => tf.tensor1d([2, 0, 2, 1], 'int32');

const cases: Case[] = [
  ['conv2d same', [x4(), f4()], (x, w) => tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, 1, 'same')],
  ['conv2d valid stride 2', [x4(), f4()], (x, w) => tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, 2, 'valid')],
  [
    'fused conv2d bias relu',
    [x4(), f4(), r([4], 3)],
    (x, w, b) => tf.fused.conv2d({ x: x as tf.Tensor4D, filter: w as tf.Tensor4D, strides: 1, pad: 'same', bias: b, activation: 'relu' }),
  ],
  ['conv2dTranspose', [r([2, 3, 4, 4], 4), f4()], (x, w) => tf.conv2dTranspose(x as tf.Tensor4D, w as tf.Tensor4D, [2, 6, 8, 3], 2, 'same')],
  ['maxPool 2 same', [r([2, 5, 6, 3], 5)], (x) => tf.maxPool(x as tf.Tensor4D, 2, 2, 'same')],
  ['maxPool 3 stride 2 valid', [r([2, 7, 6, 2], 30)], (x) => tf.maxPool(x as tf.Tensor4D, 3, 2, 'valid')],
  // Batch 1 and square: the cpu reference's resize gradients are wrong for batch > 1
  // (nearest) and for non-square images (bilinear); wasm's are checked in kernels.test.ts.
  ['resizeNearestNeighbor', [r([1, 3, 4, 2], 6)], (x) => tf.image.resizeNearestNeighbor(x as tf.Tensor4D, [6, 8])],
  ['resizeBilinear', [r([1, 3, 3, 2], 7)], (x) => tf.image.resizeBilinear(x as tf.Tensor4D, [5, 5])],
  [
    'upsample by broadcast',
    [r([2, 3, 4, 2], 8)],
    (x) =>
      x
        .reshape([6, 1, 4, 1, 2])
        .mul(tf.ones([1, 2, 1, 2, 1]))
        .reshape([2, 6, 8, 2]),
  ],
  ['activations', [r([3, 7], 9, -3, 3)], (x) => tf.concat([tf.sigmoid(x), tf.tanh(x), tf.softplus(x), x.mul(tf.sigmoid(x)), tf.relu(x)], 1)],
  ['matMul transposes', [r([4, 5], 10), r([6, 5], 11)], (a, b) => tf.matMul(a, b, false, true)],
  ['batchMatMul', [r([3, 4, 5], 12), r([3, 4, 2], 13)], (a, b) => tf.matMul(a, b, true, false)],
  [
    'arithmetic',
    [r([4, 5], 14, 0.5, 2), r([4, 5], 15, 0.5, 2)],
    (a, b) => tf.concat([a.mul(b), a.add(b), a.sub(b), a.div(b), a.sub(1).abs(), a.sqrt(), a.square(), a.log(), a.exp(), a.pow(2.5), tf.neg(a)], 1),
  ],
  ['trig and atan2', [r([4, 5], 16), r([4, 5], 17)], (a, b) => tf.concat([a.sin(), a.cos(), tf.atan2(a, b)], 1)],
  [
    'pad slice stridedSlice',
    [r([2, 5, 6, 2], 18)],
    (x) =>
      tf.concat(
        [
          x
            .pad([
              [0, 0],
              [1, 2],
              [2, 1],
              [0, 0],
            ])
            .slice([0, 1, 1, 0], [2, 5, 6, 2]),
          tf.stridedSlice(x, [0, 0, 0, 0], [2, 5, 6, 2], [1, 1, 1, 1]),
        ],
        3,
      ),
    false,
  ],
  ['stridedSlice steps', [r([2, 5, 6, 2], 19)], (x) => tf.stridedSlice(x, [0, 1, 0, 0], [2, 5, 6, 2], [1, 2, 3, 1]), false],
  ['transpose reshape tile', [r([2, 3, 4], 20)], (x) => x.transpose([2, 0, 1]).reshape([4, 6]).tile([2, 1])],
  ['stack unstack reverse', [r([3, 4], 21)], (x) => tf.stack(tf.unstack(x).reverse()).reverse(1)],
  ['gather axis 0', [r([3, 4], 22)], (x) => tf.gather(x, idx())],
  ['gather axis 1', [r([2, 3, 4], 23)], (x) => tf.gather(x, idx(), 1)],
  [
    'gatherND',
    [r([3, 4, 2], 24)],
    (x) =>
      tf.gatherND(
        x,
        tf.tensor2d(
          [
            [0, 1],
            [2, 3],
            [0, 1],
          ],
          [3, 2],
          'int32',
        ),
      ),
    false,
  ],
  ['reductions', [r([3, 4, 5], 25)], (x) => tf.concat([x.mean([1, 2]), x.sum(1).sum(1), x.max([1, 2]), x.min([1, 2])], 0)],
  ['maximum minimum clip', [r([4, 5], 26), r([4, 5], 27)], (a, b) => tf.concat([tf.maximum(a, b), tf.minimum(a, b), a.clipByValue(-0.5, 0.5)], 1)],
  ['cast where', [r([4, 5], 28)], (x) => tf.where(tf.tensor(r([4, 5], 31).data, [4, 5]).greater(0), x, x.mul(0.1)).add(x.cast('int32').cast('float32'))],
  [
    'image.transform',
    [r([1, 5, 6, 2], 29)],
    (x) => tf.image.transform(x as tf.Tensor4D, tf.tensor2d([[1, 0, 0.3, 0, 1, -0.6, 0, 0]]), 'bilinear', 'constant', 0),
    false,
  ],
];

test.before(async () => {
  await tf.setBackend('cpu');
});

for (const [name, inputs, f, grads = true] of cases) {
  test.serial(`wasm matches cpu: ${name}`, async (t) => {
    const start = tf.memory().numTensors;
    const ref = await runOn('cpu', inputs, f, grads);
    const got = await runOn('wasm', inputs, f, grads);
    t.true(relErr(got.value, ref.value) < 1e-4, `value rel err ${relErr(got.value, ref.value)}`);
    t.is(got.grads.length, grads ? inputs.length : 0);
    got.grads.forEach((g, k) => t.true(relErr(g, ref.grads[k]!) < 1e-4, `grad ${k} rel err ${relErr(g, ref.grads[k]!)}`));
    t.is(tf.memory().numTensors, start);
  });
}

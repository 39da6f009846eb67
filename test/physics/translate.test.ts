// translate: integer shifts move pixels exactly (sign: +dx right, +dy down), a
// fractional shift of a linear ramp is exact in the interior, zero fill, per-image
// shifts over several channels, and shape errors; on cpu and wasm.
import test from 'ava';
import * as tf from '../../src/tf.js';
import '@tensorflow/tfjs-backend-wasm';
import { translate } from '../../src/physics/translate.js';
import { noise } from './helpers.js';

for (const backend of ['cpu', 'wasm']) {
  test.serial(`${backend}: integer shifts move every pixel exactly, with zero fill`, async (t) => {
    await tf.setBackend(backend);
    const before = tf.memory().numTensors;
    const [B, H, W, C] = [3, 7, 9, 2];
    const data = noise(B * H * W * C, 5);
    const shifts = [
      [2, -1],
      [-3, 4],
      [0, 0],
    ];
    const img = tf.tensor4d(data, [B, H, W, C]);
    const sh = tf.tensor2d(shifts);
    const out = translate(img, sh);
    const got = out.dataSync();
    let err = 0;
    for (let b = 0; b < B; b++) {
      const [dx, dy] = shifts[b]!;
      for (let y = 0; y < H; y++) {
        for (let x = 0; x < W; x++) {
          for (let c = 0; c < C; c++) {
            const sy = y - dy!;
            const sx = x - dx!;
            const want = sy >= 0 && sy < H && sx >= 0 && sx < W ? data[((b * H + sy) * W + sx) * C + c]! : 0;
            err = Math.max(err, Math.abs(got[((b * H + y) * W + x) * C + c]! - want));
          }
        }
      }
    }
    t.true(err < 1e-6, `max error ${err}`);
    tf.dispose([img, sh, out]);
    t.is(tf.memory().numTensors, before);
  });

  test.serial(`${backend}: a delta moves right for +dx and down for +dy; dx=0.5 splits it in half`, async (t) => {
    await tf.setBackend(backend);
    const N = 16;
    const d = new Float32Array(N * N);
    d[8 * N + 8] = 1;
    const res = tf.tidy(() => {
      const img = tf.tensor4d(d, [1, N, N, 1]);
      return [
        translate(img, tf.tensor2d([[2, 0]])).dataSync(),
        translate(img, tf.tensor2d([[0, 3]])).dataSync(),
        translate(img, tf.tensor2d([[0.5, 0]])).dataSync(),
      ];
    });
    t.is(res[0]![8 * N + 10], 1);
    t.is(res[1]![11 * N + 8], 1);
    t.true(Math.abs(res[2]![8 * N + 8]! - 0.5) < 1e-6 && Math.abs(res[2]![8 * N + 9]! - 0.5) < 1e-6);
  });

  test.serial(`${backend}: a fractional shift of a linear ramp is exact in the interior`, async (t) => {
    await tf.setBackend(backend);
    const [H, W] = [12, 10];
    const ramp = new Float32Array(H * W);
    for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) ramp[y * W + x] = 0.3 * x - 0.7 * y + 2;
    const [dx, dy] = [1.35, -2.6];
    const got = tf.tidy(() => translate(tf.tensor4d(ramp, [1, H, W, 1]), tf.tensor2d([[dx, dy]])).dataSync());
    let err = 0;
    let checked = 0;
    for (let y = 0; y < H; y++) {
      for (let x = 0; x < W; x++) {
        const sx = x - dx;
        const sy = y - dy;
        if (sx < 0 || sx > W - 1 || sy < 0 || sy > H - 1) continue;
        checked++;
        err = Math.max(err, Math.abs(got[y * W + x]! - (0.3 * sx - 0.7 * sy + 2)));
      }
    }
    t.true(checked > 40);
    t.true(err < 1e-5, `max error ${err}`);
  });
}

test.serial('shifts must be one [dx, dy] per image (no silent recycling)', async (t) => {
  await tf.setBackend('cpu');
  const img = tf.zeros<tf.Rank.R4>([4, 8, 8, 1]);
  const sh = tf.zeros<tf.Rank.R2>([2, 2]);
  t.throws(() => translate(img, sh), { message: /shifts must be \(B, 2\)/ });
  tf.dispose([img, sh]);
});

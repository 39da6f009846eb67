// farFieldAmplitude against a direct DFT of P·O, Parseval, probe broadcasting
// over batch and channels, finite gradients at a zero field; poissonNLL and
// maeLoss against their formulas.
import test from 'ava';
import * as tf from '../../src/tf.js';
import '@tensorflow/tfjs-backend-wasm';
import { farFieldAmplitude, poissonNLL, maeLoss } from '../../src/physics/forward.js';
import { noise } from './helpers.js';

for (const backend of ['cpu', 'wasm']) {
  test.serial(`${backend}: farFieldAmplitude = |fftshift(FFT2(P·O))|/N per channel, and Parseval holds`, async (t) => {
    await tf.setBackend(backend);
    const before = tf.memory().numTensors;
    const [B, N, C] = [2, 8, 3];
    const or = noise(B * N * N * C, 1);
    const oi = noise(B * N * N * C, 2);
    const pr = noise(N * N, 3);
    const pi = noise(N * N, 4);
    const tensors = [tf.tensor4d(or, [B, N, N, C]), tf.tensor4d(oi, [B, N, N, C]), tf.tensor2d(pr, [N, N]), tf.tensor2d(pi, [N, N])] as const;
    const amp = farFieldAmplitude(...tensors);
    const got = amp.dataSync();
    let err = 0;
    for (let b = 0; b < B; b++) {
      for (let c = 0; c < C; c++) {
        // ψ = P·O for this pattern.
        const wr = new Float64Array(N * N);
        const wi = new Float64Array(N * N);
        let energy = 0;
        for (let p = 0; p < N * N; p++) {
          const k = (b * N * N + p) * C + c;
          wr[p] = pr[p]! * or[k]! - pi[p]! * oi[k]!;
          wi[p] = pr[p]! * oi[k]! + pi[p]! * or[k]!;
          energy += wr[p]! ** 2 + wi[p]! ** 2;
        }
        let sumA2 = 0;
        for (let ky = 0; ky < N; ky++) {
          for (let kx = 0; kx < N; kx++) {
            let sr = 0;
            let si = 0;
            for (let y = 0; y < N; y++) {
              for (let x = 0; x < N; x++) {
                const a = (-2 * Math.PI * ((ky - N / 2) * y + (kx - N / 2) * x)) / N;
                sr += wr[y * N + x]! * Math.cos(a) - wi[y * N + x]! * Math.sin(a);
                si += wr[y * N + x]! * Math.sin(a) + wi[y * N + x]! * Math.cos(a);
              }
            }
            const a = got[(b * N * N + ky * N + kx) * C + c]!;
            err = Math.max(err, Math.abs(a - Math.hypot(sr, si) / N));
            sumA2 += a * a;
          }
        }
        t.true(Math.abs(sumA2 - energy) < 1e-4 * energy, `Parseval ${sumA2} vs ${energy}`);
      }
    }
    t.true(err < 1e-5, `max error ${err}`);
    tf.dispose([...tensors, amp]);
    t.is(tf.memory().numTensors, before);
  });

  test.serial(`${backend}: the gradient of the amplitude is finite where the far field is zero`, async (t) => {
    await tf.setBackend(backend);
    const N = 8;
    const g = tf.tidy(() => {
      const probe = tf.ones<tf.Rank.R2>([N, N]);
      const zero = tf.zeros<tf.Rank.R2>([N, N]);
      const f = (re: tf.Tensor, im: tf.Tensor): tf.Scalar => farFieldAmplitude(re as tf.Tensor4D, im as tf.Tensor4D, probe, zero).sum();
      const obj = tf.zeros([1, N, N, 1]);
      return tf
        .grads(f)([obj, obj])
        .map((x) => Array.from(x.dataSync()));
    });
    t.true(g.flat().every((v) => Number.isFinite(v)));
  });
}

test.serial('poissonNLL and maeLoss follow their formulas; a tensor scale gets a gradient', async (t) => {
  await tf.setBackend('cpu');
  const before = tf.memory().numTensors;
  const pred = noise(24, 7).map((v) => Math.abs(v) + 0.05);
  const obs = noise(24, 8).map((v) => Math.abs(v));
  const s = 3.5;
  let want = 0;
  for (let i = 0; i < 24; i++) {
    const lam = (s * pred[i]!) ** 2;
    want += lam - (s * obs[i]!) ** 2 * Math.log(lam + 1e-12);
  }
  want /= 24;
  const p = tf.tensor4d(pred, [2, 2, 2, 3]);
  const o = tf.tensor4d(obs, [2, 2, 2, 3]);
  const nll = poissonNLL(p, o, s);
  t.true(Math.abs(nll.dataSync()[0]! - want) < 1e-5 * Math.abs(want), `${nll.dataSync()[0]} vs ${want}`);
  const mae = maeLoss(p, o);
  let wantMae = 0;
  for (let i = 0; i < 24; i++) wantMae += Math.abs(pred[i]! - obs[i]!) / 24;
  t.true(Math.abs(mae.dataSync()[0]! - wantMae) < 1e-6);
  // d/ds of mean(s²p² − s²o²·log(s²p²)) = mean(2sp² − 2so²(log(s²p²) + 1)).
  const sv = tf.scalar(s);
  const ds = tf.grad((x: tf.Tensor) => poissonNLL(p, o, x as tf.Scalar))(sv);
  let wantDs = 0;
  for (let i = 0; i < 24; i++) wantDs += (2 * s * pred[i]! ** 2 - 2 * s * obs[i]! ** 2 * (Math.log((s * pred[i]!) ** 2) + 1)) / 24;
  t.true(Math.abs(ds.dataSync()[0]! - wantDs) < 1e-4 * Math.abs(wantDs), `${ds.dataSync()[0]} vs ${wantDs}`);
  // A zero prediction stays finite thanks to ε.
  t.true(Number.isFinite(tf.tidy(() => poissonNLL(tf.zerosLike(p), o, s).dataSync()[0]!)));
  t.throws(() => tf.tidy(() => poissonNLL(p, tf.zeros([3]), s)), { message: /differ in shape/ });
  tf.dispose([p, o, nll, mae, sv, ds]);
  t.is(tf.memory().numTensors, before);
});

test.serial('farFieldAmplitude refuses a probe of the wrong size', async (t) => {
  await tf.setBackend('cpu');
  const o = tf.zeros<tf.Rank.R4>([1, 8, 8, 1]);
  const p = tf.zeros<tf.Rank.R2>([16, 16]);
  t.throws(() => farFieldAmplitude(o, o, p, p), { message: /probe is 16×16/ });
  tf.dispose([o, p]);
});

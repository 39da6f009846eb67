// Gradients of the physics ops against central finite differences (float32, so
// smooth test functions, tiny shapes and ~1e-2 relative tolerances): fft2c's
// custom (adjoint) gradient, farFieldAmplitude w.r.t. object and probe,
// poissonNLL w.r.t. prediction and scale, translate w.r.t. the image,
// reassembleAndExtract w.r.t. re and im. cpu and wasm.
import test, { type ExecutionContext } from 'ava';
import * as tf from '../../src/tf.js';
import '@tensorflow/tfjs-backend-wasm';
import { fft2c, ifft2c } from '../../src/physics/fft.js';
import { farFieldAmplitude, poissonNLL } from '../../src/physics/forward.js';
import { translate } from '../../src/physics/translate.js';
import { reassembleAndExtract } from '../../src/physics/overlap.js';

function noise(n: number, seed: number, lo = -1, hi = 1): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = lo + ((hi - lo) * s) / 2 ** 32;
  }
  return out;
}

type Loss = (...xs: tf.Tensor[]) => tf.Scalar;

/**
 * Compares tf.grads(f) with central differences: along one random direction over
 * all inputs together, and on `coords` single coordinates of each input.
 */
function gradCheck(t: ExecutionContext, name: string, f: Loss, inputs: tf.Tensor[], h: number, tol: number, coords = 4): void {
  const before = tf.memory().numTensors;
  const gradTensors = tf.grads(f)(inputs);
  const grads = gradTensors.map((g) => g.dataSync() as Float32Array);
  tf.dispose(gradTensors);
  const evalAt = (shifted: Float32Array[]): number => tf.tidy(() => f(...shifted.map((d, k) => tf.tensor(d, inputs[k]!.shape))).dataSync()[0]!);
  const base = inputs.map((x) => x.dataSync() as Float32Array);
  // Relative error, floored at 1 % of the largest gradient entry (float32 sums of
  // ~100 terms carry ~1e-6 relative noise, which small entries cannot resolve).
  let gmax = 0;
  for (const g of grads) for (const v of g) gmax = Math.max(gmax, Math.abs(v));
  const rel = (a: number, b: number): number => Math.abs(a - b) / Math.max(Math.abs(a), Math.abs(b), 1e-2 * gmax, 1e-6);
  // Directional derivative along a random direction v.
  const dirs = base.map((b, k) => noise(b.length, 100 + k));
  let analytic = 0;
  for (let k = 0; k < base.length; k++) for (let i = 0; i < base[k]!.length; i++) analytic += grads[k]![i]! * dirs[k]![i]!;
  const plus = evalAt(base.map((b, k) => b.map((v, i) => v + h * dirs[k]![i]!)));
  const minus = evalAt(base.map((b, k) => b.map((v, i) => v - h * dirs[k]![i]!)));
  const numeric = (plus - minus) / (2 * h);
  t.true(rel(analytic, numeric) < tol, `${name}: directional ${analytic} vs ${numeric}`);
  // A few single coordinates of each input.
  for (let k = 0; k < base.length; k++) {
    const idx = noise(coords, 7 + k, 0, base[k]!.length).map(Math.floor);
    for (const i of idx) {
      const at = (delta: number): Float32Array[] => base.map((b, kk) => (kk === k ? b.map((v, ii) => (ii === i ? v + delta : v)) : b));
      const num = (evalAt(at(h)) - evalAt(at(-h))) / (2 * h);
      t.true(rel(grads[k]![i]!, num) < tol, `${name}: input ${k} index ${i}: ${grads[k]![i]} vs ${num}`);
    }
  }
  t.is(tf.memory().numTensors, before, `${name}: no tensor leaked`);
}

/** Σ w·x for a fixed random weight w, to turn a tensor output into a scalar. */
function weighted(x: tf.Tensor, seed: number): tf.Scalar {
  return x.mul(tf.tensor(noise(x.size, seed), x.shape)).sum();
}

for (const backend of ['cpu', 'wasm']) {
  test.serial(`${backend}: fft2c and ifft2c gradients (custom adjoint) match finite differences`, async (t) => {
    await tf.setBackend(backend);
    const shape: [number, number, number, number] = [2, 8, 8, 2];
    const re = tf.tensor4d(noise(256, 1), shape);
    const im = tf.tensor4d(noise(256, 2), shape);
    // Nonlinear in the output so the test sees the full adjoint, not only its action on constants.
    for (const method of ['gauss', 'matmul'] as const) {
      const f: Loss = (a, b) =>
        tf.tidy(() => {
          const y = fft2c(a as tf.Tensor4D, b as tf.Tensor4D, { method });
          return weighted(y.re.square(), 3).add(weighted(y.im, 4));
        });
      gradCheck(t, `fft2c/${method}`, f, [re, im], 1e-1, 1e-2); // quadratic: central differences are exact
      const g: Loss = (a, b) =>
        tf.tidy(() => {
          const y = ifft2c(a as tf.Tensor4D, b as tf.Tensor4D, { method });
          return weighted(y.re, 5).add(weighted(y.im.square(), 6));
        });
      gradCheck(t, `ifft2c/${method}`, g, [re, im], 1e-1, 1e-2);
    }
    tf.dispose([re, im]);
  });

  test.serial(`${backend}: farFieldAmplitude gradient w.r.t. object and probe`, async (t) => {
    await tf.setBackend(backend);
    const N = 8;
    const xs = [
      tf.tensor4d(noise(N * N * 2, 11, 0.2, 1), [1, N, N, 2]),
      tf.tensor4d(noise(N * N * 2, 12, -0.5, 0.5), [1, N, N, 2]),
      tf.tensor2d(noise(N * N, 13, 0.5, 1), [N, N]),
      tf.tensor2d(noise(N * N, 14, -0.3, 0.3), [N, N]),
    ];
    const f: Loss = (or, oi, pr, pi) =>
      tf.tidy(() => weighted(farFieldAmplitude(or as tf.Tensor4D, oi as tf.Tensor4D, pr as tf.Tensor2D, pi as tf.Tensor2D), 15));
    gradCheck(t, 'farFieldAmplitude', f, xs, 1e-2, 2e-2);
    tf.dispose(xs);
  });

  test.serial(`${backend}: poissonNLL gradient w.r.t. prediction and scale`, async (t) => {
    await tf.setBackend(backend);
    const obs = tf.tensor4d(noise(32, 21, 0.1, 1), [2, 4, 2, 2]);
    const xs = [tf.tensor4d(noise(32, 22, 0.2, 1), [2, 4, 2, 2]), tf.scalar(2.5)];
    const f: Loss = (p, s) => poissonNLL(p, obs, s as tf.Scalar);
    gradCheck(t, 'poissonNLL', f, xs, 1e-2, 2e-2);
    tf.dispose([obs, ...xs]);
  });

  test.serial(`${backend}: translate gradient w.r.t. the image`, async (t) => {
    await tf.setBackend(backend);
    const img = tf.tensor4d(noise(2 * 7 * 6 * 2, 31), [2, 7, 6, 2]);
    const shifts = tf.tensor2d([
      [0.3, -1.6],
      [-2.25, 0.7],
    ]);
    const f: Loss = (x) => tf.tidy(() => weighted(translate(x as tf.Tensor4D, shifts), 32));
    gradCheck(t, 'translate/img', f, [img], 1e-1, 1e-2);
    tf.dispose([img, shifts]);
  });

  test.serial(`${backend}: reassembleAndExtract gradient w.r.t. re and im`, async (t) => {
    await tf.setBackend(backend);
    const [B, N, C] = [2, 6, 4];
    const xs = [tf.tensor4d(noise(B * N * N * C, 41), [B, N, N, C]), tf.tensor4d(noise(B * N * N * C, 42), [B, N, N, C])];
    const offsets = tf.tensor4d(noise(B * 2 * C, 43, -2, 2), [B, 1, 2, C]);
    const f: Loss = (re, im) =>
      tf.tidy(() => {
        const y = reassembleAndExtract(re as tf.Tensor4D, im as tf.Tensor4D, offsets, N);
        return weighted(y.re, 44).add(weighted(y.im.square(), 45));
      });
    gradCheck(t, 'reassembleAndExtract', f, xs, 1e-2, 2e-2);
    tf.dispose([...xs, offsets]);
  });
}

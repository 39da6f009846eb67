// fft2c/ifft2c against a direct O(N⁴) centred DFT in float64, Parseval and the
// round trip, for both implementations on cpu and the matmul one on wasm.
import test, { type ExecutionContext } from 'ava';
import * as tf from '../../src/tf.js';
import '@tensorflow/tfjs-backend-wasm';
import { fft2c, ifft2c, defaultFftMethod, type FftMethod } from '../../src/physics/fft.js';
import { noise } from './helpers.js';

/** fftshift(FFT2(x))/N for one N×N image, straight from the definition. */
function directDft(re: Float32Array, im: Float32Array, N: number, off: number, stride: number): { re: Float64Array; im: Float64Array } {
  const h = Math.floor(N / 2);
  const or = new Float64Array(N * N);
  const oi = new Float64Array(N * N);
  for (let ky = 0; ky < N; ky++) {
    for (let kx = 0; kx < N; kx++) {
      let sr = 0;
      let si = 0;
      for (let y = 0; y < N; y++) {
        for (let x = 0; x < N; x++) {
          const a = (-2 * Math.PI * ((ky - h) * y + (kx - h) * x)) / N;
          const idx = off + (y * N + x) * stride;
          const xr = re[idx]!;
          const xi = im[idx]!;
          sr += xr * Math.cos(a) - xi * Math.sin(a);
          si += xr * Math.sin(a) + xi * Math.cos(a);
        }
      }
      or[ky * N + kx] = sr / N;
      oi[ky * N + kx] = si / N;
    }
  }
  return { re: or, im: oi };
}

function checkAgainstDirect(t: ExecutionContext, N: number, method: FftMethod): void {
  const B = 2;
  const C = 2;
  const size = B * N * N * C;
  const re = noise(size, 11 + N);
  const im = noise(size, 97 + N);
  const before = tf.memory().numTensors;
  const xr = tf.tensor4d(re, [B, N, N, C]);
  const xi = tf.tensor4d(im, [B, N, N, C]);
  const y = fft2c(xr, xi, { method });
  const yr = y.re.dataSync();
  const yi = y.im.dataSync();
  let maxErr = 0;
  let maxVal = 0;
  for (let b = 0; b < B; b++) {
    for (let c = 0; c < C; c++) {
      const d = directDft(re, im, N, b * N * N * C + c, C);
      for (let p = 0; p < N * N; p++) {
        const idx = b * N * N * C + p * C + c;
        maxErr = Math.max(maxErr, Math.abs(yr[idx]! - d.re[p]!), Math.abs(yi[idx]! - d.im[p]!));
        maxVal = Math.max(maxVal, Math.abs(d.re[p]!), Math.abs(d.im[p]!));
      }
    }
  }
  t.true(maxErr < 1e-5 * Math.max(1, maxVal), `N=${N} ${method}: max error ${maxErr} (max value ${maxVal})`);
  // Parseval: Σ|X|² = Σ|x|² per image.
  const ex = tf.tidy(() => xr.square().add(xi.square()).sum([1, 2]).dataSync());
  const ey = tf.tidy(() => y.re.square().add(y.im.square()).sum([1, 2]).dataSync());
  for (let i = 0; i < ex.length; i++) t.true(Math.abs(ex[i]! - ey[i]!) < 1e-5 * ex[i]!, `Parseval ${ex[i]} vs ${ey[i]}`);
  // Round trip.
  const z = ifft2c(y.re, y.im, { method });
  const zr = z.re.dataSync();
  const zi = z.im.dataSync();
  let rt = 0;
  for (let i = 0; i < size; i++) rt = Math.max(rt, Math.abs(zr[i]! - re[i]!), Math.abs(zi[i]! - im[i]!));
  t.true(rt < 1e-5, `round trip error ${rt}`);
  tf.dispose([xr, xi, y.re, y.im, z.re, z.im]);
  t.is(tf.memory().numTensors, before, 'no tensor leaked');
}

test.serial('cpu: gauss, matmul and spectral fft2c match the direct DFT at N=8 and 16, Parseval, round trip', async (t) => {
  await tf.setBackend('cpu');
  for (const N of [8, 16]) for (const m of ['gauss', 'matmul', 'spectral'] as const) checkAgainstDirect(t, N, m);
  // Odd N works with the matmul method (shift by ⌊N/2⌋ like numpy.fft.fftshift).
  checkAgainstDirect(t, 7, 'gauss');
});

test.serial('wasm: gauss and matmul fft2c match the direct DFT; spectral is refused', async (t) => {
  await tf.setBackend('wasm');
  t.is(defaultFftMethod(), 'gauss');
  for (const N of [8, 16]) for (const m of ['gauss', 'matmul'] as const) checkAgainstDirect(t, N, m);
  const x = tf.zeros<tf.Rank.R4>([1, 8, 8, 1]);
  t.throws(() => fft2c(x, x, { method: 'spectral' }), { message: /wasm/ });
  x.dispose();
  await tf.setBackend('cpu');
});

test.serial('a constant field maps to a single DC value N at (N/2, N/2)', async (t) => {
  await tf.setBackend('cpu');
  const N = 16;
  const one = tf.ones<tf.Rank.R4>([1, N, N, 1]);
  const zero = tf.zerosLike(one);
  const y = fft2c(one, zero);
  const a = y.re.dataSync();
  t.true(Math.abs(a[(N / 2) * N + N / 2]! - N) < 1e-4);
  t.true(Math.abs(y.re.abs().sum().dataSync()[0]! - N) < 1e-3);
  tf.dispose([one, zero, y.re, y.im]);
});

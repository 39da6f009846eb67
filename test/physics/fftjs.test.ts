// Host-side centred FFT: agreement with a direct float64 DFT for power-of-two
// and other sizes (Bluestein), Parseval, the exact inverse, and the fftshift
// placement of the zero frequency.
import test from 'ava';
import { farFieldAmplitude, fft2Shifted, ifft2Shifted } from '../../src/physics/fftjs.js';
import { OptionsError } from '../../src/errors.js';
import { Rng } from '../../src/util/rng.js';

function randomField(N: number, seed: number): { re: Float32Array; im: Float32Array } {
  const rng = new Rng(seed);
  const re = new Float32Array(N * N),
    im = new Float32Array(N * N);
  for (let i = 0; i < N * N; i++) {
    re[i] = rng.normal();
    im[i] = rng.normal();
  }
  return { re, im };
}

/** Direct definition: out[k] = Σ_n x[n] exp(−2πi (k − ⌊N/2⌋)·n / N) / N, per axis. */
function directDft(re: Float32Array, im: Float32Array, N: number): { re: Float64Array; im: Float64Array } {
  const h = Math.floor(N / 2);
  const oRe = new Float64Array(N * N),
    oIm = new Float64Array(N * N);
  for (let ky = 0; ky < N; ky++) {
    for (let kx = 0; kx < N; kx++) {
      let sr = 0,
        si = 0;
      for (let y = 0; y < N; y++) {
        for (let x = 0; x < N; x++) {
          const ang = -2 * Math.PI * (((ky - h) * y) / N + ((kx - h) * x) / N);
          const c = Math.cos(ang),
            s = Math.sin(ang);
          sr += re[y * N + x]! * c - im[y * N + x]! * s;
          si += re[y * N + x]! * s + im[y * N + x]! * c;
        }
      }
      oRe[ky * N + kx] = sr / N;
      oIm[ky * N + kx] = si / N;
    }
  }
  return { re: oRe, im: oIm };
}

for (const N of [8, 12, 16, 7, 1, 2, 3, 4, 32, 64]) {
  test(`fft2Shifted matches the direct DFT, N=${N}`, (t) => {
    const x = randomField(N, N);
    const got = fft2Shifted(x.re, x.im, N);
    const want = directDft(x.re, x.im, N);
    let err = 0;
    for (let i = 0; i < N * N; i++) err = Math.max(err, Math.abs(got.re[i]! - want.re[i]!), Math.abs(got.im[i]! - want.im[i]!));
    t.true(err < 1e-5, `max abs error ${err}`);
  });

  test(`Parseval and exact inverse, N=${N}`, (t) => {
    const x = randomField(N, 100 + N);
    const X = fft2Shifted(x.re, x.im, N);
    let e1 = 0,
      e2 = 0;
    for (let i = 0; i < N * N; i++) {
      e1 += x.re[i]! ** 2 + x.im[i]! ** 2;
      e2 += X.re[i]! ** 2 + X.im[i]! ** 2;
    }
    t.true(Math.abs(e1 - e2) / e1 < 1e-6, `${e1} vs ${e2}`);
    const back = ifft2Shifted(X.re, X.im, N);
    let err = 0;
    for (let i = 0; i < N * N; i++) err = Math.max(err, Math.abs(back.re[i]! - x.re[i]!), Math.abs(back.im[i]! - x.im[i]!));
    t.true(err < 1e-5, `round trip error ${err}`);
  });
}

test('zero frequency sits at (N/2, N/2): a constant maps to a single peak of height N', (t) => {
  for (const N of [16, 12]) {
    const X = fft2Shifted(new Float32Array(N * N).fill(1), new Float32Array(N * N), N);
    const peak = (N / 2) * N + N / 2;
    t.true(Math.abs(X.re[peak]! - N) < 1e-4);
    let rest = 0;
    for (let i = 0; i < N * N; i++) if (i !== peak) rest = Math.max(rest, Math.abs(X.re[i]!), Math.abs(X.im[i]!));
    t.true(rest < 1e-5, `leakage ${rest}`);
  }
});

test('a delta at the origin gives a flat spectrum 1/N', (t) => {
  const N = 16;
  const re = new Float32Array(N * N);
  re[0] = 1;
  const X = fft2Shifted(re, new Float32Array(N * N), N);
  for (let i = 0; i < N * N; i++) t.true(Math.abs(X.re[i]! - 1 / N) < 1e-7 && Math.abs(X.im[i]!) < 1e-7);
});

test('farFieldAmplitude = |fft2Shifted| and writes into a given buffer', (t) => {
  for (const N of [16, 12]) {
    const x = randomField(N, 7);
    const X = fft2Shifted(x.re, x.im, N);
    const out = new Float32Array(N * N);
    const a = farFieldAmplitude(x.re, x.im, N, out);
    t.is(a, out);
    for (let i = 0; i < N * N; i++) t.true(Math.abs(a[i]! - Math.hypot(X.re[i]!, X.im[i]!)) < 1e-5);
  }
});

test('inputs are not modified, and wrong sizes are refused', (t) => {
  const x = randomField(8, 3);
  const copy = Float32Array.from(x.re);
  fft2Shifted(x.re, x.im, 8);
  t.deepEqual(x.re, copy);
  t.throws(() => fft2Shifted(x.re, x.im, 7), { instanceOf: OptionsError });
  t.throws(() => ifft2Shifted(x.re, x.im, 0), { instanceOf: OptionsError });
});

// The engines' 2-D DFT (fft-scrambled.ts): the forward transform matches a
// naive DFT at every position its `order` names, for power-of-two sizes with
// an even and an odd number of radix-2 factors and for sizes that fall back
// to fftjs.ts; the inverse undoes it (N² times the input), and it agrees with
// dft2InPlaceTransposed after re-indexing.
import test from 'ava';
import { dft2Scrambled, scrambledPlan } from '../../src/physics/fft-scrambled.js';
import { dft2InPlaceTransposed } from '../../src/physics/fftjs.js';
import { Rng } from '../../src/util/rng.js';

function field(N: number, seed: number): { re: Float64Array; im: Float64Array } {
  const rng = new Rng(seed);
  return { re: Float64Array.from({ length: N * N }, () => rng.normal()), im: Float64Array.from({ length: N * N }, () => rng.normal()) };
}

/** X[ky][kx] = Σ x[y][x]·exp(−2πi(ky·y + kx·x)/N), by the definition (rows, then columns). */
function naiveDft2(re: Float64Array, im: Float64Array, N: number): { re: Float64Array; im: Float64Array } {
  const dft = (src: { re: Float64Array; im: Float64Array }, along: 'x' | 'y'): { re: Float64Array; im: Float64Array } => {
    const out = { re: new Float64Array(N * N), im: new Float64Array(N * N) };
    for (let i = 0; i < N; i++) {
      for (let k = 0; k < N; k++) {
        let sr = 0,
          si = 0;
        for (let n = 0; n < N; n++) {
          const t = along === 'x' ? i * N + n : n * N + i,
            ang = (-2 * Math.PI * ((k * n) % N)) / N;
          sr += src.re[t]! * Math.cos(ang) - src.im[t]! * Math.sin(ang);
          si += src.re[t]! * Math.sin(ang) + src.im[t]! * Math.cos(ang);
        }
        const o = along === 'x' ? i * N + k : k * N + i;
        out.re[o] = sr;
        out.im[o] = si;
      }
    }
    return out;
  };
  return dft(dft({ re, im }, 'x'), 'y');
}

for (const N of [1, 2, 4, 8, 16, 32, 64, 6, 12]) {
  test(`N = ${N}: forward is the DFT at the positions of order, inverse returns N² times the input`, (t) => {
    const x = field(N, N),
      want = naiveDft2(x.re, x.im, N),
      wr = Float64Array.from(x.re),
      wi = Float64Array.from(x.im),
      { order } = scrambledPlan(N);
    t.deepEqual(
      Array.from(order).sort((a, b) => a - b),
      Array.from({ length: N }, (_, k) => k),
      'order is a permutation',
    );
    dft2Scrambled(wr, wi, N, false);
    let worst = 0;
    for (let s = 0; s < N; s++)
      for (let r = 0; r < N; r++) {
        const k = order[r]! * N + order[s]!;
        worst = Math.max(worst, Math.abs(wr[s * N + r]! - want.re[k]!), Math.abs(wi[s * N + r]! - want.im[k]!));
      }
    t.true(worst < 1e-9 * N * N, `largest difference from the naive DFT ${worst}`);
    dft2Scrambled(wr, wi, N, true);
    let back = 0;
    for (let k = 0; k < N * N; k++) back = Math.max(back, Math.abs(wr[k]! / (N * N) - x.re[k]!), Math.abs(wi[k]! / (N * N) - x.im[k]!));
    t.true(back < 1e-12, `round trip ${back}`);
  });
}

test('N = 16 digit-reversed order, and agreement with dft2InPlaceTransposed at N = 128', (t) => {
  // Radix-4 twice: position 4·j0 + j1 holds frequency j0 + 4·j1.
  t.deepEqual(Array.from(scrambledPlan(16).order), [0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15]);
  const N = 128,
    x = field(N, 7),
    a = { re: Float64Array.from(x.re), im: Float64Array.from(x.im) },
    b = { re: Float64Array.from(x.re), im: Float64Array.from(x.im) },
    { order } = scrambledPlan(N);
  dft2Scrambled(a.re, a.im, N, false);
  dft2InPlaceTransposed(b.re, b.im, N, false);
  let worst = 0;
  for (let s = 0; s < N; s++)
    for (let r = 0; r < N; r++) {
      const k = order[s]! * N + order[r]!;
      worst = Math.max(worst, Math.abs(a.re[s * N + r]! - b.re[k]!), Math.abs(a.im[s * N + r]! - b.im[k]!));
    }
  t.true(worst < 1e-8, `largest difference ${worst}`);
});

test('mismatched buffers and bad sizes are typed errors', (t) => {
  t.throws(() => dft2Scrambled(new Float64Array(3), new Float64Array(3), 4, false), { name: 'OptionsError', message: /dft2Scrambled: expected 4×4/ });
  t.throws(() => scrambledPlan(0), { name: 'OptionsError', message: /positive integer/ });
});

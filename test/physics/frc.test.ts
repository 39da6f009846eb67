// FRC: identical images correlate at every ring; an ideal low-pass copy
// correlates up to its cut-off ring and not beyond, which pins the ring
// geometry, the interpolated crossing and the resolution in pixels.
import test from 'ava';
import type { Complex2D } from '../../src/pipeline/types.js';
import { Rng } from '../../src/util/rng.js';
import { crossing, frc } from '../../src/physics/frc.js';
import { fft2, signedFreq } from '../../src/physics/register.js';

function noise(h: number, w: number, seed: number): Complex2D {
  const rng = new Rng(seed);
  return { height: h, width: w, re: Float32Array.from({ length: h * w }, () => rng.normal()), im: Float32Array.from({ length: h * w }, () => rng.normal()) };
}

test('identical images give FRC ≡ 1 and no crossing', (t) => {
  const a = noise(32, 40, 1),
    r = frc(a, a);
  t.is(r.size, 32);
  t.is(r.curve.length, 17);
  t.true(r.curve.every((v) => Math.abs(v - 1) < 1e-9));
  t.deepEqual(r.freq.slice(0, 3), [0, 1 / 32, 2 / 32]);
  t.is(r.frc_half, null);
  t.is(r.frc_17, null);
});

test('a copy that keeps rings ≤ R and replaces the rest by independent noise crosses just past R', (t) => {
  // (Zeroing the outer rings would not do: FRC is scale-free per ring, so float32 round-off there correlates at random.)
  const s = 64,
    R = 12,
    a = noise(s, s, 2),
    b = noise(s, s, 5),
    F = fft2(a.re, a.im, s, s),
    G = fft2(b.re, b.im, s, s);
  for (let y = 0; y < s; y++)
    for (let x = 0; x < s; x++) {
      if (Math.round(Math.hypot(signedFreq(y, s), signedFreq(x, s))) > R) {
        F.re[y * s + x] = G.re[y * s + x]!;
        F.im[y * s + x] = G.im[y * s + x]!;
      }
    }
  const lp = fft2(F.re, F.im, s, s, true);
  const r = frc(a, { height: s, width: s, re: Float32Array.from(lp.re), im: Float32Array.from(lp.im) });
  for (let k = 0; k <= R; k++) t.true(Math.abs(r.curve[k]! - 1) < 1e-5, `ring ${k}: ${r.curve[k]}`);
  for (let k = R + 1; k < r.curve.length; k++) t.true(r.curve[k]! < 0.3, `ring ${k}: ${r.curve[k]}`);
  t.true(r.frc_half_ring! >= R + 0.5 && r.frc_half_ring! < R + 0.6, `${r.frc_half_ring}`);
  t.true(Math.abs(r.frc_half! - s / r.frc_half_ring!) < 1e-9);
  t.true(r.frc_17_ring! > R + 6 / 7 - 1e-9);
});

test('independent noise images are uncorrelated beyond the first rings', (t) => {
  const r = frc(noise(64, 64, 3), noise(64, 64, 4));
  const tail = r.curve.slice(8);
  t.true(tail.reduce((p, v) => p + v, 0) / tail.length < 0.15);
  t.not(r.frc_half, null);
});

test('crossing interpolates linearly and handles edge cases', (t) => {
  t.is(crossing([1, 0.8, 0.4, 0.1], 0.5), 1.75);
  t.is(crossing([1, 0.9], 0.5), null);
  t.is(crossing([1, 0.2], 0.5), 0.625);
  t.throws(() => frc(noise(8, 8, 1), noise(8, 9, 1)), { name: 'OptionsError' });
});

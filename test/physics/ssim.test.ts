// SSIM: 1 for identical images; the exact luminance term for flat images (pins
// C1 = (0.01·L)²); symmetry; monotone decrease with noise; window-size guard.
import test from 'ava';
import { Rng } from '../../src/util/rng.js';
import { ssim } from '../../src/physics/ssim.js';

const img = (n: number, seed: number): Float64Array => {
  const r = new Rng(seed);
  return Float64Array.from({ length: n * n }, (_, i) => Math.sin(i / 7) + 0.3 * r.normal());
};

test('identical images score 1', (t) => {
  const a = img(24, 1);
  t.true(Math.abs(ssim(a, a, 24, 24, { dataRange: 3 }).ssim - 1) < 1e-12);
});

test('flat images give the closed-form luminance term', (t) => {
  const n = 16,
    L = 2,
    mu = 0.4,
    nu = 0.7,
    C1 = (0.01 * L) ** 2;
  const r = ssim(new Float64Array(n * n).fill(mu), new Float64Array(n * n).fill(nu), n, n, { dataRange: L });
  t.true(Math.abs(r.ssim - (2 * mu * nu + C1) / (mu * mu + nu * nu + C1)) < 1e-9);
});

test('symmetric, and lower with more noise', (t) => {
  const n = 32,
    a = img(n, 2),
    rng = new Rng(9),
    e = Float64Array.from({ length: n * n }, () => rng.normal());
  const at = (s: number): Float64Array => a.map((v, i) => v + s * e[i]!);
  const s1 = ssim(a, at(0.05), n, n, { dataRange: 3 }).ssim,
    s2 = ssim(a, at(0.2), n, n, { dataRange: 3 }).ssim,
    s3 = ssim(a, at(0.8), n, n, { dataRange: 3 }).ssim;
  t.true(s1 > s2 && s2 > s3 && s3 > 0 && s1 < 1, `${s1} ${s2} ${s3}`);
  t.true(Math.abs(ssim(at(0.2), a, n, n, { dataRange: 3 }).ssim - s2) < 1e-12);
});

test('rejects a zero data range and images smaller than the window', (t) => {
  t.throws(() => ssim([1], [1], 1, 1, { dataRange: 0 }), { name: 'OptionsError' });
  t.throws(() => ssim(new Float64Array(100), new Float64Array(100), 10, 10, { dataRange: 1 }), { name: 'OptionsError' });
});

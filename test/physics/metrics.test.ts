// evaluateObject: perfect scores on identical inputs, and the expected ones
// after known perturbations (phase offset and plane, amplitude scale, Gaussian
// noise, a sub-pixel shift).
import test from 'ava';
import type { Complex2D } from '../../src/pipeline/types.js';
import { Rng } from '../../src/util/rng.js';
import { smoothObject } from './helpers.js';
import { evaluateObject } from '../../src/physics/metrics.js';
import { shiftImage } from '../../src/physics/register.js';

/** recon = truth · s · exp(i(a·x + b·y + c)). */
function perturb(z: Complex2D, s: number, a: number, b: number, c: number): Complex2D {
  const re = new Float32Array(z.re.length),
    im = new Float32Array(z.re.length);
  for (let i = 0; i < re.length; i++) {
    const x = i % z.width,
      y = Math.floor(i / z.width),
      p = a * x + b * y + c,
      co = Math.cos(p),
      si = Math.sin(p);
    re[i] = s * (z.re[i]! * co - z.im[i]! * si);
    im[i] = s * (z.re[i]! * si + z.im[i]! * co);
  }
  return { ...z, re, im };
}

test('identical inputs score perfectly (PSNR = Infinity, SSIM = 1, FRC ≡ 1)', (t) => {
  const z = smoothObject(40, 36, 1),
    r = evaluateObject(z, z);
  t.deepEqual(r.shift, [0, 0]);
  for (const s of [r.amplitude, r.phase]) {
    t.is(s.mse, 0);
    t.is(s.mae, 0);
    t.is(s.psnr, Infinity);
    t.true(Math.abs(s.ssim - 1) < 1e-9);
  }
  t.true(r.frc.curve.every((v) => Math.abs(v - 1) < 1e-6));
  t.is(r.frc.frc_half, null);
  t.deepEqual(r.crop, { x0: 0, y0: 0, x1: 36, y1: 40 });
});

test('a constant phase offset (even near ±π) and an amplitude factor of 2 are removed', (t) => {
  const z = smoothObject(32, 32, 2);
  for (const c of [1.2, 3.0, -3.1]) {
    for (const mode of ['plane', 'mean'] as const) {
      const r = evaluateObject(z, perturb(z, 2, 0, 0, c), { phase_align: mode });
      t.true(r.phase.mse < 1e-10, `${mode} c=${c}: phase mse ${r.phase.mse}`);
      t.true(r.amplitude.mse < 1e-10, `amplitude mse ${r.amplitude.mse}`);
      t.true(Math.abs(r.amplitude_factor - 0.5) < 1e-6);
      t.true(r.phase.ssim > 0.999999 && r.amplitude.ssim > 0.999999);
    }
  }
});

test('an added phase plane is recovered by plane alignment but not by the mean', (t) => {
  const z = smoothObject(48, 40, 3),
    a = 0.12,
    b = -0.21,
    c = 0.7;
  const r = evaluateObject(z, perturb(z, 1, a, b, c), { register: false });
  t.true(Math.abs(r.phase_plane.a + a) < 1e-5 && Math.abs(r.phase_plane.b + b) < 1e-5, JSON.stringify(r.phase_plane));
  t.true(r.phase.mse < 1e-9, `${r.phase.mse}`);
  const m = evaluateObject(z, perturb(z, 1, a, b, c), { register: false, phase_align: 'mean' });
  t.true(m.phase.mse > 0.5, `mean alignment leaves the plane: ${m.phase.mse}`);
});

test('Gaussian noise of σ on the real and imaginary parts gives amplitude MSE ≈ σ²', (t) => {
  const z = smoothObject(64, 64, 4),
    rng = new Rng(11),
    sigma = 0.02;
  const noisy = { ...z, re: z.re.map((v) => v + sigma * rng.normal()), im: z.im.map((v) => v + sigma * rng.normal()) };
  // Complex noise of σ per part projects to σ² along the amplitude and σ²/|z|² on the phase.
  const raw = evaluateObject(z, noisy, { register: false, phase_align: 'none', amplitude_scale: 'none' });
  t.true(Math.abs(raw.amplitude.mse / sigma ** 2 - 1) < 0.1, `raw ${raw.amplitude.mse}`);
  const full = evaluateObject(z, noisy);
  t.true(Math.abs(full.amplitude.mse / sigma ** 2 - 1) < 0.15, `full ${full.amplitude.mse}`);
  t.true(Math.abs(full.shift[0]) < 0.05 && Math.abs(full.shift[1]) < 0.05);
  t.true(full.amplitude.ssim < 1 && full.amplitude.ssim > 0.8);
  const range = full.amplitude.data_range;
  t.true(Math.abs(full.amplitude.psnr - 10 * Math.log10(range ** 2 / full.amplitude.mse)) < 1e-9);
});

test('a sub-pixel shift of the reconstruction is registered back inside a crop', (t) => {
  const z = smoothObject(64, 64, 5),
    moved = shiftImage(z, 1.3, -2.4);
  const crop = { x0: 8, y0: 8, x1: 56, y1: 56 };
  const r = evaluateObject(z, moved, { crop });
  t.true(Math.abs(r.shift[0] + 1.3) < 0.1 && Math.abs(r.shift[1] - 2.4) < 0.1, `${r.shift.join(',')}`);
  t.deepEqual(r.crop, { x0: 11, y0: 11, x1: 53, y1: 53 });
  const none = evaluateObject(z, moved, { crop, register: false });
  t.true(r.amplitude.ssim > 0.95 && r.amplitude.ssim > none.amplitude.ssim + 0.2, `${r.amplitude.ssim} vs ${none.amplitude.ssim}`);
  // A phase ramp on top must not move the complex correlation peak (it is taken out before registering).
  const ramped = evaluateObject(z, perturb(moved, 1, 0.1, -0.05, 0.3), { crop });
  t.true(Math.abs(ramped.shift[0] + 1.3) < 0.1 && Math.abs(ramped.shift[1] - 2.4) < 0.1, `${ramped.shift.join(',')}`);
  t.true(Math.abs(ramped.phase_plane.a + 0.1) < 0.005 && Math.abs(ramped.phase_plane.b - 0.05) < 0.005, JSON.stringify(ramped.phase_plane));
  t.true(ramped.phase.ssim > 0.95, `${ramped.phase.ssim}`);
  t.throws(() => evaluateObject(z, smoothObject(32, 32, 1)), { name: 'OptionsError' });
});

test('a registration shift beyond max_shift is distrusted: scored unshifted and reported', (t) => {
  const size = 48;
  const truth = { height: size, width: size, re: new Float32Array(size * size), im: new Float32Array(size * size) };
  for (let y = 0; y < size; y++)
    for (let x = 0; x < size; x++) {
      const ph = Math.sin(x / 3) * Math.cos(y / 5);
      truth.re[y * size + x] = Math.cos(ph) * (0.6 + 0.3 * Math.sin((x * y) / 40));
      truth.im[y * size + x] = Math.sin(ph) * (0.6 + 0.3 * Math.sin((x * y) / 40));
    }
  // The same object shifted by 10 px: a true shift, but larger than max_shift 4.
  const moved = shiftImage(truth, 10, 0);
  const r = evaluateObject(truth, moved, { max_shift: 4 });
  t.deepEqual(r.shift, [0, 0]);
  t.truthy(r.rejected_shift);
  t.true(Math.abs(Math.abs(r.rejected_shift![0]) - 10) < 0.1);
  const trusted = evaluateObject(truth, moved, { max_shift: 12 });
  t.is(trusted.rejected_shift, undefined);
  t.true(Math.abs(Math.abs(trusted.shift[0]) - 10) < 0.1);
});

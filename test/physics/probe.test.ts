// Probe helpers: the disk mask geometry, normalisation to mean|M·P| = 1/probe_scale,
// and the power-support rule that picks the object support.
import test from 'ava';
import { diskMask, normalizeProbe, probeSupport } from '../../src/physics/probe.js';
import type { Complex2D } from '../../src/pipeline/types.js';
import { DataError } from '../../src/errors.js';

function gaussianProbe(N: number, sigma: number, phase = 0.3): Complex2D {
  const re = new Float32Array(N * N);
  const im = new Float32Array(N * N);
  for (let y = 0; y < N; y++) {
    for (let x = 0; x < N; x++) {
      const r2 = (x - N / 2 + 0.5) ** 2 + (y - N / 2 + 0.5) ** 2;
      const a = Math.exp(-r2 / (2 * sigma * sigma));
      re[y * N + x] = a * Math.cos(phase * x);
      im[y * N + x] = a * Math.sin(phase * x);
    }
  }
  return { height: N, width: N, re, im };
}

test('diskMask: r < N/4 about the grid centre, symmetric, area ≈ π r²', (t) => {
  const N = 32;
  const m = diskMask(N);
  let area = 0;
  for (let y = 0; y < N; y++) {
    for (let x = 0; x < N; x++) {
      area += m[y * N + x]!;
      t.is(m[y * N + x], m[(N - 1 - y) * N + (N - 1 - x)]);
      t.is(m[y * N + x], m[x * N + y]);
    }
  }
  t.true(Math.abs(area - Math.PI * 64) < 0.05 * Math.PI * 64, `area ${area}`);
  t.is(m[0], 0);
  t.is(m[16 * N + 16], 1);
  t.is(m[16 * N + 8], 1); // distance 7.5 < 8
  t.is(m[16 * N + 7], 0); // distance 8.5
  t.is(
    diskMask(8, 100).reduce((a, b) => a + b, 0),
    64,
  );
});

test('normalizeProbe: mean|M·P| over the window becomes 1/probe_scale; factor returned', (t) => {
  const N = 32;
  const p = gaussianProbe(N, 5);
  const scaled: Complex2D = { ...p, re: p.re.map((v) => v * 7), im: p.im.map((v) => v * 7) };
  for (const [probeScale, mask] of [
    [4, true],
    [10, false],
  ] as const) {
    const { probe, factor } = normalizeProbe(scaled, { probeScale, mask });
    const M = mask ? diskMask(N) : new Float32Array(N * N).fill(1);
    let mean = 0;
    for (let i = 0; i < N * N; i++) mean += (M[i]! * Math.hypot(probe.re[i]!, probe.im[i]!)) / (N * N);
    t.true(Math.abs(mean - 1 / probeScale) < 1e-6, `mean ${mean}`);
    t.true(Math.abs(probe.re[100]! * factor - scaled.re[100]!) < 1e-5);
    // The file's absolute scale is discarded: the unscaled probe normalises to the same field.
    const again = normalizeProbe(p, { probeScale, mask });
    t.true(Math.abs(again.factor * 7 - factor) < 1e-5 * factor);
    t.true(Math.abs(again.probe.im[300]! - probe.im[300]!) < 1e-6);
  }
  const zero: Complex2D = { height: 8, width: 8, re: new Float32Array(64), im: new Float32Array(64) };
  t.throws(() => normalizeProbe(zero), { instanceOf: DataError });
  t.throws(() => normalizeProbe({ ...zero, width: 4 }), { instanceOf: DataError });
});

test('probeSupport: the smallest centred square holding the power fraction, and the mode', (t) => {
  const N = 32;
  // A flat square of half-width 5 (rows/cols 11..20): all power within r = 5, not r = 4.
  const re = new Float32Array(N * N);
  for (let y = 11; y < 21; y++) for (let x = 11; x < 21; x++) re[y * N + x] = 1;
  const square: Complex2D = { height: N, width: N, re, im: new Float32Array(N * N) };
  t.deepEqual(probeSupport(square, 1), { radius: 5, mode: 'center', enclosed: 1 });
  // 90 % of the flat square's power sits within r = 5 only (r = 4 holds 64 %).
  t.is(probeSupport(square, 0.9).radius, 5);
  t.is(probeSupport(square, 0.6).radius, 4);
  // A narrow Gaussian fits the central N/2 square; a wide one needs the full window.
  const narrow = probeSupport(gaussianProbe(N, 2));
  t.is(narrow.mode, 'center');
  t.true(narrow.radius <= 8 && narrow.enclosed >= 0.95);
  const wide = probeSupport(gaussianProbe(N, 8));
  t.is(wide.mode, 'full');
  t.true(wide.radius > 8 && wide.enclosed >= 0.95);
  t.throws(() => probeSupport(square, 0), { message: /fraction/ });
});

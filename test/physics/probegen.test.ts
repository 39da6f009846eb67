// Default probe geometry (power support inside the model's N/4 disk, a real
// spread of the far field) and probes from decoded arrays.
import test from 'ava';
import { DataError } from '../../src/errors.js';
import { farFieldAmplitude } from '../../src/physics/fftjs.js';
import { probeSupport } from '../../src/physics/probe.js';
import { defaultProbe, powerWithin, probeFromArray } from '../../src/physics/probegen.js';

test('default probe: peak 1, symmetric, ≥ 95 % of |P|² within N/4, centre support mode', (t) => {
  for (const N of [32, 64]) {
    const p = defaultProbe(N);
    let peak = 0;
    for (let i = 0; i < N * N; i++) peak = Math.max(peak, Math.hypot(p.re[i]!, p.im[i]!));
    t.true(Math.abs(peak - 1) < 0.01, `peak ${peak}`);
    t.true(powerWithin(p, N / 4) > 0.95, `power within N/4: ${powerWithin(p, N / 4)}`);
    t.true(powerWithin(p, N / 2) > 0.999);
    t.true(powerWithin(p, N / 10) < 0.5);
    for (let y = 0; y < N; y++) for (let x = 0; x < N; x++) t.true(Math.abs(p.re[y * N + x]! - p.re[(N - 1 - y) * N + (N - 1 - x)]!) < 1e-6);
    t.is(probeSupport(p).mode, 'center');
  }
});

test('the defocus spreads the far field: less of the power in the central 5×5 than for a flat disk', (t) => {
  const N = 64;
  const central = (rimPhase: number): number => {
    const p = defaultProbe(N, { rimPhase });
    const a = farFieldAmplitude(p.re, p.im, N);
    let inner = 0,
      total = 0;
    for (let y = 0; y < N; y++)
      for (let x = 0; x < N; x++) {
        const e = a[y * N + x]! ** 2;
        total += e;
        if (Math.abs(y - N / 2) <= 2 && Math.abs(x - N / 2) <= 2) inner += e;
      }
    return inner / total;
  };
  const flat = central(0),
    defocused = central(2 * Math.PI);
  t.true(flat > 0.8, `flat disk ${flat}`);
  t.true(defocused < 0.5 * flat, `defocused ${defocused} vs flat ${flat}`);
});

test('probeFromArray: complex interleaved, real, and first of several modes', (t) => {
  const c = probeFromArray({ shape: [2, 2], descr: '<c8', data: Float32Array.from([1, 2, 3, 4, 5, 6, 7, 8]) }, 'p.npy');
  t.deepEqual(Array.from(c.re), [1, 3, 5, 7]);
  t.deepEqual(Array.from(c.im), [2, 4, 6, 8]);
  const r = probeFromArray({ shape: [2, 2], descr: '<f8', data: Float64Array.from([1, 2, 3, 4]) }, 'p.npy');
  t.deepEqual(Array.from(r.im), [0, 0, 0, 0]);
  const m = probeFromArray({ shape: [2, 2, 2], descr: '<c16', data: Float64Array.from([1, 0, 2, 0, 3, 0, 4, 0, 9, 9, 9, 9, 9, 9, 9, 9]) }, 'p.npy');
  t.deepEqual(Array.from(m.re), [1, 2, 3, 4]);
});

test('probeFromArray refuses non-square shapes and non-finite values, naming the file', (t) => {
  const e = t.throws(() => probeFromArray({ shape: [2, 3], descr: '<f4', data: new Float32Array(6) }, 'bad.npy'), { instanceOf: DataError });
  t.regex(e.message, /bad\.npy/);
  t.throws(() => probeFromArray({ shape: [1, 1], descr: '<f4', data: Float32Array.from([NaN]) }, 'nan.npy'), { instanceOf: DataError });
  t.throws(() => probeFromArray({ shape: [4], descr: '<f4', data: new Float32Array(4) }, 'x.npy'), { instanceOf: DataError });
});

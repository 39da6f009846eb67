// extractPatch: exact windows at integer centres (SPEC §1 convention), bilinear
// values on linear ramps at sub-pixel centres, and zeros outside the object.
import { existsSync } from 'node:fs';
import path from 'node:path';
import test from 'ava';
import fc from 'fast-check';
import { farFieldAmplitude } from '../../src/physics/fftjs.js';
import { extractPatch } from '../../src/physics/patch.js';
import type { Complex2D } from '../../src/pipeline/types.js';

/** re = 1000·row + col, im = −(row + 0.5·col): every pixel identifiable, and linear. */
function ramp(h: number, w: number): Complex2D {
  const re = new Float32Array(h * w),
    im = new Float32Array(h * w);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      re[y * w + x] = 1000 * y + x;
      im[y * w + x] = -(y + 0.5 * x);
    }
  return { height: h, width: w, re, im };
}

test('integer centre: rows cy−N/2 … cy+N/2−1, columns cx−N/2 … cx+N/2−1, copied exactly', (t) => {
  const obj = ramp(40, 50);
  const N = 8;
  const p = extractPatch(obj, 20, 13, N);
  t.is(p.width, N);
  t.is(p.height, N);
  t.is(p.re[0], 1000 * 9 + 16); // row 13 − 4, column 20 − 4
  t.is(p.re[N * N - 1], 1000 * 16 + 23); // row 13 + 3, column 20 + 3
  for (let r = 0; r < N; r++) for (let c = 0; c < N; c++) t.is(p.im[r * N + c], obj.im[(9 + r) * 50 + 16 + c]);
});

test('sub-pixel centres interpolate a linear ramp exactly (bilinear)', (t) => {
  const obj = ramp(40, 50);
  fc.assert(
    fc.property(fc.double({ min: 8, max: 41, noNaN: true }), fc.double({ min: 8, max: 31, noNaN: true }), (cx, cy) => {
      const N = 8;
      const p = extractPatch(obj, cx, cy, N);
      for (let r = 0; r < N; r++) {
        for (let c = 0; c < N; c++) {
          const y = cy - N / 2 + r,
            x = cx - N / 2 + c;
          if (Math.abs(p.re[r * N + c]! - (1000 * y + x)) > 0.02) return false;
          if (Math.abs(p.im[r * N + c]! + (y + 0.5 * x)) > 1e-4) return false;
        }
      }
      return true;
    }),
    { numRuns: 50, seed: 3 },
  );
  t.pass();
});

test('half-pixel shift averages neighbours; outside the object reads zero', (t) => {
  const obj: Complex2D = { height: 4, width: 4, re: new Float32Array(16).fill(1), im: new Float32Array(16) };
  // Window centred at (0.5, 2): columns −3.5 … 3.5 − 1, half outside.
  const p = extractPatch(obj, 0.5, 2, 8);
  const row = 4; // object row 2 − 4 + 4 = 2
  t.deepEqual(Array.from(p.re.subarray(row * 8, row * 8 + 8)), [0, 0, 0, 0.5, 1, 1, 1, 0.5]);
  // Entire window off the object: all zero. Integer window partly off: zeros at the edge.
  t.true(extractPatch(obj, 100, 100, 8).re.every((v) => v === 0));
  const q = extractPatch(obj, 2, 2, 8);
  t.is(q.re[0], 0);
  t.is(q.re[2 * 8 + 2], 1);
  t.is(
    q.re.reduce((a, b) => a + b, 0),
    16,
  );
});

// Independent check of the forward model (extractPatch + farFieldAmplitude) on
// third-party data: tike's simulated scan, converted to the canonical contract
// (../shared/data/README.md §5), is reproduced to 7e-7 by summing the two probe
// modes incoherently. Needs the shared data and the npz reader.
const TIKE = path.resolve(import.meta.dirname, '../../../shared/data/tike_sim_setup/tike_ptycho_setup_canonical.npz');
const haveTike = existsSync(TIKE) && existsSync(path.resolve(import.meta.dirname, '../../src/io/npz.ts'));
(haveTike ? test : test.skip)('canonical forward model reproduces tike’s stored diffraction (2 probe modes)', async (t) => {
  const { openNpz } = await import('../../src/io/npz.js');
  const npz = await openNpz(TIKE);
  try {
    const modes = await npz.readArray('probeModes');
    const obj = await npz.readArray('objectGuess');
    const diff = await npz.readArray('diffraction');
    const xs = await npz.readArray('xcoords'),
      ys = await npz.readArray('ycoords');
    const [H, W] = obj.shape as [number, number];
    const N = modes.shape[1]!;
    const split = (d: ArrayLike<number>, off: number, n: number): { re: Float32Array; im: Float32Array } => {
      const re = new Float32Array(n),
        im = new Float32Array(n);
      for (let i = 0; i < n; i++) {
        re[i] = d[2 * (off + i)]!;
        im[i] = d[2 * (off + i) + 1]!;
      }
      return { re, im };
    };
    const o = split(obj.data as Float32Array, 0, H * W);
    const object = { height: H, width: W, re: o.re, im: o.im };
    const probes = [0, 1].map((m) => split(modes.data as Float32Array, m * N * N, N * N));
    let worst = 0;
    for (let j = 0; j < xs.shape[0]!; j++) {
      const w = extractPatch(object, Number(xs.data[j]), Number(ys.data[j]), N);
      const sum = new Float64Array(N * N);
      for (const p of probes) {
        const re = new Float32Array(N * N),
          im = new Float32Array(N * N);
        for (let k = 0; k < N * N; k++) {
          re[k] = p.re[k]! * w.re[k]! - p.im[k]! * w.im[k]!;
          im[k] = p.re[k]! * w.im[k]! + p.im[k]! * w.re[k]!;
        }
        const a = farFieldAmplitude(re, im, N);
        for (let k = 0; k < N * N; k++) sum[k]! += a[k]! * a[k]!;
      }
      const stored = diff.data as Float32Array;
      for (let k = 0; k < N * N; k++) worst = Math.max(worst, Math.abs(Math.sqrt(sum[k]!) - stored[j * N * N + k]!));
    }
    t.log(`max abs difference ${worst.toExponential(2)}`);
    t.true(worst < 1e-5, `max abs difference ${worst}`);
  } finally {
    await npz.close();
  }
});

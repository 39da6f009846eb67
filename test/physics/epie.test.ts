// The ePIE kernel on its own: the in-place transposed DFT matches the centred
// one, an exact object and probe give zero misfit and no change, one update
// with the right probe lowers the misfit of that pattern, and the position
// estimate finds a known sub-pixel displacement of a smooth object.
import test from 'ava';
import { EpieKernel, type Canvas } from '../../src/physics/epie.js';
import { dft2InPlaceTransposed, farFieldAmplitude, fft2Shifted } from '../../src/physics/fftjs.js';
import { extractPatch } from '../../src/physics/patch.js';
import { defaultProbe } from '../../src/physics/probegen.js';
import { Rng } from '../../src/util/rng.js';

const N = 32;

function smoothObject(size: number): Canvas {
  const re = new Float64Array(size * size),
    im = new Float64Array(size * size);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const a = 0.7 + 0.3 * Math.sin(x / 3.1) * Math.cos(y / 4.3),
        p = 0.8 * Math.sin(x / 5.2 + y / 3.7);
      re[y * size + x] = a * Math.cos(p);
      im[y * size + x] = a * Math.sin(p);
    }
  }
  return { width: size, height: size, re, im };
}

/** The noise-free pattern of `obj` with `probe` at window corner (sx, sy). */
function pattern(obj: Canvas, sx: number, sy: number): Float32Array {
  const p = defaultProbe(N),
    w = extractPatch({ ...obj, re: Float32Array.from(obj.re), im: Float32Array.from(obj.im) }, sx + N / 2, sy + N / 2, N);
  const re = new Float32Array(N * N),
    im = new Float32Array(N * N);
  for (let k = 0; k < N * N; k++) {
    re[k] = p.re[k]! * w.re[k]! - p.im[k]! * w.im[k]!;
    im[k] = p.re[k]! * w.im[k]! + p.im[k]! * w.re[k]!;
  }
  return farFieldAmplitude(re, im, N);
}

const probeModes = () => {
  const p = defaultProbe(N);
  return [{ re: Float64Array.from(p.re), im: Float64Array.from(p.im) }];
};

test('dft2InPlaceTransposed is the centred unitary DFT up to shift, transpose and a factor N', (t) => {
  const rng = new Rng(2),
    re = Float32Array.from({ length: N * N }, () => rng.normal()),
    im = Float32Array.from({ length: N * N }, () => rng.normal());
  const want = fft2Shifted(re, im, N),
    wr = Float64Array.from(re),
    wi = Float64Array.from(im);
  dft2InPlaceTransposed(wr, wi, N, false);
  const s = (k: number): number => (k + N / 2) % N;
  let worst = 0;
  for (let kx = 0; kx < N; kx++)
    for (let ky = 0; ky < N; ky++)
      worst = Math.max(worst, Math.abs(wr[kx * N + ky]! / N - want.re[s(ky) * N + s(kx)]!), Math.abs(wi[kx * N + ky]! / N - want.im[s(ky) * N + s(kx)]!));
  t.true(worst < 1e-5, `worst ${worst}`);
  dft2InPlaceTransposed(wr, wi, N, true);
  let back = 0;
  for (let k = 0; k < N * N; k++) back = Math.max(back, Math.abs(wr[k]! / (N * N) - re[k]!));
  t.true(back < 1e-5, `round trip ${back}`);
  t.throws(() => dft2InPlaceTransposed(new Float64Array(3), new Float64Array(3), N, false), { name: 'OptionsError' });
});

test('exact object and probe: zero misfit and the object stays as it is', (t) => {
  const obj = smoothObject(64),
    copy = Float64Array.from(obj.re);
  const k = new EpieKernel(N, obj, probeModes(), 1);
  const r = k.update(pattern(obj, 10, 12), 10, 12, { object: 1, probe: 0, position: false });
  t.true(r.error / r.energy < 1e-10, `relative misfit ${r.error / r.energy}`);
  let change = 0;
  for (let i = 0; i < copy.length; i++) change = Math.max(change, Math.abs(obj.re[i]! - copy[i]!));
  t.true(change < 1e-5, `largest change ${change}`);
});

test("one update from a wrong object lowers that pattern's misfit", (t) => {
  const truth = smoothObject(64),
    A = pattern(truth, 16, 8);
  const flat: Canvas = { width: 64, height: 64, re: new Float64Array(64 * 64).fill(0.7), im: new Float64Array(64 * 64) };
  const k = new EpieKernel(N, flat, probeModes(), 1);
  const first = k.update(A, 16, 8, { object: 1, probe: 0, position: false });
  const second = k.predict(A, 16, 8);
  const misfit = second.aa - 2 * second.ax + second.xx;
  t.true(misfit < first.error / 4, `misfit ${first.error} → ${misfit}`);
});

test('the position estimate finds a known displacement of a smooth object', (t) => {
  const obj = smoothObject(80);
  for (const [dx, dy] of [
    [0.4, -0.3],
    [-0.25, 0.5],
  ] as const) {
    const A = pattern(obj, 20 + dx, 24 + dy);
    const k = new EpieKernel(N, { ...obj, re: Float64Array.from(obj.re), im: Float64Array.from(obj.im) }, probeModes(), 1);
    const r = k.update(A, 20, 24, { object: 0, probe: 0, position: true });
    t.log(`true (${dx}, ${dy}), estimated (${r.dx.toFixed(3)}, ${r.dy.toFixed(3)})`);
    t.true(Math.abs(r.dx - dx) < 0.1 && Math.abs(r.dy - dy) < 0.1, `estimated (${r.dx}, ${r.dy}) for (${dx}, ${dy})`);
    t.true(Math.sign(r.dx) === Math.sign(dx) && Math.sign(r.dy) === Math.sign(dy));
  }
  t.throws(() => new EpieKernel(N, obj, probeModes(), 0), { name: 'OptionsError' });
  t.throws(() => new EpieKernel(N, obj, [{ re: new Float64Array(4), im: new Float64Array(4) }], 1), { name: 'OptionsError' });
});

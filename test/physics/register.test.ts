// FFT helper against a direct DFT, and registration of known integer and
// sub-pixel shifts (Fourier-shifted copies) to within 0.05 px.
import test from 'ava';
import type { Complex2D } from '../../src/pipeline/types.js';
import { Rng } from '../../src/util/rng.js';
import { smoothObject } from './helpers.js';
import { fft1d, fft2, registerShift, shiftImage } from '../../src/physics/register.js';

test('fft1d matches a direct DFT for power-of-two and other lengths, and inverts', (t) => {
  for (const n of [1, 2, 8, 12, 15, 37]) {
    const rng = new Rng(n),
      re = Float64Array.from({ length: n }, () => rng.normal()),
      im = Float64Array.from({ length: n }, () => rng.normal());
    const fr = Float64Array.from(re),
      fi = Float64Array.from(im);
    fft1d(fr, fi);
    for (let k = 0; k < n; k++) {
      let sr = 0,
        si = 0;
      for (let j = 0; j < n; j++) {
        const a = (-2 * Math.PI * j * k) / n;
        sr += re[j]! * Math.cos(a) - im[j]! * Math.sin(a);
        si += re[j]! * Math.sin(a) + im[j]! * Math.cos(a);
      }
      t.true(Math.abs(sr - fr[k]!) < 1e-9 && Math.abs(si - fi[k]!) < 1e-9, `n=${n} k=${k}`);
    }
    const back = fft2(fr, fi, 1, n, true);
    t.true(back.re.every((v, i) => Math.abs(v - re[i]!) < 1e-9));
  }
});

test('registerShift recovers integer shifts of a rectangular image exactly', (t) => {
  const img = smoothObject(40, 48, 3);
  for (const [dy, dx] of [
    [3, -5],
    [-7, 2],
    [0, 0],
  ] as const) {
    const moved = shiftImage(img, dy, dx);
    const { shift } = registerShift(img, moved);
    t.true(Math.abs(shift[0] + dy) < 1e-9 && Math.abs(shift[1] + dx) < 1e-9, `${shift.join(',')} for ${dy},${dx}`);
  }
});

test('registerShift recovers sub-pixel shifts to ±0.05 px (complex and amplitude-only)', (t) => {
  const img = smoothObject(48, 40, 7);
  const amp = (z: Complex2D): Complex2D => ({ ...z, re: z.re.map((r, i) => Math.hypot(r, z.im[i]!)), im: new Float32Array(z.re.length) });
  for (const [dy, dx] of [
    [0.3, -1.7],
    [2.46, 0.12],
    [-0.5, 0.5],
  ] as const) {
    const moved = shiftImage(img, dy, dx);
    const c = registerShift(img, moved).shift,
      a = registerShift(amp(img), shiftImage(amp(img), dy, dx)).shift;
    t.true(Math.abs(c[0] + dy) <= 0.05 && Math.abs(c[1] + dx) <= 0.05, `complex ${c.join(',')} for ${dy},${dx}`);
    t.true(Math.abs(a[0] + dy) <= 0.05 && Math.abs(a[1] + dx) <= 0.05, `amplitude ${a.join(',')} for ${dy},${dx}`);
    // Applying the found shift puts the image back.
    const back = shiftImage(moved, c[0], c[1]);
    let err = 0;
    for (let i = 0; i < back.re.length; i++) err = Math.max(err, Math.abs(back.re[i]! - img.re[i]!));
    t.true(err < 0.05, `max error ${err}`);
  }
});

test('shiftImage moves content by +dy rows, +dx columns', (t) => {
  const re = new Float32Array(16 * 16);
  re[8 * 16 + 8] = 1;
  const s = shiftImage({ height: 16, width: 16, re, im: new Float32Array(256) }, 3, 2);
  t.true(Math.abs(s.re[11 * 16 + 10]! - 1) < 1e-6);
});

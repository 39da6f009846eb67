// Synthetic objects: ranges of amplitude and phase, determinism per seed,
// resizing, and the correlation length of the Gaussian random field.
import path from 'node:path';
import test from 'ava';
import { readGrayPng } from '../../src/io/png.js';
import {
  composeObject,
  cropSquare,
  gaussianBlur,
  gaussianRandomField,
  grfObject,
  linesObject,
  objectFromImages,
  resizeGray,
} from '../../src/physics/objects.js';
import type { Complex2D } from '../../src/pipeline/types.js';
import { Rng } from '../../src/util/rng.js';

const FIX = path.resolve(import.meta.dirname, '../fixtures/images');

function ampPhase(o: Complex2D): { amp: number[]; phase: number[] } {
  const amp: number[] = [],
    phase: number[] = [];
  for (let i = 0; i < o.re.length; i++) {
    amp.push(Math.hypot(o.re[i]!, o.im[i]!));
    phase.push(Math.atan2(o.im[i]!, o.re[i]!));
  }
  return { amp, phase };
}

function checkRanges(t: { true: (v: boolean, m?: string) => void }, o: Complex2D, ampMin: number, phaseRange: number): void {
  const { amp, phase } = ampPhase(o);
  const [a0, a1] = [Math.min(...amp), Math.max(...amp)],
    [p0, p1] = [Math.min(...phase), Math.max(...phase)];
  t.true(Math.abs(a0 - ampMin) < 1e-5 && Math.abs(a1 - 1) < 1e-5, `amplitude ${a0} … ${a1}`);
  t.true(Math.abs(p0 + phaseRange / 2) < 1e-5 && Math.abs(p1 - phaseRange / 2) < 1e-5, `phase ${p0} … ${p1}`);
}

test('composeObject maps maps to [amp_min, 1] and [−range/2, range/2]; a constant map gives amplitude 1', (t) => {
  const a = Float32Array.from([0, 2, 4, 1]),
    p = Float32Array.from([5, 6, 7, 8]);
  checkRanges(t, composeObject(a, p, 2, 2, { ampMin: 0.2, phaseRange: 2 }), 0.2, 2);
  const flat = composeObject(new Float32Array(4).fill(3), p, 2, 2);
  t.true(ampPhase(flat).amp.every((v) => Math.abs(v - 1) < 1e-6));
});

test('objectFromImages: size, ranges, deterministic, follows the images', async (t) => {
  const cam = await readGrayPng(path.join(FIX, 'camera128.png'));
  const ph = await readGrayPng(path.join(FIX, 'phantom128.png'));
  const o = objectFromImages(cam, ph, 64, { ampMin: 0.4, phaseRange: Math.PI });
  t.is(o.width, 64);
  t.is(o.height, 64);
  checkRanges(t, o, 0.4, Math.PI);
  t.deepEqual(objectFromImages(cam, ph, 64, { ampMin: 0.4 }), objectFromImages(cam, ph, 64, { ampMin: 0.4 }));
  // Phantom background (corner) is dark → lowest phase; camera sky (top-left) is bright → high amplitude.
  const { amp, phase } = ampPhase(o);
  t.true(phase[0]! < -1.4);
  t.true(amp[2 * 64 + 2]! > 0.8);
});

test('resizeGray keeps constants and linear ramps; cropSquare takes the centre', (t) => {
  const w = 40,
    h = 30;
  const data = new Float32Array(w * h);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) data[y * w + x] = 2 * x + 0.5 * y;
  const sq = cropSquare({ width: w, height: h, data });
  t.is(sq.width, 30);
  t.is(sq.data[0], 2 * 5);
  for (const size of [15, 60]) {
    const r = resizeGray(sq, size, size);
    const s = 30 / size;
    // Interior pixels of a ramp resample to the ramp at the pixel-centre position.
    const x = Math.floor(size / 2),
      y = Math.floor(size / 3);
    const want = 2 * (5 + (x + 0.5) * s - 0.5) + 0.5 * ((y + 0.5) * s - 0.5);
    t.true(Math.abs(r.data[y * size + x]! - want) < 1e-3, `${size}: ${r.data[y * size + x]} vs ${want}`);
  }
  t.true(resizeGray({ width: 3, height: 3, data: new Float32Array(9).fill(0.7) }, 8, 5).data.every((v) => Math.abs(v - 0.7) < 1e-6));
});

test('linesObject: deterministic per seed, different seeds differ, ranges respected', (t) => {
  const a = linesObject(48, new Rng(5), { ampMin: 0.6, phaseRange: 1 });
  const b = linesObject(48, new Rng(5), { ampMin: 0.6, phaseRange: 1 });
  const c = linesObject(48, new Rng(6), { ampMin: 0.6, phaseRange: 1 });
  t.deepEqual(a, b);
  t.notDeepEqual(a.re, c.re);
  checkRanges(t, a, 0.6, 1);
});

test('gaussianRandomField: zero mean, correlation exp(−d²/4ℓ²) at lag d', (t) => {
  const size = 96,
    ell = 3;
  const f = gaussianRandomField(size, new Rng(11), ell);
  let mean = 0,
    v = 0,
    c = 0;
  for (const x of f) mean += x / f.length;
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const a = f[y * size + x]! - mean;
      v += a * a;
      c += a * (f[y * size + ((x + ell) % size)]! - mean) + a * (f[((y + ell) % size) * size + x]! - mean);
    }
  }
  const corr = c / (2 * v);
  t.true(Math.abs(corr - Math.exp(-0.25)) < 0.08, `lag-ℓ correlation ${corr}`);
  t.true(Math.abs(mean) < 0.3 * Math.sqrt(v / f.length), `mean ${mean}`);
});

test('grfObject: deterministic, ranges, amplitude and phase independent', (t) => {
  const a = grfObject(40, new Rng(2), { correlationLength: 2, ampMin: 0.3, phaseRange: 2 });
  t.deepEqual(a, grfObject(40, new Rng(2), { correlationLength: 2, ampMin: 0.3, phaseRange: 2 }));
  t.notDeepEqual(a.re, grfObject(40, new Rng(3), { correlationLength: 2, ampMin: 0.3, phaseRange: 2 }).re);
  checkRanges(t, a, 0.3, 2);
  const { amp, phase } = ampPhase(a);
  const ma = amp.reduce((s, x) => s + x, 0) / amp.length,
    mp = phase.reduce((s, x) => s + x, 0) / phase.length;
  let sab = 0,
    saa = 0,
    sbb = 0;
  for (let i = 0; i < amp.length; i++) {
    sab += (amp[i]! - ma) * (phase[i]! - mp);
    saa += (amp[i]! - ma) ** 2;
    sbb += (phase[i]! - mp) ** 2;
  }
  t.true(Math.abs(sab / Math.sqrt(saa * sbb)) < 0.3);
});

test('gaussianBlur preserves the mean of a constant and smooths a spike', (t) => {
  const d = new Float32Array(121);
  d[60] = 1;
  const b = gaussianBlur(d, 11, 11, 1.5);
  t.true(Math.abs(b.reduce((s, x) => s + x, 0) - 1) < 1e-4);
  t.true(b[60]! < 0.1 && b[61]! > 0);
  t.deepEqual(gaussianBlur(d, 11, 11, 0), d);
});

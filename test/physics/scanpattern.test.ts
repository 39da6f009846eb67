// Scan positions: always within [N/2 + margin, size − N/2 − margin], raster
// geometry, jitter and random draws deterministic per seed.
import test from 'ava';
import fc from 'fast-check';
import { OptionsError } from '../../src/errors.js';
import { randomPositions, rasterPositions, scanBounds, spiralPositions } from '../../src/physics/scanpattern.js';
import { Rng } from '../../src/util/rng.js';

test('raster without jitter: integer grid, centred, row-major, step apart', (t) => {
  const area = { width: 100, height: 80, N: 32 };
  const p = rasterPositions(area, new Rng(1), { step: 8 });
  // x in [16, 84]: 9 columns 16…80 centred → start 16 + floor((68 − 64)/2) = 18; y in [16, 64]: 7 rows from 16.
  t.is(p.x.length, 9 * 7);
  t.is(p.x[0], 18);
  t.is(p.x[8], 82);
  t.is(p.y[0], 16);
  t.is(p.y[9], 24);
  t.is(p.y[p.y.length - 1], 64);
  t.true(p.x.every(Number.isInteger) && p.y.every(Number.isInteger));
  // Default step N/8.
  const d = rasterPositions(area, new Rng(1));
  t.is(d.x[1]! - d.x[0]!, 4);
});

test('raster with count fits the step and truncates; too many positions is an OptionsError', (t) => {
  const area = { width: 128, height: 128, N: 32 };
  const p = rasterPositions(area, new Rng(1), { count: 20 });
  t.is(p.x.length, 20);
  t.is(p.x[0], 16);
  t.is(p.x[4], 112);
  t.throws(() => rasterPositions(area, new Rng(1), { step: 48, count: 10 }), { instanceOf: OptionsError });
  t.throws(() => rasterPositions({ width: 30, height: 60, N: 32 }, new Rng(1)), { instanceOf: OptionsError });
});

test('positions stay within bounds for any geometry, jitter and seed; same seed gives the same scan', (t) => {
  fc.assert(
    fc.property(
      fc.integer({ min: 8, max: 64 }),
      fc.integer({ min: 0, max: 60 }),
      fc.integer({ min: 0, max: 60 }),
      fc.integer({ min: 0, max: 6 }),
      fc.double({ min: 0, max: 10, noNaN: true }),
      fc.integer({ min: 0, max: 1e6 }),
      (N, extraW, extraH, margin, jitter, seed) => {
        const area = { width: N + 2 * margin + extraW, height: N + 2 * margin + extraH, N, margin };
        const b = scanBounds(area);
        for (const p of [rasterPositions(area, new Rng(seed), { jitter, step: 3 }), randomPositions(area, new Rng(seed), 30)]) {
          for (let i = 0; i < p.x.length; i++) {
            if (p.x[i]! < b.xmin || p.x[i]! > b.xmax || p.y[i]! < b.ymin || p.y[i]! > b.ymax) return false;
          }
        }
        const a = randomPositions(area, new Rng(seed), 5),
          c = randomPositions(area, new Rng(seed), 5);
        return a.x.every((v, i) => v === c.x[i]) && a.y.every((v, i) => v === c.y[i]);
      },
    ),
    { numRuns: 100, seed: 9 },
  );
  t.pass();
});

test('jitter has the requested spread and differs between seeds', (t) => {
  const area = { width: 400, height: 400, N: 32 };
  const base = rasterPositions(area, new Rng(1), { step: 16 });
  const j = rasterPositions(area, new Rng(1), { step: 16, jitter: 1.5 });
  let s = 0;
  for (let i = 0; i < j.x.length; i++) s += (j.x[i]! - base.x[i]!) ** 2 + (j.y[i]! - base.y[i]!) ** 2;
  const sigma = Math.sqrt(s / (2 * j.x.length));
  t.true(Math.abs(sigma - 1.5) < 0.15, `σ ${sigma}`);
  t.notDeepEqual(j.x, rasterPositions(area, new Rng(2), { step: 16, jitter: 1.5 }).x);
});

test('spiral: Fermat spiral inside the bounds, sub-pixel, deterministic, count honoured', (t) => {
  const area = { width: 96, height: 96, N: 32 };
  const p = spiralPositions(area, { step: 3 });
  t.true(p.x.length > 30);
  const { xmin, xmax, ymin, ymax } = scanBounds(area);
  for (let i = 0; i < p.x.length; i++) {
    t.true(p.x[i]! >= xmin && p.x[i]! <= xmax && p.y[i]! >= ymin && p.y[i]! <= ymax);
  }
  t.true(
    Array.from(p.x).some((v) => Math.abs(v - Math.round(v)) > 0.05),
    'sub-pixel positions',
  );
  t.deepEqual(spiralPositions(area, { step: 3 }), p);
  t.is(spiralPositions(area, { step: 3, count: 10 }).x.length, 10);
  t.throws(() => spiralPositions(area, { step: 3, count: 100000 }), { message: /fits/ });
});

// Stitching ground-truth patches back reproduces the object: exactly for integer
// positions, within interpolation error for sub-pixel ones; uncovered pixels are 0.
import test from 'ava';
import { canvasSizeFor, StitchCanvas } from '../../src/physics/stitch.js';

const H = 40,
  W = 44,
  N = 16;
const f = (x: number, y: number): [number, number] => [1 + 0.5 * Math.sin(x / 4) * Math.cos(y / 5), 0.3 * Math.cos(x / 6 + y / 7)];

/** N×N patch centred at (cx, cy) (SPEC §1: patch row r is object row cy − N/2 + r), sampled from f. */
function patch(cx: number, cy: number): { re: Float32Array; im: Float32Array } {
  const re = new Float32Array(N * N),
    im = new Float32Array(N * N);
  for (let r = 0; r < N; r++)
    for (let c = 0; c < N; c++) {
      const [a, b] = f(cx - N / 2 + c, cy - N / 2 + r);
      re[r * N + c] = a;
      im[r * N + c] = b;
    }
  return { re, im };
}

test('integer positions reproduce the object exactly where covered, 0 elsewhere', (t) => {
  const canvas = new StitchCanvas(H, W, { N });
  const pos: [number, number][] = [];
  for (let y = 12; y <= 28; y += 4) for (let x = 12; x <= 32; x += 4) pos.push([x, y]);
  for (const [x, y] of pos) {
    const p = patch(x, y);
    canvas.add(p.re, p.im, N, x, y);
  }
  const { object, weight, covered } = canvas.result();
  let covers = 0;
  for (let y = 0; y < H; y++)
    for (let x = 0; x < W; x++) {
      const i = y * W + x,
        inside = x >= 8 && x < 36 && y >= 8 && y < 32; // positions ± M/2 with M = 8
      t.is(covered[i], inside ? 1 : 0, `(${x},${y})`);
      if (inside) {
        covers++;
        const [a, b] = f(x, y);
        if (Math.abs(object.re[i]! - a) > 1e-6 || Math.abs(object.im[i]! - b) > 1e-6) t.fail(`pixel (${x},${y})`);
      } else if (object.re[i] !== 0 || weight[i] !== 0) t.fail(`uncovered pixel (${x},${y}) not 0`);
    }
  t.is(covers, 28 * 24);
  t.is(weight[20 * W + 20], 4); // M=8 windows every 4 px overlap twice per axis
});

test('sub-pixel positions are splatted bilinearly (weights sum to the patch area) within interpolation error', (t) => {
  const canvas = new StitchCanvas(H, W, { N, M: 12 });
  let maxErr = 0;
  const pos: [number, number][] = [];
  for (let y = 12.3; y <= 28; y += 3.1) for (let x = 12.6; x <= 32; x += 2.7) pos.push([x, y]);
  for (const [x, y] of pos) {
    const p = patch(x, y);
    canvas.add(p.re, p.im, N, x, y);
  }
  const { object, weight, covered } = canvas.result();
  let total = 0;
  for (let i = 0; i < weight.length; i++) total += weight[i]!;
  t.true(Math.abs(total - pos.length * 144) < 1e-3);
  for (let y = 10; y < 30; y++)
    for (let x = 10; x < 34; x++) {
      const i = y * W + x;
      t.is(covered[i], 1);
      const [a, b] = f(x, y);
      maxErr = Math.max(maxErr, Math.abs(object.re[i]! - a), Math.abs(object.im[i]! - b));
    }
  // |∇f| ≤ ~0.18 per px: a one-pixel splat can be off by at most ~0.5 px of gradient.
  t.log(`sub-pixel stitch max error ${maxErr.toFixed(4)}`);
  t.true(maxErr < 0.06, `max error ${maxErr}`);
  t.true(maxErr > 0, 'sub-pixel stitching is an interpolation, not exact');
});

test('alignPhase undoes a random global phase per patch: one common phase remains, exact for integer positions', (t) => {
  const pos: [number, number][] = [];
  for (let y = 12; y <= 28; y += 4) for (let x = 12; x <= 32; x += 4) pos.push([x, y]);
  const stitch = (align: boolean): { re: Float32Array; im: Float32Array; covered: Uint8Array; aligned: number } => {
    const canvas = new StitchCanvas(H, W, { N, alignPhase: align });
    pos.forEach(([x, y], k) => {
      const p = patch(x, y);
      const th = 2.1 * Math.sin(7.3 * k + 0.4); // a different offset per patch, up to ±2.1 rad
      const c = Math.cos(th),
        s = Math.sin(th);
      const re = p.re.map((v, i) => v * c - p.im[i]! * s),
        im = p.re.map((v, i) => v * s + p.im[i]! * c);
      canvas.add(re, im, N, x, y);
    });
    const { object, covered } = canvas.result();
    return { re: object.re, im: object.im, covered, aligned: canvas.aligned };
  };
  // Error after removing the best single global phase.
  const errAfterGlobal = (o: { re: Float32Array; im: Float32Array; covered: Uint8Array }): number => {
    let sr = 0,
      si = 0;
    for (let i = 0; i < o.re.length; i++) {
      if (o.covered[i] === 0) continue;
      const [a, b] = f(i % W, Math.floor(i / W));
      sr += a * o.re[i]! + b * o.im[i]!;
      si += a * o.im[i]! - b * o.re[i]!;
    }
    const phi = Math.atan2(si, sr),
      c = Math.cos(phi),
      s = Math.sin(phi);
    let err = 0;
    for (let i = 0; i < o.re.length; i++) {
      if (o.covered[i] === 0) continue;
      const [a, b] = f(i % W, Math.floor(i / W));
      err = Math.max(err, Math.hypot(o.re[i]! - (a * c - b * s), o.im[i]! - (a * s + b * c)));
    }
    return err;
  };
  const aligned = stitch(true),
    plain = stitch(false);
  t.is(aligned.aligned, pos.length - 1, 'every patch but the first overlaps the canvas');
  t.true(errAfterGlobal(aligned) < 1e-5, `aligned error ${errAfterGlobal(aligned)}`);
  t.true(errAfterGlobal(plain) > 0.2, `unaligned patches should disagree, error ${errAfterGlobal(plain)}`);
});

test('canvasSizeFor covers every patch window and maps positions through the origin', (t) => {
  const xs = [100.5, 140.2, 120],
    ys = [-20, 30.7, 0];
  const L = canvasSizeFor(xs, ys, N);
  t.deepEqual([L.originX, L.originY], [92, -28]);
  t.is(L.width, Math.ceil(140.2 + 8) - 92 + 1);
  t.is(L.height, Math.ceil(30.7 + 8) + 28 + 1);
  const canvas = new StitchCanvas(L.height, L.width, { N, M: N, originX: L.originX, originY: L.originY });
  for (let k = 0; k < 3; k++) {
    const p = patch(xs[k]!, ys[k]!);
    canvas.add(p.re, p.im, N, xs[k]!, ys[k]!);
  }
  const r = canvas.result();
  let w = 0;
  for (let i = 0; i < r.weight.length; i++) w += r.weight[i]!;
  t.true(Math.abs(w - 3 * N * N) < 1e-3, 'nothing fell off the canvas');
  t.throws(() => canvasSizeFor([], [], N), { name: 'OptionsError' });
  t.throws(() => canvas.add(new Float32Array(4), new Float32Array(4), 2, 0, 0), { name: 'OptionsError' });
});

test("window 'taper': consistent patches still reproduce the object exactly; of two disagreeing patches, the one centred nearer wins", (t) => {
  const canvas = new StitchCanvas(H, W, { N, M: N, window: 'taper' });
  for (let y = 12; y <= 28; y += 4)
    for (let x = 12; x <= 32; x += 4) {
      const p = patch(x, y);
      canvas.add(p.re, p.im, N, x, y);
    }
  const { object, covered } = canvas.result();
  for (let y = 4; y < 36; y++)
    for (let x = 4; x < 40; x++) {
      const i = y * W + x;
      t.is(covered[i], 1);
      const [a, b] = f(x, y);
      if (Math.abs(object.re[i]! - a) > 1e-5 || Math.abs(object.im[i]! - b) > 1e-5) t.fail(`pixel (${x},${y})`);
    }
  // Constant patches 1 at x = 14 and 3 at x = 26 (same row) overlap on x = 18..21, whose middle is
  // 19.5: flat weights give the plain mean 2 there, the taper leans to the patch centred nearer
  // (1 at x = 19, 3 at x = 20, symmetrically).
  const one = { re: new Float32Array(N * N).fill(1), im: new Float32Array(N * N) };
  const three = { re: new Float32Array(N * N).fill(3), im: new Float32Array(N * N) };
  const at = (window: 'flat' | 'taper', x: number): number => {
    const c = new StitchCanvas(H, W, { N, M: N, window });
    c.add(one.re, one.im, N, 14, 20);
    c.add(three.re, three.im, N, 26, 20);
    return c.result().object.re[20 * W + x]!;
  };
  t.true(Math.abs(at('flat', 19) - 2) < 1e-6 && Math.abs(at('flat', 20) - 2) < 1e-6);
  t.true(at('taper', 19) < 1.6, `${at('taper', 19)}`);
  t.true(at('taper', 20) > 2.4, `${at('taper', 20)}`);
  t.true(Math.abs(at('taper', 19) + at('taper', 20) - 4) < 1e-5);
  t.is(at('taper', 16), 1, 'covered by one patch only');
});

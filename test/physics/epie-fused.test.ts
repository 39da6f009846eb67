// The fused known-probe update (epie-fused.ts) against the kernel's general
// path: the same canvas after a run of updates and the same misfit, at sizes
// of radix-4 stages only (16, 64) and with a radix-2 stage (8, 32), and with
// rPIE's weights; N = 2, 4 and sizes that are not powers of two do not fuse.
import test from 'ava';
import { fusable } from '../../src/physics/epie-fused.js';
import { EpieKernel, type Canvas } from '../../src/physics/epie.js';
import { scrambledPlan } from '../../src/physics/fft-scrambled.js';
import { farFieldAmplitude } from '../../src/physics/fftjs.js';
import { defaultProbe } from '../../src/physics/probegen.js';
import { Rng } from '../../src/util/rng.js';

function randomCanvas(size: number, rng: Rng): Canvas {
  const re = new Float64Array(size * size),
    im = new Float64Array(size * size);
  for (let i = 0; i < size * size; i++) {
    const a = 0.6 + 0.3 * rng.uniform(),
      p = rng.normal();
    re[i] = a * Math.cos(p);
    im[i] = a * Math.sin(p);
  }
  return { width: size, height: size, re, im };
}

/** The far-field amplitude of P·O at window corner (sx, sy). */
function pattern(obj: Canvas, probe: { re: Float32Array; im: Float32Array }, N: number, sx: number, sy: number): Float32Array {
  const re = new Float32Array(N * N),
    im = new Float32Array(N * N);
  for (let r = 0; r < N; r++)
    for (let c = 0; c < N; c++) {
      const t = r * N + c,
        o = (sy + r) * obj.width + sx + c;
      re[t] = probe.re[t]! * obj.re[o]! - probe.im[t]! * obj.im[o]!;
      im[t] = probe.re[t]! * obj.im[o]! + probe.im[t]! * obj.re[o]!;
    }
  return farFieldAmplitude(re, im, N);
}

for (const [N, alpha] of [
  [8, 1],
  [16, 1],
  [32, 1],
  [64, 1],
  [64, 0.3],
] as const) {
  test(`N = ${N}, alpha ${alpha}: the fused update matches the general path`, (t) => {
    t.true(fusable(scrambledPlan(N)), 'this size takes the fused path');
    const rng = new Rng(N),
      side = 2 * N,
      truth = randomCanvas(side, rng),
      start = randomCanvas(side, rng),
      probe = defaultProbe(N);
    const mode = () => [{ re: Float64Array.from(probe.re), im: Float64Array.from(probe.im) }];
    const copy = (c: Canvas): Canvas => ({ ...c, re: Float64Array.from(c.re), im: Float64Array.from(c.im) });
    const fusedCanvas = copy(start),
      generalCanvas = copy(start);
    const fused = new EpieKernel(N, fusedCanvas, mode(), alpha),
      general = new EpieKernel(N, generalCanvas, mode(), alpha);
    let worstMisfit = 0;
    for (let i = 0; i < 12; i++) {
      const sx = (5 * i) % (N + 1),
        sy = (3 * i + 1) % (N + 1),
        A = pattern(truth, probe, N, sx, sy);
      const a = fused.update(A, sx, sy, { object: 0.7, probe: 0, position: false });
      // position: true sends the update through the general path (the estimate does not move the window).
      const b = general.update(A, sx, sy, { object: 0.7, probe: 0, position: true });
      worstMisfit = Math.max(worstMisfit, Math.abs(a.error - b.error) / b.error, Math.abs(a.energy - b.energy) / b.energy);
      t.true(a.dx === 0 && a.dy === 0);
    }
    let worst = 0,
      scale = 0;
    for (let i = 0; i < side * side; i++) {
      worst = Math.max(worst, Math.abs(fusedCanvas.re[i]! - generalCanvas.re[i]!), Math.abs(fusedCanvas.im[i]! - generalCanvas.im[i]!));
      scale = Math.max(scale, Math.abs(generalCanvas.re[i]! - start.re[i]!));
    }
    t.true(scale > 0.01, `the updates changed the object (largest change ${scale})`);
    t.true(worst < 1e-10, `largest canvas difference ${worst}`);
    t.true(worstMisfit < 1e-10, `largest relative misfit difference ${worstMisfit}`);
  });
}

test('sizes without a radix-4 stage before the span-1 one, or not powers of two, do not fuse', (t) => {
  t.false(fusable(scrambledPlan(2)));
  t.false(fusable(scrambledPlan(4)));
  t.false(fusable(scrambledPlan(24)));
  t.true(fusable(scrambledPlan(128)));
  t.true(fusable(scrambledPlan(256)));
});

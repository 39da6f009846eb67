// The live canvas grows around patches whose extent is not known up front:
// patches added in any order give, pixel for pixel in object coordinates,
// what a canvas laid out for the whole scan gives.
import test from 'ava';
import { canvasSizeFor, StitchCanvas } from '../../src/physics/stitch.js';
import { LiveCanvas } from '../../src/sinks/shared/live-canvas.js';
import { Rng } from '../../src/util/rng.js';

test('a growing live canvas equals the canvas laid out for the whole scan, whatever the patch order', (t) => {
  const N = 8,
    rng = new Rng(4);
  const pos = Array.from({ length: 40 }, () => [rng.uniform() * 60 - 10, rng.uniform() * 40 + 5] as const);
  const patches = pos.map(() => ({
    re: Float32Array.from({ length: N * N }, () => rng.uniform()),
    im: Float32Array.from({ length: N * N }, () => rng.uniform() - 0.5),
  }));
  const layout = canvasSizeFor(
    pos.map((p) => p[0]),
    pos.map((p) => p[1]),
    N,
  );
  const whole = new StitchCanvas(layout.height, layout.width, { N, M: 6, originX: layout.originX, originY: layout.originY });
  pos.forEach((p, i) => whole.add(patches[i]!.re, patches[i]!.im, N, p[0], p[1]));
  const ref = whole.result();
  const live = new LiveCanvas({ N, M: 6, alignPhase: false, window: 'flat' });
  for (const i of rng.permutation(40)) live.add(patches[i]!.re, patches[i]!.im, N, pos[i]![0], pos[i]![1]);
  const got = live.result(),
    pl = live.placement;
  t.true(live.grown > 0);
  let compared = 0;
  for (let y = 0; y < layout.height; y++) {
    for (let x = 0; x < layout.width; x++) {
      const ox = x + layout.originX - pl.originX,
        oy = y + layout.originY - pl.originY;
      const r = y * layout.width + x;
      const inside = ox >= 0 && oy >= 0 && ox < pl.width && oy < pl.height;
      if (!inside) {
        t.is(ref.covered[r], 0);
        continue;
      }
      const g = oy * pl.width + ox;
      t.is(got.covered[g], ref.covered[r]);
      if (ref.covered[r] === 1) {
        compared++;
        t.true(Math.abs(got.object.re[g]! - ref.object.re[r]!) < 1e-5 && Math.abs(got.object.im[g]! - ref.object.im[r]!) < 1e-5);
      }
    }
  }
  t.true(compared > 1000);
});

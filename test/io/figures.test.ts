// Figures: colour ranges from robust percentiles of the scanned pixels (an
// outlier or the empty border does not set them), vmin/vmax, a viridis
// amplitude and cyclic phase, pixel axes, and lower-case text.
import test from 'ava';
import { colour, renderImage } from '../../src/io/png.js';
import { robustRange, withLimits } from '../../src/io/ranges.js';
import { reconstructionImages } from '../../src/sinks/shared/reconstruction.js';

function pixel(img: { rgba: Uint8Array; width: number }, x: number, y: number): [number, number, number] {
  const o = 4 * (y * img.width + x);
  return [img.rgba[o]!, img.rgba[o + 1]!, img.rgba[o + 2]!];
}

test('robustRange: percentiles of the masked finite values', (t) => {
  const v = Float32Array.from({ length: 101 }, (_, i) => i);
  t.deepEqual(robustRange(v, { lo: 0, hi: 100 }), [0, 100]);
  t.deepEqual(robustRange(v, { lo: 10, hi: 90 }), [10, 90]);
  const withOutlier = Float32Array.from([...v, 1e6, NaN]);
  const [, hi] = robustRange(withOutlier, { lo: 1, hi: 99 });
  t.true(hi < 101, `one outlier in 102 does not set the top (${hi})`);
  const mask = Uint8Array.from({ length: 101 }, (_, i) => (i >= 50 ? 1 : 0));
  t.deepEqual(robustRange(v, { mask, lo: 0, hi: 100 }), [50, 100]);
  t.deepEqual(robustRange(v, { mask: new Uint8Array(101) }), [0, 1], 'nothing scanned: a unit range');
  t.deepEqual(withLimits([1, 2], undefined, 5), [1, 5]);
});

/** A 40×40 canvas scanned in its central 20×20, amplitude 0.5…1.0 there, a hot pixel at its edge and 0 outside. */
function canvas(): { object: { height: number; width: number; re: Float32Array; im: Float32Array }; covered: Uint8Array } {
  const n = 40,
    re = new Float32Array(n * n),
    im = new Float32Array(n * n),
    covered = new Uint8Array(n * n);
  for (let y = 10; y < 30; y++)
    for (let x = 10; x < 30; x++) {
      covered[y * n + x] = 1;
      re[y * n + x] = 0.5 + (0.5 * (x - 10)) / 19;
    }
  re[10 * n + 10] = 50;
  return { object: { height: n, width: n, re, im }, covered };
}

test('reconstruction figures: viridis amplitude over the scanned pixels’ percentiles, pixel axes from the covered box', (t) => {
  const { amplitude } = reconstructionImages(canvas(), 'r');
  // The bright columns (x near 29) are near the top of viridis, not dimmed by the hot pixel, which alone
  // would cover 8×8 screen pixels (the scale of a 20×20 image) under a min–max range.
  let yellow = 0;
  for (let y = 0; y < amplitude.height; y++)
    for (let x = 0; x < amplitude.width; x++) {
      const [r, g, b] = pixel(amplitude, x, y);
      if (r > 200 && g > 200 && b < 80) yellow++;
    }
  t.true(yellow > 20 * 8 * 8, `${yellow} screen pixels near the top of the map`);
  const fixed = reconstructionImages(canvas(), 'r', { vmin: 0, vmax: 100 });
  t.notDeepEqual(fixed.amplitude.rgba, amplitude.rgba, 'vmin/vmax change the colours');
  t.deepEqual(colour('twilight', 0), colour('twilight', 1), 'the phase map is cyclic');
});

test('axes in px add a margin with tick labels; text keeps its case', (t) => {
  const v = new Float32Array(16 * 16);
  const plain = renderImage(v, 16, 16, { colormap: 'viridis', scale: 4 });
  const withAxes = renderImage(v, 16, 16, { colormap: 'viridis', scale: 4, axes: { x0: 100, y0: 0 } });
  t.true(withAxes.width > plain.width && withAxes.height > plain.height);
  const lower = renderImage(v, 16, 16, { colormap: 'viridis', scale: 4, title: 'amplitude' });
  const upper = renderImage(v, 16, 16, { colormap: 'viridis', scale: 4, title: 'AMPLITUDE' });
  t.notDeepEqual(lower.rgba, upper.rgba, 'lower case has glyphs of its own');
});

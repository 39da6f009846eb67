// PNG round trip, grey-level reading at 8 and 16 bits, and the plotting helpers
// (colour bar, antialiased font, line plot, composition).
import test from 'ava';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { TEXT_HEIGHT } from '../../src/io/font.js';
import { formatTick, linePlot, niceTicks, readGrayPng, renderImage, sideBySide, textWidth, writePng } from '../../src/io/png.js';

async function tmp(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'pf-png-'));
}

test('writePng round-trips RGBA pixels exactly and leaves no temp file', async (t) => {
  const dir = await tmp();
  try {
    const w = 7,
      h = 5,
      rgba = new Uint8Array(w * h * 4);
    for (let i = 0; i < rgba.length; i++) rgba[i] = (i * 37) % 256;
    const file = join(dir, 'a.png');
    await writePng(file, rgba, w, h);
    const png = PNG.sync.read(await readFile(file));
    t.is(png.width, w);
    t.is(png.height, h);
    t.deepEqual([...png.data], [...rgba]);
    const { readdir } = await import('node:fs/promises');
    t.deepEqual(await readdir(dir), ['a.png']);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('readGrayPng gives luminance in [0,1] for 8-bit RGB and 16-bit grey', async (t) => {
  const dir = await tmp();
  try {
    const rgba = new Uint8Array([255, 255, 255, 255, 0, 0, 0, 255, 255, 0, 0, 255, 0, 255, 0, 255]);
    await writePng(join(dir, 'rgb.png'), rgba, 2, 2);
    const g = await readGrayPng(join(dir, 'rgb.png'));
    t.is(g.width, 2);
    t.is(g.height, 2);
    t.true(Math.abs(g.data[0]! - 1) < 1e-6);
    t.is(g.data[1], 0);
    t.true(Math.abs(g.data[2]! - 0.2126) < 1e-4);
    t.true(Math.abs(g.data[3]! - 0.7152) < 1e-4);
    // 16-bit greyscale written by pngjs itself (it reads a Uint16 view of the buffer, so no pooled Buffer).
    const png = new PNG({ width: 3, height: 1, bitDepth: 16, colorType: 0, inputColorType: 0 });
    const d16 = new Uint16Array([0, 32768, 65535]);
    const buf = PNG.sync.write(Object.assign(png, { data: Buffer.from(d16.buffer) }), { bitDepth: 16, colorType: 0, inputColorType: 0 });
    await writeFile(join(dir, 'g16.png'), buf);
    const g16 = await readGrayPng(join(dir, 'g16.png'));
    t.is(g16.width, 3);
    t.true(Math.abs(g16.data[0]!) < 1e-6);
    t.true(Math.abs(g16.data[1]! - 32768 / 65535) < 1e-5, `${g16.data[1]}`);
    t.true(Math.abs(g16.data[2]! - 1) < 1e-6);
    await writeFile(join(dir, 'bad.png'), 'not a png');
    await t.throwsAsync(readGrayPng(join(dir, 'bad.png')), { name: 'FormatError' });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

const isWhite = (img: { rgba: Uint8Array }, i: number): boolean => img.rgba[4 * i] === 255 && img.rgba[4 * i + 1] === 255 && img.rgba[4 * i + 2] === 255;
const countDark = (img: { rgba: Uint8Array; width: number; height: number }, x0: number, x1: number): number => {
  let n = 0;
  for (let y = 0; y < img.height; y++)
    for (let x = x0; x < x1; x++) if (img.rgba[4 * (y * img.width + x)]! < 128 && img.rgba[4 * (y * img.width + x) + 1]! < 128) n++;
  return n;
};

test('renderImage maps min/max to the colour map ends and draws a labelled colour bar', (t) => {
  const v = new Float32Array(16 * 16).map((_, i) => i % 16);
  const plain = renderImage(v, 16, 16, { colormap: 'gray', scale: 4 });
  t.is(plain.width, 16 * 4 + 20);
  t.is(plain.height, 16 * 4 + 20);
  const px = (img: typeof plain, x: number, y: number): number[] => [...img.rgba.subarray(4 * (y * img.width + x), 4 * (y * img.width + x) + 3)];
  t.deepEqual(px(plain, 10, 10), [0, 0, 0]); // value 0 → black
  t.deepEqual(px(plain, 10 + 63, 10), [255, 255, 255]); // value 15 → white
  const bar = renderImage(v, 16, 16, { colormap: 'viridis', scale: 4, colorbar: true, title: 'AMP' });
  t.true(bar.width > plain.width + 40);
  // The colour bar column holds viridis' ends, and the label area has black text pixels.
  const bx = 10 + 64 + 12 + 8;
  t.deepEqual(px(bar, bx, 10 + glyph() + 8), [253, 231, 37]);
  t.true(countDark(bar, 10 + 64 + 12 + 16 + 4, bar.width) > 40);
  // NaN-safe: NaN pixels are magenta and do not disturb the range.
  v[0] = NaN;
  const nan = renderImage(v, 16, 16, { colormap: 'gray', scale: 1 });
  t.deepEqual(px(nan, 10, 10), [255, 0, 255]);
  t.deepEqual(px(nan, 11, 10), [17, 17, 17]);
});
const glyph = (): number => TEXT_HEIGHT;

test('the font renders every digit and case distinctly, antialiased and proportional', (t) => {
  const shapes = new Set<string>();
  const chars = '0123456789.-eπaAgG−';
  let grey = 0;
  for (const d of chars) {
    const img = sideBySide([{ rgba: new Uint8Array(4).fill(255), width: 1, height: 1 }], { titles: [d], gap: 0 });
    const ink: string[] = [];
    for (let i = 0; i < img.width * img.height; i++) {
      if (isWhite(img, i)) continue;
      ink.push(`${i}:${img.rgba[4 * i]}`);
      if (img.rgba[4 * i]! > 0) grey++;
    }
    t.true(ink.length > 2, `glyph ${d} drew ${ink.length} pixels`);
    shapes.add(ink.join(','));
  }
  t.is(shapes.size, chars.length);
  t.true(grey > chars.length, 'edges are blended (grey levels), not 1-bit');
  t.true(textWidth('W') > 2 * textWidth('i'), 'proportional widths');
  t.true(Math.abs(textWidth('12') - 2 * textWidth('1')) <= 1);
});

test('ticks are round and formatted compactly', (t) => {
  t.deepEqual(
    niceTicks(0, 1, 5).ticks.map((v) => formatTick(v, 0.2)),
    ['0', '0.2', '0.4', '0.6', '0.8', '1.0'],
  );
  t.deepEqual(niceTicks(-Math.PI, Math.PI, 5).ticks, [-3, -2, -1, 0, 1, 2, 3]);
  t.is(formatTick(2e-4, 1e-4), '2e-4');
  t.is(formatTick(150000, 50000), '1.5e5');
});

test('linePlot draws series, axes and a legend; sideBySide composes', (t) => {
  const x = Array.from({ length: 20 }, (_, i) => i / 40);
  const plot = linePlot(
    [
      { name: 'frc', x, y: x.map((v) => Math.exp(-8 * v)) },
      { name: 'other', x, y: x.map(() => NaN) },
    ],
    { title: 'FRC', xlabel: 'freq', ylabel: 'corr', hlines: [{ y: 0.5, label: '1/2' }] },
  );
  t.is(plot.width, 640);
  t.is(plot.height, 420);
  let blue = 0;
  for (let i = 0; i < plot.width * plot.height; i++) if (plot.rgba[4 * i] === 31 && plot.rgba[4 * i + 1] === 119) blue++;
  t.true(blue > 200, `${blue} series pixels`);
  const log = linePlot([{ name: 'loss', x: [1, 2, 3], y: [1, 0.1, 0.001] }], { title: 'L', xlabel: 'x', ylabel: 'y', logY: true });
  t.is(log.width, 640);
  const fig = sideBySide([plot, log], { titles: ['A', 'B'], columns: 1 });
  t.true(fig.height > 840 && fig.width >= 640);
});

// PNG in and out. The figures the sinks draw live beside it (figure.ts:
// false-colour images; plot.ts: line plots and grids; colormap.ts, raster.ts,
// font.ts) and are re-exported here, the one import for sinks.
import { readFile } from 'node:fs/promises';
import { PNG } from 'pngjs';
import { FormatError, OptionsError } from '../errors.js';
import { writeFileAtomic } from '../util/atomic.js';

export { textWidth } from './font.js';
export type { RgbaImage } from './raster.js';
export { colour, formatTick, niceTicks, type Colormap } from './colormap.js';
export { renderImage, type RenderOptions } from './figure.js';
export { linePlot, sideBySide, type PlotOptions, type Series } from './plot.js';

/** Writes an RGBA image as an 8-bit PNG (temp file + rename, so no half-written files). */
export async function writePng(path: string, rgba: Uint8Array, width: number, height: number): Promise<void> {
  if (rgba.length !== width * height * 4)
    throw new OptionsError('BAD_SHAPE', `writePng: ${rgba.length} bytes do not make a ${width}×${height} RGBA image`, { file: path });
  const png = new PNG({ width, height });
  png.data = Buffer.from(rgba.buffer, rgba.byteOffset, rgba.byteLength);
  await writeFileAtomic(path, PNG.sync.write(png));
}

/** Reads a PNG (any colour type, 1–16 bit) as luminance in [0, 1] (Rec. 709 weights). */
export async function readGrayPng(path: string): Promise<{ width: number; height: number; data: Float32Array }> {
  const buf = await readFile(path);
  let png: { width: number; height: number; data: unknown; depth?: number; colorType?: number };
  try {
    png = PNG.sync.read(buf, { skipRescale: true });
  } catch (e) {
    throw new FormatError('BAD_PNG', `not a readable PNG: ${(e as Error).message}`, { file: path, cause: e });
  }
  const { width, height } = png,
    px = png.data as ArrayLike<number>;
  const max = png.colorType === 3 ? 255 : 2 ** (png.depth ?? 8) - 1;
  const data = new Float32Array(width * height);
  for (let i = 0; i < data.length; i++) data[i] = (0.2126 * px[4 * i]! + 0.7152 * px[4 * i + 1]! + 0.0722 * px[4 * i + 2]!) / max;
  return { width, height, data };
}

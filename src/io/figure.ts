// False-colour images with a title, pixel axes and a labelled colour bar.
import { OptionsError } from '../errors.js';
import { colour, finiteRange, formatTick, niceTicks, type Colormap } from './colormap.js';
import { TEXT_HEIGHT as glyphH, textWidth } from './font.js';
import { BLACK, Raster, type RgbaImage } from './raster.js';

/** The range the colours span: the given ends, else the finite values' extremes; widened when empty. */
function colourRange(values: ArrayLike<number>, min?: number, max?: number): [number, number] {
  const [flo, fhi] = finiteRange(values);
  let lo = min ?? flo,
    hi = max ?? fhi;
  if (!(hi > lo)) {
    const d = Math.abs(lo) > 0 ? Math.abs(lo) * 0.5 : 0.5;
    lo -= d;
    hi += d;
  }
  return [lo, hi];
}

export interface RenderOptions {
  colormap: Colormap;
  min?: number;
  max?: number;
  colorbar?: boolean;
  title?: string;
  scale?: number;
  /** Pixel axes below and left of the image, labelled from (x0, y0): the image's first pixel in the caller's coordinates. */
  axes?: { x0: number; y0: number; unit?: string };
}

/** False-colour rendering of a width×height image, with an optional title and labelled colour bar. */
export function renderImage(values: ArrayLike<number>, width: number, height: number, opts: RenderOptions): RgbaImage {
  if (values.length !== width * height) throw new OptionsError('BAD_SHAPE', `renderImage: ${values.length} values do not make ${width}×${height}`);
  const s = Math.max(1, Math.round(opts.scale ?? Math.min(8, Math.floor(320 / Math.max(width, height)))));
  const [lo, hi] = colourRange(values, opts.min, opts.max);
  const pad = 10,
    titleH = opts.title === undefined ? 0 : glyphH + 8,
    iw = width * s,
    ih = height * s;
  const ax = opts.axes === undefined ? undefined : pixelAxes(opts.axes, width, height, s);
  const left = ax?.left ?? 0,
    below = ax === undefined ? 0 : glyphH + 8;
  const { ticks, step } = niceTicks(lo, hi, Math.max(3, Math.min(6, Math.floor(ih / 40))));
  const labels = ticks.map((t) => formatTick(t, step)),
    labelW = Math.max(0, ...labels.map((l) => textWidth(l)));
  const barW = opts.colorbar === true ? 12 + 16 + 8 + labelW : 0;
  const W = Math.max(2 * pad + left + iw + Math.max(barW, ax?.right ?? 0), 2 * pad + textWidth(opts.title ?? '')),
    H = 2 * pad + titleH + ih + below;
  const r = new Raster(W, H),
    y0 = pad + titleH,
    x0 = pad + left;
  if (opts.title !== undefined) r.text(opts.title, Math.round((W - textWidth(opts.title)) / 2), pad);
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) {
      const c = colour(opts.colormap, (values[y * width + x]! - lo) / (hi - lo));
      r.rect(x0 + x * s, y0 + y * s, s, s, c);
    }
  if (ax !== undefined) drawAxes(r, ax, x0, y0, iw, ih);
  if (opts.colorbar === true) {
    const bx = x0 + iw + 12;
    for (let y = 0; y < ih; y++) r.rect(bx, y0 + y, 16, 1, colour(opts.colormap, 1 - y / Math.max(1, ih - 1)));
    r.frame(bx - 1, y0 - 1, 18, ih + 2, BLACK);
    ticks.forEach((t, k) => {
      const ty = y0 + Math.round((1 - (t - lo) / (hi - lo)) * (ih - 1));
      r.rect(bx + 16, ty, 4, 1, BLACK);
      r.text(labels[k]!, bx + 16 + 8, Math.min(H - glyphH, Math.max(0, ty - glyphH / 2)));
    });
  }
  return r.image();
}

interface Axes {
  x: { at: number; label: string }[];
  y: { at: number; label: string }[];
  unit: string;
  left: number;
  right: number;
}

/** Tick offsets (screen px from the image's corner) and labels of pixel axes, and the margins they take. */
function pixelAxes(a: { x0: number; y0: number; unit?: string }, width: number, height: number, s: number): Axes {
  const along = (from: number, n: number): { at: number; label: string }[] =>
    niceTicks(from, from + n - 1, Math.max(2, Math.min(5, Math.floor((n * s) / 60)))).ticks.map((t) => ({
      at: Math.round((t - from + 0.5) * s),
      label: String(Math.round(t)),
    }));
  const x = along(a.x0, width),
    y = along(a.y0, height);
  const unit = a.unit ?? 'px';
  return { x, y, unit, left: 6 + Math.max(0, ...y.map((t) => textWidth(t.label))), right: 12 + textWidth(unit) };
}

function drawAxes(r: Raster, ax: Axes, x0: number, y0: number, iw: number, ih: number): void {
  for (const t of ax.x) {
    r.rect(x0 + t.at, y0 + ih, 1, 4, BLACK);
    r.text(t.label, Math.max(0, Math.round(x0 + t.at - textWidth(t.label) / 2)), y0 + ih + 6);
  }
  for (const t of ax.y) {
    r.rect(x0 - 4, y0 + t.at, 4, 1, BLACK);
    r.text(t.label, x0 - 6 - textWidth(t.label), Math.round(y0 + t.at - glyphH / 2));
  }
  // The unit once, past the x axis's end (below the colour bar, if any).
  r.text(ax.unit, x0 + iw + 12, y0 + ih + 6);
}

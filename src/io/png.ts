// PNG in and out, and the small amount of raster plotting the sinks need:
// false-colour images with a labelled colour bar, line plots with axes and a
// legend, and side-by-side composition. Text is antialiased DejaVu Sans at
// 14 px (font.ts). NaN pixels are drawn magenta.
import { readFile } from 'node:fs/promises';
import { PNG } from 'pngjs';
import { FormatError, OptionsError } from '../errors.js';
import { writeFileAtomic } from '../util/atomic.js';
import { drawText, TEXT_HEIGHT, textWidth } from './font.js';

export { textWidth } from './font.js';

export interface RgbaImage { rgba: Uint8Array; width: number; height: number }
type RGB = readonly [number, number, number];

/** Writes an RGBA image as an 8-bit PNG (temp file + rename, so no half-written files). */
export async function writePng(path: string, rgba: Uint8Array, width: number, height: number): Promise<void> {
  if (rgba.length !== width * height * 4) throw new OptionsError('BAD_SHAPE', `writePng: ${rgba.length} bytes do not make a ${width}×${height} RGBA image`, { file: path });
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
  const { width, height } = png, px = png.data as ArrayLike<number>;
  const max = png.colorType === 3 ? 255 : 2 ** (png.depth ?? 8) - 1;
  const data = new Float32Array(width * height);
  for (let i = 0; i < data.length; i++) data[i] = (0.2126 * px[4 * i]! + 0.7152 * px[4 * i + 1]! + 0.0722 * px[4 * i + 2]!) / max;
  return { width, height, data };
}

// ---- raster and text -------------------------------------------------------

const BLACK: RGB = [0, 0, 0];
const glyphH = TEXT_HEIGHT;

class Raster {
  readonly rgba: Uint8Array;
  constructor(readonly width: number, readonly height: number) { this.rgba = new Uint8Array(width * height * 4).fill(255); }
  set(x: number, y: number, c: RGB): void {
    x = Math.round(x); y = Math.round(y);
    if (x < 0 || y < 0 || x >= this.width || y >= this.height) return;
    const o = 4 * (y * this.width + x);
    this.rgba[o] = c[0]; this.rgba[o + 1] = c[1]; this.rgba[o + 2] = c[2]; this.rgba[o + 3] = 255;
  }
  rect(x: number, y: number, w: number, h: number, c: RGB): void { for (let j = 0; j < h; j++) for (let i = 0; i < w; i++) this.set(x + i, y + j, c); }
  frame(x: number, y: number, w: number, h: number, c: RGB): void { this.rect(x, y, w, 1, c); this.rect(x, y + h - 1, w, 1, c); this.rect(x, y, 1, h, c); this.rect(x + w - 1, y, 1, h, c); }
  line(x0: number, y0: number, x1: number, y1: number, c: RGB, thick = 1, dash = 0): void {
    const steps = Math.max(1, Math.ceil(Math.hypot(x1 - x0, y1 - y0) * 2));
    for (let s = 0; s <= steps; s++) {
      if (dash > 0 && Math.floor(s / (2 * dash)) % 2 === 1) continue;
      const x = x0 + ((x1 - x0) * s) / steps, y = y0 + ((y1 - y0) * s) / steps;
      for (let j = 0; j < thick; j++) for (let i = 0; i < thick; i++) this.set(Math.floor(x - thick / 2 + 0.5) + i, Math.floor(y - thick / 2 + 0.5) + j, c);
    }
  }
  blit(img: RgbaImage, x0: number, y0: number): void {
    for (let y = 0; y < img.height; y++) for (let x = 0; x < img.width; x++) {
      const o = 4 * (y * img.width + x);
      this.set(x0 + x, y0 + y, [img.rgba[o]!, img.rgba[o + 1]!, img.rgba[o + 2]!]);
    }
  }
  /** Text with its top-left corner at (x, y); `vertical` runs bottom-to-top from (x, y) = bottom-left. */
  text(str: string, x: number, y: number, c: RGB = BLACK, vertical = false): void {
    drawText((px, py, a) => this.blend(px, py, c, a), str, Math.round(x), Math.round(y), vertical);
  }
  /** Mixes colour c over the pixel with weight a (antialiased text). */
  blend(x: number, y: number, c: RGB, a: number): void {
    if (x < 0 || y < 0 || x >= this.width || y >= this.height) return;
    const o = 4 * (y * this.width + x);
    for (let k = 0; k < 3; k++) this.rgba[o + k] = Math.round(this.rgba[o + k]! * (1 - a) + c[k]! * a);
    this.rgba[o + 3] = 255;
  }
  image(): RgbaImage { return { rgba: this.rgba, width: this.width, height: this.height }; }
}

// ---- colour maps and ticks -------------------------------------------------

const MAPS: Record<'gray' | 'viridis' | 'twilight', RGB[]> = {
  gray: [[0, 0, 0], [255, 255, 255]],
  viridis: [[68, 1, 84], [71, 44, 122], [59, 81, 139], [44, 113, 142], [33, 144, 141], [39, 173, 129], [92, 200, 99], [170, 220, 50], [253, 231, 37]],
  // A twilight-like cyclic map: both ends are the same light grey, so −π and π look alike.
  twilight: [[226, 217, 226], [150, 170, 205], [95, 110, 180], [85, 55, 140], [47, 20, 54], [120, 40, 70], [175, 85, 75], [210, 160, 140], [226, 217, 226]],
};
export type Colormap = keyof typeof MAPS;
const NAN_COLOUR: RGB = [255, 0, 255];

export function colour(map: Colormap, t: number): RGB {
  if (!Number.isFinite(t)) return NAN_COLOUR;
  const a = MAPS[map], u = Math.min(1, Math.max(0, t)) * (a.length - 1), i = Math.min(a.length - 2, Math.floor(u)), f = u - i;
  const p = a[i]!, q = a[i + 1]!;
  return [Math.round(p[0] + (q[0] - p[0]) * f), Math.round(p[1] + (q[1] - p[1]) * f), Math.round(p[2] + (q[2] - p[2]) * f)];
}

/** About `target` round tick values (1, 2, 5 × 10^k steps) inside [lo, hi]. */
export function niceTicks(lo: number, hi: number, target = 5): { ticks: number[]; step: number } {
  if (!(hi > lo)) return { ticks: [lo], step: 1 };
  const raw = (hi - lo) / target, mag = 10 ** Math.floor(Math.log10(raw)), n = raw / mag;
  const step = (n < 1.5 ? 1 : n < 3.5 ? 2 : n < 7.5 ? 5 : 10) * mag, ticks: number[] = [];
  for (let k = Math.ceil(lo / step - 1e-9); k * step <= hi + step * 1e-9; k++) ticks.push(k * step);
  return { ticks, step };
}

/** Short label for a tick value given the tick spacing (exponent form for very large or small values). */
export function formatTick(v: number, step: number): string {
  if (Math.abs(v) < step * 1e-6) return '0';
  const a = Math.abs(v);
  if (a >= 1e5 || a < 1e-3) {
    const digits = Math.min(3, Math.max(0, Math.floor(Math.log10(a)) - Math.floor(Math.log10(step))));
    return v.toExponential(digits).replace('e+', 'e');
  }
  return v.toFixed(Math.max(0, Math.min(6, -Math.floor(Math.log10(step) + 1e-9))));
}

function finiteRange(v: ArrayLike<number>): [number, number] {
  let lo = Infinity, hi = -Infinity;
  for (let i = 0; i < v.length; i++) { const x = v[i]!; if (Number.isFinite(x)) { if (x < lo) lo = x; if (x > hi) hi = x; } }
  return lo <= hi ? [lo, hi] : [0, 1];
}

// ---- figures ---------------------------------------------------------------

/** The range the colours span: the given ends, else the finite values' extremes; widened when empty. */
function colourRange(values: ArrayLike<number>, min?: number, max?: number): [number, number] {
  const [flo, fhi] = finiteRange(values);
  let lo = min ?? flo, hi = max ?? fhi;
  if (!(hi > lo)) { const d = Math.abs(lo) > 0 ? Math.abs(lo) * 0.5 : 0.5; lo -= d; hi += d; }
  return [lo, hi];
}

export interface RenderOptions {
  colormap: Colormap; min?: number; max?: number; colorbar?: boolean; title?: string; scale?: number;
  /** Pixel axes below and left of the image, labelled from (x0, y0): the image's first pixel in the caller's coordinates. */
  axes?: { x0: number; y0: number; unit?: string };
}

/** False-colour rendering of a width×height image, with an optional title and labelled colour bar. */
export function renderImage(values: ArrayLike<number>, width: number, height: number, opts: RenderOptions): RgbaImage {
  if (values.length !== width * height) throw new OptionsError('BAD_SHAPE', `renderImage: ${values.length} values do not make ${width}×${height}`);
  const s = Math.max(1, Math.round(opts.scale ?? Math.min(8, Math.floor(320 / Math.max(width, height)))));
  const [lo, hi] = colourRange(values, opts.min, opts.max);
  const pad = 10, titleH = opts.title === undefined ? 0 : glyphH + 8, iw = width * s, ih = height * s;
  const ax = opts.axes === undefined ? undefined : pixelAxes(opts.axes, width, height, s);
  const left = ax?.left ?? 0, below = ax === undefined ? 0 : glyphH + 8;
  const { ticks, step } = niceTicks(lo, hi, Math.max(3, Math.min(6, Math.floor(ih / 40))));
  const labels = ticks.map((t) => formatTick(t, step)), labelW = Math.max(0, ...labels.map((l) => textWidth(l)));
  const barW = opts.colorbar === true ? 12 + 16 + 8 + labelW : 0;
  const W = Math.max(2 * pad + left + iw + Math.max(barW, ax?.right ?? 0), 2 * pad + textWidth(opts.title ?? '')), H = 2 * pad + titleH + ih + below;
  const r = new Raster(W, H), y0 = pad + titleH, x0 = pad + left;
  if (opts.title !== undefined) r.text(opts.title, Math.round((W - textWidth(opts.title)) / 2), pad);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) {
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

interface Axes { x: { at: number; label: string }[]; y: { at: number; label: string }[]; unit: string; left: number; right: number }

/** Tick offsets (screen px from the image's corner) and labels of pixel axes, and the margins they take. */
function pixelAxes(a: { x0: number; y0: number; unit?: string }, width: number, height: number, s: number): Axes {
  const along = (from: number, n: number): { at: number; label: string }[] =>
    niceTicks(from, from + n - 1, Math.max(2, Math.min(5, Math.floor((n * s) / 60)))).ticks.map((t) => ({ at: Math.round((t - from + 0.5) * s), label: String(Math.round(t)) }));
  const x = along(a.x0, width), y = along(a.y0, height);
  const unit = a.unit ?? 'px';
  return { x, y, unit, left: 6 + Math.max(0, ...y.map((t) => textWidth(t.label))), right: 12 + textWidth(unit) };
}

function drawAxes(r: Raster, ax: Axes, x0: number, y0: number, iw: number, ih: number): void {
  for (const t of ax.x) { r.rect(x0 + t.at, y0 + ih, 1, 4, BLACK); r.text(t.label, Math.max(0, Math.round(x0 + t.at - textWidth(t.label) / 2)), y0 + ih + 6); }
  for (const t of ax.y) { r.rect(x0 - 4, y0 + t.at, 4, 1, BLACK); r.text(t.label, x0 - 6 - textWidth(t.label), Math.round(y0 + t.at - glyphH / 2)); }
  // The unit once, past the x axis's end (below the colour bar, if any).
  r.text(ax.unit, x0 + iw + 12, y0 + ih + 6);
}

export interface Series { name: string; x: number[]; y: number[] }
export interface PlotOptions {
  title: string; xlabel: string; ylabel: string; logY?: boolean;
  /** Horizontal reference lines (e.g. FRC thresholds), drawn dashed with their label. */
  hlines?: { y: number; label?: string }[];
  width?: number; height?: number; xmin?: number; xmax?: number; ymin?: number; ymax?: number;
}
const PALETTE: RGB[] = [[31, 119, 180], [255, 127, 14], [44, 160, 44], [214, 39, 40], [148, 103, 189], [140, 86, 75]];

function labelledTicks(lo: number, hi: number): { ticks: number[]; labels: string[] } {
  const { ticks, step } = niceTicks(lo, hi, 5);
  return { ticks, labels: ticks.map((t) => formatTick(t, step)) };
}

/** Ticks of a log axis spanning log10 values [y0, y1]: decades, or 1-2-5 steps (labelled plainly) when under two decades show. */
function logTicks(y0: number, y1: number): { ticks: number[]; labels: string[] } {
  const decades = Array.from({ length: Math.max(0, Math.floor(y1) - Math.ceil(y0) + 1) }, (_, k) => Math.ceil(y0) + k);
  if (decades.length >= 2) return { ticks: decades, labels: decades.map((t) => `1e${t}`) };
  const lin = niceTicks(10 ** y0, 10 ** y1, 5);
  const keep = lin.ticks.filter((v) => v > 0);
  return { ticks: keep.map((v) => Math.log10(v)), labels: keep.map((v) => formatTick(v, lin.step)) };
}

/** Line plot with axes, ticks, labels, optional log y axis, reference lines and a legend. */
export function linePlot(series: readonly Series[], opts: PlotOptions): RgbaImage {
  const W = opts.width ?? 640, H = opts.height ?? 420, log = opts.logY === true;
  const ty = (v: number): number => (log ? (v > 0 ? Math.log10(v) : NaN) : v);
  const xs = series.flatMap((s) => s.x), ys = [...series.flatMap((s) => s.y), ...(opts.hlines ?? []).map((h) => h.y)].map(ty);
  const [xa, xb] = finiteRange(xs), x0 = opts.xmin ?? xa, x1r = opts.xmax ?? xb, x1 = x1r > x0 ? x1r : x0 + 1;
  let [y0, y1] = finiteRange(ys);
  if (opts.ymin !== undefined) y0 = ty(opts.ymin);
  if (opts.ymax !== undefined) y1 = ty(opts.ymax);
  if (!(y1 > y0)) { y0 -= 0.5; y1 += 0.5; } else if (!log && opts.ymin === undefined && opts.ymax === undefined) { const m = (y1 - y0) * 0.05; y0 -= m; y1 += m; }
  const yt = log ? logTicks(y0, y1) : labelledTicks(y0, y1);
  const ylabels = yt.labels;
  const xt = niceTicks(x0, x1, 6), xlabels = xt.ticks.map((t) => formatTick(t, xt.step));
  const L = 10 + glyphH + 8 + Math.max(0, ...ylabels.map((l) => textWidth(l))) + 8, T = 10 + glyphH + 10, R = W - 30, B = H - (10 + glyphH + 8 + glyphH + 8);
  const px = (x: number): number => L + ((x - x0) / (x1 - x0)) * (R - L), py = (y: number): number => B - ((y - y0) / (y1 - y0)) * (B - T);
  const r = new Raster(W, H);
  r.text(opts.title, Math.round((W - textWidth(opts.title)) / 2), 10);
  yt.ticks.forEach((t, k) => {
    const y = Math.round(py(t));
    r.rect(L, y, R - L, 1, [225, 225, 225]); r.rect(L - 5, y, 5, 1, BLACK);
    r.text(ylabels[k]!, L - 8 - textWidth(ylabels[k]!), y - glyphH / 2);
  });
  xt.ticks.forEach((t, k) => {
    const x = Math.round(px(t));
    r.rect(x, T, 1, B - T, [225, 225, 225]); r.rect(x, B, 1, 5, BLACK);
    r.text(xlabels[k]!, Math.round(x - textWidth(xlabels[k]!) / 2), B + 8);
  });
  r.frame(L, T, R - L + 1, B - T + 1, BLACK);
  r.text(opts.xlabel, Math.round((L + R - textWidth(opts.xlabel)) / 2), H - 10 - glyphH);
  r.text(opts.ylabel, 10, Math.round((T + B + textWidth(opts.ylabel)) / 2), BLACK, true);
  const inside = (y: number): number => Math.min(B, Math.max(T, y));
  for (const h of opts.hlines ?? []) {
    const y = py(ty(h.y));
    if (!(y >= T && y <= B)) continue;
    r.line(L, y, R, y, [110, 110, 110], 1, 4);
    if (h.label !== undefined) r.text(h.label, L + 6, Math.round(y) - glyphH - 3, [90, 90, 90]);
  }
  series.forEach((s, k) => {
    const c = PALETTE[k % PALETTE.length]!;
    for (let i = 1; i < Math.min(s.x.length, s.y.length); i++) {
      const a = ty(s.y[i - 1]!), b = ty(s.y[i]!);
      if (!Number.isFinite(a) || !Number.isFinite(b) || !Number.isFinite(s.x[i - 1]!) || !Number.isFinite(s.x[i]!)) continue;
      r.line(px(s.x[i - 1]!), inside(py(a)), px(s.x[i]!), inside(py(b)), c, 2);
    }
  });
  if (series.length > 0) {
    const lw = 30 + Math.max(...series.map((s) => textWidth(s.name))) + 12, lh = series.length * (glyphH + 6) + 8;
    // Put the legend in the inside corner that hides the fewest data points.
    const corners = [[R - lw - 8, T + 8], [R - lw - 8, B - lh - 8], [L + 8, B - lh - 8], [L + 8, T + 8]] as const;
    const hidden = corners.map(([cx, cy]) => series.reduce((n, s) => n + s.x.filter((x, i) => {
      const X = px(x), Y = py(ty(s.y[i]!));
      return X >= cx - 4 && X <= cx + lw + 4 && Y >= cy - 4 && Y <= cy + lh + 4;
    }).length, 0));
    const [lx, ly] = corners[hidden.indexOf(Math.min(...hidden))]!;
    r.rect(lx, ly, lw, lh, [255, 255, 255]); r.frame(lx, ly, lw, lh, [150, 150, 150]);
    series.forEach((s, k) => {
      const y = ly + 6 + k * (glyphH + 6);
      r.line(lx + 6, y + glyphH / 2, lx + 26, y + glyphH / 2, PALETTE[k % PALETTE.length]!, 2);
      r.text(s.name, lx + 32, y);
    });
  }
  return r.image();
}

/** Lays images out on a grid (row-major), each under its optional title, with an optional figure title. */
export function sideBySide(images: readonly RgbaImage[], opts: { titles?: readonly string[]; columns?: number; title?: string; gap?: number } = {}): RgbaImage {
  if (images.length === 0) throw new OptionsError('BAD_OPTION', 'sideBySide: no images');
  const cols = Math.max(1, Math.min(images.length, opts.columns ?? images.length)), rows = Math.ceil(images.length / cols), gap = opts.gap ?? 10;
  const tH = opts.titles === undefined ? 0 : glyphH + 6, cw = Math.max(...images.map((i, k) => Math.max(i.width, textWidth(opts.titles?.[k] ?? '')))), ch = Math.max(...images.map((i) => i.height)) + tH;
  const head = opts.title === undefined ? 0 : glyphH + 12;
  const W = Math.max(cols * cw + (cols + 1) * gap, textWidth(opts.title ?? '') + 2 * gap), H = head + rows * ch + (rows + 1) * gap;
  const r = new Raster(W, H);
  if (opts.title !== undefined) r.text(opts.title, Math.round((W - textWidth(opts.title)) / 2), gap);
  images.forEach((img, k) => {
    const x = gap + (k % cols) * (cw + gap), y = head + gap + Math.floor(k / cols) * (ch + gap), t = opts.titles?.[k];
    if (t !== undefined) r.text(t, x + Math.round((cw - textWidth(t)) / 2), y);
    r.blit(img, x + Math.floor((cw - img.width) / 2), y + tH);
  });
  return r.image();
}

// Line plots (axes, ticks, optional log y axis, dashed reference lines, a
// legend placed where it hides the fewest points) and grids of images.
import { OptionsError } from '../errors.js';
import { finiteRange, formatTick, niceTicks } from './colormap.js';
import { TEXT_HEIGHT as glyphH, textWidth } from './font.js';
import { BLACK, Raster, type RGB, type RgbaImage } from './raster.js';

export interface Series {
  name: string;
  x: number[];
  y: number[];
}
export interface PlotOptions {
  title: string;
  xlabel: string;
  ylabel: string;
  logY?: boolean;
  /** Horizontal reference lines (e.g. FRC thresholds), drawn dashed with their label. */
  hlines?: { y: number; label?: string }[];
  width?: number;
  height?: number;
  xmin?: number;
  xmax?: number;
  ymin?: number;
  ymax?: number;
}
const PALETTE: RGB[] = [
  [31, 119, 180],
  [255, 127, 14],
  [44, 160, 44],
  [214, 39, 40],
  [148, 103, 189],
  [140, 86, 75],
];

function labelledTicks(lo: number, hi: number, target = 5): { ticks: number[]; labels: string[] } {
  const { ticks, step } = niceTicks(lo, hi, target);
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

/** The plot box and its data → screen maps. */
interface Frame {
  L: number;
  T: number;
  R: number;
  B: number;
  /** Value → plotted coordinate (log10 on a log axis). */
  ty: (v: number) => number;
  px: (x: number) => number;
  py: (y: number) => number;
}

/** The y range: the data's (and reference lines'), the given ends, widened by 5 % on a linear axis with no fixed end. */
function yRange(series: readonly Series[], opts: PlotOptions, ty: (v: number) => number): [number, number] {
  const ys = [...series.flatMap((s) => s.y), ...(opts.hlines ?? []).map((h) => h.y)].map(ty);
  let [y0, y1] = finiteRange(ys);
  if (opts.ymin !== undefined) y0 = ty(opts.ymin);
  if (opts.ymax !== undefined) y1 = ty(opts.ymax);
  if (!(y1 > y0)) return [y0 - 0.5, y1 + 0.5];
  if (opts.logY === true || opts.ymin !== undefined || opts.ymax !== undefined) return [y0, y1];
  const m = (y1 - y0) * 0.05;
  return [y0 - m, y1 + m];
}

/** Grid lines, ticks and labels of both axes, the frame and the axis labels; returns the frame. */
function drawAxesFrame(r: Raster, series: readonly Series[], opts: PlotOptions): Frame {
  const W = r.width,
    H = r.height,
    log = opts.logY === true;
  const ty = (v: number): number => (log ? (v > 0 ? Math.log10(v) : NaN) : v);
  const [xa, xb] = finiteRange(series.flatMap((s) => s.x)),
    x0 = opts.xmin ?? xa,
    x1r = opts.xmax ?? xb,
    x1 = x1r > x0 ? x1r : x0 + 1;
  const [y0, y1] = yRange(series, opts, ty);
  const yt = log ? logTicks(y0, y1) : labelledTicks(y0, y1);
  const xt = labelledTicks(x0, x1, 6);
  const L = 10 + glyphH + 8 + Math.max(0, ...yt.labels.map((l) => textWidth(l))) + 8,
    T = 10 + glyphH + 10,
    R = W - 30,
    B = H - (10 + glyphH + 8 + glyphH + 8);
  const px = (x: number): number => L + ((x - x0) / (x1 - x0)) * (R - L),
    py = (y: number): number => B - ((y - y0) / (y1 - y0)) * (B - T);
  yt.ticks.forEach((t, k) => {
    const y = Math.round(py(t));
    r.rect(L, y, R - L, 1, GRID);
    r.rect(L - 5, y, 5, 1, BLACK);
    r.text(yt.labels[k]!, L - 8 - textWidth(yt.labels[k]!), y - glyphH / 2);
  });
  xt.ticks.forEach((t, k) => {
    const x = Math.round(px(t));
    r.rect(x, T, 1, B - T, GRID);
    r.rect(x, B, 1, 5, BLACK);
    r.text(xt.labels[k]!, Math.round(x - textWidth(xt.labels[k]!) / 2), B + 8);
  });
  r.frame(L, T, R - L + 1, B - T + 1, BLACK);
  r.text(opts.xlabel, Math.round((L + R - textWidth(opts.xlabel)) / 2), H - 10 - glyphH);
  r.text(opts.ylabel, 10, Math.round((T + B + textWidth(opts.ylabel)) / 2), BLACK, true);
  return { L, T, R, B, ty, px, py };
}
const GRID: RGB = [225, 225, 225];

function drawSeries(r: Raster, series: readonly Series[], f: Frame): void {
  const inside = (y: number): number => Math.min(f.B, Math.max(f.T, y));
  series.forEach((s, k) => {
    const c = PALETTE[k % PALETTE.length]!;
    for (let i = 1; i < Math.min(s.x.length, s.y.length); i++) {
      const a = f.ty(s.y[i - 1]!),
        b = f.ty(s.y[i]!);
      if (!Number.isFinite(a) || !Number.isFinite(b) || !Number.isFinite(s.x[i - 1]!) || !Number.isFinite(s.x[i]!)) continue;
      r.line(f.px(s.x[i - 1]!), inside(f.py(a)), f.px(s.x[i]!), inside(f.py(b)), c, 2);
    }
  });
}

/** The legend, in the inside corner that hides the fewest data points. */
function drawLegend(r: Raster, series: readonly Series[], f: Frame): void {
  const lw = 30 + Math.max(...series.map((s) => textWidth(s.name))) + 12,
    lh = series.length * (glyphH + 6) + 8;
  const corners = [
    [f.R - lw - 8, f.T + 8],
    [f.R - lw - 8, f.B - lh - 8],
    [f.L + 8, f.B - lh - 8],
    [f.L + 8, f.T + 8],
  ] as const;
  const covers = (cx: number, cy: number, X: number, Y: number): boolean => X >= cx - 4 && X <= cx + lw + 4 && Y >= cy - 4 && Y <= cy + lh + 4;
  const hidden = corners.map(([cx, cy]) => series.reduce((n, s) => n + s.x.filter((x, i) => covers(cx, cy, f.px(x), f.py(f.ty(s.y[i]!)))).length, 0));
  const [lx, ly] = corners[hidden.indexOf(Math.min(...hidden))]!;
  r.rect(lx, ly, lw, lh, [255, 255, 255]);
  r.frame(lx, ly, lw, lh, [150, 150, 150]);
  series.forEach((s, k) => {
    const y = ly + 6 + k * (glyphH + 6);
    r.line(lx + 6, y + glyphH / 2, lx + 26, y + glyphH / 2, PALETTE[k % PALETTE.length]!, 2);
    r.text(s.name, lx + 32, y);
  });
}

/** Line plot with axes, ticks, labels, optional log y axis, reference lines and a legend. */
export function linePlot(series: readonly Series[], opts: PlotOptions): RgbaImage {
  const r = new Raster(opts.width ?? 640, opts.height ?? 420);
  r.text(opts.title, Math.round((r.width - textWidth(opts.title)) / 2), 10);
  const f = drawAxesFrame(r, series, opts);
  for (const h of opts.hlines ?? []) {
    const y = f.py(f.ty(h.y));
    if (!(y >= f.T && y <= f.B)) continue;
    r.line(f.L, y, f.R, y, [110, 110, 110], 1, 4);
    if (h.label !== undefined) r.text(h.label, f.L + 6, Math.round(y) - glyphH - 3, [90, 90, 90]);
  }
  drawSeries(r, series, f);
  if (series.length > 0) drawLegend(r, series, f);
  return r.image();
}

/** Lays images out on a grid (row-major), each under its optional title, with an optional figure title. */
export function sideBySide(images: readonly RgbaImage[], opts: { titles?: readonly string[]; columns?: number; title?: string; gap?: number } = {}): RgbaImage {
  if (images.length === 0) throw new OptionsError('BAD_OPTION', 'sideBySide: no images');
  const cols = Math.max(1, Math.min(images.length, opts.columns ?? images.length)),
    rows = Math.ceil(images.length / cols),
    gap = opts.gap ?? 10;
  const tH = opts.titles === undefined ? 0 : glyphH + 6,
    cw = Math.max(...images.map((i, k) => Math.max(i.width, textWidth(opts.titles?.[k] ?? '')))),
    ch = Math.max(...images.map((i) => i.height)) + tH;
  const head = opts.title === undefined ? 0 : glyphH + 12;
  const W = Math.max(cols * cw + (cols + 1) * gap, textWidth(opts.title ?? '') + 2 * gap),
    H = head + rows * ch + (rows + 1) * gap;
  const r = new Raster(W, H);
  if (opts.title !== undefined) r.text(opts.title, Math.round((W - textWidth(opts.title)) / 2), gap);
  images.forEach((img, k) => {
    const x = gap + (k % cols) * (cw + gap),
      y = head + gap + Math.floor(k / cols) * (ch + gap),
      t = opts.titles?.[k];
    if (t !== undefined) r.text(t, x + Math.round((cw - textWidth(t)) / 2), y);
    r.blit(img, x + Math.floor((cw - img.width) / 2), y + tH);
  });
  return r.image();
}

// Antialiased text for the figures: DejaVu Sans glyph coverage rendered once
// at 14 px (font-data.ts, from scripts/font-atlas.py), placed at fractional
// advances rounded per glyph and blended into the raster. No kerning; a
// character without a glyph is drawn as '?'.
import { ASCENT, GLYPHS, HEIGHT } from './font-data.js';

/** Height of a line of text in px (ascent + descent). */
export const TEXT_HEIGHT = HEIGHT;
/** Baseline offset from the top of a line. */
export const TEXT_ASCENT = ASCENT;

interface Glyph {
  advance: number;
  left: number;
  width: number;
  coverage: Uint8Array;
}

const cache = new Map<string, Glyph>();

function glyph(ch: string): Glyph {
  let g = cache.get(ch);
  if (g === undefined) {
    const raw = GLYPHS[ch] ?? GLYPHS['?']!;
    g = { advance: raw[0] / 64, left: raw[1], width: raw[2], coverage: Uint8Array.from(Buffer.from(raw[3], 'base64')) };
    cache.set(ch, g);
  }
  return g;
}

/** Width of `s` in px. */
export function textWidth(s: string): number {
  let w = 0;
  for (const ch of s) w += glyph(ch).advance;
  return Math.ceil(w);
}

/** Receives one covered pixel: alpha in (0, 1]. */
export type Blend = (x: number, y: number, alpha: number) => void;

/**
 * Draws `s` with the top-left of its line at (x, y); `vertical` runs bottom to
 * top with (x, y) the bottom-left corner (the y axis label).
 */
export function drawText(blend: Blend, s: string, x: number, y: number, vertical = false): void {
  let pen = 0;
  for (const ch of s) {
    const g = glyph(ch);
    const gx = Math.round(pen) + g.left;
    for (let r = 0; r < HEIGHT; r++) {
      for (let c = 0; c < g.width; c++) {
        const a = g.coverage[r * g.width + c]!;
        if (a === 0) continue;
        if (vertical) blend(x + r, y - (gx + c), a / 255);
        else blend(x + gx + c, y + r, a / 255);
      }
    }
    pen += g.advance;
  }
}

// A white RGBA canvas with the few primitives the figures draw: filled and
// framed rectangles, thick and dashed lines, blitted images and antialiased
// text (font.ts).
import { drawText } from './font.js';

export interface RgbaImage {
  rgba: Uint8Array;
  width: number;
  height: number;
}
export type RGB = readonly [number, number, number];
export const BLACK: RGB = [0, 0, 0];

export class Raster {
  readonly rgba: Uint8Array;
  constructor(
    readonly width: number,
    readonly height: number,
  ) {
    this.rgba = new Uint8Array(width * height * 4).fill(255);
  }
  set(x: number, y: number, c: RGB): void {
    x = Math.round(x);
    y = Math.round(y);
    if (x < 0 || y < 0 || x >= this.width || y >= this.height) return;
    const o = 4 * (y * this.width + x);
    this.rgba[o] = c[0];
    this.rgba[o + 1] = c[1];
    this.rgba[o + 2] = c[2];
    this.rgba[o + 3] = 255;
  }
  rect(x: number, y: number, w: number, h: number, c: RGB): void {
    for (let j = 0; j < h; j++) for (let i = 0; i < w; i++) this.set(x + i, y + j, c);
  }
  frame(x: number, y: number, w: number, h: number, c: RGB): void {
    this.rect(x, y, w, 1, c);
    this.rect(x, y + h - 1, w, 1, c);
    this.rect(x, y, 1, h, c);
    this.rect(x + w - 1, y, 1, h, c);
  }
  line(x0: number, y0: number, x1: number, y1: number, c: RGB, thick = 1, dash = 0): void {
    const steps = Math.max(1, Math.ceil(Math.hypot(x1 - x0, y1 - y0) * 2));
    for (let s = 0; s <= steps; s++) {
      if (dash > 0 && Math.floor(s / (2 * dash)) % 2 === 1) continue;
      const x = x0 + ((x1 - x0) * s) / steps,
        y = y0 + ((y1 - y0) * s) / steps;
      for (let j = 0; j < thick; j++) for (let i = 0; i < thick; i++) this.set(Math.floor(x - thick / 2 + 0.5) + i, Math.floor(y - thick / 2 + 0.5) + j, c);
    }
  }
  blit(img: RgbaImage, x0: number, y0: number): void {
    for (let y = 0; y < img.height; y++)
      for (let x = 0; x < img.width; x++) {
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
  image(): RgbaImage {
    return { rgba: this.rgba, width: this.width, height: this.height };
  }
}

// Helpers for the engine tests: a simulated frame stream (N = 32), reading an
// engine's NPZ back, and scoring it against the simulation's truth.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { openNpz } from '../../src/io/npz.js';
import { evaluateObject, type EvalResult } from '../../src/physics/metrics.js';
import type { Complex2D, ScanMeta, Stream } from '../../src/pipeline/types.js';
import simulate from '../../src/sources/simulate.js';
import { createStage, testContext } from '../../src/testing/index.js';

export const N = 32;

export async function simulatedScan(options: Record<string, unknown> = {}): Promise<Stream<unknown>> {
  return createStage(simulate, { N, object: { kind: 'image', size: 72 }, scan: { step: 4 }, noise: 'none', ...options }, [], testContext({ id: 'scan', seed: 5 }));
}

export async function tempDir(t: { teardown(fn: () => Promise<void>): void }): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'ptychoflow-engine-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

export interface NpzContents {
  arrays: Map<string, { shape: number[]; data: ArrayLike<number> }>;
  object: Complex2D & { origin: [number, number] };
}

export async function readResult(file: string): Promise<NpzContents> {
  const npz = await openNpz(file);
  try {
    const arrays = new Map<string, { shape: number[]; data: ArrayLike<number> }>();
    for (const k of npz.entries()) {
      const a = await npz.readArray(k);
      arrays.set(k, { shape: a.shape, data: a.data as ArrayLike<number> });
    }
    const o = arrays.get('object')!, origin = arrays.get('origin')!.data;
    const [h, w] = o.shape as [number, number], re = new Float32Array(h * w), im = new Float32Array(h * w);
    for (let i = 0; i < h * w; i++) { re[i] = o.data[2 * i]!; im[i] = o.data[2 * i + 1]!; }
    return { arrays, object: { height: h, width: w, re, im, origin: [origin[0]!, origin[1]!] } };
  } finally {
    await npz.close();
  }
}

/** The reconstruction scored against the scan's truth over the scanned box (as evaluate does). */
export function score(scan: ScanMeta, recon: Complex2D & { origin: [number, number] }): EvalResult {
  const t = scan.object!, re = new Float32Array(t.width * t.height), im = new Float32Array(t.width * t.height);
  for (let y = 0; y < t.height; y++) {
    for (let x = 0; x < t.width; x++) {
      const sy = y - recon.origin[1], sx = x - recon.origin[0];
      if (sy < 0 || sx < 0 || sy >= recon.height || sx >= recon.width) continue;
      re[y * t.width + x] = recon.re[sy * recon.width + sx]!;
      im[y * t.width + x] = recon.im[sy * recon.width + sx]!;
    }
  }
  let x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
  scan.xcoords.forEach((x, i) => { x0 = Math.min(x0, x); x1 = Math.max(x1, x); y0 = Math.min(y0, scan.ycoords[i]!); y1 = Math.max(y1, scan.ycoords[i]!); });
  const m = scan.N / 4;
  return evaluateObject(t, { height: t.height, width: t.width, re, im }, { crop: { x0: Math.floor(x0 - m), y0: Math.floor(y0 - m), x1: Math.ceil(x1 + m), y1: Math.ceil(y1 + m) } });
}

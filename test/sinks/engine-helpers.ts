// Helpers for the engine tests: a simulated frame stream (N = 32), the same
// scan measured with two incoherent probe modes, reading an engine's NPZ
// back, and scoring it against the simulation's truth.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { openNpz } from '../../src/io/npz.js';
import { evaluateObject, type EvalResult } from '../../src/physics/metrics.js';
import { farFieldAmplitude } from '../../src/physics/fftjs.js';
import { extractPatch } from '../../src/physics/patch.js';
import type { Complex2D, Frame, FrameStore, ScanMeta, Stream, StreamMeta } from '../../src/pipeline/types.js';
import { scanCrop } from '../../src/sinks/shared/object-frame.js';
import simulate from '../../src/sources/simulate.js';
import { createStage, testContext } from '../../src/testing/index.js';

export const N = 32;

export async function simulatedScan(options: Record<string, unknown> = {}): Promise<Stream<unknown>> {
  return createStage(
    simulate,
    { N, object: { kind: 'image', size: 72 }, scan: { step: 4 }, noise: 'none', ...options },
    [],
    testContext({ id: 'scan', seed: 5 }),
  );
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
    const o = arrays.get('object')!,
      origin = arrays.get('origin')!.data;
    const [h, w] = o.shape as [number, number],
      re = new Float32Array(h * w),
      im = new Float32Array(h * w);
    for (let i = 0; i < h * w; i++) {
      re[i] = o.data[2 * i]!;
      im[i] = o.data[2 * i + 1]!;
    }
    return { arrays, object: { height: h, width: w, re, im, origin: [origin[0]!, origin[1]!] } };
  } finally {
    await npz.close();
  }
}

/** The reconstruction scored against the scan's truth over the scanned box (as evaluate does). */
export function score(scan: ScanMeta, recon: Complex2D & { origin: [number, number] }): EvalResult {
  const t = scan.object!,
    re = new Float32Array(t.width * t.height),
    im = new Float32Array(t.width * t.height);
  for (let y = 0; y < t.height; y++) {
    for (let x = 0; x < t.width; x++) {
      const sy = y - recon.origin[1],
        sx = x - recon.origin[0];
      if (sy < 0 || sx < 0 || sy >= recon.height || sx >= recon.width) continue;
      re[y * t.width + x] = recon.re[sy * recon.width + sx]!;
      im[y * t.width + x] = recon.im[sy * recon.width + sx]!;
    }
  }
  return evaluateObject(t, { height: t.height, width: t.width, re, im }, { crop: scanCrop(scan, undefined) });
}

/** Distances of (ax, ay) from the truth (tx, ty) after taking out the mean shift (a global translation is not measurable). */
export function centredErrors(ax: ArrayLike<number>, ay: ArrayLike<number>, tx: ArrayLike<number>, ty: ArrayLike<number>): number[] {
  const n = tx.length;
  let mx = 0,
    my = 0;
  for (let i = 0; i < n; i++) {
    mx += ax[i]! - tx[i]!;
    my += ay[i]! - ty[i]!;
  }
  mx /= n;
  my /= n;
  return Array.from({ length: n }, (_, i) => Math.hypot(ax[i]! - tx[i]! - mx, ay[i]! - ty[i]! - my));
}

/** Two incoherent modes from the simulation's probe: 75 % of the power in it, 25 % in it times a tilt in x (orthogonal to it). */
export function twoModes(p: Complex2D): { re: Float32Array; im: Float32Array }[] {
  const n = N * N,
    c = (N - 1) / 2;
  let w = 0,
    wx = 0;
  for (let t = 0; t < n; t++) {
    const q = p.re[t]! ** 2 + p.im[t]! ** 2;
    w += q;
    wx += q * ((t % N) - c);
  }
  const cx = c + wx / w;
  const second = { re: new Float32Array(n), im: new Float32Array(n) };
  let s = 0;
  for (let t = 0; t < n; t++) {
    const g = (t % N) - cx;
    second.re[t] = p.re[t]! * g;
    second.im[t] = p.im[t]! * g;
    s += second.re[t]! ** 2 + second.im[t]! ** 2;
  }
  const k0 = Math.sqrt(0.75),
    k1 = Math.sqrt((0.25 * w) / s);
  return [
    { re: p.re.map((v) => v * k0), im: p.im.map((v) => v * k0) },
    { re: second.re.map((v) => v * k1), im: second.im.map((v) => v * k1) },
  ];
}

/**
 * The simulated scan re-measured with two incoherent probe modes (intensities
 * summed), noise-free; its meta's probe is the strongest mode alone.
 */
export async function twoModeScan(options: Record<string, unknown> = {}): Promise<{ stream: Stream<Frame>; modes: { re: Float32Array; im: Float32Array }[] }> {
  const base = await simulatedScan(options);
  const scan = base.meta.scan!,
    modes = twoModes(scan.probe),
    obj = scan.object!;
  const frame = (i: number): Float32Array => {
    const w = extractPatch(obj, scan.xcoords[i]!, scan.ycoords[i]!, N),
      out = new Float32Array(N * N);
    for (const m of modes) {
      const re = new Float32Array(N * N),
        im = new Float32Array(N * N);
      for (let t = 0; t < N * N; t++) {
        re[t] = m.re[t]! * w.re[t]! - m.im[t]! * w.im[t]!;
        im[t] = m.re[t]! * w.im[t]! + m.im[t]! * w.re[t]!;
      }
      const a = farFieldAmplitude(re, im, N);
      for (let t = 0; t < N * N; t++) out[t] = out[t]! + a[t]! * a[t]!;
    }
    return out.map(Math.sqrt);
  };
  const frames: FrameStore = {
    count: scan.count,
    N,
    read: async (i) => frame(i),
    readMany: async (ids) => ids.map(frame),
    close: async () => undefined,
  };
  const meta: StreamMeta = { record: 'frame', scan: { ...scan, probe: { ...scan.probe, re: modes[0]!.re, im: modes[0]!.im } }, count: scan.count };
  const stream: Stream<Frame> = {
    meta,
    frames,
    open: () =>
      (async function* () {
        for (let i = 0; i < scan.count; i++) yield { index: i, x: scan.xcoords[i]!, y: scan.ycoords[i]!, amplitude: frame(i) };
      })(),
  };
  return { stream, modes };
}

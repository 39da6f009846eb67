// Shared by the live loopback tests: a tiny simulated scan written as NPZ and a
// checkpoint trained on it for one epoch (made once per test file, in a temp
// dir), free loopback ports, the file and live pipelines over that scan, and
// the SSIM of two reconstructions over the object pixels both cover.
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { builtinRegistry } from '../../src/components.js';
import { openNpz } from '../../src/io/npz.js';
import { writeNpz, type NpzArrayInput } from '../../src/io/npz-writer.js';
import { runPipelineFile, type RunSummary } from '../../src/pipeline/index.js';
import { evaluateObject } from '../../src/physics/metrics.js';
import type { Complex2D } from '../../src/pipeline/types.js';
import { createLogger } from '../../src/util/log.js';

export const N = 16;

export interface Fixture {
  dir: string;
  scan: string;
  checkpoint: string;
  frames: number;
  remove(): Promise<void>;
}

/** A port nothing listens on right now, on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

export interface Ran {
  summary: RunSummary;
  error: unknown;
  warnings: string[];
}

/** Runs a pipeline given as text, its output in `outDir`, collecting warnings. */
export async function runText(text: string, outDir: string): Promise<Ran> {
  const warnings: string[] = [];
  const log = createLogger('warn', (level, scope, message) => {
    if (level === 'warn') warnings.push(`${scope}: ${message}`);
  });
  const r = await runPipelineFile(path.join(outDir, 'p.yaml'), { registry: builtinRegistry(), text, outDir, log, backend: 'wasm' });
  return { summary: r.summary, error: r.error, warnings };
}

/** A 121-frame N=16 scan and a checkpoint trained on it for one epoch. */
export async function makeFixture(epochs = 2): Promise<Fixture> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'pf-live-'));
  const text = `seed: 5
sources:
  sim: { type: simulate, N: ${N}, object: { kind: grf, size: 48 }, scan: { pattern: raster, step: 3, jitter: 0.3 }, nphotons: 1.0e6 }
transforms:
  norm: { type: normalize, inputs: [sim] }
  groups: { type: group, inputs: [norm], gridsize: 2 }
  batches: { type: batch, inputs: [groups], batch_size: 16 }
  tensors: { type: tensorify, inputs: [batches] }
sinks:
  scan: { type: write-npz, inputs: [sim], path: scan.npz }
  train: { type: train, inputs: [tensors], epochs: ${epochs}, n_filters_scale: 0.25, lr: 2.0e-3, seed: 3, collapse: { action: warn } }
`;
  const r = await runText(text, dir);
  if (r.error !== undefined) throw r.error as Error;
  const scan = path.join(dir, 'scan.npz');
  const npz = await openNpz(scan);
  const frames = (await npz.readArray('xcoords')).shape[0]!;
  await npz.close();
  return { dir, scan, checkpoint: path.join(dir, 'checkpoint'), frames, remove: () => rm(dir, { recursive: true, force: true }) };
}

/** The inference half, after `source` (the scan NPZ, or a zmq source): the same stages both ways. */
export function inferPipeline(source: string, f: Fixture, extra = ''): string {
  return `seed: 5
sources:
  scan: ${source}
transforms:
  norm: { type: normalize, inputs: [scan], checkpoint: ${f.checkpoint} }
  groups: { type: group, inputs: [norm], gridsize: 2${extra} }
  batches: { type: batch, inputs: [groups], batch_size: 16 }
  tensors: { type: tensorify, inputs: [batches] }
sinks:
  infer: { type: infer, inputs: [tensors], checkpoint: ${f.checkpoint}, snapshot_every_s: 0.05 }
`;
}

/**
 * A copy of the fixture's scan whose frames `drop` are NaN, so that a file
 * source with `on_error: skip` leaves them out and group plans without them:
 * the series a lossy replay delivered, with its frame indices kept (the
 * groups' draws are keyed by the seed's index).
 */
export async function scanWithout(f: Fixture, drop: readonly number[], file: string): Promise<string> {
  const npz = await openNpz(f.scan);
  const arrays: Record<string, NpzArrayInput> = {};
  try {
    for (const name of npz.entries()) {
      const a = await npz.readArray(name);
      arrays[name] = { shape: [...a.shape], data: a.data, descr: npz.header(name).descr };
    }
  } finally {
    await npz.close();
  }
  const d = arrays.diffraction!,
    NN = d.shape[1]! * d.shape[2]!;
  for (const i of drop) (d.data as Float32Array).fill(Number.NaN, i * NN, (i + 1) * NN);
  await writeNpz(file, arrays);
  return file;
}

/**
 * The inference half plus refine at the end: `spill` records the normalised
 * frames as they pass (a live source is read once), infer stitches as groups
 * arrive, refine makes `passes` passes over the spilled frames (one per group)
 * from infer's final reconstruction.
 */
export function refinePipeline(source: string, f: Fixture, passes: number, extra = ''): string {
  return `seed: 5
sources:
  scan: ${source}
transforms:
  norm: { type: normalize, inputs: [scan], checkpoint: ${f.checkpoint} }
  spilled: { type: spill, inputs: [norm] }
  groups: { type: group, inputs: [spilled], gridsize: 2${extra} }
  batches: { type: batch, inputs: [groups], batch_size: 16 }
  tensors: { type: tensorify, inputs: [batches] }
  singles: { type: group, inputs: [spilled], gridsize: 1${extra} }
  single_batches: { type: batch, inputs: [singles], batch_size: 16 }
  single_tensors: { type: tensorify, inputs: [single_batches] }
sinks:
  infer: { type: infer, inputs: [tensors], checkpoint: ${f.checkpoint}, snapshot_every_s: 0.05 }
  refine: { type: refine, inputs: [single_tensors, infer], epochs: ${passes}, lr: 0.01 }
`;
}

interface Recon {
  object: Complex2D;
  origin: [number, number];
}

export async function readRecon(file: string): Promise<Recon> {
  const npz = await openNpz(file);
  try {
    const o = await npz.readArray('object'),
      at = await npz.readArray('origin');
    const [h, w] = o.shape as [number, number],
      d = o.data as Float32Array;
    const re = new Float32Array(h * w),
      im = new Float32Array(h * w);
    for (let i = 0; i < h * w; i++) {
      re[i] = d[2 * i]!;
      im[i] = d[2 * i + 1]!;
    }
    return { object: { height: h, width: w, re, im }, origin: [Number(at.data[0]), Number(at.data[1])] };
  } finally {
    await npz.close();
  }
}

/**
 * SSIM of `b` against `a` (evaluate's scores: amplitude as is, phase after
 * removing the mean phase difference, which no reconstruction fixes) over the
 * box of object pixels both cover.
 */
export function compareRecons(a: Recon, b: Recon): { amplitude: number; phase: number; pixels: number; phaseRange: number; phaseMae: number } {
  const at = (r: Recon, x: number, y: number): number => {
    const cx = x - r.origin[0],
      cy = y - r.origin[1];
    return cx < 0 || cy < 0 || cx >= r.object.width || cy >= r.object.height ? -1 : cy * r.object.width + cx;
  };
  const covered = (r: Recon, i: number): boolean => i >= 0 && (r.object.re[i] !== 0 || r.object.im[i] !== 0);
  let x0 = Infinity,
    y0 = Infinity,
    x1 = -Infinity,
    y1 = -Infinity;
  for (let y = a.origin[1]; y < a.origin[1] + a.object.height; y++) {
    for (let x = a.origin[0]; x < a.origin[0] + a.object.width; x++) {
      if (!covered(a, at(a, x, y)) || !covered(b, at(b, x, y))) continue;
      x0 = Math.min(x0, x);
      y0 = Math.min(y0, y);
      x1 = Math.max(x1, x);
      y1 = Math.max(y1, y);
    }
  }
  const w = x1 - x0 + 1,
    h = y1 - y0 + 1;
  const cut = (r: Recon): Complex2D => {
    const re = new Float32Array(w * h),
      im = new Float32Array(w * h);
    for (let k = 0; k < w * h; k++) {
      const i = at(r, x0 + (k % w), y0 + Math.floor(k / w));
      if (i >= 0) {
        re[k] = r.object.re[i]!;
        im[k] = r.object.im[i]!;
      }
    }
    return { height: h, width: w, re, im };
  };
  const e = evaluateObject(cut(a), cut(b), { register: false, phase_align: 'mean', amplitude_scale: 'none' });
  return { amplitude: e.amplitude.ssim, phase: e.phase.ssim, pixels: w * h, phaseRange: e.phase.data_range, phaseMae: e.phase.mae };
}

// Shared pieces of the scale tests: tiny pipelines (N=16 simulated scans),
// worker processes of the real CLI, and object comparisons.
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { builtinRegistry } from '../../src/components.js';
import { loadPlan } from '../../src/pipeline/index.js';
import { runPlan } from '../../src/pipeline/run.js';
import { readComplex } from '../../src/sinks/shared/reconstruction.js';
import type { Complex2D } from '../../src/pipeline/types.js';

export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** A simulated scan's source line: a raster over a Gaussian random field at 1e6 photons. */
export function simulatedScan(N: number, size: number, step: number): string {
  return `{ type: simulate, N: ${N}, object: { kind: grf, size: ${size} }, scan: { pattern: raster, step: ${step} }, nphotons: 1.0e6 }`;
}

/** Writes `file`: one source → normalize → group (gridsize 1) → batch 16 → tensorify → refine with the given options. */
export function writeRefinePipeline(file: string, p: { seed: number; source: string; refine: string; output?: string }): string {
  const output = p.output === undefined ? '' : `output: ${p.output}\n`;
  writeFileSync(
    file,
    `seed: ${p.seed}
backend: wasm
${output}sources:
  scan: ${p.source}
transforms:
  norm: { type: normalize, inputs: [scan] }
  singles: { type: group, inputs: [norm], gridsize: 1 }
  b: { type: batch, inputs: [singles], batch_size: 16 }
  t: { type: tensorify, inputs: [b] }
sinks:
  refine: { type: refine, inputs: [t], ${p.refine} }
`,
  );
  return file;
}

/** 81 positions of 16×16 on a 48×48 object, refined in mini-batches. */
export function refinePipeline(dir: string, epochs = 6): string {
  return writeRefinePipeline(path.join(dir, 'refine.yaml'), { seed: 3, output: 'local', source: simulatedScan(16, 48, 4), refine: `epochs: ${epochs}` });
}

/** The refine pipeline with `step: pass` (one update per pass from the whole pass's gradient): a tile job of it runs in rounds. */
export function passRefinePipeline(dir: string, epochs: number): string {
  const refine = `epochs: ${epochs}, step: pass, lr: 0.05`;
  return writeRefinePipeline(path.join(dir, 'refine-pass.yaml'), { seed: 3, output: 'local', source: simulatedScan(16, 48, 4), refine });
}

/** The same refine reading an NPZ scan (path set per shard). */
export function npzRefinePipeline(dir: string): string {
  return writeRefinePipeline(path.join(dir, 'scan-refine.yaml'), { seed: 5, output: 'local', source: '{ type: npz, path: none.npz }', refine: 'epochs: 2' });
}

/** Writes a small simulated scan as a canonical NPZ (49 positions of 16×16). */
export async function writeScan(file: string, seed: number): Promise<void> {
  const doc = `seed: ${seed}
backend: wasm
output: ${path.dirname(file)}
sources:
  sim: { type: simulate, N: 16, object: { kind: grf, size: 40 }, scan: { pattern: raster, step: 4 }, nphotons: 1.0e6 }
sinks:
  out: { type: write-npz, inputs: [sim], path: ${path.basename(file)} }
`;
  const plan = await loadPlan(path.join(path.dirname(file), `make-${seed}.yaml`), { registry: builtinRegistry(), text: doc });
  const { error } = await runPlan(plan, { record: false });
  if (error !== undefined) throw error instanceof Error ? error : new Error('writing the scan failed');
}

/** A `ptychoflow worker` process on the real CLI, single-threaded wasm. */
export function spawnWorker(server: string, extra: string[] = []): ChildProcess {
  return spawn(process.execPath, [path.join(root, 'bin/ptychoflow.js'), 'worker', '--server', server, '--backend', 'wasm', ...extra], {
    cwd: root,
    env: { ...process.env, PTYCHOFLOW_WASM_THREADS: '1' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
}

export async function stopProcess(p: ChildProcess): Promise<void> {
  if (p.exitCode !== null || p.signalCode !== null) return;
  await new Promise<void>((resolve) => {
    const timer = setTimeout(() => p.kill('SIGKILL'), 5000);
    p.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    p.kill('SIGTERM');
  });
}

export async function waitFor(what: string, fn: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const t0 = Date.now();
  while (!(await fn())) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

export async function readObject(file: string): Promise<Complex2D> {
  return readComplex(file, 'object', [], 'test');
}

/** Largest |a − b| over the canvas, and the largest |b|, for a relative bound. */
export function maxDifference(a: Complex2D, b: Complex2D): { max: number; scale: number } {
  if (a.width !== b.width || a.height !== b.height) throw new Error(`shapes differ: ${a.width}×${a.height} vs ${b.width}×${b.height}`);
  let max = 0,
    scale = 0;
  for (let i = 0; i < a.re.length; i++) {
    max = Math.max(max, Math.hypot(a.re[i]! - b.re[i]!, a.im[i]! - b.im[i]!));
    scale = Math.max(scale, Math.hypot(b.re[i]!, b.im[i]!));
  }
  return { max, scale };
}

/** RMS of a − b over the pixels `mask` marks, relative to the RMS of b there. */
export function relativeRms(a: Complex2D, b: Complex2D, mask: Uint8Array): number {
  let num = 0,
    den = 0;
  for (let i = 0; i < a.re.length; i++) {
    if (mask[i] === 0) continue;
    num += (a.re[i]! - b.re[i]!) ** 2 + (a.im[i]! - b.im[i]!) ** 2;
    den += b.re[i]! ** 2 + b.im[i]! ** 2;
  }
  return Math.sqrt(num / den);
}

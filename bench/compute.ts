// `npm run bench -- compute [--backends wasm,cpu,tensorflow,pytorch] [--configs a,b]
// (any selectBackend name: auto, tensorflow-gpu, …)
// [--steps 3] [--cpu-steps 1]`: ms per training step (forward + gradients +
// Adam update) and per inference batch of the PtychoPINN model, per backend.
// Configs: (a) N=32, gridsize 1, batch 8, n_filters_scale 1 (every backend);
// (b) N=64, gridsize 2, batch 16, n_filters_scale 2 (wasm and native only: the
// pure-JS cpu backend needs minutes per step there). One JSON line per
// measurement on stdout; backends that cannot load are reported and skipped.
// `pytorch` in --backends runs bench/pytorch_compute.py (the same network and
// step in PyTorch; needs a python3 with torch, or $PYTHON naming one) in a child process, in the same
// run, so the ratios against it are measured side by side.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '../src/tf.js';
import { selectBackend, type BackendName } from '../src/backend/select.js';
import { makeOptimizer } from '../src/model/optimizer.js';
import { PtychoPINN } from '../src/model/pinn.js';
import type { Complex2D } from '../src/pipeline/types.js';
import { Rng } from '../src/util/rng.js';

interface BenchConfig {
  id: 'a' | 'b';
  N: 32 | 64;
  gridsize: 1 | 2;
  batch: number;
  filtersScale: number;
  backends: readonly string[];
}

const CONFIGS: readonly BenchConfig[] = [
  { id: 'a', N: 32, gridsize: 1, batch: 8, filtersScale: 1, backends: ['wasm', 'cpu', 'tensorflow'] },
  { id: 'b', N: 64, gridsize: 2, batch: 16, filtersScale: 2, backends: ['wasm', 'tensorflow'] },
];

function option(args: string[], name: string, fallback: string): string {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] !== undefined ? args[i + 1]! : fallback;
}

/** A Gaussian probe with a mild quadratic phase (any smooth probe will do for timing). */
function probe(N: number): Complex2D {
  const re = new Float32Array(N * N);
  const im = new Float32Array(N * N);
  const s = N / 8;
  for (let y = 0; y < N; y++) {
    for (let x = 0; x < N; x++) {
      const r2 = (x - N / 2) ** 2 + (y - N / 2) ** 2;
      const a = Math.exp(-r2 / (2 * s * s));
      re[y * N + x] = a * Math.cos(0.01 * r2);
      im[y * N + x] = a * Math.sin(0.01 * r2);
    }
  }
  return { height: N, width: N, re, im };
}

/** Random positive amplitudes X (B,N,N,C) and small in-group offsets (B,1,2,C). */
function batch(cfg: BenchConfig, seed: number): { X: tf.Tensor4D; coords: tf.Tensor4D } {
  const C = cfg.gridsize ** 2;
  const rng = new Rng(seed);
  const x = new Float32Array(cfg.batch * cfg.N * cfg.N * C).map(() => rng.uniform());
  const c = new Float32Array(cfg.batch * 2 * C).map(() => (C === 1 ? 0 : ((rng.uniform() - 0.5) * cfg.N) / 4));
  return { X: tf.tensor4d(x, [cfg.batch, cfg.N, cfg.N, C]), coords: tf.tensor4d(c, [cfg.batch, 1, 2, C]) };
}

function timeIt(reps: number, warmup: number, f: () => void): number {
  for (let i = 0; i < warmup; i++) f();
  const t0 = performance.now();
  for (let i = 0; i < reps; i++) f();
  return (performance.now() - t0) / reps;
}

function emit(record: Record<string, unknown>): void {
  process.stdout.write(JSON.stringify({ bench: 'compute', ...record }) + '\n');
}

async function measure(backend: string, cfg: BenchConfig, steps: number, warmup: number): Promise<void> {
  const model = PtychoPINN.create({ N: cfg.N, gridsize: cfg.gridsize, n_filters_scale: cfg.filtersScale }, probe(cfg.N), 1);
  const optimizer = makeOptimizer(1e-3);
  const { X, coords } = batch(cfg, 2);
  const base = {
    backend,
    model: 'pinn',
    config: cfg.id,
    N: cfg.N,
    gridsize: cfg.gridsize,
    batch: cfg.batch,
    filters_scale: cfg.filtersScale,
    params: model.paramCount(),
  };
  try {
    const train = timeIt(steps, warmup, () => model.trainStep(X, coords, optimizer));
    emit({ ...base, phase: 'train', steps, ms_per_batch: Math.round(train), samples_per_s: +((cfg.batch * 1000) / train).toFixed(2) });
    const infer = timeIt(steps, warmup, () => {
      const { re, im } = model.predict(X, coords);
      re.dataSync();
      tf.dispose([re, im]);
    });
    emit({ ...base, phase: 'infer', steps, ms_per_batch: Math.round(infer), samples_per_s: +((cfg.batch * 1000) / infer).toFixed(2) });
  } finally {
    tf.dispose([X, coords]);
    optimizer.dispose();
    model.dispose();
  }
}

/** Runs the PyTorch twin of this benchmark; its JSON lines go straight to stdout. */
function measurePytorch(configs: string[], steps: number): void {
  const script = path.join(path.dirname(fileURLToPath(import.meta.url)), 'pytorch_compute.py');
  const r = spawnSync(
    process.env.PYTHON ?? 'python3',
    [script, '--configs', configs.filter((c) => c === 'a' || c === 'b').join(','), '--steps', String(steps)],
    { stdio: ['ignore', 'inherit', 'pipe'], encoding: 'utf8' },
  );
  if (r.error !== undefined || r.status !== 0) {
    const why = r.error?.message ?? (r.stderr.trim().split('\n').pop() || `exit ${r.status}`);
    emit({ backend: 'pytorch', skipped: why });
  }
}

export async function run(args: string[]): Promise<void> {
  const backends = option(args, 'backends', 'wasm,cpu,tensorflow').split(',');
  const configs = option(args, 'configs', 'a,b').split(',');
  const steps = Number(option(args, 'steps', '3'));
  const cpuSteps = Number(option(args, 'cpu-steps', '1'));
  for (const requested of backends) {
    if (requested === 'pytorch') {
      measurePytorch(configs, steps);
      continue;
    }
    let backend: string;
    try {
      const info = await selectBackend(requested as BackendName);
      backend = info.name;
      process.stderr.write(`backend ${info.name} (${info.package ?? 'built in'}${info.threads !== undefined ? `, ${info.threads} thread` : ''})\n`);
    } catch (e) {
      emit({ backend: requested, skipped: e instanceof Error ? e.message : String(e) });
      continue;
    }
    for (const cfg of CONFIGS) {
      if (!configs.includes(cfg.id) || !cfg.backends.includes(backend)) continue;
      const slow = backend === 'cpu';
      await measure(backend, cfg, slow ? cpuSteps : steps, slow ? 0 : 1);
    }
  }
}

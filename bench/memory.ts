// Memory benchmark: peak RSS and peak live tensor bytes of (a) an eager
// baseline that does what the reference container does (the whole diffraction
// array read, every group materialised and normalised, then tensorified at
// once) and (b) the streaming pipeline npz → normalize → group → batch(16) →
// tensorify → a sink that touches and disposes every tensor, on synthetic
// canonical NPZ files of growing size. Each measurement runs in a fresh child
// process (peak RSS = that child's maxRSS); the eager child runs under a
// RSS cap (killed when crossed) so a scan that does not fit reports "out of memory".
//   node --import tsx bench/memory.ts [--patterns 2000,8000,20000] [--N 64,128] [--gridsize 2] [--cap-gib 8] [--backend cpu|wasm] [--modes eager,streaming] [--json]
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import * as tf from '../src/tf.js';
import { selectBackend, type BackendName } from '../src/backend/select.js';
import { NpzStreamWriter } from '../src/io/npz-writer.js';
import { openNpz } from '../src/io/npz.js';
import { createStageContext } from '../src/pipeline/context.js';
import { TensorLedger } from '../src/pipeline/ledger.js';
import type { Stream, TensorBatch } from '../src/pipeline/types.js';
import npzSource from '../src/sources/npz.js';
import batchDef from '../src/transforms/batch.js';
import groupDef, { GroupPlan, interleave } from '../src/transforms/group.js';
import normalizeDef from '../src/transforms/normalize.js';
import tensorifyDef from '../src/transforms/tensorify.js';
import { Rng } from '../src/util/rng.js';
import { arg } from './args.js';

const K = 7;

/**
 * A synthetic canonical NPZ (stored entries) with n patterns of N×N on a raster
 * of step N/4; made once per (n, N) and reused. Patterns cycle through 64
 * random ones: content does not matter for memory or throughput.
 */
export async function syntheticNpz(n: number, N: number, dir = path.join(os.tmpdir(), 'ptychoflow-bench')): Promise<string> {
  const file = path.join(dir, `synthetic_n${n}_N${N}.npz`);
  if (existsSync(file)) return file;
  await mkdir(dir, { recursive: true });
  const rng = new Rng(11);
  const NN = N * N;
  const base = Float32Array.from({ length: 64 * NN }, () => rng.uniform());
  const cols = Math.ceil(Math.sqrt(n));
  const step = N / 4;
  const xs = Float64Array.from({ length: n }, (_, i) => N + (i % cols) * step + 0.3 * rng.uniform());
  const ys = Float64Array.from({ length: n }, (_, i) => N + Math.floor(i / cols) * step + 0.3 * rng.uniform());
  const w = await NpzStreamWriter.create(file);
  try {
    await w.beginArray('diffraction', '<f4', [n, N, N]);
    const per = Math.max(1, Math.floor((8 << 20) / (NN * 4)));
    const chunk = new Float32Array(per * NN);
    for (let i = 0; i < n; i += per) {
      const m = Math.min(per, n - i);
      for (let j = 0; j < m; j++) chunk.set(base.subarray(((i + j) % 64) * NN, (((i + j) % 64) + 1) * NN), j * NN);
      await w.write(chunk.subarray(0, m * NN));
    }
    await w.endArray();
    await w.beginArray('xcoords', '<f8', [n]);
    await w.write(xs);
    await w.endArray();
    await w.beginArray('ycoords', '<f8', [n]);
    await w.write(ys);
    await w.endArray();
    const probe = new Float32Array(2 * NN);
    for (let p = 0; p < NN; p++) probe[2 * p] = 1;
    await w.beginArray('probeGuess', '<c8', [N, N]);
    await w.write(probe);
    await w.endArray();
    await w.close();
  } catch (e) {
    await w.abort();
    throw e;
  }
  return file;
}

/** The streaming path as stages: npz → normalize → group → batch → tensorify. */
export async function streamingPipeline(
  file: string,
  gridsize: number,
  batchSize: number,
  ledger: TensorLedger,
  signal: AbortSignal,
): Promise<{ stream: Stream<TensorBatch>; close: () => Promise<void> }> {
  const ctx = (id: string) => createStageContext({ id, signal, seed: 1, ledger });
  const src = await npzSource.create(npzSource.options.parse({ path: file }), { ctx: ctx('npz'), inputs: [] });
  const norm = await normalizeDef.create(normalizeDef.options.parse({}), { ctx: ctx('normalize'), inputs: [src] });
  const grp = await groupDef.create(groupDef.options.parse({ gridsize, k: K }), { ctx: ctx('group'), inputs: [norm] });
  const bat = await batchDef.create(batchDef.options.parse({ batch_size: batchSize }), { ctx: ctx('batch'), inputs: [grp] });
  const ten = await tensorifyDef.create({}, { ctx: ctx('tensorify'), inputs: [bat] });
  return { stream: ten as Stream<TensorBatch>, close: async () => src.close?.() };
}

interface ChildResult {
  groups: number;
  peak_tensor_bytes: number;
}

async function eager(file: string, gridsize: number): Promise<ChildResult> {
  const npz = await openNpz(file);
  try {
    const d = await npz.readArray('diffraction');
    const xs = Float64Array.from((await npz.readArray('xcoords')).data as Float64Array);
    const ys = Float64Array.from((await npz.readArray('ycoords')).data as Float64Array);
    const [n, N] = d.shape as [number, number];
    const NN = N * N;
    const data = d.data as Float32Array;
    const plan = new GroupPlan(xs, ys, { gridsize, k: K, oversample: false, seed: 1 });
    const C = plan.C;
    const G = plan.count;
    // diffraction[nn_indices] then X_full = k · that, as separate arrays (as the reference keeps both).
    const grouped = new Float32Array(G * NN * C);
    const coords = new Float32Array(G * 2 * C);
    let energy = 0;
    for (let g = 0; g < G; g++) {
      const idx = plan.members(g);
      const frames = Array.from(idx, (m) => data.subarray(m * NN, (m + 1) * NN));
      const block = interleave(frames, NN);
      grouped.set(block, g * NN * C);
      for (const v of block) energy += v * v;
      coords.set(plan.geometry(idx).offsets, g * 2 * C);
    }
    const k = Math.sqrt(((N / 2) * (N / 2)) / (energy / (G * C)));
    const X = new Float32Array(grouped.length);
    for (let i = 0; i < X.length; i++) X[i] = k * grouped[i]!;
    const Xt = tf.tensor4d(X, [G, N, N, C]);
    const Ct = tf.tensor4d(coords, [G, 1, 2, C]);
    const peak = tf.memory().numBytes;
    tf.tidy(() => Xt.sum().dataSync());
    tf.dispose([Xt, Ct]);
    void n;
    return { groups: G, peak_tensor_bytes: peak };
  } finally {
    await npz.close();
  }
}

async function streaming(file: string, gridsize: number): Promise<ChildResult> {
  const ledger = new TensorLedger();
  const { stream, close } = await streamingPipeline(file, gridsize, 16, ledger, new AbortController().signal);
  let groups = 0;
  try {
    for await (const tb of stream.open(new AbortController().signal)) {
      tf.tidy(() => tb.X.sum().dataSync());
      ledger.observe();
      groups += tb.size;
      tb.dispose();
    }
  } finally {
    await close();
  }
  return { groups, peak_tensor_bytes: ledger.report().peak_bytes };
}

/** Runs one measurement in this process (the child side) and prints its JSON line. */
async function child(args: readonly string[]): Promise<void> {
  const mode = arg(args, 'child', 'streaming');
  const file = arg(args, 'file', '');
  const gridsize = Number(arg(args, 'gridsize', '2'));
  await selectBackend(arg(args, 'backend', 'cpu') as BackendName);
  const t0 = performance.now();
  let out: ChildResult = { groups: 0, peak_tensor_bytes: 0 };
  let status = 'ok';
  try {
    out = mode === 'eager' ? await eager(file, gridsize) : await streaming(file, gridsize);
  } catch (e) {
    status = e instanceof RangeError || /memory|allocat/i.test(String(e)) ? `out of memory (${String(e).slice(0, 80)})` : String(e).slice(0, 200);
  }
  const seconds = (performance.now() - t0) / 1000;
  process.stdout.write(`${JSON.stringify({ ...out, peak_rss_bytes: process.resourceUsage().maxRSS * 1024, seconds, status })}\n`);
}

/** RSS of a live process in bytes (Linux /proc), or undefined once it is gone. */
async function rssOf(pid: number): Promise<number | undefined> {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(await readFile(`/proc/${pid}/status`, 'utf8'));
    return m === null ? undefined : Number(m[1]) * 1024;
  } catch {
    return undefined;
  }
}

/**
 * Runs one child; when its RSS crosses `capBytes` it is killed and reported as
 * out of memory (ulimit -v cannot be used: V8 reserves far more address space than it touches).
 */
function runChild(
  mode: string,
  file: string,
  gridsize: number,
  capBytes: number,
  backend: string,
): Promise<{ code: number | null; stdout: string; stderr: string; killed: boolean }> {
  const self = fileURLToPath(import.meta.url);
  return new Promise((resolve) => {
    const p = spawn(process.execPath, ['--import', 'tsx', self, '--child', mode, '--file', file, '--gridsize', String(gridsize), '--backend', backend], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let killed = false;
    const timer = setInterval(() => {
      if (p.pid === undefined) return;
      void rssOf(p.pid).then((rss) => {
        if (rss !== undefined && rss > capBytes && !killed) {
          killed = true;
          p.kill('SIGKILL');
        }
      });
    }, 50);
    p.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    p.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    p.on('close', (code) => {
      clearInterval(timer);
      resolve({ code, stdout, stderr, killed });
    });
  });
}

export async function run(args: string[]): Promise<void> {
  if (args.includes('--child')) return child(args);
  const json = args.includes('--json');
  const patterns = arg(args, 'patterns', '2000,8000,20000').split(',').map(Number);
  const Ns = arg(args, 'N', '64,128').split(',').map(Number);
  const gridsize = Number(arg(args, 'gridsize', '2'));
  const modes = arg(args, 'modes', 'eager,streaming').split(',');
  // Where the tensors live: cpu (tfjs keeps the batch arrays) or wasm (the embedded default, copies them; window buffers are reused).
  const backend = arg(args, 'backend', 'cpu');
  const capBytes = Number(arg(args, 'cap-gib', '8')) * 2 ** 30;
  for (const N of Ns) {
    for (const n of patterns) {
      const file = await syntheticNpz(n, N);
      for (const mode of modes) {
        const r = await runChild(mode, file, gridsize, capBytes, backend);
        const line = r.stdout.trim().split('\n').pop() ?? '';
        let m: Record<string, unknown>;
        try {
          m = JSON.parse(line) as Record<string, unknown>;
        } catch {
          const why = r.killed
            ? `out of memory (RSS over the ${capBytes / 2 ** 30} GiB cap)`
            : /heap out of memory|allocation failed|Cannot allocate|RangeError/i.test(r.stderr)
              ? 'out of memory'
              : `child exited ${r.code}: ${r.stderr.trim().split('\n').pop() ?? ''}`;
          m = { groups: 0, peak_rss_bytes: null, peak_tensor_bytes: null, seconds: null, status: why };
        }
        const rec = {
          bench: 'memory',
          mode,
          backend,
          patterns: n,
          N,
          gridsize,
          groups: m.groups,
          peak_rss_bytes: m.peak_rss_bytes,
          peak_tensor_bytes: m.peak_tensor_bytes,
          seconds: m.seconds,
          status: m.status,
        };
        if (json) process.stdout.write(`${JSON.stringify(rec)}\n`);
        else
          process.stdout.write(
            `${mode.padEnd(9)} N=${N} patterns=${n} groups=${String(rec.groups)} peak RSS ${((Number(rec.peak_rss_bytes) || 0) / 2 ** 20).toFixed(0)} MiB, tensors ${((Number(rec.peak_tensor_bytes) || 0) / 2 ** 20).toFixed(1)} MiB, ${Number(rec.seconds).toFixed(1)} s, ${String(rec.status)}\n`,
          );
      }
    }
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  await run(process.argv.slice(2));
}

// Live reconstruction benchmark (issue #21): `ptychoflow replay` and the live
// pipeline (zmq → normalize → group window → batch → tensorify → infer), each
// in its own process over 127.0.0.1, on a simulated N=32 scan and a checkpoint
// trained on it for one epoch (both made once, in the temp dir).
//   (a) latency from the last frame sent to the final image written (phase.png,
//       written last), per backend, at a paced rate (--latency-rate);
//   (b) the highest replay rate the pipeline keeps up with: the sender was
//       never held back (PUSH waits when the receiver's queue is full) and the
//       final image follows the last frame within 5 s;
// The group window is 128 frames (each group decided 64 frames, about four
// scan rows, after its seed), so the tail after the last frame is short.
//   (c) peak RSS of the pipeline process over a short and a long replay
//       (`--loop`), which must agree when memory is bounded.
//   node --import tsx bench/live.ts [--backends wasm,cpu] [--latency-rate 50] [--rates 50,100,200,400] [--frames 10000,100000] [--json]
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, stat, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { arg } from './args.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const cli = path.join(root, 'bin/ptychoflow.js');
const dir = path.join(os.tmpdir(), 'ptychoflow-bench-live');
const FRAMES_PER_PASS = 289;

function sh(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cli, ...args], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '',
      stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

const lastJson = (s: string): Record<string, unknown> => JSON.parse(s.trim().split('\n').pop()!) as Record<string, unknown>;

/** The 289-frame scan and its checkpoint, made once. */
async function fixture(): Promise<{ scan: string; checkpoint: string }> {
  const scan = path.join(dir, 'scan.npz'),
    checkpoint = path.join(dir, 'checkpoint');
  if (existsSync(scan) && existsSync(path.join(checkpoint, 'ptychoflow.json'))) return { scan, checkpoint };
  await mkdir(dir, { recursive: true });
  await writeFile(
    path.join(dir, 'make.yaml'),
    `seed: 1
output: .
sources:
  sim: { type: simulate, N: 32, object: { kind: grf, size: 96 }, scan: { pattern: raster, step: 4, jitter: 0.3 } }
transforms:
  norm: { type: normalize, inputs: [sim] }
  groups: { type: group, inputs: [norm], gridsize: 2 }
  batches: { type: batch, inputs: [groups], batch_size: 32 }
  tensors: { type: tensorify, inputs: [batches] }
sinks:
  scan: { type: write-npz, inputs: [sim], path: scan.npz }
  train: { type: train, inputs: [tensors], epochs: 1, n_filters_scale: 0.25, collapse: { action: warn } }
`,
  );
  const r = await sh(['run', path.join(dir, 'make.yaml'), '-q', '--backend', 'wasm']);
  if (r.code !== 0) throw new Error(`fixture: ${r.stderr}`);
  return { scan, checkpoint };
}

interface Measured {
  backend: string;
  frames: number;
  rate: number | null;
  latency_s: number;
  replay_s: number;
  held_back: boolean;
  peak_rss_mib: number;
  received: number;
  wall_s: number;
}

async function measure(f: { scan: string; checkpoint: string }, backend: string, loop: number, rate: number | undefined): Promise<Measured> {
  const endpoint = `tcp://127.0.0.1:${await freePort()}`;
  const out = path.join(dir, `run-${backend}-${loop}-${rate ?? 'max'}`);
  await mkdir(out, { recursive: true });
  const file = path.join(out, 'live.yaml');
  await writeFile(
    file,
    `seed: 7
output: .
sources:
  scan: { type: zmq, endpoint: "${endpoint}", idle_timeout_s: 20, rcvhwm: 1000 }
transforms:
  scaled: { type: normalize, inputs: [scan], checkpoint: ${f.checkpoint} }
  groups: { type: group, inputs: [scaled], gridsize: 2, k: 7, window: 128 }
  batches: { type: batch, inputs: [groups], batch_size: 32 }
  tensors: { type: tensorify, inputs: [batches] }
sinks:
  infer: { type: infer, inputs: [tensors], checkpoint: ${f.checkpoint}, snapshot_every_s: 5 }
`,
  );
  const pipeline = sh(['run', file, '--json', '-q', '--backend', backend]);
  const replayArgs = ['replay', f.scan, '--endpoint', endpoint, '--json', '--loop', String(loop), ...(rate === undefined ? [] : ['--rate', String(rate)])];
  const sent = await sh(replayArgs);
  const ran = await pipeline;
  if (ran.code !== 0 || sent.code !== 0) throw new Error(`live run failed: ${ran.stderr}\n${sent.stderr}`);
  const summary = lastJson(ran.stdout) as { peak_rss_bytes: number; wall_ms: number; stages: { id: string; info?: { received: number } }[] };
  const rep = lastJson(sent.stdout) as { sent: number; seconds: number; last_frame_ms: number };
  const written = (await stat(path.join(out, 'phase.png'))).mtimeMs;
  const ideal = rate === undefined ? 0 : rep.sent / rate;
  return {
    backend,
    frames: rep.sent,
    rate: rate ?? null,
    latency_s: +((written - rep.last_frame_ms) / 1000).toFixed(3),
    replay_s: rep.seconds,
    held_back: rate !== undefined && rep.seconds > 1.05 * ideal + 0.5,
    peak_rss_mib: +(summary.peak_rss_bytes / 2 ** 20).toFixed(1),
    received: summary.stages.find((s) => s.id === 'scan')?.info?.received ?? 0,
    wall_s: +(summary.wall_ms / 1000).toFixed(1),
  };
}

export async function run(args: string[]): Promise<void> {
  const json = args.includes('--json');
  const backends = arg(args, 'backends', 'wasm,cpu').split(',');
  const rates = arg(args, 'rates', '50,100,200,400').split(',').map(Number);
  const sizes = arg(args, 'frames', '10000,100000').split(',').map(Number);
  const f = await fixture();
  const print = (m: Measured, what: string): void => {
    process.stdout.write(
      json
        ? `${JSON.stringify({ what, ...m })}\n`
        : `${what.padEnd(9)} ${m.backend.padEnd(5)} frames ${String(m.frames).padStart(6)} rate ${String(m.rate ?? 'max').padStart(5)}  latency ${m.latency_s.toFixed(2)} s  replay ${m.replay_s.toFixed(1)} s${m.held_back ? ' (held back)' : ''}  peak RSS ${m.peak_rss_mib} MiB  wall ${m.wall_s} s\n`,
    );
  };
  // (a) latency: one pass at a rate the pipeline keeps up with, so it measures the tail (last window, final write), not a backlog.
  const paced = Number(arg(args, 'latency-rate', '50'));
  for (const b of backends) print(await measure(f, b, 1, paced), 'latency');
  // (b) rates on wasm, about 10 s of frames each.
  for (const r of rates) {
    const loop = Math.max(1, Math.round((10 * r) / FRAMES_PER_PASS));
    const m = await measure(f, 'wasm', loop, r);
    print(m, 'rate');
    if (m.held_back || m.latency_s > 5) break;
  }
  // (c) peak RSS, short vs long replay, as fast as it goes.
  for (const n of sizes) print(await measure(f, 'wasm', Math.max(1, Math.round(n / FRAMES_PER_PASS)), undefined), 'rss');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await run(process.argv.slice(2));

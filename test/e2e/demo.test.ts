// The demo pipeline from the CLI, as a new user runs it, shrunk with --set so
// the suite stays fast: it must exit 0, leak no tensors, and write the NPZ,
// PNGs, metrics and checkpoint the README promises, and the refined object.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import test from 'ava';

const root = path.resolve(import.meta.dirname, '../..');

function run(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(root, 'bin/ptychoflow.js'), ...args], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

test('pipelines/demo.yaml runs from the CLI (shrunk), exits 0, leaks nothing and writes its files', async (t) => {
  const out = path.join(root, 'out/test-demo');
  rmSync(out, { recursive: true, force: true });
  const r = await run([
    'run',
    'pipelines/demo.yaml',
    '--json',
    '--backend',
    'wasm',
    '--output',
    out,
    '--set',
    'sinks.train.epochs=1',
    '--set',
    'sources.scan.scan.step=12',
    '--set',
    'sinks.refine.epochs=2',
  ]);
  t.is(r.code, 0, r.stderr);
  const lines = r.stdout.trim().split('\n');
  const summary = JSON.parse(lines[lines.length - 1]!) as {
    status: string;
    backend: string;
    tensors: { leaked: number; peak_bytes: number };
    sinks: Record<string, Record<string, unknown>>;
  };
  t.is(summary.status, 'ok');
  t.is(summary.backend, 'wasm');
  t.is(summary.tensors.leaked, 0);
  t.true(summary.tensors.peak_bytes > 0);
  for (const f of [
    'reconstruction.npz',
    'amplitude.png',
    'phase.png',
    'metrics.json',
    'comparison.png',
    'frc.png',
    'loss.png',
    'history.json',
    'checkpoint/model.json',
    'checkpoint/weights.bin',
    'checkpoint/ptychoflow.json',
    'refined.npz',
    'refined_amplitude.png',
    'refined_phase.png',
    'refined_metrics.json',
    'refined_comparison.png',
    'refine_history.json',
  ]) {
    t.true(existsSync(path.join(out, f)), f);
    t.true(statSync(path.join(out, f)).size > 0, f);
  }
  const png = readFileSync(path.join(out, 'amplitude.png'));
  t.deepEqual([...png.subarray(1, 4)], [0x50, 0x4e, 0x47]); // "PNG"
  const metrics = JSON.parse(readFileSync(path.join(out, 'metrics.json'), 'utf8')) as { amplitude: { ssim: number }; phase: { ssim: number } };
  t.true(Number.isFinite(metrics.amplitude.ssim));
  t.true(Number.isFinite(metrics.phase.ssim));
  const refine = summary.sinks['refine'] as { passes: number; start_loss: number; final_loss: number };
  t.is(refine.passes, 2);
  t.true(refine.final_loss < refine.start_loss);
});

// Long-run fuzzing: `node --import tsx scripts/fuzz.ts --iterations N [--seed S] [--chunk C] [--limit-ms L]`.
// Runs the cases of test/fuzz/cases.ts (NPY headers, NPZ archives, pipeline
// documents, in the ratio 5:4:1) in child processes of C cases each, so that
// a process abort (a native crash, exit 134) or a hang that blocks the event
// loop is seen and counted instead of ending the run: the parent kills a
// child that reports no progress for 4 × the per-case limit. Prints counts
// per kind (ok, typed, untyped, abort, hang) as JSON and the first findings;
// exits 1 when anything but ok/typed happened.
import { fork } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { npyCase, pipelineCase, runCase, zipCase, type Kind } from '../test/fuzz/cases.js';

type Counts = Record<'ok' | 'typed' | 'untyped' | 'abort' | 'hang', number>;
interface Chunk {
  kind: Kind;
  seed: number;
  from: number;
  count: number;
}

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const v = i < 0 ? fallback : Number(process.argv[i + 1]);
  if (!Number.isInteger(v) || v <= 0) throw new Error(`--${name} needs a positive integer`);
  return v;
}

const ARBS = { npy: npyCase, zip: zipCase, pipeline: pipelineCase } as Record<Kind, fc.Arbitrary<Uint8Array | string>>;

/** Child: runs one chunk, reporting each outcome to the parent as it happens. */
async function worker(c: Chunk, limitMs: number): Promise<void> {
  const dir = await mkdtemp(path.join(os.tmpdir(), `pf-fuzz-${c.kind}-`));
  try {
    const inputs = fc.sample(ARBS[c.kind], { seed: c.seed, numRuns: c.count });
    for (let k = 0; k < inputs.length; k++) {
      const r = await runCase(c.kind, inputs[k]!, dir, c.from + k, limitMs);
      process.send!({ outcome: r.outcome, ...(r.detail === undefined ? {} : { detail: r.detail }) });
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Parent: one child per chunk; an exit before the chunk is done is an abort, silence past the watchdog a hang. */
function runChunk(c: Chunk, limitMs: number, counts: Counts, findings: string[]): Promise<number> {
  return new Promise((resolve) => {
    const child = fork(fileURLToPath(import.meta.url), ['--worker', JSON.stringify(c), '--limit-ms', String(limitMs)], {
      execArgv: ['--import', 'tsx'],
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    });
    let done = 0,
      killed = false,
      stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-2000)));
    // The first case waits for the child to start (loading tsx takes long on a busy machine).
    let watchdog = setTimeout(() => ((killed = true), child.kill('SIGKILL')), 4 * limitMs + 120_000);
    child.on('message', (m: { outcome: keyof Counts; detail?: string }) => {
      done++;
      counts[m.outcome]++;
      if (m.detail !== undefined && findings.length < 20) findings.push(m.detail);
      clearTimeout(watchdog);
      watchdog = setTimeout(() => ((killed = true), child.kill('SIGKILL')), 4 * limitMs);
    });
    child.on('exit', (code, signal) => {
      clearTimeout(watchdog);
      if (done < c.count) {
        const what = killed ? 'hang' : 'abort';
        counts[what]++;
        if (findings.length < 20)
          findings.push(
            `${c.kind} seed ${c.seed} case ${c.from + done}: ${what} (exit ${code ?? signal}) ${stderr.split('\n').slice(-3).join(' ')}`.slice(0, 400),
          );
      }
      resolve(done);
    });
  });
}

async function main(): Promise<void> {
  const limitMs = arg('limit-ms', 5000);
  const w = process.argv.indexOf('--worker');
  if (w >= 0) return worker(JSON.parse(process.argv[w + 1]!) as Chunk, limitMs);
  const iterations = arg('iterations', 1000),
    seed = arg('seed', 19),
    chunk = arg('chunk', 2500);
  const share: Record<Kind, number> = { npy: 0.5, zip: 0.4, pipeline: 0.1 };
  const result: Record<string, Counts> = {};
  const findings: string[] = [];
  const t0 = performance.now();
  for (const kind of ['npy', 'zip', 'pipeline'] as const) {
    const counts: Counts = { ok: 0, typed: 0, untyped: 0, abort: 0, hang: 0 };
    result[kind] = counts;
    const total = Math.round(iterations * share[kind]);
    // A chunk cut short by an abort is resumed after the case that aborted, under a new seed.
    for (let from = 0, s = seed; from < total; s++) {
      const c: Chunk = { kind, seed: s * 7919 + from, from, count: Math.min(chunk, total - from) };
      const done = await runChunk(c, limitMs, counts, findings);
      from += Math.max(done + (done < c.count ? 1 : 0), 1);
      // Progress survives an interrupted run.
      process.stderr.write(`${kind} ${from}/${total}: ${JSON.stringify(counts)}\n`);
    }
    process.stderr.write(`${kind}: ${JSON.stringify(counts)}\n`);
  }
  const bad = Object.values(result).reduce((a, c) => a + c.untyped + c.abort + c.hang, 0);
  process.stdout.write(
    JSON.stringify({ iterations, seed, limit_ms: limitMs, seconds: Math.round((performance.now() - t0) / 1000), counts: result, findings }, null, 1) + '\n',
  );
  process.exitCode = bad === 0 ? 0 : 1;
}

await main();

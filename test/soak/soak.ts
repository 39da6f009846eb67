// The kill -9 soak (`npm run soak [-- --kills 20 --seed 1 --epochs 30]`, not
// part of `npm test`): a tiny training run is killed with SIGKILL `kills`
// times, at random moments of training and, one kill in three, inside a
// checkpoint save (forced by the save hook in child.ts: after the new
// checkpoint is written, or between the two renames of the swap). Each kill
// is followed by the same command with `resume: true`. Checked: every resume
// starts from the checkpoint on disk at that moment (see savedEpoch; fresh
// when there is none), no temp or `.old-*` checkpoint directory
// survives the last run, and the final loss history equals that of an
// uninterrupted run of the same pipeline. Prints one JSON line; exits 1 on
// any mismatch.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Rng } from '../../src/util/rng.js';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i < 0 ? fallback : Number(process.argv[i + 1]);
}
const KILLS = arg('kills', 20),
  SEED = arg('seed', 1),
  EPOCHS = arg('epochs', 30);
const child = fileURLToPath(new URL('./child.ts', import.meta.url));
const tsx = import.meta.resolve('tsx');

// cpu backend: bit-for-bit repeatable, so histories can be compared exactly.
const pipeline = `seed: 5
backend: cpu
output: out
sources:
  scan: { type: simulate, N: 16, object: { kind: image, size: 24 }, scan: { step: 4 }, nphotons: 1.0e6 }
transforms:
  normalized: { type: normalize, inputs: [scan] }
  groups: { type: group, inputs: [normalized], gridsize: 1 }
  shuffled: { type: shuffle, inputs: [groups] }
  batches: { type: batch, inputs: [shuffled], batch_size: 4 }
  tensors: { type: tensorify, inputs: [batches] }
sinks:
  train: { type: train, inputs: [tensors], n_filters_scale: 0.25, epochs: ${EPOCHS}, resume: true, early_stop: { patience: 0 }, collapse: { tol: 0 } }
`;

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
}

/** Runs the pipeline in `dir`; `killAfterMs` (from the start of training) sends SIGKILL; `atSave` arms the save hook. */
function run(dir: string, o: { killAfterMs?: number; atSave?: string } = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, ['--import', tsx, child, 'run', 'p.yaml'], {
      cwd: dir,
      env: { ...process.env, PF_SOAK_KILL_AT_SAVE: o.atSave ?? '' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '',
      timer: NodeJS.Timeout | undefined;
    p.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
      // The clock starts when the model exists: kills land in training, not in module loading.
      if (o.killAfterMs !== undefined && timer === undefined && /model: \d+ parameters/.test(stderr))
        timer = setTimeout(() => p.kill('SIGKILL'), o.killAfterMs);
    });
    p.on('error', reject);
    p.on('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stderr });
    });
  });
}

/**
 * The epoch a resume must continue after, from what is on disk (-1: none).
 * `checkpoint` when it exists; else (killed between the swap's two renames)
 * the newest complete leftover, `.old-*` or `.tmp-*` (the sidecar, written
 * last, marks a complete one). This restates checkpoint-dir.ts's recovery
 * rule from the files, independently of its code.
 */
function savedEpoch(out: string): number {
  const epochOf = (dir: string): number => {
    const side = path.join(out, dir, 'ptychoflow.json');
    return existsSync(side) ? (JSON.parse(readFileSync(side, 'utf8')) as { epoch: number }).epoch : -1;
  };
  if (!existsSync(out)) return -1;
  if (existsSync(path.join(out, 'checkpoint'))) return epochOf('checkpoint');
  return Math.max(
    -1,
    ...readdirSync(out)
      .filter((n) => /^checkpoint\.(old|tmp)-/.test(n))
      .map(epochOf),
  );
}

type Epoch = { epoch: number; loss: number; lr: number };
function history(out: string): Epoch[] {
  return (JSON.parse(readFileSync(path.join(out, 'history.json'), 'utf8')) as Epoch[]).map(({ epoch, loss, lr }) => ({ epoch, loss, lr }));
}

/** The epoch a run said it resumed after (-1: started fresh), or undefined when it never got that far. */
function resumedAfter(stderr: string): number | undefined {
  const m = /resuming from .* after epoch (\d+)/.exec(stderr);
  if (m !== null) return Number(m[1]);
  return /no checkpoint in .*: starting fresh/.test(stderr) ? -1 : undefined;
}

async function main(): Promise<void> {
  const root = mkdtempSync(path.join(os.tmpdir(), 'pf-soak-'));
  const problems: string[] = [];
  const t0 = performance.now();
  try {
    const refDir = path.join(root, 'reference');
    const soakDir = path.join(root, 'soak');
    for (const d of [refDir, soakDir]) {
      mkdirSync(d);
      writeFileSync(path.join(d, 'p.yaml'), pipeline);
    }
    const ref = await run(refDir);
    if (ref.code !== 0) throw new Error(`reference run failed (exit ${ref.code}): ${ref.stderr.slice(-500)}`);
    const reference = history(path.join(refDir, 'out'));
    const epochMs =
      (1000 * (JSON.parse(readFileSync(path.join(refDir, 'out', 'history.json'), 'utf8')) as { seconds: number }[]).reduce((a, h) => a + h.seconds, 0)) /
      reference.length;

    const rng = new Rng(SEED);
    const out = path.join(soakDir, 'out');
    const log: { kill: number; how: string; saved_before: number; resumed_after: number | null; exit: string }[] = [];
    let kills = 0,
      runs = 0,
      finished = false;
    while (!finished) {
      const before = savedEpoch(out);
      const inSave = kills < KILLS && kills % 3 === 2;
      const o =
        kills >= KILLS
          ? {}
          : inSave
            ? { atSave: `${1 + Math.floor(rng.uniform() * 2)}:${rng.uniform() < 0.5 ? 'written' : 'swapped-out'}` }
            : { killAfterMs: Math.round(rng.uniform() * 1.5 * epochMs) };
      const r = await run(soakDir, o);
      runs++;
      const after = resumedAfter(r.stderr);
      // A run killed before it reached the train sink proves nothing about resume; the next one checks it.
      if (after !== undefined && after !== before) problems.push(`run ${runs}: checkpoint on disk was epoch ${before}, the run resumed after ${after}`);
      const killed = r.signal === 'SIGKILL';
      if (killed) kills++;
      else if (r.code !== 0) problems.push(`run ${runs}: exit ${r.code}: ${r.stderr.slice(-300)}`);
      log.push({
        kill: kills,
        how: 'atSave' in o ? `save ${o.atSave}` : 'killAfterMs' in o ? `after ${o.killAfterMs} ms` : 'none',
        saved_before: before,
        resumed_after: after ?? null,
        exit: killed ? 'SIGKILL' : String(r.code),
      });
      // Done when a run ends by itself: after the last kill, or too early (then the soak is too short).
      finished = !killed;
      if (finished && kills < KILLS) problems.push(`training finished after only ${kills} kills; raise --epochs`);
    }
    const got = history(out);
    if (JSON.stringify(got) !== JSON.stringify(reference))
      problems.push(`history differs from the uninterrupted run:\n${JSON.stringify(got)}\n${JSON.stringify(reference)}`);
    const leftovers = readdirSync(out).filter((n) => /^checkpoint\.(tmp|old)-/.test(n));
    if (leftovers.length > 0) problems.push(`left behind: ${leftovers.join(', ')}`);
    const tempFiles = readdirSync(out).filter((n) => n.endsWith('.tmp'));
    process.stdout.write(
      JSON.stringify({
        kills,
        in_save: log.filter((l) => l.how.startsWith('save') && l.exit === 'SIGKILL').length,
        runs,
        epochs: EPOCHS,
        epoch_ms: Math.round(epochMs),
        history_equal: JSON.stringify(got) === JSON.stringify(reference),
        stale_temp_files: tempFiles.length,
        seconds: Math.round((performance.now() - t0) / 1000),
        problems,
        log,
      }) + '\n',
    );
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
  process.exitCode = problems.length === 0 ? 0 : 1;
}

await main();

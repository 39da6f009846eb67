// Refine in rounds (issue #22): what `step: pass` costs against mini-batch
// Adam in one process (misfit and SSIM after the same passes, CPU seconds),
// and what a rounds job costs on a loopback nats-server with 1 and 2 worker
// processes (wall seconds per round), checked equal to the single process.
//   node --import tsx bench/rounds.ts [--passes 8] [--tiles 4] [--json]
process.env.PTYCHOFLOW_WASM_THREADS ??= '1';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { builtinRegistry } from '../src/components.js';
import { loadPlan } from '../src/pipeline/index.js';
import { runPlan } from '../src/pipeline/run.js';
import { openScale } from '../src/scale/client.js';
import { collectJob } from '../src/scale/collect.js';
import { scaleConfig } from '../src/scale/config.js';
import { submitJob } from '../src/scale/submit.js';
import { natsServerBinary, startNats } from '../test/scale/nats-server.js';
import { maxDifference, readObject, simulatedScan, spawnWorker, stopProcess, writeRefinePipeline } from '../test/scale/helpers.js';
import { arg, recordPrinter } from './args.js';

/** 289 positions of 32×32 on a 128×128 object. */
function pipeline(dir: string, name: string, refine: string): string {
  return writeRefinePipeline(path.join(dir, `${name}.yaml`), { seed: 2, source: simulatedScan(32, 128, 6), refine });
}

export async function run(args: string[]): Promise<void> {
  const json = args.includes('--json');
  const passes = Number(arg(args, 'passes', '8')),
    tiles = Number(arg(args, 'tiles', '4'));
  const out = recordPrinter(json);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'ptychoflow-bench-rounds-'));
  try {
    const local: Record<string, string> = {};
    for (const [mode, lr] of [
      ['batch', 0.02],
      ['pass', 0.02],
      ['pass', 0.05],
    ] as const) {
      const name = `${mode}-${lr}`;
      const file = pipeline(dir, name, `epochs: ${passes}, step: ${mode}, lr: ${lr}, score_every: ${passes}`);
      const cpu0 = process.cpuUsage(),
        t0 = performance.now();
      const r = await runPlan(await loadPlan(file, { registry: builtinRegistry() }), { outDir: path.join(dir, name), record: false });
      if (r.error !== undefined) throw r.error instanceof Error ? r.error : new Error('run failed');
      const cpu = process.cpuUsage(cpu0);
      const s = r.summary.sinks.refine as { start_loss: number; final_loss: number };
      const last = (JSON.parse(readFileSync(path.join(dir, name, 'refine_history.json'), 'utf8')) as { amplitude_ssim?: number; phase_ssim?: number }[]).at(-1);
      local[name] = path.join(dir, name, 'refined.npz');
      out({
        bench: 'rounds-local',
        step: mode,
        lr,
        passes,
        start_loss: +s.start_loss.toPrecision(4),
        final_loss: +s.final_loss.toPrecision(4),
        amplitude_ssim: last?.amplitude_ssim ?? null,
        phase_ssim: last?.phase_ssim ?? null,
        wall_s: +((performance.now() - t0) / 1000).toFixed(2),
        cpu_s: +((cpu.user + cpu.system) / 1e6).toFixed(2),
        load_avg_1m: +os.loadavg()[0]!.toFixed(1),
      });
    }
    const bin = natsServerBinary();
    if (bin === undefined) throw new Error('nats-server not found (apt-get install nats-server)');
    const srv = await startNats(bin);
    try {
      const c = await openScale(scaleConfig({ server: srv.url, ackWait: 30 }), { configure: true });
      try {
        const file = pipeline(dir, 'rounds', `epochs: ${passes}, step: pass, lr: 0.05`);
        for (const workers of [1, 2]) {
          const job = `rounds-w${workers}`;
          const procs = Array.from({ length: workers }, () => spawnWorker(srv.url));
          try {
            await new Promise((r) => setTimeout(r, 6000));
            const t0 = performance.now();
            await submitJob(c, file, { job, shards: `tiles:${tiles}` });
            const s = await collectJob(c, job, { outDir: path.join(dir, job), wait: true, timeoutS: 3600, pollMs: 100 });
            const seconds = (performance.now() - t0) / 1000;
            const d = maxDifference(await readObject(path.join(dir, job, 'refined.npz')), await readObject(local['pass-0.05']!));
            out({
              bench: 'rounds-job',
              workers,
              tiles,
              passes,
              status: s.status,
              seconds: +seconds.toFixed(2),
              seconds_per_round: +(seconds / (passes + 1)).toFixed(2),
              max_diff_vs_local: d.max,
              load_avg_1m: +os.loadavg()[0]!.toFixed(1),
            });
          } finally {
            await Promise.all(procs.map(stopProcess));
          }
        }
      } finally {
        await c.close();
      }
    } finally {
      await srv.dispose();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await run(process.argv.slice(2));

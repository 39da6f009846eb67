// Scale-out benchmark on a loopback nats-server: shards/s of a per-scan job
// with 1 and 2 worker processes (the real CLI, single-threaded wasm), the
// peak RSS of each worker after its first and last shard (flat in the
// number of shards if nothing accumulates), and the merge time: collect of
// a 4-tile job, and mergePartials of K synthetic partials of a large canvas.
//   node --import tsx bench/scale.ts [--shards 12] [--epochs 2] [--canvas 2048] [--tiles 16] [--json]
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openScale } from '../src/scale/client.js';
import { collectJob } from '../src/scale/collect.js';
import { scaleConfig } from '../src/scale/config.js';
import { mergePartials } from '../src/scale/merge.js';
import type { Partial } from '../src/scale/partial.js';
import type { ResultManifest } from '../src/scale/results.js';
import { getJson } from '../src/scale/results.js';
import { submitJob } from '../src/scale/submit.js';
import { natsServerBinary, startNats } from '../test/scale/nats-server.js';
import { simulatedScan, spawnWorker, stopProcess, writeRefinePipeline } from '../test/scale/helpers.js';
import { arg, recordPrinter } from './args.js';

/** 81 positions of 16×16 on a 48×48 object. */
function pipeline(dir: string, epochs: number): string {
  return writeRefinePipeline(path.join(dir, 'bench.yaml'), { seed: 1, source: simulatedScan(16, 48, 4), refine: `epochs: ${epochs}` });
}

function syntheticMerge(side: number, K: number): number {
  const n = side * side,
    parts = new Map<string, Partial>();
  for (let k = 0; k < K; k++) {
    const w = new Float32Array(n);
    for (let i = k; i < n; i += K) w[i] = 1;
    parts.set(`tile-${k}`, {
      height: side,
      width: side,
      origin: [0, 0],
      sumRe: w,
      sumIm: new Float32Array(n),
      weight: w,
      covered: new Uint8Array(n).fill(1),
      probe: { height: 1, width: 1, re: new Float32Array(1), im: new Float32Array(1) },
    });
  }
  const t0 = performance.now();
  mergePartials(parts);
  return (performance.now() - t0) / 1000;
}

export async function run(args: string[]): Promise<void> {
  const json = args.includes('--json');
  const shards = Number(arg(args, 'shards', '12')),
    epochs = Number(arg(args, 'epochs', '2'));
  const bin = natsServerBinary();
  if (bin === undefined) throw new Error('nats-server not found (apt-get install nats-server)');
  const dir = mkdtempSync(path.join(os.tmpdir(), 'ptychoflow-bench-scale-'));
  const srv = await startNats(bin);
  const out = recordPrinter(json);
  try {
    const c = await openScale(scaleConfig({ server: srv.url, ackWait: 30 }), { configure: true });
    try {
      const file = pipeline(dir, epochs);
      for (const workers of [1, 2]) {
        const job = `bench-w${workers}`;
        const procs = Array.from({ length: workers }, () => spawnWorker(srv.url));
        try {
          // Workers are up (they pull) before the clock starts: start-up is not throughput.
          await new Promise((r) => setTimeout(r, 6000));
          const t0 = performance.now();
          await submitJob(c, file, { job, shards: 'per-scan', inputKey: 'sources.scan.seed', inputs: Array.from({ length: shards }, (_, i) => String(i + 1)) });
          const summary = await collectJob(c, job, { outDir: path.join(dir, job), wait: true, timeoutS: 1800, pollMs: 500 });
          const seconds = (performance.now() - t0) / 1000;
          const results = (await Promise.all(summary.shards.map((s) => getJson<ResultManifest>(c, `jobs/${job}/${s.shard}/result.json`)))).filter(
            (r) => r !== undefined,
          );
          const rss: Record<string, number[]> = {};
          for (const r of results.sort((a, b) => a.finished_at.localeCompare(b.finished_at)))
            (rss[r.worker] ??= []).push(Math.round(r.summary.peak_rss_bytes / 2 ** 20));
          out({
            bench: 'scale',
            workers,
            shards,
            epochs,
            load_avg_1m: +os.loadavg()[0]!.toFixed(1),
            seconds: +seconds.toFixed(2),
            shards_per_s: +(shards / seconds).toFixed(3),
            peak_rss_mib_by_shard: rss,
          });
        } finally {
          await Promise.all(procs.map(stopProcess));
        }
      }
      const procs = [spawnWorker(srv.url)];
      try {
        await submitJob(c, file, { job: 'bench-tiles', shards: 'tiles:4' });
        const s = await collectJob(c, 'bench-tiles', { outDir: path.join(dir, 'tiles'), wait: true, timeoutS: 600, pollMs: 100 });
        out({ bench: 'scale-merge', what: 'collect of a 4-tile job (48×48 canvas, downloads included)', seconds: s.merge_seconds });
      } finally {
        await Promise.all(procs.map(stopProcess));
      }
      const side = Number(arg(args, 'canvas', '2048')),
        K = Number(arg(args, 'tiles', '16'));
      out({ bench: 'scale-merge', what: `mergePartials of ${K} partials of ${side}×${side}`, seconds: +syntheticMerge(side, K).toFixed(3) });
    } finally {
      await c.close();
    }
  } finally {
    await srv.dispose();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await run(process.argv.slice(2));

// Scale-out against a real nats-server on loopback (each test its own server,
// free port, temp store; stopped in finally). Tiny scans (N=16) on the wasm
// backend, single-threaded, so a worker process's shard and the test
// process's reference compute the same float32 operations.
//
// Tolerance of "equal": 1e-5 of the object's largest amplitude. A tile shard
// runs the same stages on the same backend whether a worker process or this
// process runs it, and the merge adds in shard-id order with partition-of-
// unity weights (each pixel from one shard, times 1, divided by 1), so the
// results are bit-identical in practice; the bound leaves room only for a
// different wasm thread count on another machine. These jobs refine with the
// default step: batch, so the reference is the tiles run one after another
// in this process (the unsharded run differs: a domain decomposition); the
// job that equals the unsharded run is refine with step: pass, in rounds
// (rounds.test.ts).
process.env.PTYCHOFLOW_WASM_THREADS = '1';
import test, { type ExecutionContext } from 'ava';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { builtinRegistry } from '../../src/components.js';
import { loadPlan } from '../../src/pipeline/index.js';
import { planDocument } from '../../src/pipeline/record.js';
import { runPlan } from '../../src/pipeline/run.js';
import { openScale, type ScaleClient } from '../../src/scale/client.js';
import { collectJob, type JobSummary } from '../../src/scale/collect.js';
import { scaleConfig } from '../../src/scale/config.js';
import { lastEvent } from '../../src/scale/events.js';
import { executeShard } from '../../src/scale/execute.js';
import { planJob } from '../../src/scale/job.js';
import { mergePartials, type Merged } from '../../src/scale/merge.js';
import type { Partial } from '../../src/scale/partial.js';
import { submitJob } from '../../src/scale/submit.js';
import { runWorker } from '../../src/scale/worker.js';
import { maxDifference, npzRefinePipeline, readObject, refinePipeline, relativeRms, root, spawnWorker, stopProcess, waitFor, writeScan } from './helpers.js';
import { natsServerBinary, startNats, type NatsServer } from './nats-server.js';

const bin = natsServerBinary();
const serial = bin !== undefined ? test.serial : test.serial.skip;
const skipNote = bin === undefined ? ' (skipped: nats-server not found; .ci/run installs it)' : '';
const TOL = 1e-5;

const dir = mkdtempSync(path.join(os.tmpdir(), 'ptychoflow-scale-'));
test.after.always(() => rmSync(dir, { recursive: true, force: true }));

/** The 4-tile job's shards run one after another in this process and merged: the reference. */
let reference: Promise<Merged> | undefined;
function tileReference(): Promise<Merged> {
  reference ??= (async () => {
    const file = refinePipeline(dir);
    const plan = await loadPlan(file, { registry: builtinRegistry() });
    const doc = planDocument(plan, 'wasm');
    const parts = new Map<string, Partial>();
    for (const d of planJob({ job: 'reference', doc, pipelineFile: file, shards: 'tiles:4' }).shards) {
      const run = await executeShard(doc, d, { outDir: path.join(dir, 'reference', d.shard), backend: 'wasm' });
      parts.set(d.shard, run.partials[0]!.partial);
    }
    return mergePartials(parts);
  })();
  return reference;
}

async function withServer<T>(fn: (srv: NatsServer) => Promise<T>): Promise<T> {
  const srv = await startNats(bin!);
  try {
    return await fn(srv);
  } finally {
    await srv.dispose();
  }
}

async function client(srv: NatsServer, o: { ackWait?: number; maxDeliver?: number } = {}): Promise<ScaleClient> {
  return openScale(scaleConfig({ server: srv.url, ackWait: o.ackWait ?? 10, maxDeliver: o.maxDeliver ?? 3, timeout: 5 }), { configure: true });
}

async function checkTiles(t: ExecutionContext, summary: JobSummary, out: string): Promise<void> {
  t.is(summary.status, 'ok');
  const merged = await readObject(path.join(out, 'refined.npz'));
  const ref = await tileReference();
  const { max, scale } = maxDifference(merged, ref.object);
  t.log(`max |distributed − single-process| = ${max.toExponential(2)} (largest amplitude ${scale.toFixed(3)})`);
  t.true(max <= TOL * scale, `objects differ by ${max}`);
  // Counted once: every pixel's weights sum to exactly 1.
  const m = summary.merged.refine as { weight_min: number; weight_max: number };
  t.deepEqual([m.weight_min, m.weight_max], [1, 1]);
}

serial(`4-tile refine job (step: batch) on 3 worker processes equals its tiles run in one process${skipNote}`, async (t) => {
  await withServer(async (srv) => {
    const workers = [0, 1, 2].map(() => spawnWorker(srv.url, ['--ack-wait', '10']));
    const c = await client(srv);
    try {
      const file = refinePipeline(dir);
      const m = await submitJob(c, file, { job: 'tiles', shards: 'tiles:4' });
      t.is(m.shards.length, 4);
      const out = path.join(dir, 'tiles-out');
      const summary = await collectJob(c, 'tiles', { outDir: out, wait: true, timeoutS: 90 });
      t.true(new Set(summary.shards.map((s) => s.worker)).size >= 2, 'shards ran on several workers');
      await checkTiles(t, summary, out);
      t.true(existsSync(path.join(out, 'refined_amplitude.png')) && existsSync(path.join(out, 'job-summary.json')));

      // Against the unsharded refine: a domain decomposition, not float-equal (each tile fits its
      // own scale and step size, and refine couples pixels across tile edges), but close.
      const plan = await loadPlan(file, { registry: builtinRegistry() });
      const local = path.join(dir, 'unsharded');
      const { error } = await runPlan(plan, { outDir: local, record: false });
      t.is(error, undefined);
      const whole = await readObject(path.join(local, 'refined.npz'));
      const ref = await tileReference();
      const rel = relativeRms(ref.object, whole, ref.covered);
      t.log(`tiled vs unsharded refine (6 passes): relative RMS ${rel.toFixed(4)} over the covered pixels`);
      t.true(rel < 0.15);
    } finally {
      await c.close();
      await Promise.all(workers.map(stopProcess));
    }
  });
});

serial(`kill -9 of a worker mid-shard: the job completes, same object, the redone shard counts once${skipNote}`, async (t) => {
  await withServer(async (srv) => {
    // Both start together (start-up is most of a worker's first seconds); the victim dies in its first shard.
    const victim = spawnWorker(srv.url, ['--ack-wait', '3']);
    const other = spawnWorker(srv.url, ['--ack-wait', '3']);
    const c = await client(srv, { ackWait: 3 });
    try {
      await submitJob(c, refinePipeline(dir), { job: 'crash', shards: 'tiles:4' });
      let killed: string | undefined;
      await waitFor(
        'the victim to start a shard',
        async () => {
          for (const s of ['tile-0000', 'tile-0001', 'tile-0002', 'tile-0003']) {
            const e = await lastEvent(c, 'crash', s);
            if (e?.state === 'running' && e.worker.endsWith(`-${victim.pid}`)) killed = s;
          }
          return killed !== undefined;
        },
        60_000,
      );
      await new Promise((r) => setTimeout(r, 300));
      victim.kill('SIGKILL');
      const out = path.join(dir, 'crash-out');
      const summary = await collectJob(c, 'crash', { outDir: out, wait: true, timeoutS: 90 });
      const redone = summary.shards.find((s) => s.shard === killed)!;
      t.log(`killed worker ${victim.pid} on ${killed}; stored from delivery ${redone.deliveries_stored}`);
      t.true(redone.deliveries_stored! >= 2, 'the killed shard was redelivered');
      await checkTiles(t, summary, out);
    } finally {
      await c.close();
      await Promise.all([stopProcess(victim), stopProcess(other)]);
    }
  });
});

serial(`server restarted mid-job (file store): the worker reconnects and the job completes${skipNote}`, async (t) => {
  await withServer(async (srv) => {
    const c = await client(srv, { ackWait: 5 });
    const stop = new AbortController();
    const worker = runWorker(c, { backend: 'wasm', signal: stop.signal, name: 'restart-worker' });
    try {
      await submitJob(c, refinePipeline(dir), { job: 'restart', shards: 'tiles:4' });
      await waitFor('a first shard done', async () => (await c.store.info('jobs/restart/tile-0000/result.json')) !== null, 60_000);
      const before = (await Promise.all([0, 1, 2, 3].map((k) => c.store.info(`jobs/restart/tile-000${k}/result.json`)))).filter((x) => x !== null).length;
      await srv.restart();
      t.log(`server restarted with ${before} of 4 shards done`);
      t.true(before < 4, 'the restart fell mid-job');
      const out = path.join(dir, 'restart-out');
      const summary = await collectJob(c, 'restart', { outDir: out, wait: true, timeoutS: 90 });
      await checkTiles(t, summary, out);
    } finally {
      stop.abort();
      await worker;
      await c.close();
    }
  });
});

serial(`multi-scan job: per-scan shards give a local run's outputs; a poison shard fails after max_deliver${skipNote}`, async (t) => {
  await withServer(async (srv) => {
    const scans = [1, 2, 3].map((k) => path.join(dir, `scan${k}.npz`));
    for (const [k, f] of scans.entries()) await writeScan(f, 10 + k);
    const poison = path.join(dir, 'poison.npz');
    copyFileSync(path.join(root, 'test/fixtures/npz/bad_truncated.npz'), poison);
    const file = npzRefinePipeline(dir);
    const c = await client(srv, { ackWait: 5, maxDeliver: 2 });
    const stop = new AbortController();
    const worker = runWorker(c, { backend: 'wasm', signal: stop.signal, name: 'scan-worker' });
    try {
      await submitJob(c, file, { job: 'scans', shards: 'per-scan', inputs: [scans[0]!, poison, scans[1]!, scans[2]!] });
      const out = path.join(dir, 'scans-out');
      const summary = await collectJob(c, 'scans', { outDir: out, wait: true, timeoutS: 90 });
      t.is(summary.status, 'partial');
      t.deepEqual(summary.failed, ['scan-0001']);
      const bad = summary.shards.find((s) => s.shard === 'scan-0001')!;
      t.is(bad.delivery, 2);
      t.regex(bad.error?.message ?? '', /poison\.npz/);
      // The status command shows the same, from another process.
      const status = spawnSync(process.execPath, [path.join(root, 'bin/ptychoflow.js'), 'status', 'scans', '--server', srv.url, '--json'], {
        cwd: root,
        encoding: 'utf8',
        timeout: 30_000,
      });
      t.is(status.status, 0, status.stderr);
      const shown = (JSON.parse(status.stdout) as { shards: { shard: string; state: string }[] }).shards;
      t.deepEqual(
        shown.map((s) => s.state),
        ['done', 'failed', 'done', 'done'],
      );
      for (const [k, f] of scans.entries()) {
        const local = path.join(dir, `local-scan${k + 1}`);
        const plan = await loadPlan(file, { registry: builtinRegistry(), sets: [`sources.scan.path=${f}`] });
        t.is((await runPlan(plan, { outDir: local })).error, undefined);
        const got = path.join(out, `scan${k + 1}`);
        t.deepEqual(readdirSync(got).sort(), readdirSync(local).sort(), `scan${k + 1}: the files of a local run`);
        const { max, scale } = maxDifference(await readObject(path.join(got, 'refined.npz')), await readObject(path.join(local, 'refined.npz')));
        t.true(max <= TOL * scale, `scan${k + 1} differs by ${max}`);
      }
    } finally {
      stop.abort();
      await worker;
      await c.close();
    }
  });
});

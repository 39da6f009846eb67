// A tile job of refine with `step: pass` runs in rounds on a real nats-server
// (loopback, free port, temp store): every pass, each tile's worker computes
// its core's share of the gradient at the shared object, the coordinator
// (collect) adds the shares and applies the one update. The result is the
// single-process run of the same pipeline, not a domain decomposition.
// A coordinator stopped mid-job and a worker killed mid-shard change nothing.
//
// Tolerance: 1e-5 of the largest amplitude, max over the canvas (observed: 0,
// bit-identical). Every gradient and fit term is computed per pattern in
// float32, the same number whichever patterns share its batch, and added in
// float64 (sinks/shared/refine-gradient.ts); only the order of those float64
// additions differs (the tiles' order against the scan's), ~1e-16 relative,
// and the state every pass starts from is rounded to float32, which absorbs
// that almost always. The bound leaves room for a rare one-ulp flip (6e-8)
// carried through later passes. The test checks that it means something: the
// passes move the object by far more than the bound, and the per-pass losses
// agree too. (Summing float32 batch gradients instead gave 4 % max difference:
// Adam's first step, m̂/√v̂, is about sign(g) and amplifies rounding.)
process.env.PTYCHOFLOW_WASM_THREADS = '1';
import test from 'ava';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { builtinRegistry } from '../../src/components.js';
import { loadPlan } from '../../src/pipeline/index.js';
import { runPlan } from '../../src/pipeline/run.js';
import { openScale } from '../../src/scale/client.js';
import { collectJob } from '../../src/scale/collect.js';
import { scaleConfig } from '../../src/scale/config.js';
import { lastEvent } from '../../src/scale/events.js';
import { getJson } from '../../src/scale/results.js';
import { submitJob } from '../../src/scale/submit.js';
import { maxDifference, passRefinePipeline, readObject, relativeRms, spawnWorker, stopProcess, waitFor } from './helpers.js';
import { natsServerBinary, startNats } from './nats-server.js';

const bin = natsServerBinary();
const serial = bin !== undefined ? test.serial : test.serial.skip;
const skipNote = bin === undefined ? ' (skipped: nats-server not found; .ci/run installs it)' : '';
const TOL = 1e-5;
const PASSES = 4;

serial(`4-tile refine (step: pass) on 3 worker processes equals the single-process run, across a coordinator restart${skipNote}`, async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'ptychoflow-rounds-'));
  const srv = await startNats(bin!);
  const workers = [0, 1, 2].map(() => spawnWorker(srv.url, ['--ack-wait', '10']));
  const c = await openScale(scaleConfig({ server: srv.url, ackWait: 10, maxDeliver: 3, timeout: 5 }), { configure: true });
  try {
    const file = passRefinePipeline(dir, PASSES);
    const m = await submitJob(c, file, { job: 'rounds', shards: 'tiles:4' });
    t.is(m.mode, 'rounds');
    t.is(m.shards.length, 4 * (PASSES + 1));
    const out = path.join(dir, 'rounds-out');
    // The coordinator stops once round 2's shards are done (as a killed collect would); a second collect
    // replays the stored rounds and carries on: it holds nothing that is not in the store.
    const stop = new AbortController();
    const stopAt = (s: readonly { shard: string; state: string }[]): void => {
      if (s.length > 0 && s[0]!.shard.startsWith('r0002') && s.every((x) => x.state === 'done')) stop.abort();
    };
    const stopped = await collectJob(c, 'rounds', { outDir: out, wait: true, timeoutS: 240, signal: stop.signal, onStatus: stopAt }).then(
      () => 'finished',
      (e: unknown) => (e as { name?: string }).name,
    );
    t.is(stopped, 'AbortError', 'the first coordinator was stopped');
    t.not(await c.store.info('jobs/rounds/rounds/0003/state.npz'), null, 'the first coordinator got to round 3');
    t.is(await c.store.info('jobs/rounds/r0004-tile-0000/result.json'), null, 'and no further');
    const summary = await collectJob(c, 'rounds', { outDir: out, wait: true, timeoutS: 240 });
    t.is(summary.status, 'ok');
    t.is(summary.counts.done, 4 * (PASSES + 1));
    t.true(new Set(summary.shards.map((s) => s.worker)).size >= 2, 'rounds ran on several workers');

    const plan = await loadPlan(file, { registry: builtinRegistry() });
    const local = path.join(dir, 'local');
    const run = await runPlan(plan, { outDir: local, record: false });
    t.is(run.error, undefined);
    const whole = await readObject(path.join(local, 'refined.npz'));
    const got = await readObject(path.join(out, 'refined.npz'));
    const { max, scale } = maxDifference(got, whole);
    t.log(`max |rounds − single-process| = ${max.toExponential(2)} of largest amplitude ${scale.toFixed(3)} (${(max / scale).toExponential(2)}; bound ${TOL})`);
    t.true(max <= TOL * scale, `objects differ by ${max}`);

    // The bound is far below what the refinement changes: the flat start scaled, and the final object.
    const s0 = (run.summary.sinks.refine as { scale: number }).scale;
    const moved = maxDifference({ ...whole, re: whole.re.map(() => s0), im: whole.im.map(() => 0) }, whole).max;
    t.log(`the refinement moves the object by up to ${moved.toExponential(2)} from its scaled flat start`);
    t.true(moved > 100 * TOL * scale, 'the passes change the object by far more than the tolerance');
    const hist = (f: string): number[] => (JSON.parse(readFileSync(f, 'utf8')) as { loss: number }[]).map((h) => h.loss);
    const [a, b] = [hist(path.join(out, 'refine_history.json')), hist(path.join(local, 'refine_history.json'))];
    t.is(a.length, PASSES);
    for (let k = 0; k < PASSES; k++) t.true(Math.abs(a[k]! - b[k]!) <= 1e-5 * b[k]!, `pass ${k + 1} loss ${a[k]} vs ${b[k]}`);
    const covered = new Uint8Array(got.re.length).fill(1);
    t.log(`relative RMS over the canvas ${relativeRms(got, whole, covered).toExponential(2)}`);
  } finally {
    await c.close();
    await Promise.all(workers.map(stopProcess));
    await srv.dispose();
    rmSync(dir, { recursive: true, force: true });
  }
});

serial(`kill -9 of a worker mid-round: the rounds job completes, equal to the single process, the redone shard counted once${skipNote}`, async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'ptychoflow-rounds-kill-'));
  const srv = await startNats(bin!);
  // The victim starts alone and dies in its first shard (start-up is most of that shard's time).
  const victim = spawnWorker(srv.url, ['--ack-wait', '3']);
  const others: ReturnType<typeof spawnWorker>[] = [];
  const c = await openScale(scaleConfig({ server: srv.url, ackWait: 3, maxDeliver: 3, timeout: 5 }), { configure: true });
  try {
    const file = passRefinePipeline(dir, 2);
    await submitJob(c, file, { job: 'kill', shards: 'tiles:4' });
    await waitFor(
      'the victim to start a shard',
      async () => {
        const e = await lastEvent(c, 'kill', 'r0000-tile-0000');
        return e?.state === 'running' && e.worker.endsWith(`-${victim.pid}`);
      },
      60_000,
    );
    victim.kill('SIGKILL');
    others.push(spawnWorker(srv.url, ['--ack-wait', '3']), spawnWorker(srv.url, ['--ack-wait', '3']));
    const out = path.join(dir, 'out');
    const summary = await collectJob(c, 'kill', { outDir: out, wait: true, timeoutS: 240 });
    t.is(summary.status, 'ok');
    const redone = (await getJson<{ delivery: number; worker: string }>(c, 'jobs/kill/r0000-tile-0000/result.json'))!;
    t.log(`killed worker ${victim.pid} on r0000-tile-0000; stored from delivery ${redone.delivery} by ${redone.worker}`);
    t.true(redone.delivery >= 2, 'the killed shard was redelivered');
    const run = await runPlan(await loadPlan(file, { registry: builtinRegistry() }), { outDir: path.join(dir, 'local'), record: false });
    t.is(run.error, undefined);
    const { max, scale } = maxDifference(await readObject(path.join(out, 'refined.npz')), await readObject(path.join(dir, 'local', 'refined.npz')));
    t.log(`max |rounds − single-process| = ${max.toExponential(2)} of ${scale.toFixed(3)}`);
    t.true(max <= TOL * scale, `objects differ by ${max}`);
  } finally {
    await c.close();
    await Promise.all([victim, ...others].map(stopProcess));
    await srv.dispose();
    rmSync(dir, { recursive: true, force: true });
  }
});

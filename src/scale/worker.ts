// A worker process: pulls one shard at a time from the durable pull consumer
// (it asks only when it is free, so a busy worker holds no queued shards
// whose ack_wait would run out, and max_ack_pending bounds what the whole
// fleet holds). One shard per process because TensorFlow.js keeps one engine
// per process (variable names, the tensor ledger's counts): `worker
// --concurrency N` runs N of these as child processes. A shard runs through the normal
// runner; while it runs the worker sends in-progress acks (and a `running`
// event) every ack_wait/3. Its result is stored first, then the message is
// acked: a worker that dies before the ack leaves the shard to be
// redelivered after ack_wait. A failing shard is nak'ed for another try, and
// on its max_deliver-th delivery terminated with its error recorded.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { JsMsg } from '@nats-io/jetstream';
import type { BackendName } from '../backend/select.js';
import { isPtychoflowError, messageOf, ScaleError } from '../errors.js';
import type { ProgressEvent } from '../pipeline/types.js';
import { silentLogger, type Logger } from '../util/log.js';
import type { ScaleClient } from './client.js';
import { publishEvent, type ShardEvent } from './events.js';
import { executeShard } from './execute.js';
import { names, type ShardDescriptor } from './job.js';
import { fetchTo, getJson, storeResult } from './results.js';

export interface WorkerOptions {
  backend?: BackendName;
  /** Where shard runs write before their files are stored (default the OS temp directory). */
  workDir?: string;
  log?: Logger;
  signal?: AbortSignal;
  /** Stop after this many shards (benchmarks, tests). */
  maxShards?: number;
  /** Worker name in events (default host-pid). */
  name?: string;
}

export interface WorkerStats {
  done: number;
  failed: number;
  retried: number;
}

function parseDescriptor(m: JsMsg): ShardDescriptor {
  let d: ShardDescriptor;
  try {
    d = m.json<ShardDescriptor>();
  } catch (e) {
    throw new ScaleError('BAD_DESCRIPTOR', `message ${m.seq} on '${m.subject}' is not JSON`, { cause: e });
  }
  if (d?.v !== 1 || typeof d.job !== 'string' || typeof d.shard !== 'string' || typeof d.pipeline !== 'string' || !Array.isArray(d.sets)) {
    throw new ScaleError('BAD_DESCRIPTOR', `message ${m.seq} on '${m.subject}' is not a ptychoflow shard descriptor (v1)`);
  }
  return d;
}

interface Ctx {
  c: ScaleClient;
  o: WorkerOptions;
  log: Logger;
  signal: AbortSignal;
  worker: string;
  stats: WorkerStats;
  pipelines: Map<string, Promise<Record<string, unknown>>>;
}

async function event(x: Ctx, e: Omit<ShardEvent, 'worker' | 'at'>): Promise<void> {
  // An event lost while the server is away is not fatal: the result in the store is what counts.
  await publishEvent(x.c, { ...e, worker: x.worker, at: new Date().toISOString() }).catch((err: unknown) =>
    x.log.warn(`event ${e.state} of ${e.job}/${e.shard} not published: ${messageOf(err)}`),
  );
}

function pipelineOf(x: Ctx, name: string): Promise<Record<string, unknown>> {
  let p = x.pipelines.get(name);
  if (p === undefined) {
    p = getJson<Record<string, unknown>>(x.c, name).then((doc) => {
      if (doc === undefined)
        throw new ScaleError('MISSING_PIPELINE', `the job's pipeline '${name}' is not in bucket '${x.c.config.bucket}'`, { hint: 'submit the job again' });
      return doc;
    });
    p.catch(() => x.pipelines.delete(name));
    x.pipelines.set(name, p);
  }
  return p;
}

async function failed(x: Ctx, m: JsMsg, ids: { job: string; shard: string; delivery: number }, e: unknown): Promise<void> {
  const { maxDeliver } = x.c.config;
  const error = { code: isPtychoflowError(e) ? e.code : 'FAILED', message: messageOf(e) };
  const name = `shard ${ids.job}/${ids.shard}`;
  if (ids.delivery >= maxDeliver) {
    await event(x, { ...ids, state: 'failed', error });
    m.term(error.message.slice(0, 200));
    x.stats.failed++;
    x.log.error(`${name}: failed on delivery ${ids.delivery} of ${maxDeliver}, terminated: ${error.message}`);
  } else {
    await event(x, { ...ids, state: 'retry', error });
    m.nak(1000);
    x.stats.retried++;
    x.log.warn(`${name}: delivery ${ids.delivery} of ${maxDeliver} failed, to be retried: ${error.message}`);
  }
}

async function handle(x: Ctx, m: JsMsg): Promise<void> {
  const { c, o, log } = x;
  const delivery = m.info.deliveryCount;
  let d: ShardDescriptor;
  try {
    d = parseDescriptor(m);
  } catch (e) {
    log.error(messageOf(e));
    m.term(messageOf(e));
    return;
  }
  const ids = { job: d.job, shard: d.shard, delivery };
  const t0 = performance.now();
  log.info(`shard ${d.job}/${d.shard}: delivery ${delivery}`);
  await event(x, { ...ids, state: 'running' });
  // The latest progress rides on the heartbeat (status shows it); nothing is sent per batch.
  let progress: ShardEvent['progress'];
  const beat = setInterval(
    () => {
      m.working();
      void event(x, { ...ids, state: 'running', ...(progress !== undefined ? { progress } : {}) });
    },
    (c.config.ackWaitS * 1000) / 3,
  );
  let dir: string | undefined;
  try {
    // Stored by an earlier delivery whose ack was lost: done already, ack it again.
    if ((await c.store.info(names.result(d.job, d.shard))) === null) {
      const doc = await pipelineOf(x, d.pipeline);
      dir = await mkdtemp(path.join(o.workDir ?? os.tmpdir(), `ptychoflow-${d.job}-${d.shard}-`));
      // A pass's shard computes at that pass's state (rounds jobs), a claim check in the store.
      const statePath = d.round !== undefined && d.round > 0 ? path.join(dir, '.scale', 'state.npz') : undefined;
      if (statePath !== undefined) await fetchTo(c, names.state(d.job, d.round!), statePath);
      const onProgress = (p: ProgressEvent): void =>
        void (progress = { stage: p.stage, label: p.label, done: p.done, ...(p.total !== undefined ? { total: p.total } : {}) });
      const run = await executeShard(doc, d, {
        outDir: dir,
        signal: x.signal,
        log: log.child(d.shard),
        progress: onProgress,
        ...(statePath !== undefined ? { statePath } : {}),
        ...(o.backend !== undefined ? { backend: o.backend } : {}),
      });
      await storeResult(c, d, dir, run, x.worker, delivery);
    }
    const seconds = +((performance.now() - t0) / 1000).toFixed(3);
    await event(x, { ...ids, state: 'done', seconds });
    await m.ackAck();
    x.stats.done++;
    log.info(`shard ${d.job}/${d.shard}: done in ${seconds} s`);
  } catch (e) {
    // A stopping worker hands its shard back at once rather than after ack_wait.
    if (x.signal.aborted) m.nak();
    else await failed(x, m, ids, e);
  } finally {
    clearInterval(beat);
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  }
}

export async function runWorker(c: ScaleClient, o: WorkerOptions = {}): Promise<WorkerStats> {
  const x: Ctx = {
    c,
    o,
    log: o.log ?? silentLogger,
    signal: o.signal ?? new AbortController().signal,
    worker: o.name ?? `${os.hostname()}-${process.pid}`,
    stats: { done: 0, failed: 0, retried: 0 },
    pipelines: new Map(),
  };
  let started = 0;
  while (!x.signal.aborted && (o.maxShards === undefined || started < o.maxShards)) {
    let m: JsMsg | null;
    try {
      const consumer = await c.js.consumers.get(c.config.stream, c.config.consumer);
      // Short pulls, so a stopping worker returns within about two seconds.
      m = await consumer.next({ expires: 2000 });
    } catch (e) {
      // Server away (restart, network): wait and ask again; the client reconnects on its own.
      if (x.signal.aborted) break;
      x.log.debug(`pull failed, retrying: ${messageOf(e)}`);
      await new Promise((r) => setTimeout(r, 500));
      continue;
    }
    if (m === null) continue;
    started++;
    await handle(x, m);
  }
  return x.stats;
}

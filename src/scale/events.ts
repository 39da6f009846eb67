// Shard events and the states read from them. Each shard has its own subject
// on the events stream (`ptychoflow.events.JOB.SHARD`); the last message on
// it is the shard's state, fetched directly (last_by_subj), so status needs
// no replay of the stream. A worker republishes `running` with every
// in-progress ack, so a running event that has gone stale means its worker
// is gone: the shard waits for redelivery, or, on its last delivery, has
// failed (the server delivers it no more).
import { EVENT_SUBJECT } from './config.js';
import type { ScaleClient } from './client.js';
import type { JobManifest } from './job.js';
import { names } from './job.js';

export type EventKind = 'running' | 'retry' | 'done' | 'failed';

export interface ShardEvent {
  state: EventKind;
  job: string;
  shard: string;
  worker: string;
  /** Delivery number of the message (1 on the first). */
  delivery: number;
  at: string;
  error?: { code: string; message: string };
  seconds?: number;
  /** The shard's latest progress (running events): stage, task, done of total. */
  progress?: { stage: string; label: string; done: number; total?: number };
}

export type ShardState = 'pending' | 'running' | 'done' | 'failed';

export interface ShardStatus {
  shard: string;
  state: ShardState;
  delivery?: number;
  worker?: string;
  error?: { code: string; message: string };
  seconds?: number;
  progress?: ShardEvent['progress'];
}

export function eventSubject(job: string, shard: string): string {
  return `${EVENT_SUBJECT}.${job}.${shard}`;
}

export async function publishEvent(c: ScaleClient, e: ShardEvent): Promise<void> {
  await c.js.publish(eventSubject(e.job, e.shard), JSON.stringify(e));
}

export async function lastEvent(c: ScaleClient, job: string, shard: string): Promise<ShardEvent | undefined> {
  try {
    const m = await c.jsm.streams.getMessage(c.config.events, { last_by_subj: eventSubject(job, shard) });
    return m === null ? undefined : m.json<ShardEvent>();
  } catch (e) {
    // No message on the subject yet: the shard is pending.
    if (/no message found|not found/i.test(String((e as Error).message))) return undefined;
    throw e;
  }
}

/** One shard's state: its result is the proof of done; otherwise its last event, judged by age. */
export async function shardStatus(c: ScaleClient, job: string, shard: string, now = Date.now()): Promise<ShardStatus> {
  const e = await lastEvent(c, job, shard);
  const hasResult = (await c.store.info(names.result(job, shard))) !== null;
  const base = { shard, ...(e !== undefined ? { delivery: e.delivery, worker: e.worker } : {}) };
  if (hasResult) return { ...base, state: 'done', ...(e?.seconds !== undefined ? { seconds: e.seconds } : {}) };
  if (e === undefined) return { ...base, state: 'pending' };
  if (e.state === 'failed') return { ...base, state: 'failed', ...(e.error !== undefined ? { error: e.error } : {}) };
  const stale = now - Date.parse(e.at) > 1000 * c.config.ackWaitS * 1.5 + 2000;
  if (stale && e.delivery >= c.config.maxDeliver) {
    return {
      ...base,
      state: 'failed',
      error: e.error ?? {
        code: 'WORKER_LOST',
        message: `no result after ${e.delivery} deliveries (max_deliver ${c.config.maxDeliver}): its last worker stopped reporting`,
      },
    };
  }
  const running = e.state === 'running' && !stale;
  return {
    ...base,
    state: running ? 'running' : 'pending',
    ...(e.error !== undefined ? { error: e.error } : {}),
    ...(running && e.progress !== undefined ? { progress: e.progress } : {}),
  };
}

/** Every shard's state; shards in `settled` (done or failed before: final states) are not asked again. */
export async function jobStatus(c: ScaleClient, m: JobManifest, settled?: Map<string, ShardStatus>): Promise<ShardStatus[]> {
  const now = Date.now();
  return Promise.all(
    m.shards.map(async (d) => {
      const known = settled?.get(d.shard);
      if (known !== undefined) return known;
      const s = await shardStatus(c, m.job, d.shard, now);
      if (s.state === 'done' || s.state === 'failed') settled?.set(d.shard, s);
      return s;
    }),
  );
}

export function countStates(s: readonly ShardStatus[]): Record<ShardState, number> {
  const out: Record<ShardState, number> = { pending: 0, running: 0, done: 0, failed: 0 };
  for (const x of s) out[x.state]++;
  return out;
}

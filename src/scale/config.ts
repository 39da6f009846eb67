// Connection and queue settings of the scale-out layer, with their defaults,
// in one place: the CLI commands, the worker and the tests all build a
// ScaleConfig from here. Credentials come from the environment only
// (PTYCHOFLOW_NATS_TOKEN, or PTYCHOFLOW_NATS_USER and PTYCHOFLOW_NATS_PASSWORD),
// so they never appear in argv, logs or job records.
import { OptionsError } from '../errors.js';

export interface ScaleConfig {
  /** nats://HOST:PORT (a comma-separated list for a cluster). */
  server: string;
  /** Work-queue stream holding shard descriptors. */
  stream: string;
  /** Durable pull consumer the workers share. */
  consumer: string;
  /** Stream of shard events (running, done, retry, failed), one subject per shard. */
  events: string;
  /** Object store bucket for job manifests, pipelines and shard results. */
  bucket: string;
  /** Seconds a delivered shard may go without an ack or in-progress ack before it is redelivered. */
  ackWaitS: number;
  /** Deliveries of one shard before it is terminated and reported failed. */
  maxDeliver: number;
  /** Shards delivered but not yet acked, over all workers. */
  maxAckPending: number;
  /** Seconds to wait for the server on connect and for each request. */
  timeoutS: number;
  /** JetStream storage for the streams the job system creates. */
  storage: 'file' | 'memory';
}

export const DEFAULTS: Omit<ScaleConfig, 'server'> = {
  stream: 'PTYCHOFLOW_SHARDS',
  consumer: 'ptychoflow-workers',
  events: 'PTYCHOFLOW_EVENTS',
  bucket: 'ptychoflow',
  ackWaitS: 60,
  maxDeliver: 3,
  maxAckPending: 64,
  timeoutS: 10,
  storage: 'file',
};

/** Subject prefixes: shards of job J on `ptychoflow.shards.J`, events of shard S on `ptychoflow.events.J.S`. */
export const SHARD_SUBJECT = 'ptychoflow.shards';
export const EVENT_SUBJECT = 'ptychoflow.events';

/** Job and shard ids become subject tokens and object names: letters, digits, '-' and '_' only. */
export function checkId(id: string, what: string): string {
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(id))
    throw new OptionsError('BAD_ID', `${what} '${id}' may hold only letters, digits, '-' and '_' (at most 64)`, { hint: `choose another ${what}` });
  return id;
}

/** Token or user/password from the environment (never from flags, so they stay out of `ps` and logs). */
export function credentialsFromEnv(env: NodeJS.ProcessEnv = process.env): { token?: string; user?: string; pass?: string } {
  const token = env.PTYCHOFLOW_NATS_TOKEN,
    user = env.PTYCHOFLOW_NATS_USER,
    pass = env.PTYCHOFLOW_NATS_PASSWORD;
  if (token !== undefined && token !== '') return { token };
  if (user !== undefined && user !== '') return { user, ...(pass !== undefined ? { pass } : {}) };
  return {};
}

export interface ScaleFlags {
  server?: string;
  stream?: string;
  consumer?: string;
  eventsStream?: string;
  bucket?: string;
  ackWait?: number;
  maxDeliver?: number;
  maxAckPending?: number;
  timeout?: number;
  memory?: boolean;
}

/** A ScaleConfig from CLI flags (or options in code), the rest from DEFAULTS. */
export function scaleConfig(f: ScaleFlags): ScaleConfig {
  const server = f.server ?? process.env.PTYCHOFLOW_NATS_SERVER;
  if (server === undefined || server === '')
    throw new OptionsError('NO_SERVER', 'no NATS server given', { hint: 'pass --server nats://HOST:PORT or set PTYCHOFLOW_NATS_SERVER' });
  const c: ScaleConfig = {
    server,
    stream: f.stream ?? DEFAULTS.stream,
    consumer: f.consumer ?? DEFAULTS.consumer,
    events: f.eventsStream ?? DEFAULTS.events,
    bucket: f.bucket ?? DEFAULTS.bucket,
    ackWaitS: f.ackWait ?? DEFAULTS.ackWaitS,
    maxDeliver: f.maxDeliver ?? DEFAULTS.maxDeliver,
    maxAckPending: f.maxAckPending ?? DEFAULTS.maxAckPending,
    timeoutS: f.timeout ?? DEFAULTS.timeoutS,
    storage: f.memory === true ? 'memory' : 'file',
  };
  if (
    !(c.ackWaitS > 0) ||
    !Number.isInteger(c.maxDeliver) ||
    c.maxDeliver < 1 ||
    !Number.isInteger(c.maxAckPending) ||
    c.maxAckPending < 1 ||
    !(c.timeoutS > 0)
  ) {
    throw new OptionsError('BAD_OPTION', 'ack_wait and timeout must be > 0 seconds, max_deliver and max_ack_pending positive integers', {
      hint: 'check --ack-wait, --timeout, --max-deliver, --max-ack-pending',
    });
  }
  return c;
}

// The one connection a scale-out command holds: NATS with JetStream, the
// shard work queue (work-queue retention: a shard leaves the stream when a
// worker acks or terminates it), the shard-event stream (limits retention,
// the last event per shard subject is its state), and the object store that
// holds job manifests, pipelines and results (claim checks: messages carry
// names, never pixels). Creating what is missing is idempotent, so submit
// and workers may start in any order. Reconnects forever: a restarted
// server (file store) finds the same streams, consumer and objects.
// nats-core comes through transport-node (a declared dependency), which re-exports it.
import { connect, millis, nanos, type NatsConnection } from '@nats-io/transport-node';
import { AckPolicy, jetstream, jetstreamManager, RetentionPolicy, StorageType, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import { Objm, type ObjectStore } from '@nats-io/obj';
import { messageOf, ScaleError } from '../errors.js';
import { credentialsFromEnv, EVENT_SUBJECT, SHARD_SUBJECT, type ScaleConfig } from './config.js';

export interface ScaleClient {
  readonly config: ScaleConfig;
  readonly nc: NatsConnection;
  readonly js: JetStreamClient;
  readonly jsm: JetStreamManager;
  readonly store: ObjectStore;
  close(): Promise<void>;
}

/** The server URL without any user:password@ part, fit for logs. */
export function redactedServer(server: string): string {
  return server.replace(/\/\/[^@/]*@/g, '//');
}

/**
 * Connects and makes sure the streams, consumer and bucket exist. `configure`
 * (submit, worker) also sets the consumer's ack_wait, max_deliver and
 * max_ack_pending to the config's; status and collect leave them as they are.
 * The returned config holds the consumer's values in effect.
 */
export async function openScale(config: ScaleConfig, opts: { configure?: boolean } = {}): Promise<ScaleClient> {
  let nc: NatsConnection;
  try {
    nc = await connect({
      servers: config.server.split(',').map((s) => s.trim()),
      ...credentialsFromEnv(),
      name: `ptychoflow-${process.pid}`,
      timeout: config.timeoutS * 1000,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 250,
      pingInterval: 5000,
    });
  } catch (e) {
    throw new ScaleError('NATS_CONNECT', `cannot connect to NATS at ${redactedServer(config.server)}: ${messageOf(e)}`, {
      hint: 'start nats-server with -js, check --server and the PTYCHOFLOW_NATS_* credentials',
      cause: e,
    });
  }
  try {
    const api = { timeout: config.timeoutS * 1000 };
    const jsm = await jetstreamManager(nc, api);
    const js = jetstream(nc, api);
    const storage = config.storage === 'memory' ? StorageType.Memory : StorageType.File;
    await ensureStream(jsm, { name: config.stream, subjects: [`${SHARD_SUBJECT}.>`], retention: RetentionPolicy.Workqueue, storage });
    await ensureStream(jsm, { name: config.events, subjects: [`${EVENT_SUBJECT}.>`], retention: RetentionPolicy.Limits, storage, max_msgs_per_subject: 64 });
    const consumer = {
      durable_name: config.consumer,
      ack_policy: AckPolicy.Explicit,
      ack_wait: nanos(config.ackWaitS * 1000),
      max_deliver: config.maxDeliver,
      max_ack_pending: config.maxAckPending,
    };
    let info = await jsm.consumers.info(config.stream, config.consumer).catch(() => undefined);
    if (info === undefined) info = await jsm.consumers.add(config.stream, consumer);
    else if (opts.configure === true)
      info = await jsm.consumers.update(config.stream, config.consumer, {
        ack_wait: consumer.ack_wait,
        max_deliver: consumer.max_deliver,
        max_ack_pending: consumer.max_ack_pending,
      });
    const effective: ScaleConfig = {
      ...config,
      ackWaitS: millis(info.config.ack_wait ?? consumer.ack_wait) / 1000,
      maxDeliver: info.config.max_deliver ?? config.maxDeliver,
      maxAckPending: info.config.max_ack_pending ?? config.maxAckPending,
    };
    const store = await new Objm(js).create(config.bucket, { storage });
    return { config: effective, nc, js, jsm, store, close: () => nc.drain().catch(() => nc.close()) };
  } catch (e) {
    await nc.close();
    if (e instanceof ScaleError) throw e;
    throw new ScaleError('NATS_SETUP', `JetStream at ${redactedServer(config.server)}: ${messageOf(e)}`, {
      hint: 'the server must run with JetStream enabled (-js) and allow these streams',
      cause: e,
    });
  }
}

async function ensureStream(
  jsm: JetStreamManager,
  cfg: { name: string; subjects: string[]; retention: RetentionPolicy; storage: StorageType; max_msgs_per_subject?: number },
): Promise<void> {
  try {
    await jsm.streams.info(cfg.name);
  } catch {
    try {
      await jsm.streams.add(cfg);
    } catch (e) {
      // Another process created it in between: fine if it is there now.
      await jsm.streams.info(cfg.name).catch(() => {
        throw e;
      });
    }
  }
}

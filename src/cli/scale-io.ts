// What the scale commands share: a stderr logger, the connection (always
// closed), and the lines status and collect print.
import { openScale, redactedServer, type ScaleClient } from '../scale/client.js';
import { scaleConfig, type ScaleFlags } from '../scale/config.js';
import type { ShardStatus } from '../scale/events.js';
import { countStates } from '../scale/events.js';
import { createLogger, formatFields, type Logger } from '../util/log.js';
import type { CliIO } from './io.js';

export function scaleLogger(io: CliIO, verbose: boolean | undefined): Logger {
  return createLogger(verbose === true ? 'debug' : 'info', (l, scope, message, fields) => {
    io.stderr.write(`${l === 'info' ? '' : `${l}: `}${scope !== '' ? `[${scope}] ` : ''}${message}${formatFields(fields)}\n`);
  });
}

/** Runs `fn` with a connection; `configure`: this command sets the consumer's ack_wait, max_deliver, max_ack_pending. */
export async function withScale<T>(flags: ScaleFlags, log: Logger, fn: (c: ScaleClient) => Promise<T>, configure = false): Promise<T> {
  const config = scaleConfig(flags);
  const c = await openScale(config, { configure });
  log.debug(`connected to ${redactedServer(config.server)} (stream ${config.stream}, consumer ${config.consumer}, bucket ${config.bucket})`);
  try {
    return await fn(c);
  } finally {
    await c.close();
  }
}

export function statusLines(job: string, s: readonly ShardStatus[]): string {
  const n = countStates(s);
  const lines = [`job ${job}: ${s.length} shards — ${n.pending} pending, ${n.running} running, ${n.done} done, ${n.failed} failed`];
  for (const x of s) {
    const extra = [
      x.delivery !== undefined ? `delivery ${x.delivery}` : '',
      x.worker ?? '',
      x.seconds !== undefined ? `${x.seconds} s` : '',
      x.progress !== undefined
        ? `${x.progress.stage} ${x.progress.label} ${x.progress.done}${x.progress.total !== undefined ? `/${x.progress.total}` : ''}`
        : '',
      x.error !== undefined ? `${x.error.code}: ${x.error.message}` : '',
    ].filter((t) => t !== '');
    lines.push(`  ${x.shard.padEnd(12)} ${x.state.padEnd(8)} ${extra.join(', ')}`);
  }
  return lines.join('\n');
}

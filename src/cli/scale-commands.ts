// The scale-out commands (submit, worker, status, collect) and their shared
// connection options, added to the program by main.ts. Each command's module
// is imported when it runs, so --help loads no NATS client.
import { InvalidArgumentError, Option, type Command } from 'commander';
import { BACKEND_NAMES } from '../backend/names.js';
import { DEFAULTS } from '../scale/config.js';
import type { CliIO } from './io.js';
import type { CollectFlags, SubmitFlags, WorkerFlags } from './scale-flags.js';

function positive(flag: string, integer: boolean) {
  return (v: string): number => {
    const n = Number(v);
    if (!(n > 0) || (integer && !Number.isInteger(n)))
      throw new InvalidArgumentError(`${flag}: expected a positive ${integer ? 'integer' : 'number'}, got '${v}'`);
    return n;
  };
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

/** The connection and queue options every scale command takes. */
function withConnection(cmd: Command): Command {
  return cmd
    .option(
      '--server <url>',
      'NATS server, nats://HOST:PORT (comma-separated for a cluster; default $PTYCHOFLOW_NATS_SERVER). Credentials only from the environment: PTYCHOFLOW_NATS_TOKEN, or PTYCHOFLOW_NATS_USER and PTYCHOFLOW_NATS_PASSWORD',
    )
    .option('--stream <name>', 'work-queue stream of shard descriptors', DEFAULTS.stream)
    .option('--consumer <name>', 'durable pull consumer the workers share', DEFAULTS.consumer)
    .option('--events-stream <name>', 'stream of shard events (state per shard)', DEFAULTS.events)
    .option('--bucket <name>', 'object store bucket for jobs, pipelines and results', DEFAULTS.bucket)
    .option('--ack-wait <s>', 'seconds without an ack or in-progress ack before a shard is redelivered', positive('--ack-wait', false), DEFAULTS.ackWaitS)
    .option('--max-deliver <n>', 'deliveries of a shard before it is terminated and reported failed', positive('--max-deliver', true), DEFAULTS.maxDeliver)
    .option('--max-ack-pending <n>', 'shards delivered and not yet acked, over all workers', positive('--max-ack-pending', true), DEFAULTS.maxAckPending)
    .option('--timeout <s>', 'seconds to wait for the server on connect and per request', positive('--timeout', false), DEFAULTS.timeoutS)
    .option('--memory', 'create the streams and bucket in memory instead of the file store (tests, throwaway jobs)')
    .option('-v, --verbose', 'log details to stderr');
}

export function addScaleCommands(program: Command, io: CliIO, done: (code: number) => void): void {
  withConnection(program.command('submit'))
    .description('split a pipeline into shards and queue them on NATS JetStream for workers')
    .argument('<pipeline>', 'pipeline file (YAML or JSON); its input paths must be readable by the workers')
    .option(
      '--shards <spec>',
      "'per-scan' (one shard per --inputs file) or 'tiles:K' (K spatial tiles of one scan, for infer and refine; refine with step: pass runs in exact rounds); default one shard",
    )
    .option('--inputs <values...>', 'per-scan: the scans, one shard each (set as --input-key)', [])
    .option('--input-key <key.path>', 'per-scan: the setting each input goes to (default: the one source with a path, sources.ID.path)')
    .option(
      '--margin <px>',
      'tiles: pixels of positions read beyond a tile core (default N; at least N/2 + 1 for exact stitching)',
      positive('--margin', false),
    )
    .option('--job <id>', 'job id (letters, digits, - and _; default a fresh one)')
    .option('--set <key.path=value>', 'override a setting in the file (repeatable)', collect, [])
    .option('--wait', 'wait for the job and collect it (see collect)')
    .option('--output <dir>', 'with --wait: where the merged outputs go (default the job id)')
    .option('--job-timeout <s>', 'with --wait: give up after this many seconds', positive('--job-timeout', false))
    .option('--json', 'print the job (or with --wait its summary) as one JSON line')
    .action(async (file: string, o: SubmitFlags) => done(await (await import('./submit.js')).submitCommand(file, o, io)));

  withConnection(program.command('worker'))
    .description('pull shards from NATS JetStream and run them until stopped (Ctrl-C hands the current shard back)')
    .option('--concurrency <n>', 'shards at once: one worker process each', positive('--concurrency', true), 1)
    .addOption(new Option('--backend <name>', 'compute backend').choices([...BACKEND_NAMES]))
    .option('--max-shards <n>', 'exit after this many shards', positive('--max-shards', true))
    .option('--work-dir <dir>', 'where shard runs write before their results are stored (default the OS temp directory)')
    .action(async (o: WorkerFlags) => done(await (await import('./worker.js')).workerCommand(o, io)));

  withConnection(program.command('status'))
    .description("show a job's shards: pending, running, done, failed")
    .argument('<job>', 'job id')
    .option('--json', 'one JSON object')
    .action(async (job: string, o: CollectFlags) => done(await (await import('./collect.js')).statusCommand(job, o, io)));

  withConnection(program.command('collect'))
    .description("write a finished job's outputs (the files a local run writes; tiles merged) and job-summary.json")
    .argument('<job>', 'job id')
    .option('--output <dir>', 'output directory (default the job id)')
    .option('--wait', 'wait for unfinished shards (a rounds job: coordinate its rounds)')
    .option('--job-timeout <s>', 'with --wait: give up after this many seconds', positive('--job-timeout', false))
    .option('--json', 'print the job summary as one JSON line')
    .action(async (job: string, o: CollectFlags) => done(await (await import('./collect.js')).collectCommand(job, o, io)));
}

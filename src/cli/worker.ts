// `ptychoflow worker`: pull and run shards until SIGINT/SIGTERM (the shard in
// hand is handed back with a nak). --concurrency N runs N worker processes
// (one TensorFlow.js engine each) and waits for them all.
import { spawn } from 'node:child_process';
import type { BackendName } from '../backend/select.js';
import { AbortError } from '../errors.js';
import { runWorker } from '../scale/worker.js';
import { onShutdownSignals } from '../util/signals.js';
import { EXIT, type CliIO } from './io.js';
import type { WorkerFlags } from './scale-flags.js';
import { scaleLogger, withScale } from './scale-io.js';

async function pool(n: number, io: CliIO): Promise<number> {
  const args = process.argv.slice(1).filter((a, i, all) => a !== '--concurrency' && all[i - 1] !== '--concurrency' && !a.startsWith('--concurrency='));
  const children = Array.from({ length: n }, () => spawn(process.execPath, [...process.execArgv, ...args], { stdio: ['ignore', 'inherit', 'inherit'] }));
  const off = onShutdownSignals({
    onFirst: (sig) => {
      for (const c of children) c.kill(sig);
    },
    onSecond: (sig) => io.stderr.write(`\nsecond ${sig}: exiting now\n`),
  });
  try {
    const codes = await Promise.all(children.map((c) => new Promise<number>((resolve) => c.once('exit', (code) => resolve(code ?? EXIT.failure)))));
    return Math.max(...codes);
  } finally {
    off();
  }
}

export async function workerCommand(o: WorkerFlags, io: CliIO): Promise<number> {
  if (o.concurrency > 1) return pool(o.concurrency, io);
  const log = scaleLogger(io, o.verbose);
  const controller = new AbortController();
  const off = onShutdownSignals({
    onFirst: (sig) => {
      log.info(`${sig}: handing the current shard back and stopping`);
      controller.abort(new AbortError(`interrupted by ${sig}`));
    },
    onSecond: (sig) => io.stderr.write(`\nsecond ${sig}: exiting now\n`),
  });
  try {
    return await withScale(
      o,
      log,
      async (c) => {
        log.info(`worker ${process.pid}: pulling from ${c.config.stream}/${c.config.consumer}`);
        const stats = await runWorker(c, {
          log,
          signal: controller.signal,
          ...(o.backend !== undefined ? { backend: o.backend as BackendName } : {}),
          ...(o.maxShards !== undefined ? { maxShards: o.maxShards } : {}),
          ...(o.workDir !== undefined ? { workDir: o.workDir } : {}),
        });
        log.info(`worker ${process.pid}: ${stats.done} done, ${stats.failed} failed, ${stats.retried} retried`);
        return EXIT.ok;
      },
      true,
    );
  } finally {
    off();
  }
}

// `ptychoflow submit PIPELINE`: queue a job's shards; with --wait, collect it.
import { collectJob } from '../scale/collect.js';
import { countStates } from '../scale/events.js';
import { submitJob } from '../scale/submit.js';
import { EXIT, type CliIO } from './io.js';
import type { SubmitFlags } from './scale-flags.js';
import { scaleLogger, withScale } from './scale-io.js';

export async function submitCommand(file: string, o: SubmitFlags, io: CliIO): Promise<number> {
  const log = scaleLogger(io, o.verbose);
  return withScale(
    o,
    log,
    async (c) => {
      const m = await submitJob(c, file, {
        ...(o.job !== undefined ? { job: o.job } : {}),
        ...(o.shards !== undefined ? { shards: o.shards } : {}),
        inputs: o.inputs,
        ...(o.inputKey !== undefined ? { inputKey: o.inputKey } : {}),
        ...(o.margin !== undefined ? { margin: o.margin } : {}),
        sets: o.set,
      });
      log.info(`job ${m.job}: ${m.shards.length} shard(s) queued (${m.mode})`);
      if (o.wait !== true) {
        io.stdout.write(o.json === true ? JSON.stringify({ job: m.job, mode: m.mode, shards: m.shards.map((d) => d.shard) }) + '\n' : `${m.job}\n`);
        return EXIT.ok;
      }
      let last = '';
      const summary = await collectJob(c, m.job, {
        outDir: o.output ?? m.job,
        wait: true,
        ...(o.jobTimeout !== undefined ? { timeoutS: o.jobTimeout } : {}),
        onStatus: (s) => {
          const line = JSON.stringify(countStates(s));
          if (line !== last) log.info(`job ${m.job}: ${line}`);
          last = line;
        },
      });
      io.stdout.write(
        o.json === true
          ? JSON.stringify(summary) + '\n'
          : `job ${m.job}: ${summary.status}, outputs in ${summary.output}${summary.failed.length > 0 ? `; failed: ${summary.failed.join(', ')}` : ''}\n`,
      );
      return summary.status === 'ok' ? EXIT.ok : EXIT.failure;
    },
    true,
  );
}

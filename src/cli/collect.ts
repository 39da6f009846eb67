// `ptychoflow status JOB` and `ptychoflow collect JOB`.
import { collectJob, loadManifest } from '../scale/collect.js';
import { jobStatus } from '../scale/events.js';
import { EXIT, type CliIO } from './io.js';
import type { CollectFlags } from './scale-flags.js';
import { scaleLogger, statusLines, withScale } from './scale-io.js';

export async function statusCommand(job: string, o: CollectFlags, io: CliIO): Promise<number> {
  return withScale(o, scaleLogger(io, o.verbose), async (c) => {
    const s = await jobStatus(c, await loadManifest(c, job));
    io.stdout.write(o.json === true ? JSON.stringify({ job, shards: s }) + '\n' : statusLines(job, s) + '\n');
    return EXIT.ok;
  });
}

export async function collectCommand(job: string, o: CollectFlags, io: CliIO): Promise<number> {
  return withScale(o, scaleLogger(io, o.verbose), async (c) => {
    const summary = await collectJob(c, job, {
      outDir: o.output ?? job,
      ...(o.wait === true ? { wait: true } : {}),
      ...(o.jobTimeout !== undefined ? { timeoutS: o.jobTimeout } : {}),
    });
    io.stdout.write(
      o.json === true
        ? JSON.stringify(summary) + '\n'
        : `job ${job}: ${summary.status}, outputs in ${summary.output}${summary.failed.length > 0 ? `; failed: ${summary.failed.join(', ')}` : ''}\n`,
    );
    return summary.status === 'ok' ? EXIT.ok : EXIT.failure;
  });
}

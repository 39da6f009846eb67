// The `write-errors` sink: writes the bad records a stage routed (its
// `id.errors` output under `on_error: route`) as JSON lines, one per record,
// so a scientist can see which frames were set aside and why.
import { z } from 'zod';
import { outPath } from './shared/util.js';
import { defineSink, type RoutedError } from '../pipeline/types.js';
import { writeAtomic } from '../util/atomic.js';

export default defineSink({
  kind: 'sink',
  accepts: [['error']],
  type: 'write-errors',
  description: 'Writes routed bad records (inputs like `scan.errors`) to a JSON-lines file.',
  arity: { min: 1, max: 16 },
  options: z
    .object({
      path: z.string().default('errors.jsonl').describe('Output file, relative to the run output directory.'),
    })
    .strict(),
  async create(options, { ctx, inputs }) {
    const target = outPath(ctx, options.path);
    const count = await writeAtomic(target, async (fh) => {
      let n = 0;
      for (const input of inputs) {
        for await (const r of input.open(ctx.signal) as AsyncIterable<RoutedError>) {
          await fh.write(JSON.stringify(r) + '\n');
          n++;
        }
      }
      return n;
    });
    if (count > 0) ctx.log.warn(`${count} bad record(s) written to ${target}`);
    return { path: target, count };
  },
});

// `ptychoflow validate FILES…`: load and check each pipeline file without
// running it; every problem of every file is reported.
import { builtinRegistry } from '../components.js';
import { isPtychoflowError } from '../errors.js';
import { loadPlan } from '../pipeline/load-plan.js';
import { EXIT, type CliIO } from './io.js';

export async function validateCommand(files: readonly string[], o: { set: string[] }, io: CliIO): Promise<number> {
  const registry = builtinRegistry();
  let code: number = EXIT.ok;
  for (const file of files) {
    try {
      const plan = await loadPlan(file, { registry, sets: o.set });
      const stages = [...plan.streams, ...plan.sinks];
      io.stdout.write(`ok ${file} (${stages.length} stage${stages.length === 1 ? '' : 's'}: ${stages.map((s) => s.id).join(', ')})\n`);
    } catch (e) {
      if (!isPtychoflowError(e)) throw e;
      io.stderr.write(e.message + '\n');
      code = Math.max(code, e.exitCode);
    }
  }
  return code;
}

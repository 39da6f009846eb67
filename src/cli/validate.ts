// `ptychoflow validate FILES…`: load and check each pipeline file without
// running it; every problem of every file is reported. The files the stages
// read (their declared inputFiles) must exist and be readable; with --deep,
// each source's data file must also meet the scan contract `inspect` checks.
import { accessSync, constants, statSync } from 'node:fs';
import path from 'node:path';
import { builtinRegistry } from '../components.js';
import { isPtychoflowError, messageOf } from '../errors.js';
import { loadPlan } from '../pipeline/load-plan.js';
import type { PipelinePlan } from '../pipeline/plan.js';
import { EXIT, type CliIO } from './io.js';

const SCAN_FILE = /\.(npz|h5|hdf5|hdf|cxi|nxs)$/i;

/** Problems with the files a plan's stages read, one line each, as `FILE  key: message`. */
async function fileProblems(plan: PipelinePlan, deep: boolean): Promise<string[]> {
  const out: string[] = [];
  for (const st of [...plan.streams, ...plan.sinks]) {
    const files = st.def.inputFiles?.(st.options) ?? [];
    for (const [i, f] of files.entries()) {
      const abs = path.resolve(plan.baseDir, f);
      const where = `${plan.file}  ${st.section}.${st.id}`;
      try {
        if (!statSync(abs).isFile()) {
          out.push(`${where}: '${f}' is not a regular file (${abs})`);
          continue;
        }
        accessSync(abs, constants.R_OK);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        out.push(
          `${where}: cannot read '${f}' (${code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : messageOf(e)}; resolved against the pipeline file's directory to ${abs})`,
        );
        continue;
      }
      if (!deep || st.section !== 'sources' || i > 0 || !SCAN_FILE.test(f)) continue;
      // Loaded only here: reading HDF5 needs its wasm module.
      const { inspectFile } = await import('../io/inspect.js');
      try {
        const report = await inspectFile(abs);
        if (!report.contract.ok) out.push(`${where}: '${f}' does not meet the scan contract:\n${report.contract.problems.map((p) => `    - ${p}`).join('\n')}`);
      } catch (e) {
        if (!isPtychoflowError(e)) throw e;
        out.push(`${where}: '${f}': ${e.message}`);
      }
    }
  }
  return out;
}

export async function validateCommand(files: readonly string[], o: { set: string[]; deep?: boolean }, io: CliIO): Promise<number> {
  const registry = builtinRegistry();
  let code: number = EXIT.ok;
  for (const file of files) {
    try {
      const plan = await loadPlan(file, { registry, sets: o.set });
      const problems = await fileProblems(plan, o.deep === true);
      if (problems.length > 0) {
        io.stderr.write(`${problems.length} problem${problems.length === 1 ? '' : 's'} with the input files of ${file}\n${problems.join('\n')}\n`);
        code = Math.max(code, EXIT.invalid);
        continue;
      }
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

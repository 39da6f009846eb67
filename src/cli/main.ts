// The `ptychoflow` command line: run, validate, stages, inspect. The only
// module that prints. Exit codes: 0 ok, 2 invalid input (pipeline file or
// data), 1 failure while running, 130/143 after a clean shutdown on SIGINT/SIGTERM.
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { builtinRegistry } from '../components.js';
import { AbortError, isPtychoflowError, messageOf } from '../errors.js';
import { loadPlan } from '../pipeline/index.js';
import { loadPlugins, type Registry } from '../pipeline/registry.js';
import { runPlan, type RunSummary } from '../pipeline/run.js';
import { createLogger, formatFields, type LogLevel } from '../util/log.js';
import { exitCodeForSignal, onShutdownSignals, removeTrackedTemps } from '../util/signals.js';
import { describeStage, stageMarkdown, stageText } from './describe.js';
import { createProgressRenderer } from './progress.js';
import { BACKENDS } from '../pipeline/load.js';
import type { BackendName } from '../backend/select.js';

export interface CliIO {
  stdout: NodeJS.WriteStream;
  stderr: NodeJS.WriteStream;
  /** Where SIGINT comes from (the process, or a test's emitter). */
  onInterrupt?: (handler: () => void) => () => void;
}

const EXIT = { ok: 0, failure: 1, invalid: 2, interrupted: 130 } as const;

function exitCodeFor(e: unknown): number {
  if (e instanceof AbortError) return EXIT.interrupted;
  if (isPtychoflowError(e)) return e.exitCode;
  return EXIT.failure;
}

function collectSet(value: string, previous: string[]): string[] {
  return [...previous, value];
}

function fmtBytes(n: number): string {
  return n >= 1 << 30 ? `${(n / 2 ** 30).toFixed(2)} GiB` : `${(n / 2 ** 20).toFixed(1)} MiB`;
}

function humanSummary(s: RunSummary): string {
  const lines = [`pipeline ${s.pipeline}: ${s.status} in ${(s.wall_ms / 1000).toFixed(1)} s on ${s.backend} (seed ${s.seed})`];
  const w = Math.max(5, ...s.stages.map((x) => x.id.length));
  lines.push(`  ${'stage'.padEnd(w)}  ${'type'.padEnd(12)} ${'in'.padStart(8)} ${'out'.padStart(8)} ${'errors'.padStart(6)} ${'ms'.padStart(9)}`);
  for (const st of s.stages) {
    lines.push(`  ${st.id.padEnd(w)}  ${st.type.padEnd(12)} ${String(st.records_in).padStart(8)} ${String(st.records_out).padStart(8)} ${String(st.errors).padStart(6)} ${String(st.ms).padStart(9)}`);
  }
  lines.push(`  tensors: peak ${s.tensors.peak_count} (${fmtBytes(s.tensors.peak_bytes)}), leaked ${s.tensors.leaked}; peak RSS ${fmtBytes(s.peak_rss_bytes)}`);
  lines.push(`  outputs in ${s.output}`);
  for (const [id, r] of Object.entries(s.sinks)) lines.push(`  ${id}: ${JSON.stringify(r)}`);
  return lines.join('\n');
}

export async function main(argv: readonly string[], io: CliIO = { stdout: process.stdout, stderr: process.stderr }): Promise<number> {
  const { stdout, stderr } = io;
  const registry = builtinRegistry();
  let code: number = EXIT.ok;
  const program = new Command('ptychoflow')
    .description('Streaming ptychography reconstruction with a physics-informed neural network')
    .exitOverride()
    .configureOutput({ writeOut: (s) => stdout.write(s), writeErr: (s) => stderr.write(s) })
    .showHelpAfterError();

  program
    .command('run')
    .description('run a pipeline file')
    .argument('<file>', 'pipeline file (YAML or JSON)')
    .option('--set <key.path=value>', 'override a setting in the file (repeatable)', collectSet, [])
    .addOption(new Option('--backend <name>', 'compute backend').choices([...BACKENDS]))
    .option('--json', 'print the run summary as one JSON line (the last line on stdout)')
    .option('--limit <n>', 'read at most n records from each source', (v) => positiveInt(v, '--limit'))
    .option('--output <dir>', "override the file's output directory")
    .option('-v, --verbose', 'log details to stderr')
    .option('-q, --quiet', 'log only errors')
    .action(async (file: string, o: { set: string[]; backend?: string; json?: boolean; limit?: number; output?: string; verbose?: boolean; quiet?: boolean }) => {
      const level: LogLevel = o.verbose === true ? 'debug' : o.quiet === true ? 'error' : 'info';
      const progress = createProgressRenderer(stderr, o.quiet === true ? { intervalMs: Infinity } : {});
      const log = createLogger(level, (l, scope, message, fields) => {
        progress.clear();
        stderr.write(`${l === 'info' ? '' : `${l}: `}${scope !== '' ? `[${scope}] ` : ''}${message}${formatFields(fields)}\n`);
      });
      const plan = await loadPlan(file, { registry, sets: o.set });
      const controller = new AbortController();
      let stopSignal: 'SIGINT' | 'SIGTERM' = 'SIGINT';
      const onFirst = (signal: 'SIGINT' | 'SIGTERM'): void => {
        stopSignal = signal;
        progress.clear();
        stderr.write(`\n${signal}: stopping cleanly within one batch (send it again to exit now)\n`);
        controller.abort(new AbortError(`interrupted by ${signal}`));
      };
      const off = io.onInterrupt !== undefined ? io.onInterrupt(() => onFirst('SIGINT')) : onShutdownSignals({ onFirst, onSecond: (s) => stderr.write(`\nsecond ${s}: exiting now\n`) });
      try {
        const { summary, error } = await runPlan(plan, {
          signal: controller.signal,
          log,
          progress,
          ...(o.backend !== undefined ? { backend: o.backend as BackendName } : {}),
          ...(o.limit !== undefined ? { limit: o.limit } : {}),
          ...(o.output !== undefined ? { outDir: o.output } : {}),
        });
        progress.clear();
        if (error !== undefined) {
          code = error instanceof AbortError ? exitCodeForSignal(stopSignal) : exitCodeFor(error);
          stderr.write(`${error instanceof AbortError ? 'interrupted' : 'error'}: ${messageOf(error)}\n`);
          if (o.verbose === true && error instanceof Error && error.stack !== undefined) stderr.write(error.stack + '\n');
        }
        stdout.write(o.json === true ? JSON.stringify(summary) + '\n' : humanSummary(summary) + '\n');
      } finally {
        off();
        removeTrackedTemps();
      }
    });

  program
    .command('validate')
    .description('check pipeline files without running them')
    .argument('<files...>', 'pipeline files')
    .option('--set <key.path=value>', 'override a setting before checking (repeatable)', collectSet, [])
    .action(async (files: string[], o: { set: string[] }) => {
      for (const file of files) {
        try {
          const plan = await loadPlan(file, { registry, sets: o.set });
          const n = plan.streams.length + plan.sinks.length;
          stdout.write(`ok ${file} (${n} stage${n === 1 ? '' : 's'}: ${[...plan.streams, ...plan.sinks].map((s) => s.id).join(', ')})\n`);
        } catch (e) {
          if (!isPtychoflowError(e)) throw e;
          stderr.write(e.message + '\n');
          code = Math.max(code, e.exitCode);
        }
      }
    });

  program
    .command('stages')
    .description('list every registered stage with its options, descriptions and defaults')
    .argument('[type]', 'show one stage type')
    .option('--plugin <module>', 'also list the components of a plugin module (repeatable)', collectSet, [])
    .option('--json', 'machine-readable')
    .option('--markdown', 'the reference as Markdown (docs/STAGES.md)')
    .action(async (type: string | undefined, o: { plugin: string[]; json?: boolean; markdown?: boolean }) => {
      let reg: Registry = registry;
      if (o.plugin.length > 0) {
        reg = registry.clone();
        // Named on the command line by the user: trusted wherever it is.
        await loadPlugins(o.plugin, process.cwd(), reg, { allowOutside: true });
      }
      const defs = reg.all().filter((d) => type === undefined || d.type === type);
      if (type !== undefined && defs.length === 0) {
        stderr.write(`unknown stage type '${type}'; known: ${reg.types().join(', ')}\n`);
        code = EXIT.invalid;
        return;
      }
      const docs = defs.map((d) => describeStage(d, reg.origin(d.type)));
      if (o.json === true) stdout.write(JSON.stringify(docs) + '\n');
      else if (o.markdown === true) stdout.write(stageMarkdown(docs) + '\n');
      else stdout.write(docs.map(stageText).join('\n\n') + '\n');
    });

  program
    .command('inspect')
    .description('show the arrays of an .npz, .npy or HDF5 file and check that a source can read it as a scan')
    .argument('<file>', '.npz, .npy or HDF5 (.h5, .cxi, …) file')
    .option('--json', 'print one JSON object')
    .action(async (file: string, o: { json?: boolean }) => {
      const { inspectFile } = await import('../io/inspect.js');
      const report = await inspectFile(file);
      // A file that does not meet the contract is bad input, also for scripts that only look at the status.
      if (!report.contract.ok) code = EXIT.invalid;
      if (o.json === true) {
        stdout.write(JSON.stringify(report) + '\n');
        return;
      }
      stdout.write(`${report.file} (${report.format}${report.layout === undefined ? '' : `, ${report.layout} layout`})\n`);
      const width = Math.max(16, ...Object.keys(report.arrays).map((k) => k.length));
      for (const [name, a] of Object.entries(report.arrays)) {
        const stats = Object.entries(a)
          .filter(([k]) => ['min', 'max', 'mean', 'mean_abs'].includes(k))
          .map(([k, v]) => `${k}=${typeof v === 'number' ? v.toPrecision(6) : String(v)}`)
          .join(' ');
        stdout.write(`  ${name.padEnd(width)} ${a.dtype.length > 12 ? 'compound' : a.dtype.padEnd(5)} (${a.shape.join(', ')})${a.fortran_order ? ' fortran' : ''} ${stats}\n`);
      }
      const what = report.format === 'hdf5' ? 'readable as a scan (hdf5 source)' : 'canonical contract';
      stdout.write(report.contract.ok ? `  ${what}: ok\n` : `  ${what}: ${report.contract.problems.length} problem(s)\n${report.contract.problems.map((p) => `    - ${p}\n`).join('')}`);
    });

  try {
    await program.parseAsync(['node', 'ptychoflow', ...argv]);
  } catch (e) {
    if (e instanceof CommanderError) {
      return e.exitCode === 0 ? EXIT.ok : EXIT.invalid;
    }
    if (isPtychoflowError(e)) {
      stderr.write(`${e.message}\n`);
      return e.exitCode;
    }
    stderr.write(`internal error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    return EXIT.failure;
  }
  return code;
}

function positiveInt(v: string, flag: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError(`${flag}: expected a positive integer, got '${v}'`);
  return n;
}

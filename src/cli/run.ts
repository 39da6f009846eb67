// `ptychoflow run FILE`: validate, run with one progress display, print the
// closing summary (or one JSON line with --json). SIGINT or SIGTERM stops
// cleanly within one batch (exit 130/143); a second one exits at once, still
// removing temp files.
import { AbortError, isPtychoflowError, messageOf, type PtychoflowError } from '../errors.js';
import type { BackendName } from '../backend/select.js';
import { builtinRegistry } from '../components.js';
import { loadPlan } from '../pipeline/index.js';
import { outputDir } from '../pipeline/load-plan.js';
import { runPlan } from '../pipeline/run.js';
import { createLogger, formatFields, type LogLevel } from '../util/log.js';
import { exitCodeForSignal, onShutdownSignals, removeTrackedTemps } from '../util/signals.js';
import { EXIT, exitCodeFor, type CliIO } from './io.js';
import { createProgressRenderer } from './progress.js';
import { outlineOf, previousSinkSeconds, RunClock } from './run-clock.js';
import { humanSummary } from './summary.js';

export interface RunFlags {
  set: string[];
  backend?: string;
  json?: boolean;
  limit?: number;
  output?: string;
  verbose?: boolean;
  quiet?: boolean;
}

/** A pipeline that failed validation, as one JSON object on stdout (the message on stderr). */
function invalidAsJson(file: string, e: PtychoflowError, io: CliIO): number {
  io.stderr.write(e.message + '\n');
  const error = {
    code: e.code,
    message: e.message,
    ...(e.file !== undefined ? { file: e.file } : {}),
    ...(e.key !== undefined ? { key: e.key } : {}),
    ...(e.hint !== undefined ? { hint: e.hint } : {}),
  };
  io.stdout.write(JSON.stringify({ pipeline: file, status: 'invalid', error }) + '\n');
  return e.exitCode;
}

export async function runCommand(file: string, o: RunFlags, io: CliIO): Promise<number> {
  const { stdout, stderr } = io;
  const level: LogLevel = o.verbose === true ? 'debug' : o.quiet === true ? 'error' : 'info';
  let plan: Awaited<ReturnType<typeof loadPlan>>;
  try {
    plan = await loadPlan(file, { registry: builtinRegistry(), sets: o.set });
  } catch (e) {
    // With --json the caller reads stdout: give it the failure as JSON too.
    if (o.json !== true || !isPtychoflowError(e)) throw e;
    return invalidAsJson(file, e, io);
  }
  const outDir = outputDir(plan, o.output);
  const clock = new RunClock(outlineOf(plan.sinks, previousSinkSeconds(outDir)));
  const progress = createProgressRenderer(stderr, { clock, quiet: o.quiet === true });
  const log = createLogger(level, (l, scope, message, fields) => {
    progress.clear();
    stderr.write(`${l === 'info' ? '' : `${l}: `}${scope !== '' ? `[${scope}] ` : ''}${message}${formatFields(fields)}\n`);
  });
  const controller = new AbortController();
  let stopSignal: 'SIGINT' | 'SIGTERM' = 'SIGINT';
  const onFirst = (signal: 'SIGINT' | 'SIGTERM'): void => {
    stopSignal = signal;
    progress.clear();
    stderr.write(`\n${signal}: stopping cleanly within one batch (send it again to exit now)\n`);
    controller.abort(new AbortError(`interrupted by ${signal}`));
  };
  const off =
    io.onInterrupt !== undefined
      ? io.onInterrupt(() => onFirst('SIGINT'))
      : onShutdownSignals({ onFirst, onSecond: (sig) => stderr.write(`\nsecond ${sig}: exiting now\n`) });
  try {
    const { summary, error } = await runPlan(plan, {
      signal: controller.signal,
      log,
      progress,
      onSink: progress.sink,
      ...(o.backend !== undefined ? { backend: o.backend as BackendName } : {}),
      ...(o.limit !== undefined ? { limit: o.limit } : {}),
      ...(o.output !== undefined ? { outDir: o.output } : {}),
    });
    progress.clear();
    let code: number = EXIT.ok;
    if (error !== undefined) {
      code = error instanceof AbortError ? exitCodeForSignal(stopSignal) : exitCodeFor(error);
      stderr.write(`${error instanceof AbortError ? 'interrupted' : 'error'}: ${messageOf(error)}\n`);
      if (o.verbose === true && error instanceof Error && error.stack !== undefined) stderr.write(error.stack + '\n');
    }
    stdout.write(o.json === true ? JSON.stringify(summary) + '\n' : humanSummary(summary, 100, o.verbose === true) + '\n');
    return code;
  } finally {
    off();
    removeTrackedTemps();
  }
}

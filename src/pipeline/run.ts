// Runs a validated plan: picks the backend, creates every source and transform
// in dependency order, runs the sinks in order (`after` first), and reports.
// One AbortController covers the run: the first error (or SIGINT, via the
// caller's signal) aborts it, every stage is cleaned up (iterators returned,
// streams closed), and the error names the stage it came from.
import type { BackendInfo, BackendName } from '../backend/select.js';
import { AbortError, messageOf, type PtychoflowError } from '../errors.js';
import { type Logger, silentLogger } from '../util/log.js';
import { outputDir } from './load-plan.js';
import type { Meter } from './instrument.js';
import { sweepStaleSpillDirs } from '../io/spill.js';
import { sweepStaleAtomicTemps } from '../io/temp-owner.js';
import { prepareOutputDir } from './output-dir.js';
import { writeRunRecord, writeSummaryRecord } from './record.js';
import { TensorLedger, type LedgerReport } from './ledger.js';
import type { PipelinePlan } from './plan.js';
import { StageGraph } from './run-graph.js';
import type { Json, ProgressEvent } from './types.js';

export interface RunOptions {
  signal?: AbortSignal;
  log?: Logger;
  progress?: (event: ProgressEvent) => void;
  /** Called as each sink starts and ends (sinks run one after another), for a run-wide progress display. */
  onSink?: (id: string, phase: 'start' | 'end') => void;
  /** Overrides the file's `backend`. */
  backend?: BackendName;
  /** Caps every source at this many records (a quick look at a big scan). */
  limit?: number;
  /** Overrides the file's `output` directory (absolute, or relative to the cwd). */
  outDir?: string;
  /** Write pipeline.yaml, run.json and summary.json to the output directory (default true; openScan's sessions write none). */
  record?: boolean;
  /** Backend selection, injectable for tests. */
  selectBackend?: (name: BackendName, log: Logger) => Promise<Pick<BackendInfo, 'name'>>;
}

export interface StageSummary {
  id: string;
  type: string;
  records_in: number;
  records_out: number;
  errors: number;
  ms: number;
  /** What a stage reports beyond the counts (a live source: received, dropped, …). */
  info?: { [key: string]: Json };
}

export interface RunSummary {
  pipeline: string;
  backend: string;
  seed: number;
  output: string;
  stages: StageSummary[];
  sinks: Record<string, Json>;
  tensors: { peak_count: number; peak_bytes: number; leaked: number; by_stage: LedgerReport['by_stage'] };
  peak_rss_bytes: number;
  wall_ms: number;
  status: 'ok' | 'failed' | 'aborted';
  error?: { stage?: string; code: string; message: string };
}

export interface RunOutcome {
  summary: RunSummary;
  /** The error that ended the run, if any (already named after its stage). */
  error?: unknown;
}

function maxRss(): number {
  return process.resourceUsage().maxRSS * 1024;
}

/** An AbortController that follows the caller's signal (SIGINT) until `unlink` is called. */
function followSignal(outer: AbortSignal | undefined): { controller: AbortController; unlink: () => void } {
  const controller = new AbortController();
  const onOuterAbort = (): void => controller.abort(outer?.reason ?? new AbortError('interrupted'));
  if (outer?.aborted === true) onOuterAbort();
  outer?.addEventListener('abort', onOuterAbort, { once: true });
  return { controller, unlink: () => outer?.removeEventListener('abort', onOuterAbort) };
}

/**
 * Everything before the first stage: the output directory checked, stale temp
 * paths swept, the backend selected. Returns the backend's name.
 */
async function prepareRun(plan: PipelinePlan, opts: RunOptions, outDir: string, requested: BackendName, log: Logger): Promise<string> {
  const record = opts.record !== false;
  // Before any work (backend, stages): a file or an unwritable directory as output fails now, not after an epoch.
  if (record) prepareOutputDir(outDir, { file: plan.file, key: opts.outDir !== undefined ? '--output' : 'output' });
  // Spill directories and half-written temp files of runs killed with SIGKILL (no cleanup ran) go now; those of live runs stay.
  const swept = [...(await sweepStaleSpillDirs()), ...(record ? await sweepStaleAtomicTemps(outDir) : [])];
  if (swept.length > 0) log.info(`removed ${swept.length} temp path(s) left by killed runs`);
  // Loaded on demand: validating or listing stages needs no compute backend.
  const select = opts.selectBackend ?? (await import('../backend/select.js')).selectBackend;
  const backend = await select(requested, log);
  log.info(`backend: ${backend.name}${requested === 'auto' ? ' (auto)' : ''}`);
  return backend.name;
}

export async function runPlan(plan: PipelinePlan, opts: RunOptions = {}): Promise<RunOutcome> {
  const t0 = performance.now();
  const log = opts.log ?? silentLogger;
  const { controller, unlink } = followSignal(opts.signal);
  const signal = controller.signal;
  const outDir = outputDir(plan, opts.outDir);
  const requested = opts.backend ?? plan.settings.backend;
  let backendName: string = requested;
  let ledger: TensorLedger | undefined;
  let graph: StageGraph | undefined;
  let failure: unknown;
  let recorded = false;

  try {
    backendName = await prepareRun(plan, opts, outDir, requested, log);
    if (opts.record !== false) {
      writeRunRecord(plan, outDir, { requested, backend: backendName });
      recorded = true;
    }
    ledger = new TensorLedger(plan.settings.memory.tensor_bytes);
    graph = new StageGraph({ plan, signal, log, ledger, outDir, backend: backendName, progress: opts.progress, onSink: opts.onSink, limit: opts.limit });
    for (const st of plan.streams) {
      signal.throwIfAborted();
      await graph.openStream(st);
    }
    for (const st of plan.sinks) {
      signal.throwIfAborted();
      await graph.runSink(st);
    }
  } catch (e) {
    // Interrupted from outside (SIGINT): report the interruption, not the follow-on errors it caused.
    failure = opts.signal?.aborted === true ? toAbortError(opts.signal.reason) : e;
    if (!signal.aborted) controller.abort(failure);
  } finally {
    unlink();
    await graph?.close();
  }

  const report = ledger?.report();
  if (report !== undefined) warnLeaks(report, log);
  const summary = runSummary({ plan, backend: backendName, outDir, graph, report, wallMs: performance.now() - t0, failure });
  if (recorded) {
    try {
      writeSummaryRecord(summary, outDir);
    } catch (e) {
      log.warn(`cannot write summary.json: ${messageOf(e)}`);
    }
  }
  return failure !== undefined ? { summary, error: failure } : { summary };
}

function warnLeaks(report: LedgerReport, log: Logger): void {
  if (report.leaked === 0) return;
  const holders = Object.entries(report.by_stage)
    .filter(([, s]) => s.tensors > 0)
    .map(([id, s]) => `${id}: ${s.tensors}`);
  log.warn(`${report.leaked} tensor(s) still alive after the run${holders.length > 0 ? ` (created by ${holders.join(', ')})` : ''}`);
}

function stageSummary(m: Meter): StageSummary {
  const { stats } = m.ctx;
  return {
    id: m.id,
    type: m.type,
    records_in: m.in,
    records_out: m.out,
    errors: stats.errors,
    ms: Math.round(m.ms),
    ...(stats.info === undefined ? {} : { info: stats.info }),
  };
}

interface Ended {
  plan: PipelinePlan;
  backend: string;
  outDir: string;
  /** Absent when the run failed before its first stage. */
  graph: StageGraph | undefined;
  report: LedgerReport | undefined;
  wallMs: number;
  failure: unknown;
}

function runSummary(r: Ended): RunSummary {
  const { report, failure } = r;
  const summary: RunSummary = {
    pipeline: r.plan.file,
    backend: r.backend,
    seed: r.plan.settings.seed,
    output: r.outDir,
    stages: [...(r.graph?.meters.values() ?? [])].map(stageSummary),
    sinks: r.graph?.sinkResults ?? {},
    tensors: { peak_count: report?.peak_count ?? 0, peak_bytes: report?.peak_bytes ?? 0, leaked: report?.leaked ?? 0, by_stage: report?.by_stage ?? {} },
    peak_rss_bytes: maxRss(),
    wall_ms: Math.round(r.wallMs),
    status: failure === undefined ? 'ok' : failure instanceof AbortError ? 'aborted' : 'failed',
  };
  if (failure !== undefined) {
    const f = failure as Partial<PtychoflowError> & Error;
    summary.error = { ...(f.stage !== undefined ? { stage: f.stage } : {}), code: f.code ?? 'ERROR', message: messageOf(failure) };
  }
  return summary;
}

function toAbortError(reason: unknown): AbortError {
  if (reason instanceof AbortError) return reason;
  return new AbortError(reason instanceof Error ? reason.message : 'interrupted');
}

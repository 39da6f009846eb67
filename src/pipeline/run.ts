// Runs a validated plan: picks the backend, creates every source and transform
// in dependency order, runs the sinks in order (`after` first), and reports.
// One AbortController covers the run: the first error (or SIGINT, via the
// caller's signal) aborts it, every stage is cleaned up (iterators returned,
// streams closed), and the error names the stage it came from.
import type { BackendInfo, BackendName } from '../backend/select.js';
import { AbortError, messageOf, type PtychoflowError, StageError } from '../errors.js';
import { type Logger, silentLogger } from '../util/log.js';
import { createStageContext } from './context.js';
import { outputDir } from './load-plan.js';
import { Clock, instrument, nameStage, type Meter } from './instrument.js';
import { sweepStaleSpillDirs } from '../io/spill.js';
import { sweepStaleAtomicTemps } from '../io/temp-owner.js';
import { prepareOutputDir } from './output-dir.js';
import { writeRunRecord, writeSummaryRecord } from './record.js';
import { TensorLedger, type LedgerReport } from './ledger.js';
import type { PipelinePlan, StagePlan } from './load.js';
import type { Json, ProgressEvent, RoutedError, SinkOutput, Stream } from './types.js';

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

/** A stream over the bad records a stage routed (its `errors` output). */
function routedStream(routed: RoutedError[]): Stream<RoutedError> {
  return {
    meta: { record: 'error' },
    open(signal: AbortSignal): AsyncIterable<RoutedError> {
      return (async function* () {
        for (const r of routed) {
          signal.throwIfAborted();
          yield r;
        }
      })();
    },
  };
}

function sinkOutput(result: Json | SinkOutput, stage: string): SinkOutput {
  const o = result as Partial<SinkOutput> | null;
  if (o === null || typeof o !== 'object' || typeof o.stream?.open !== 'function') {
    throw new StageError('NO_OUTPUT_STREAM', `sink '${stage}' declares what it emits but returned no { summary, stream }`, { stage });
  }
  return o as SinkOutput;
}

function maxRss(): number {
  return process.resourceUsage().maxRSS * 1024;
}

export async function runPlan(plan: PipelinePlan, opts: RunOptions = {}): Promise<RunOutcome> {
  const t0 = performance.now();
  const log = opts.log ?? silentLogger;
  const controller = new AbortController();
  const onOuterAbort = (): void => controller.abort(opts.signal?.reason ?? new AbortError('interrupted'));
  if (opts.signal?.aborted === true) onOuterAbort();
  opts.signal?.addEventListener('abort', onOuterAbort, { once: true });
  const signal = controller.signal;
  const { settings } = plan;
  const outDir = outputDir(plan, opts.outDir);
  const requested = opts.backend ?? settings.backend;

  const meters = new Map<string, Meter>();
  const streams = new Map<string, Stream<unknown>>();
  const opened: Stream<unknown>[] = [];
  const sinkResults: Record<string, Json> = {};
  const clock = new Clock();
  let backendName: string = requested;
  let ledger: TensorLedger | undefined;
  let failure: unknown;
  let recorded = false;

  try {
    // Before any work (backend, stages): a file or an unwritable directory as output fails now, not after an epoch.
    if (opts.record !== false) prepareOutputDir(outDir, { file: plan.file, key: opts.outDir !== undefined ? '--output' : 'output' });
    // Spill directories and half-written temp files of runs killed with SIGKILL (no cleanup ran) go now; those of live runs stay.
    const swept = [...(await sweepStaleSpillDirs()), ...(opts.record !== false ? await sweepStaleAtomicTemps(outDir) : [])];
    if (swept.length > 0) log.info(`removed ${swept.length} temp path(s) left by killed runs`);
    // Loaded on demand: validating or listing stages needs no compute backend.
    const select = opts.selectBackend ?? (await import('../backend/select.js')).selectBackend;
    const backend = await select(requested, log);
    backendName = backend.name;
    log.info(`backend: ${backend.name}${requested === 'auto' ? ' (auto)' : ''}`);
    if (opts.record !== false) {
      writeRunRecord(plan, outDir, { requested, backend: backend.name });
      recorded = true;
    }
    ledger = new TensorLedger(settings.memory.tensor_bytes);
    const led = ledger;

    const meter = (st: StagePlan): Meter => {
      const ctx = createStageContext({
        id: st.id,
        signal,
        seed: settings.seed,
        log,
        ledger: led,
        ...(opts.progress !== undefined ? { progress: opts.progress } : {}),
        baseDir: plan.baseDir,
        outDir,
        backend: backendName,
        allow: settings.allow,
      });
      const m: Meter = { id: st.id, type: st.def.type, in: 0, out: 0, ms: 0, ctx };
      meters.set(st.id, m);
      return m;
    };
    const inputsFor = (st: StagePlan, consumer: Meter): Stream<unknown>[] =>
      st.inputs.map((ref) => {
        const [id = '', output] = ref.split('.', 2);
        const producer = meters.get(id)!;
        const base = streams.get(id)!;
        let s: Stream<unknown> | undefined = base;
        if (output === 'errors') s = base.outputs?.errors ?? routedStream(producer.ctx.stats.routed);
        else if (output !== undefined) s = base.outputs?.[output];
        if (s === undefined) {
          const names = Object.keys(base.outputs ?? {});
          throw new StageError('NO_SUCH_OUTPUT', `input '${ref}': stage '${id}' has no output '${output}'${names.length > 0 ? ` (it has: ${names.join(', ')}, errors)` : ' (only errors)'}`, { stage: st.id });
        }
        return instrument(s, producer, consumer, led, clock);
      });

    for (const st of plan.streams) {
      signal.throwIfAborted();
      const m = meter(st);
      let options = st.options;
      let truncate: number | undefined;
      if (st.section === 'sources' && opts.limit !== undefined) {
        const shape = (st.def.options as { shape?: Record<string, unknown> }).shape;
        if (shape !== undefined && 'limit' in shape) {
          const have = (options as { limit?: number }).limit;
          options = { ...(options as object), limit: have === undefined ? opts.limit : Math.min(have, opts.limit) };
        } else truncate = opts.limit;
      }
      let stream: Stream<unknown>;
      const def = st.def;
      if (def.kind === 'sink') throw new StageError('NOT_A_STREAM', `stage '${st.id}' is a sink`, { stage: st.id });
      try {
        // Own time: a measuring pass at create (normalize) is charged to the stages it pulls from.
        const inputs = st.section === 'sources' ? [] : inputsFor(st, m);
        stream = await clock.time(m, () => def.create(options, { ctx: m.ctx, inputs }));
      } catch (e) {
        throw nameStage(e, st.id);
      }
      opened.push(stream);
      // A truncated stream no longer matches its random access: the capabilities are not passed on.
      const { frames: _f, groups: _g, ...plain } = stream;
      streams.set(st.id, truncate === undefined ? stream : instrument(plain, { ...m, out: 0, ms: 0 }, undefined, led, new Clock(), truncate));
    }

    for (const st of plan.sinks) {
      signal.throwIfAborted();
      const m = meter(st);
      const def = st.def;
      try {
        if (def.kind !== 'sink') throw new Error(`${st.id} is not a sink`);
        const inputs = inputsFor(st, m);
        opts.onSink?.(st.id, 'start');
        const result = await clock.time(m, () => def.create(st.options, { ctx: m.ctx, inputs }));
        opts.onSink?.(st.id, 'end');
        if (def.emits === undefined) sinkResults[st.id] = result as Json;
        else {
          // A sink that emits: its stream is the input of the sinks after it.
          const { summary, stream } = sinkOutput(result, st.id);
          sinkResults[st.id] = summary;
          opened.push(stream);
          streams.set(st.id, stream);
        }
        led.check(st.id);
      } catch (e) {
        throw nameStage(e, st.id);
      }
    }
  } catch (e) {
    // Interrupted from outside (SIGINT): report the interruption, not the follow-on errors it caused.
    failure = opts.signal?.aborted === true ? toAbortError(opts.signal.reason) : e;
    if (!signal.aborted) controller.abort(failure);
  } finally {
    opts.signal?.removeEventListener('abort', onOuterAbort);
    for (const s of opened.reverse()) {
      try {
        await s.close?.();
      } catch (e) {
        log.warn(`closing a stream failed: ${(e as Error).message}`);
      }
    }
  }

  const report = ledger?.report();
  if (report !== undefined && report.leaked > 0) {
    const holders = Object.entries(report.by_stage).filter(([, s]) => s.tensors > 0).map(([id, s]) => `${id}: ${s.tensors}`);
    log.warn(`${report.leaked} tensor(s) still alive after the run${holders.length > 0 ? ` (created by ${holders.join(', ')})` : ''}`);
  }
  const summary: RunSummary = {
    pipeline: plan.file,
    backend: backendName,
    seed: settings.seed,
    output: outDir,
    stages: [...meters.values()].map((m) => ({ id: m.id, type: m.type, records_in: m.in, records_out: m.out, errors: m.ctx.stats.errors, ms: Math.round(m.ms), ...(m.ctx.stats.info === undefined ? {} : { info: m.ctx.stats.info }) })),
    sinks: sinkResults,
    tensors: { peak_count: report?.peak_count ?? 0, peak_bytes: report?.peak_bytes ?? 0, leaked: report?.leaked ?? 0, by_stage: report?.by_stage ?? {} },
    peak_rss_bytes: maxRss(),
    wall_ms: Math.round(performance.now() - t0),
    status: failure === undefined ? 'ok' : failure instanceof AbortError ? 'aborted' : 'failed',
  };
  if (failure !== undefined) {
    const f = failure as Partial<PtychoflowError> & Error;
    summary.error = { ...(f.stage !== undefined ? { stage: f.stage } : {}), code: f.code ?? 'ERROR', message: messageOf(failure) };
  }
  if (recorded) {
    try {
      writeSummaryRecord(summary, outDir);
    } catch (e) {
      log.warn(`cannot write summary.json: ${messageOf(e)}`);
    }
  }
  return failure !== undefined ? { summary, error: failure } : { summary };
}

function toAbortError(reason: unknown): AbortError {
  if (reason instanceof AbortError) return reason;
  return new AbortError(reason instanceof Error ? reason.message : 'interrupted');
}

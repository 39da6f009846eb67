// Runs a validated plan: picks the backend, creates every source and transform
// in dependency order, runs the sinks in order (`after` first), and reports.
// One AbortController covers the run: the first error (or SIGINT, via the
// caller's signal) aborts it, every stage is cleaned up (iterators returned,
// streams closed), and the error names the stage it came from.
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { BackendInfo, BackendName } from '../backend/select.js';
import { AbortError, messageOf, PtychoflowError, StageError } from '../errors.js';
import { type Logger, silentLogger } from '../util/log.js';
import { createStageContext } from './context.js';
import { writeRunRecord, writeSummaryRecord } from './record.js';
import { TensorLedger, type LedgerReport } from './ledger.js';
import type { PipelinePlan, StagePlan } from './load.js';
import type { Json, ProgressEvent, RoutedError, StageContext, Stream } from './types.js';

export interface RunOptions {
  signal?: AbortSignal;
  log?: Logger;
  progress?: (event: ProgressEvent) => void;
  /** Overrides the file's `backend`. */
  backend?: BackendName;
  /** Caps every source at this many records (a quick look at a big scan). */
  limit?: number;
  /** Overrides the file's `output` directory (absolute, or relative to the cwd). */
  outDir?: string;
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

interface Meter {
  id: string;
  type: string;
  in: number;
  out: number;
  ms: number;
  ctx: StageContext;
}

/** Self time of nested pulls: a stage's `ms` excludes time spent in its inputs. */
class Clock {
  private readonly stack: { start: number; child: number }[] = [];
  enter(): void {
    this.stack.push({ start: performance.now(), child: 0 });
  }
  exit(): number {
    const f = this.stack.pop()!;
    const total = performance.now() - f.start;
    const parent = this.stack[this.stack.length - 1];
    if (parent !== undefined) parent.child += total;
    return Math.max(0, total - f.child);
  }
}

/** Wraps a stream so pulls through it are counted for producer and consumer, timed, and checked. */
function instrument<T>(stream: Stream<T>, producer: Meter, consumer: Meter | undefined, ledger: TensorLedger, clock: Clock, limit?: number): Stream<T> {
  const wrap =
    (open: (signal: AbortSignal) => AsyncIterable<T>) =>
    (signal: AbortSignal): AsyncIterable<T> => ({
      [Symbol.asyncIterator](): AsyncIterator<T> {
        const inner = open(signal)[Symbol.asyncIterator]();
        let taken = 0;
        return {
          async next(): Promise<IteratorResult<T>> {
            if (signal.aborted) {
              // A consumer whose next() throws never calls return(): close the inner stream here.
              await inner.return?.();
              signal.throwIfAborted();
            }
            if (limit !== undefined && taken >= limit) {
              await inner.return?.();
              return { done: true, value: undefined };
            }
            clock.enter();
            const before = ledger.live().bytes;
            let r: IteratorResult<T>;
            try {
              r = await inner.next();
            } catch (e) {
              throw nameStage(e, producer.id);
            } finally {
              producer.ms += clock.exit();
            }
            if (r.done !== true) {
              taken++;
              producer.out++;
              if (consumer !== undefined) consumer.in++;
              // Only a stage whose own pull allocated can be blamed for crossing the budget.
              if (ledger.live().bytes > before) ledger.check(producer.id);
              else ledger.observe();
            }
            return r;
          },
          async return(value?: unknown): Promise<IteratorResult<T>> {
            await inner.return?.(value);
            return { done: true, value: undefined };
          },
        };
      },
    });
  const wrapped: Stream<T> = { ...stream, meta: stream.meta, open: wrap((signal) => stream.open(signal)) };
  // Counted and limited like open (normalize's measuring pass uses it).
  if (stream.openBorrowed !== undefined) wrapped.openBorrowed = wrap((signal) => stream.openBorrowed!(signal));
  return wrapped;
}

/** Gives an error the id of the stage it came from (once: the innermost stage wins). */
function nameStage(e: unknown, stage: string): unknown {
  if (e instanceof PtychoflowError) {
    if (e.stage !== undefined || e instanceof AbortError) return e;
    (e as { stage: string | undefined }).stage = stage;
    e.message = `stage '${stage}': ${e.message}`;
    return e;
  }
  if (e instanceof Error && e.name === 'AbortError') return e;
  return new StageError('STAGE_FAILED', `stage '${stage}' failed: ${messageOf(e)}`, { stage, cause: e });
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
  const outDir = opts.outDir !== undefined ? path.resolve(opts.outDir) : path.resolve(plan.baseDir, settings.output);
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
    // Loaded on demand: validating or listing stages needs no compute backend.
    const select = opts.selectBackend ?? (await import('../backend/select.js')).selectBackend;
    const backend = await select(requested, log);
    backendName = backend.name;
    log.info(`backend: ${backend.name}${requested === 'auto' ? ' (auto)' : ''}`);
    mkdirSync(outDir, { recursive: true });
    writeRunRecord(plan, outDir, { requested, backend: backend.name });
    recorded = true;
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
      const t = performance.now();
      let stream: Stream<unknown>;
      const def = st.def;
      if (def.kind === 'sink') throw new StageError('NOT_A_STREAM', `stage '${st.id}' is a sink`, { stage: st.id });
      try {
        stream = await def.create(options, { ctx: m.ctx, inputs: st.section === 'sources' ? [] : inputsFor(st, m) });
      } catch (e) {
        throw nameStage(e, st.id);
      }
      m.ms += performance.now() - t;
      opened.push(stream);
      streams.set(st.id, truncate === undefined ? stream : instrument(stream, { ...m, out: 0 }, undefined, led, new Clock(), truncate));
    }

    for (const st of plan.sinks) {
      signal.throwIfAborted();
      const m = meter(st);
      clock.enter();
      try {
        if (st.def.kind !== 'sink') throw new Error(`${st.id} is not a sink`);
        sinkResults[st.id] = await st.def.create(st.options, { ctx: m.ctx, inputs: inputsFor(st, m) });
        led.check(st.id);
      } catch (e) {
        throw nameStage(e, st.id);
      } finally {
        m.ms += clock.exit();
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
    stages: [...meters.values()].map((m) => ({ id: m.id, type: m.type, records_in: m.in, records_out: m.out, errors: m.ctx.stats.errors, ms: Math.round(m.ms) })),
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

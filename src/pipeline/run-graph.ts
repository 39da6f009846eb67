// The stages of one run, wired: each stage gets its context and meter, its
// inputs are the instrumented outputs of the stages it names, and every stream
// created is kept so the run can close them all, last first. The runner
// (run.ts) owns the run's lifetime (abort, backend, records, summary); this
// owns how one stage is created and connected.
import { StageError } from '../errors.js';
import type { Logger } from '../util/log.js';
import { createStageContext } from './context.js';
import { Clock, instrument, nameStage, type Meter } from './instrument.js';
import type { TensorLedger } from './ledger.js';
import type { PipelinePlan, StagePlan } from './plan.js';
import type { Json, ProgressEvent, RoutedError, SinkOutput, Stream } from './types.js';

export interface GraphOptions {
  plan: PipelinePlan;
  signal: AbortSignal;
  log: Logger;
  ledger: TensorLedger;
  outDir: string;
  /** The backend actually selected (stage contexts report it). */
  backend: string;
  progress?: ((event: ProgressEvent) => void) | undefined;
  onSink?: ((id: string, phase: 'start' | 'end') => void) | undefined;
  /** Caps every source at this many records. */
  limit?: number | undefined;
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

/**
 * A source's options under `--limit`: a source that takes a `limit` option
 * gets the smaller of both; any other is truncated by the runner (`truncate`).
 */
function limitedOptions(st: StagePlan, limit: number | undefined): { options: unknown; truncate?: number } {
  if (st.section !== 'sources' || limit === undefined) return { options: st.options };
  const shape = (st.def.options as { shape?: Record<string, unknown> }).shape;
  if (shape === undefined || !('limit' in shape)) return { options: st.options, truncate: limit };
  const have = (st.options as { limit?: number }).limit;
  return { options: { ...(st.options as object), limit: have === undefined ? limit : Math.min(have, limit) } };
}

export class StageGraph {
  /** Every stage created so far, in creation order (the summary lists them so). */
  readonly meters = new Map<string, Meter>();
  /** What each sink returned (an emitting sink: its summary). */
  readonly sinkResults: Record<string, Json> = {};
  private readonly streams = new Map<string, Stream<unknown>>();
  private readonly opened: Stream<unknown>[] = [];
  private readonly clock = new Clock();

  constructor(private readonly o: GraphOptions) {}

  /** Creates a source or transform from the streams it takes. */
  async openStream(st: StagePlan): Promise<void> {
    const m = this.meter(st);
    const { options, truncate } = limitedOptions(st, this.o.limit);
    const def = st.def;
    if (def.kind === 'sink') throw new StageError('NOT_A_STREAM', `stage '${st.id}' is a sink`, { stage: st.id });
    let stream: Stream<unknown>;
    try {
      // Own time: a measuring pass at create (normalize) is charged to the stages it pulls from.
      const inputs = st.section === 'sources' ? [] : this.inputsFor(st, m);
      stream = await this.clock.time(m, () => def.create(options, { ctx: m.ctx, inputs }));
    } catch (e) {
      throw nameStage(e, st.id);
    }
    this.opened.push(stream);
    // A truncated stream no longer matches its random access: the capabilities are not passed on.
    const { frames: _f, groups: _g, ...plain } = stream;
    this.streams.set(st.id, truncate === undefined ? stream : instrument(plain, { ...m, out: 0, ms: 0 }, undefined, this.o.ledger, new Clock(), truncate));
  }

  /** Runs a sink to its end; a sink that emits makes its stream the input of the sinks after it. */
  async runSink(st: StagePlan): Promise<void> {
    const m = this.meter(st);
    const def = st.def;
    try {
      if (def.kind !== 'sink') throw new Error(`${st.id} is not a sink`);
      const inputs = this.inputsFor(st, m);
      this.o.onSink?.(st.id, 'start');
      const result = await this.clock.time(m, () => def.create(st.options, { ctx: m.ctx, inputs }));
      this.o.onSink?.(st.id, 'end');
      if (def.emits === undefined) this.sinkResults[st.id] = result as Json;
      else {
        const { summary, stream } = sinkOutput(result, st.id);
        this.sinkResults[st.id] = summary;
        this.opened.push(stream);
        this.streams.set(st.id, stream);
      }
      this.o.ledger.check(st.id);
    } catch (e) {
      throw nameStage(e, st.id);
    }
  }

  /** Closes every stream created, last first; a failing close is logged, not thrown (the run's own error wins). */
  async close(): Promise<void> {
    for (const s of this.opened.reverse()) {
      try {
        await s.close?.();
      } catch (e) {
        this.o.log.warn(`closing a stream failed: ${(e as Error).message}`);
      }
    }
    this.opened.length = 0;
  }

  private meter(st: StagePlan): Meter {
    const { plan, signal, log, ledger, outDir, backend, progress } = this.o;
    const ctx = createStageContext({
      id: st.id,
      signal,
      seed: plan.settings.seed,
      log,
      ledger,
      ...(progress !== undefined ? { progress } : {}),
      baseDir: plan.baseDir,
      outDir,
      backend,
      allow: plan.settings.allow,
    });
    const m: Meter = { id: st.id, type: st.def.type, in: 0, out: 0, ms: 0, ctx };
    this.meters.set(st.id, m);
    return m;
  }

  /** The streams `st` names (`id`, `id.output`, `id.errors`), each instrumented as an edge into `consumer`. */
  private inputsFor(st: StagePlan, consumer: Meter): Stream<unknown>[] {
    return st.inputs.map((ref) => {
      const [id = '', output] = ref.split('.', 2);
      const producer = this.meters.get(id)!;
      const base = this.streams.get(id)!;
      let s: Stream<unknown> | undefined = base;
      if (output === 'errors') s = base.outputs?.errors ?? routedStream(producer.ctx.stats.routed);
      else if (output !== undefined) s = base.outputs?.[output];
      if (s === undefined) {
        const names = Object.keys(base.outputs ?? {});
        throw new StageError(
          'NO_SUCH_OUTPUT',
          `input '${ref}': stage '${id}' has no output '${output}'${names.length > 0 ? ` (it has: ${names.join(', ')}, errors)` : ' (only errors)'}`,
          { stage: st.id },
        );
      }
      return instrument(s, producer, consumer, this.o.ledger, this.clock);
    });
  }
}

// The runner's instrumentation of one edge (producer → consumer): every pull
// through the stream, and every read through its capabilities (random access
// to frames or groups), counts records out of the producer and into the
// consumer and times the producer. So a stage that reads its input by index
// (group, shuffle, split) is counted like one that iterates it, and the out
// of one stage is the in of the next. Own time is measured with an async
// context: a call's time minus the time of the calls it made into its inputs,
// which stays right when reads run concurrently (read-ahead windows).
import { AsyncLocalStorage } from 'node:async_hooks';
import { AbortError, messageOf, PtychoflowError, StageError } from '../errors.js';
import type { TensorLedger } from './ledger.js';
import type { FrameAccess, GroupIndex, StageContext, Stream } from './types.js';

/** Counters of one stage. */
export interface Meter {
  id: string;
  type: string;
  in: number;
  out: number;
  ms: number;
  ctx: StageContext;
}

/** Own time of nested, possibly concurrent calls: a stage's `ms` excludes the time spent in its inputs. */
export class Clock {
  private readonly als = new AsyncLocalStorage<{ child: number }>();

  async time<T>(m: Pick<Meter, 'ms'>, fn: () => Promise<T>): Promise<T> {
    const parent = this.als.getStore();
    const frame = { child: 0 };
    const t = performance.now();
    try {
      return await this.als.run(frame, fn);
    } finally {
      const total = performance.now() - t;
      if (parent !== undefined) parent.child += total;
      m.ms += Math.max(0, total - frame.child);
    }
  }
}

/** Gives an error the id of the stage it came from (once: the innermost stage wins). */
export function nameStage(e: unknown, stage: string): unknown {
  if (e instanceof PtychoflowError) {
    if (e.stage !== undefined || e instanceof AbortError) return e;
    (e as { stage: string | undefined }).stage = stage;
    e.message = `stage '${stage}': ${e.message}`;
    return e;
  }
  if (e instanceof Error && e.name === 'AbortError') return e;
  return new StageError('STAGE_FAILED', `stage '${stage}' failed: ${messageOf(e)}`, { stage, cause: e });
}

interface Edge {
  producer: Meter;
  consumer: Meter | undefined;
  clock: Clock;
}

/** Runs a capability call on the producer's clock, counting `n` records over the edge. */
async function call<T>(edge: Edge, n: number, fn: () => Promise<T>): Promise<T> {
  let r: T;
  try {
    r = await edge.clock.time(edge.producer, fn);
  } catch (e) {
    throw nameStage(e, edge.producer.id);
  }
  edge.producer.out += n;
  if (edge.consumer !== undefined) edge.consumer.in += n;
  return r;
}

function frameAccess(a: FrameAccess, edge: Edge): FrameAccess {
  const readInto = a.readInto?.bind(a);
  const excluded = a.excluded?.bind(a);
  return {
    count: a.count,
    N: a.N,
    read: (i) => call(edge, 1, () => a.read(i)),
    readMany: (ids) => call(edge, ids.length, () => a.readMany(ids)),
    ...(readInto === undefined ? {} : { readInto: (ids: readonly number[], out: readonly Float32Array[]) => call(edge, ids.length, () => readInto(ids, out)) }),
    ...(excluded === undefined ? {} : { excluded: (signal: AbortSignal) => call(edge, 0, () => excluded(signal)) }),
    // A fused reader reads the frames behind a linear map: still through this edge.
    ...(a.linear === undefined ? {} : { linear: { ...a.linear, of: frameAccess(a.linear.of, edge) } }),
  };
}

function groupIndex(g: GroupIndex, edge: Edge): GroupIndex {
  return {
    count: g.count,
    groupBytes: g.groupBytes,
    get: (i) => call(edge, 1, () => g.get(i)),
    getMany: (ids) => call(edge, ids.length, () => g.getMany(ids)),
  };
}

/** Wraps a stream so pulls and capability reads through it are counted for producer and consumer, timed, and checked. */
export function instrument<T>(stream: Stream<T>, producer: Meter, consumer: Meter | undefined, ledger: TensorLedger, clock: Clock, limit?: number): Stream<T> {
  const edge: Edge = { producer, consumer, clock };
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
            const before = ledger.live().bytes;
            let r: IteratorResult<T>;
            try {
              r = await clock.time(producer, () => inner.next());
            } catch (e) {
              throw nameStage(e, producer.id);
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
  const wrapped: Stream<T> = {
    meta: stream.meta,
    open: wrap((signal) => stream.open(signal)),
    ...(stream.outputs === undefined ? {} : { outputs: stream.outputs }),
    ...(stream.close === undefined ? {} : { close: () => stream.close!() }),
    ...(stream.frames === undefined ? {} : { frames: frameAccess(stream.frames, edge) }),
    ...(stream.groups === undefined ? {} : { groups: groupIndex(stream.groups, edge) }),
  };
  // Counted and limited like open (normalize's measuring pass uses it).
  if (stream.openBorrowed !== undefined) wrapped.openBorrowed = wrap((signal) => stream.openBorrowed!(signal));
  return wrapped;
}

// Handing a chain's records to the code that iterates it, through the runner.
// The chain gets one more sink, a port, and runs as a plan (runPlan: every
// stage created by the runner, every edge instrumented, one tensor ledger).
// The port holds the run open and gives the caller its instrumented input:
// each `open()` is one pass (epoch) over it, counted into the run summary,
// until `close()` lets the port return and the runner closes every stage.
// A pass that fails fails the run: the error is the run's, as in a file.
import { z } from 'zod';
import * as tf from '../tf.js';
import { AbortError, OptionsError } from '../errors.js';
import { runPlan, type RunOptions, type RunOutcome } from '../pipeline/run.js';
import { defineSink, type StageContext, type Stream, type StreamMeta } from '../pipeline/types.js';
import type { Step } from './document.js';
import { planChain, type ComposeSettings } from './plan.js';

/** Settings and run options of a composed run; `backend: 'current'` (the default) keeps the process's tfjs backend. */
export type ComposeOptions = Omit<ComposeSettings, 'backend'> & Omit<RunOptions, 'backend'> & { backend?: ComposeSettings['backend'] | 'current' };

export interface Session<T = unknown> {
  /** Metadata of the chain's output stream. */
  readonly meta: StreamMeta;
  /** One pass over the chain's output (a new epoch each call). */
  open(signal?: AbortSignal): AsyncIterable<T>;
  /** Ends the run (every stage closed) and gives its outcome; idempotent. */
  close(): Promise<RunOutcome>;
}

interface Deferred<T> {
  promise: Promise<T>;
  resolve: (v: T) => void;
  reject: (e: unknown) => void;
}

function deferred<T>(): Deferred<T> {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

function untilAborted(signal: AbortSignal): Promise<never> {
  return new Promise((_, reject) => {
    const fail = (): void => reject(signal.reason instanceof Error ? signal.reason : new AbortError());
    if (signal.aborted) fail();
    else signal.addEventListener('abort', fail, { once: true });
  });
}

/** Run options for runPlan from compose options (settings go into the plan). */
export function runOptions(o: ComposeOptions): RunOptions {
  const { signal, log, progress, limit, outDir, record, selectBackend } = o;
  const current = o.backend === undefined || o.backend === 'current';
  return {
    ...(signal !== undefined ? { signal } : {}),
    ...(log !== undefined ? { log } : {}),
    ...(progress !== undefined ? { progress } : {}),
    ...(limit !== undefined ? { limit } : {}),
    ...(outDir !== undefined ? { outDir } : {}),
    ...(record !== undefined ? { record } : {}),
    ...(current ? { selectBackend: async () => ({ name: tf.getBackend() }) } : selectBackend !== undefined ? { selectBackend } : {}),
  };
}

/** The plan settings from compose options ('current' leaves the file default). */
export function planSettings(o: ComposeOptions): ComposeSettings {
  const { backend, description, seed, output, memory, allow, baseDir, name } = o;
  const all = { description, seed, output, memory, allow, baseDir, name, backend: backend === 'current' ? undefined : backend };
  return Object.fromEntries(Object.entries(all).filter(([, v]) => v !== undefined));
}

/** Runs `steps` with a port at the end and resolves once the port holds the chain's output. */
export async function openSession<T = unknown>(steps: readonly Step[], o: ComposeOptions = {}): Promise<Session<T>> {
  const last = steps[steps.length - 1]?.def;
  if (last?.kind === 'sink' && last.emits === undefined) {
    throw new OptionsError('COMPOSE_ORDER', `the chain ends with sink '${last.type}', which emits no records to iterate`, {
      stage: last.type,
      hint: 'end it with run() instead',
    });
  }
  const ready = deferred<{ stream: Stream<T>; ctx: StageContext }>();
  const stop = deferred<void>();
  // The first failure of a pass: it ends the run, and every later pass rethrows it.
  let failed: Error | undefined;
  let passes = 0;
  const port = defineSink({
    kind: 'sink',
    type: 'port',
    description: 'Hands the records of a composed chain to the code that iterates it.',
    options: z.object({}).strict(),
    async create(_options, { ctx, inputs }) {
      ready.resolve({ stream: inputs[0] as Stream<T>, ctx });
      await Promise.race([stop.promise, untilAborted(ctx.signal)]);
      if (failed !== undefined) throw failed;
      return { passes };
    },
  });
  const plan = planChain([...steps, { def: port, options: {}, id: 'port' }], planSettings(o));
  const outcome = runPlan(plan, runOptions(o)).then((out) => {
    // Ended before the port was reached: openSession rejects with the run's error.
    ready.reject(out.error ?? new AbortError('the composed run ended before its output was ready'));
    return out;
  });
  const { stream, ctx } = await ready.promise;
  let closed = false;
  return {
    meta: stream.meta,
    open(signal?: AbortSignal): AsyncIterable<T> {
      return {
        async *[Symbol.asyncIterator]() {
          if (failed !== undefined) throw failed;
          if (closed) throw new OptionsError('SESSION_CLOSED', 'this composed run is closed', { hint: 'open passes before close()' });
          passes++;
          try {
            yield* stream.open(signal === undefined ? ctx.signal : AbortSignal.any([signal, ctx.signal]));
          } catch (e) {
            // The caller's own abort ends its pass only; anything else ends the run with that error.
            if (signal?.aborted !== true) {
              failed ??= e instanceof Error ? e : new Error(String(e));
              stop.resolve();
            }
            throw e;
          }
        },
      };
    },
    async close() {
      closed = true;
      stop.resolve();
      return outcome;
    },
  };
}

/** One pass over `steps` through a session; the run's failure is thrown, its outcome given to `onOutcome`. */
export function iterateSteps<T = unknown>(steps: readonly Step[], o: ComposeOptions & { onOutcome?: (outcome: RunOutcome) => void } = {}): AsyncIterable<T> {
  return {
    async *[Symbol.asyncIterator]() {
      const session = await openSession<T>(steps, o);
      let outcome: RunOutcome;
      try {
        yield* session.open();
      } finally {
        outcome = await session.close();
        o.onOutcome?.(outcome);
      }
      if (outcome.error !== undefined) throw outcome.error as Error;
    },
  };
}

// The terminals of a composed chain, each the last function of a pipe():
// `run()` plans and runs it like a pipeline file (a RunOutcome with its
// summary), `iterate()` runs it once and yields its output records, and
// `session()` holds the run open for several passes (openScan's epochs).
// `fromStream()` starts a chain with a stream you already have.
import { z } from 'zod';
import { runPlan, type RunOutcome } from '../pipeline/run.js';
import { defineSource, type Stream } from '../pipeline/types.js';
import { asChain, Chain } from './chain.js';
import type { StageIdOptions } from './document.js';
import { planChain } from './plan.js';
import { iterateSteps, openSession, planSettings, runOptions, type ComposeOptions, type Session } from './session.js';

export type { ComposeOptions, Session } from './session.js';

/** Plans the chain (the planner of pipeline files) and runs it (the runner); resolves to the outcome, error included. */
export const run =
  (options: ComposeOptions = {}) =>
  async (input: Chain): Promise<RunOutcome> => {
    const chain = asChain(input, 'run');
    const plan = planChain(chain.steps, planSettings(options));
    return runPlan(plan, runOptions(options));
  };

/** Runs the chain once and yields the records of its last stage (a run's failure is thrown). */
export const iterate =
  <T = unknown>(options: ComposeOptions & { onOutcome?: (outcome: RunOutcome) => void } = {}) =>
  (input: Chain): AsyncIterable<T> =>
    iterateSteps<T>(asChain(input, 'iterate').steps, options);

/** Holds the chain's run open: `open()` is one pass (epoch) over its output, `close()` ends the run. */
export const session =
  <T = unknown>(options: ComposeOptions = {}) =>
  (input: Chain): Promise<Session<T>> =>
    openSession<T>(asChain(input, 'session').steps, options);

/**
 * Starts a chain with an existing stream (it stays yours: the run does not
 * close it). Its capabilities (random access) pass on as the stream offers them.
 */
export function fromStream(stream: Stream<unknown>, at: StageIdOptions = {}): () => Chain {
  const def = defineSource({
    kind: 'source',
    type: at.id ?? 'stream',
    description: 'A stream given in code.',
    options: z.object({}).strict(),
    ...(stream.meta.record !== undefined ? { emits: stream.meta.record } : {}),
    async create(): Promise<Stream<unknown>> {
      // Delegates (the stream may be a class instance) and leaves out close.
      const borrowed = stream.openBorrowed?.bind(stream);
      return {
        meta: stream.meta,
        open: (signal) => stream.open(signal),
        ...(borrowed !== undefined ? { openBorrowed: borrowed } : {}),
        ...(stream.outputs !== undefined ? { outputs: stream.outputs } : {}),
        ...(stream.frames !== undefined ? { frames: stream.frames } : {}),
        ...(stream.groups !== undefined ? { groups: stream.groups } : {}),
      };
    },
  });
  return () => new Chain([{ def, options: {}, ...(at.id !== undefined ? { id: at.id } : {}) }]);
}

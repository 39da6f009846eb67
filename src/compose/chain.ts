// A pipeline composed in code: the steps it-pipe has chained so far. Each
// stage factory (src/compose/stages.ts) is an it-pipe function that takes the
// chain and returns it one step longer; a terminal (src/compose/run.ts), or
// iterating the chain, plans it with the pipeline-file planner and runs it
// with the runner. A chain never runs by itself: there is one composition
// root, and it is the runner's.
import { OptionsError } from '../errors.js';
import { OUTPUT_MARK, type Step } from './document.js';
import { iterateSteps } from './session.js';

/** The steps chained so far; iterating it is one run (default settings) through its records. */
export class Chain implements AsyncIterable<unknown> {
  constructor(readonly steps: readonly Step[]) {}

  /** This chain with one more step. */
  and(step: Step): Chain {
    return new Chain([...this.steps, step]);
  }

  /** This chain with the next step reading output `name` of the last one. */
  output(name: string): Chain {
    return new Chain([...this.steps, { def: OUTPUT_MARK, options: { name } }]);
  }

  [Symbol.asyncIterator](): AsyncIterator<unknown> {
    return iterateSteps(this.steps)[Symbol.asyncIterator]();
  }
}

/** The chain a stage factory was given, or a typed error saying what to do instead. */
export function asChain(input: unknown, stage: string): Chain {
  if (input instanceof Chain) return input;
  throw new OptionsError('COMPOSE_INPUT', `'${stage}' was given ${input === undefined ? 'nothing' : 'a plain iterable'}, not a ptychoflow chain`, {
    stage,
    hint: 'start the pipe() with a ptychoflow source; write your own steps with defineTransform and place them with use(def, options), so the runner sees them',
  });
}

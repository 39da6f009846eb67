// What every command gets: where to print, how to hear Ctrl-C, and the exit
// codes the command line promises (README "Running pipelines").
import { AbortError, isPtychoflowError } from '../errors.js';

export interface CliIO {
  stdout: NodeJS.WriteStream;
  stderr: NodeJS.WriteStream;
  /** Where SIGINT comes from (the process, or a test's emitter). */
  onInterrupt?: (handler: () => void) => () => void;
}

export const EXIT = { ok: 0, failure: 1, invalid: 2, interrupted: 130 } as const;

export function exitCodeFor(e: unknown): number {
  if (e instanceof AbortError) return EXIT.interrupted;
  if (isPtychoflowError(e)) return e.exitCode;
  return EXIT.failure;
}

// Shutdown on SIGINT and SIGTERM: the first signal asks the run to stop (the
// caller aborts its controller; stages notice within one batch and clean up in
// their finally blocks), a second one exits at once. Either way the temp
// files and spill directories that are still registered here are removed, so
// an interrupted run leaves nothing behind in TMPDIR or next to its outputs.
import { rmSync } from 'node:fs';

/** Paths of live temp files and directories (spill dirs, atomic-write temps, checkpoint temps). */
const temps = new Set<string>();

/** Registers a temp path for removal on a hard exit; returns the function that unregisters it. */
export function trackTemp(p: string): () => void {
  temps.add(p);
  return () => temps.delete(p);
}

/** Removes every registered temp path now (synchronously: it runs on the way out of the process). */
export function removeTrackedTemps(): void {
  for (const p of temps) {
    try {
      rmSync(p, { recursive: true, force: true });
    } catch {
      // Best effort on the way out: a path that cannot go is left, never an exception.
    }
  }
  temps.clear();
}

/** Exit status for a run stopped by `signal` (128 + its number, the shell convention). */
export function exitCodeForSignal(signal: 'SIGINT' | 'SIGTERM'): number {
  return signal === 'SIGINT' ? 130 : 143;
}

export interface ShutdownHandlers {
  /** The first signal: stop cleanly. */
  onFirst(signal: 'SIGINT' | 'SIGTERM'): void;
  /** Before the immediate exit on a second signal (print a line). */
  onSecond?(signal: 'SIGINT' | 'SIGTERM'): void;
  /** Where signals come from (a test's emitter; default the process). */
  source?: { on(event: string, fn: () => void): unknown; off(event: string, fn: () => void): unknown };
  /** How to exit on the second signal (default process.exit). */
  exit?: (code: number) => void;
}

/** Installs the two-stage SIGINT/SIGTERM handling; returns the function that removes it. */
export function onShutdownSignals(h: ShutdownHandlers): () => void {
  const source = h.source ?? process;
  let seen = 0;
  const handler = (signal: 'SIGINT' | 'SIGTERM') => (): void => {
    seen++;
    if (seen === 1) {
      h.onFirst(signal);
      return;
    }
    h.onSecond?.(signal);
    removeTrackedTemps();
    (h.exit ?? ((code: number) => process.exit(code)))(exitCodeForSignal(signal));
  };
  const onInt = handler('SIGINT'),
    onTerm = handler('SIGTERM');
  source.on('SIGINT', onInt);
  source.on('SIGTERM', onTerm);
  return () => {
    source.off('SIGINT', onInt);
    source.off('SIGTERM', onTerm);
  };
}

/**
 * Lets the event loop run (timers, signal handlers, I/O callbacks). A chain of
 * in-memory async generators feeding synchronous compute never leaves the
 * microtask queue, so without this a SIGINT would wait for the next real I/O
 * (the end of an epoch).
 */
export function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

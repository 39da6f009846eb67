// The stage-compliance suite for sinks (`ptychoflow/testing`): what every
// sink must do, checked the same way for built-in sinks and plugins. Given a
// way to make fresh inputs, it checks that a run reads its inputs (a stream
// or a random-access capability) and closes every iterator it opened, that
// an abort of the run's signal once the first record or read arrived ends the
// run with that abort (inputs closed), that no tensor is left alive (a sink
// that emits is drained and its records disposed), and that two runs with the
// same seed give the same summary (timings left out).
import * as tf from '../tf.js';
import type { ComponentDef } from '../core/component.js';
import type { Stream } from '../core/stream.js';
import { counted, type ComplianceFailure, type CountedInput } from './compliance.js';
import { runSinkOutput, testContext } from './helpers.js';

export interface SinkComplianceCase {
  readonly def: ComponentDef;
  readonly options?: unknown;
  /** Fresh inputs for one run (none for a sink that reads only files). */
  inputs(): Stream<unknown>[] | Promise<Stream<unknown>[]>;
  /** Where the sink writes (the context's output directory) and reads files named by its options. */
  readonly outDir: string;
  /** The summary as compared between two runs (default: without timings, see `withoutTimings`). */
  readonly key?: (summary: unknown) => unknown;
  /** Called after each run (close the inputs' stages, for example). */
  readonly after?: () => Promise<void>;
}

const TIMING = /(^|_)(seconds|minutes|ms|time|elapsed|rate|per_s|eta)($|_)|^(started|finished|at)$/;

/** A summary without its timing fields (which differ between any two runs). */
export function withoutTimings(summary: unknown): unknown {
  return JSON.parse(JSON.stringify(summary, (k, v: unknown) => (TIMING.test(k) ? undefined : v))) as unknown;
}

function dispose(r: unknown): void {
  const d = (r as { dispose?: unknown } | null)?.dispose;
  if (typeof d === 'function') (r as { dispose(): void }).dispose();
}

/** Runs the sink once over counted inputs; drains and disposes what it emits. */
async function runOnce(c: SinkComplianceCase, ins: readonly CountedInput[], signal?: AbortSignal): Promise<unknown> {
  const ctx = testContext({ id: c.def.type, outDir: c.outDir, baseDir: c.outDir, ...(signal === undefined ? {} : { signal }) });
  const { summary, stream } = await runSinkOutput(
    c.def,
    c.options ?? {},
    ins.map((i) => i.stream),
    ctx,
  );
  if (stream !== undefined) {
    for await (const r of stream.open(new AbortController().signal)) dispose(r);
    await stream.close?.();
  }
  return summary;
}

/** A random-access capability (frames, groups) whose every read calls `onRead` once it resolved. */
function watched<T extends object>(access: T, onRead: () => void): T {
  return new Proxy(access, {
    get(target, prop, receiver) {
      const v: unknown = Reflect.get(target, prop, receiver);
      if (typeof v !== 'function' || prop === 'close') return v;
      return (...args: unknown[]) => {
        const r: unknown = (v as (...a: unknown[]) => unknown).apply(target, args);
        if (r instanceof Promise) return r.finally(onRead);
        onRead();
        return r;
      };
    },
  });
}

/** The input, with its capabilities counted as uses, and `onRecord` called after every record or read. */
function instrumented(s: Stream<unknown>, onRecord: () => void): Stream<unknown> {
  return {
    ...s,
    ...(s.frames === undefined ? {} : { frames: watched(s.frames, onRecord) }),
    ...(s.groups === undefined ? {} : { groups: watched(s.groups, onRecord) }),
    open(signal) {
      return (async function* () {
        // Before the yield: a consumer that takes one record and returns never resumes the generator.
        for await (const r of s.open(signal)) {
          onRecord();
          yield r;
        }
      })();
    },
  };
}

function unclosed(ins: readonly CountedInput[]): string | undefined {
  const bad = ins.map((i, k) => ({ k, ...i.stats })).filter((s) => s.opens !== s.finished);
  return bad.length === 0 ? undefined : bad.map((s) => `input ${s.k}: ${s.opens} opened, ${s.finished} closed`).join('; ');
}

/** Runs every check; returns the failures (empty when the sink complies). */
export async function checkSinkCompliance(c: SinkComplianceCase): Promise<ComplianceFailure[]> {
  const failures: ComplianceFailure[] = [];
  const fail = (check: string, message: string): void => void failures.push({ check, message });
  const key = c.key ?? withoutTimings;
  const before = tf.memory().numTensors;

  const runs: unknown[] = [];
  for (let k = 0; k < 2; k++) {
    let used = 0;
    const ins = (await c.inputs()).map((s) => counted(instrumented(s, () => void used++)));
    runs.push(await runOnce(c, ins));
    await c.after?.();
    if (ins.length > 0 && used === 0) fail('inputs', 'the run read nothing from its inputs');
    const open = unclosed(ins);
    if (open !== undefined) fail('inputs', `after a run: ${open}`);
  }
  if (JSON.stringify(key(runs[0])) !== JSON.stringify(key(runs[1])))
    fail('same seed', `two runs with the same seed gave different summaries: ${JSON.stringify(key(runs[0]))} vs ${JSON.stringify(key(runs[1]))}`);

  const raw = await c.inputs();
  if (raw.length > 0) {
    const ac = new AbortController();
    const ins = raw.map((s) => counted(instrumented(s, () => ac.abort(new Error('compliance abort')))));
    try {
      await runOnce(c, ins, ac.signal);
      fail('abort', 'the run ended normally after its signal was aborted');
    } catch (e) {
      const err = e as Error & { code?: string };
      if (err.message !== 'compliance abort' && err.name !== 'AbortError' && err.code !== 'ABORTED') fail('abort', `threw ${err.message} instead of the abort`);
    } finally {
      await c.after?.();
    }
    const open = unclosed(ins);
    if (open !== undefined) fail('abort', open);
  }

  const left = tf.memory().numTensors - before;
  if (left !== 0) fail('tensors', `${left} tensor(s) left alive`);
  return failures;
}

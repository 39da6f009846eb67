// The stage-compliance suite: what every source and transform must do,
// checked the same way for built-in stages and plugins (`ptychoflow/testing`).
// Given a way to make the stage over fresh inputs (none for a source), it
// checks that an early exit closes the upstream and leaves the stream
// re-openable (a live stream, one pass by design, refuses a second open with
// a typed error instead), that an abort stops the stream, that no tensor is left alive,
// that re-opening with the same seed gives the same records, that close() may
// be called twice, and (when a bad input is given) that a bad record follows
// the stage's `on_error` policy. Sinks have their own suite (sink-compliance.ts).
import * as tf from '../tf.js';
import type { ComponentDef } from '../core/component.js';
import type { Stream } from '../core/stream.js';
import { collect, createStage, testContext } from './helpers.js';

/** An input stream that counts opens and finished (closed) iterators. */
export interface CountedInput<T = unknown> {
  readonly stream: Stream<T>;
  readonly stats: { readonly opens: number; readonly finished: number };
}

/** Wraps a stream so the suite can see its iterators opened and closed. */
export function counted<T>(stream: Stream<T>): CountedInput<T> {
  const stats = { opens: 0, finished: 0 };
  const wrapped: Stream<T> = {
    ...stream,
    open(signal) {
      return (async function* () {
        stats.opens++;
        try {
          yield* stream.open(signal);
        } finally {
          stats.finished++;
        }
      })();
    },
  };
  return { stream: wrapped, stats };
}

export interface ComplianceCase {
  readonly def: ComponentDef;
  readonly options?: unknown;
  /** Fresh inputs for one stage instance (at least 3 records on one pass); a source has none. */
  inputs(): Stream<unknown>[];
  /**
   * Inputs (for a source: options, merged over `options`) holding a bad
   * record, and how many records the stage yields from them under on_error: skip.
   */
  readonly bad?: { inputs(): Stream<unknown>[]; options?: Record<string, unknown>; kept: number };
  /** How a record is compared between passes (default: JSON of its own enumerable fields, typed arrays as lists). */
  readonly key?: (record: unknown) => unknown;
}

/** One failed check, named. */
export interface ComplianceFailure {
  readonly check: string;
  readonly message: string;
}

function defaultKey(r: unknown): unknown {
  return JSON.stringify(r, (_k, v: unknown) =>
    ArrayBuffer.isView(v) ? Array.from(v as unknown as ArrayLike<number>) : typeof v === 'function' ? undefined : v,
  );
}

function dispose(r: unknown): void {
  const d = (r as { dispose?: unknown } | null)?.dispose;
  if (typeof d === 'function') (r as { dispose(): void }).dispose();
}

type Fail = (check: string, message: string) => void;
type Make = (inputs: Stream<unknown>[], ctx?: ReturnType<typeof testContext>) => Promise<Stream<unknown>>;

/** Opens a stream once and returns its records' keys, disposing each record. */
async function keysOf(s: Stream<unknown>, key: (r: unknown) => unknown): Promise<unknown[]> {
  const out: unknown[] = [];
  for await (const r of s.open(new AbortController().signal)) {
    out.push(key(r));
    dispose(r);
  }
  return out;
}

function closedAll(ins: readonly CountedInput[], check: string, fail: Fail): void {
  for (const [k, i] of ins.entries()) if (i.stats.opens !== i.stats.finished) fail(check, `input ${k}: ${i.stats.opens} opened, ${i.stats.finished} closed`);
}

/**
 * Early exit: taking one record and stopping returns every upstream iterator,
 * and the stream then opens for a full pass — or, for a live stream (one
 * pass only, `meta.live`), refuses a second open with a typed error.
 */
async function earlyExit(c: ComplianceCase, make: Make, key: (r: unknown) => unknown, fail: Fail): Promise<Stream<unknown>> {
  const ins = c.inputs().map((s) => counted(s));
  const early = await make(ins.map((i) => i.stream));
  const taken = await collect(early.open(new AbortController().signal), 1);
  taken.forEach(dispose);
  closedAll(ins, 'early exit', fail);
  if (taken.length === 0) fail('early exit', 'the stream yielded no record');
  if (early.meta.live === true) {
    try {
      await keysOf(early, key);
      fail('early exit', 'a live stream opened a second time instead of refusing');
    } catch (e) {
      if (typeof (e as { code?: unknown }).code !== 'string')
        fail('early exit', `a second open of a live stream failed without a typed error: ${(e as Error).message}`);
    }
    return early;
  }
  const fresh = await make(c.inputs());
  const [after, full] = [await keysOf(early, key), await keysOf(fresh, key)];
  await fresh.close?.();
  if (after.length !== full.length) fail('early exit', `after an early exit a full pass gave ${after.length} records, a fresh instance ${full.length}`);
  closedAll(ins, 'early exit', fail);
  return early;
}

/** Abort: a signal aborted mid-stream ends it with the abort, upstream closed. */
async function abort(c: ComplianceCase, make: Make, fail: Fail): Promise<void> {
  const ins = c.inputs().map((s) => counted(s));
  const ac = new AbortController();
  let n = 0;
  const stage = await make(ins.map((i) => i.stream));
  try {
    for await (const r of stage.open(ac.signal)) {
      dispose(r);
      if (++n === 1) ac.abort(new Error('compliance abort'));
    }
    fail('abort', 'the stream ended normally after its signal was aborted');
  } catch (e) {
    if ((e as Error).message !== 'compliance abort' && (e as Error).name !== 'AbortError') fail('abort', `threw ${(e as Error).message} instead of the abort`);
  } finally {
    await stage.close?.();
  }
  closedAll(ins, 'abort', fail);
}

/** Same seed, same records: two instances and two passes agree. */
async function reiteration(c: ComplianceCase, make: Make, key: (r: unknown) => unknown, fail: Fail): Promise<Stream<unknown>[]> {
  const a = await make(c.inputs());
  const b = await make(c.inputs());
  const [p1, p2, p3] = [await keysOf(a, key), await keysOf(a, key), await keysOf(b, key)];
  if (p1.length === 0) fail('re-iteration', 'the stream yielded no records (give inputs with at least 3)');
  if (JSON.stringify(p1) !== JSON.stringify(p3)) fail('re-iteration', 'two instances with the same seed gave different records');
  if (p2.length !== p1.length) fail('re-iteration', `a second open gave ${p2.length} records, the first ${p1.length}`);
  return [a, b];
}

/** A bad record follows on_error: skip drops it (counted), fail throws. */
async function onError(c: ComplianceCase, key: (r: unknown) => unknown, fail: Fail): Promise<void> {
  if (c.bad === undefined) return;
  const options = { ...(c.options as object), ...c.bad.options };
  const ctx = testContext({ id: c.def.type });
  const skipping = await createStage(c.def, { ...options, on_error: 'skip' }, c.bad.inputs(), ctx);
  const got = await keysOf(skipping, key);
  await skipping.close?.();
  if (got.length !== c.bad.kept || ctx.stats.errors === 0)
    fail('on_error', `skip yielded ${got.length} records (expected ${c.bad.kept}) and counted ${ctx.stats.errors} errors`);
  let failing: Stream<unknown> | undefined;
  try {
    failing = await createStage(c.def, { ...options, on_error: 'fail' }, c.bad.inputs());
    await keysOf(failing, key);
    fail('on_error', 'fail did not throw on the bad record');
  } catch {
    // expected: the bad record fails the stream (at create or while streaming)
  } finally {
    await failing?.close?.();
  }
}

/** close() ends the stage's resources and may be called again. */
async function closeTwice(streams: readonly Stream<unknown>[], fail: Fail): Promise<void> {
  for (const s of streams) {
    try {
      await s.close?.();
      await s.close?.();
    } catch (e) {
      fail('close', `a second close() threw: ${(e as Error).message}`);
    }
  }
}

/** Runs every check; returns the failures (empty when the stage complies). */
export async function checkCompliance(c: ComplianceCase): Promise<ComplianceFailure[]> {
  const failures: ComplianceFailure[] = [];
  const fail: Fail = (check, message) => void failures.push({ check, message });
  const key = c.key ?? defaultKey;
  const make: Make = (inputs, ctx = testContext({ id: c.def.type })) => createStage(c.def, c.options ?? {}, inputs, ctx);
  const before = tf.memory().numTensors;
  const made = [await earlyExit(c, make, key, fail)];
  await abort(c, make, fail);
  // A live stream is one pass: nothing to re-open and compare.
  if (made[0]!.meta.live !== true) made.push(...(await reiteration(c, make, key, fail)));
  await closeTwice(made, fail);
  await onError(c, key, fail);
  const left = tf.memory().numTensors - before;
  if (left !== 0) fail('tensors', `${left} tensor(s) left alive`);
  return failures;
}

// Test helpers, exported as `ptychoflow/testing` so plugin authors write stream
// tests the way we do: run a stage over an array, collect a stream, check that
// no tensor leaked.
import * as tf from '../tf.js';
import { createStageContext, type ContextOptions } from '../pipeline/context.js';
import type { ComponentDef, Json, SinkOutput, StageContext, Stream, StreamMeta } from '../pipeline/types.js';

/** A StageContext for tests (silent logger, fresh ledger, seed 1 unless given). */
export function testContext(overrides: Partial<ContextOptions> = {}): StageContext {
  return createStageContext({ id: 'test', signal: new AbortController().signal, seed: 1, ...overrides });
}

/** A re-iterable stream over an array (or a function producing one per open), with the capabilities given (frames, groups). */
export function streamOf<T>(
  records: readonly T[] | (() => readonly T[]),
  meta: Partial<StreamMeta> = {},
  capabilities: Pick<Stream<T>, 'frames' | 'groups'> = {},
): Stream<T> {
  const list = typeof records === 'function' ? records : () => records;
  return {
    meta: { record: 'other', count: typeof records === 'function' ? undefined : records.length, ...meta } as StreamMeta,
    ...capabilities,
    open(signal: AbortSignal): AsyncIterable<T> {
      return (async function* () {
        for (const r of list()) {
          signal.throwIfAborted();
          yield r;
        }
      })();
    },
  };
}

/** Reads a whole async iterable into an array (Node 20 has no Array.fromAsync). */
export async function collect<T>(it: AsyncIterable<T>, limit = Infinity): Promise<T[]> {
  const out: T[] = [];
  if (limit <= 0) return out;
  for await (const r of it) {
    out.push(r);
    if (out.length >= limit) break;
  }
  return out;
}

/** Opens a stream once and collects it. */
export async function collectStream<T>(stream: Stream<T>, signal: AbortSignal = new AbortController().signal, limit = Infinity): Promise<T[]> {
  return collect(stream.open(signal), limit);
}

/** Creates a transform or source with parsed options (schema defaults applied) and returns its stream. */
export async function createStage(
  def: ComponentDef,
  options: unknown,
  inputs: readonly Stream<unknown>[] = [],
  ctx: StageContext = testContext({ id: def.type }),
): Promise<Stream<unknown>> {
  const parsed: unknown = def.options.parse(options ?? {});
  if (def.kind === 'sink') throw new Error(`${def.type} is a sink: use runSink`);
  await tf.ready();
  return def.create(parsed, { ctx, inputs });
}

/** Runs a sink with parsed options over its inputs and returns its summary (of a sink that emits: see runSinkOutput). */
export async function runSink(
  def: ComponentDef,
  options: unknown,
  inputs: readonly Stream<unknown>[],
  ctx: StageContext = testContext({ id: def.type }),
): Promise<Json> {
  const r = await runSinkOutput(def, options, inputs, ctx);
  return r.summary;
}

/** Runs a sink and returns its summary and, for a sink that declares `emits`, the stream it emits. */
export async function runSinkOutput(
  def: ComponentDef,
  options: unknown,
  inputs: readonly Stream<unknown>[],
  ctx: StageContext = testContext({ id: def.type }),
): Promise<{ summary: Json; stream?: Stream<unknown> }> {
  if (def.kind !== 'sink') throw new Error(`${def.type} is not a sink`);
  const parsed: unknown = def.options.parse(options ?? {});
  await tf.ready();
  const result = await def.create(parsed, { ctx, inputs });
  return def.emits === undefined ? { summary: result as Json } : (result as SinkOutput);
}

/**
 * Runs `fn` and returns its result together with how many tensors it left
 * alive; tests assert `leaked === 0`.
 */
export async function trackTensors<T>(fn: () => Promise<T>): Promise<{ result: T; leaked: number }> {
  const before = tf.memory().numTensors;
  const result = await fn();
  return { result, leaked: tf.memory().numTensors - before };
}

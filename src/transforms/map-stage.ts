// `defineMap(fn)`: an ordered parallel map as a stage. It applies an async
// function to each record with up to `concurrency` calls in flight (p-limit,
// through mapOrdered) and yields the results in input order: for per-record
// work that waits (a remote service, a subprocess, a file per record) or
// that a worker pool does. A function cannot be written in a pipeline file,
// so the stage is made in code — placed in a chain (`stages.map(fn, {
// concurrency })`) or registered by a plugin module that exports it — and
// runs under the runner like any stage. It yields new records, so it passes
// on no capability: the stages after it read what it yields.
import { z } from 'zod';
import type { RecordKind } from '../records/index.js';
import { defineTransform, type Stream, type TransformDef } from '../pipeline/types.js';
import { mapOrdered } from './map.js';

export interface MapSpec {
  /** Stage type (default `map`); give each map of one pipeline its own. */
  type?: string;
  /** Record kind of the results (default: the input's). */
  emits?: RecordKind;
}

const options = z
  .object({
    concurrency: z.number().int().positive().max(256).default(2).describe('Calls in flight at once; results keep the input order.'),
  })
  .strict();

export function defineMap<T, U>(fn: (record: T, position: number, signal: AbortSignal) => Promise<U>, spec: MapSpec = {}): TransformDef<typeof options> {
  return defineTransform({
    kind: 'transform',
    type: spec.type ?? 'map',
    description: 'Applies a function to every record, up to `concurrency` at once, in input order.',
    options,
    emits: spec.emits ?? 'same',
    async create(o, { inputs }) {
      const input = inputs[0] as Stream<T>;
      return {
        // One result per record: the count stays; meta carries no capability, so spreading it passes none on.
        meta: { ...input.meta, record: spec.emits ?? input.meta.record },
        open: (signal: AbortSignal) => mapOrdered(input.open(signal), (r, at) => (signal.throwIfAborted(), fn(r, at, signal)), o.concurrency),
      };
    },
  });
}

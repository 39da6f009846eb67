// Stage factories for it-pipe: `pipe(npz({ path }), normalize(), group({
// gridsize: 2 }), batch(16), tensorify(), run())`. A source factory gives
// it-pipe's first function (it starts the chain); a transform or sink factory
// gives a function from the chain to the chain one step longer. Options are
// the stage's options as in a pipeline file, checked by the planner when the
// chain runs; `use(def, options)` places any component (a plugin's) the same way.
import type { z } from 'zod';
import compareDef from '../sinks/compare.js';
import epieDef from '../sinks/epie.js';
import evaluateDef from '../sinks/evaluate.js';
import imagesDef from '../sinks/images.js';
import inferDef from '../sinks/infer.js';
import refineDef from '../sinks/refine.js';
import trainDef from '../sinks/train.js';
import writeErrorsDef from '../sinks/write-errors.js';
import writeNpzDef from '../sinks/write-npz.js';
import hdf5Def from '../sources/hdf5.js';
import jsonDef from '../sources/json.js';
import npzDef from '../sources/npz.js';
import simulateDef from '../sources/simulate.js';
import zmqDef from '../sources/zmq.js';
import batchDef from '../transforms/batch.js';
import groupDef from '../transforms/group.js';
import normalizeDef from '../transforms/normalize.js';
import poissonDef from '../transforms/poisson.js';
import prefetchDef from '../transforms/prefetch.js';
import shuffleDef from '../transforms/shuffle.js';
import spillDef from '../transforms/spill.js';
import splitDef from '../transforms/split.js';
import tensorifyDef from '../transforms/tensorify.js';
import { defineMap, type MapSpec } from '../transforms/map-stage.js';
import type { ComponentDef, SinkDef, SourceDef, TransformDef } from '../pipeline/types.js';
import { asChain, Chain } from './chain.js';
import type { StageIdOptions, Step } from './document.js';

/** it-pipe's first function: starts a chain. */
export type SourceStep = () => Chain;
/** An it-pipe transform: the chain one step longer. */
export type ChainStep = (input: Chain) => Chain;

/** A factory's arguments: options (optional when the schema needs none) and the stage id. */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type -- "an empty options object would do"
type Args<S extends z.ZodType> = {} extends z.input<S> ? [options?: z.input<S>, at?: StageIdOptions] : [options: z.input<S>, at?: StageIdOptions];

function step(def: ComponentDef, options: unknown, at: StageIdOptions | undefined): Step {
  return { def, options: { ...(options as Record<string, unknown> | undefined) }, ...(at?.id !== undefined ? { id: at.id } : {}) };
}

/** Places a component in a chain: a source starts one, a transform or sink extends one. */
export function use<S extends z.ZodType>(def: SourceDef<S>, ...args: Args<S>): SourceStep;
export function use<S extends z.ZodType>(def: TransformDef<S> | SinkDef<S>, ...args: Args<S>): ChainStep;
export function use(def: ComponentDef, options?: unknown, at?: StageIdOptions): SourceStep | ChainStep {
  const s = step(def, options, at);
  if (def.kind === 'source') return () => new Chain([s]);
  return (input: Chain) => asChain(input, at?.id ?? def.type).and(s);
}

const source =
  <S extends z.ZodType>(def: SourceDef<S>) =>
  (...args: Args<S>): SourceStep =>
    use(def, ...args);
const stage =
  <S extends z.ZodType>(def: TransformDef<S> | SinkDef<S>) =>
  (...args: Args<S>): ChainStep =>
    use(def, ...args);

/** The next step reads output `name` of the last one (`split` → `output('train')`). */
export const output =
  (name: string): ChainStep =>
  (input: Chain) =>
    asChain(input, `output('${name}')`).output(name);

export const npz = source(npzDef);
export const hdf5 = source(hdf5Def);
export const json = source(jsonDef);
export const simulate = source(simulateDef);
export const zmq = source(zmqDef);
export const normalize = stage(normalizeDef);
export const poisson = stage(poissonDef);
export const group = stage(groupDef);
export const split = stage(splitDef);
export const shuffle = stage(shuffleDef);
export const spill = stage(spillDef);
/** `batch(16)` is `batch({ batch_size: 16 })`. */
export const batch = (options?: number | z.input<typeof batchDef.options>, at?: StageIdOptions): ChainStep =>
  use(batchDef, typeof options === 'number' ? { batch_size: options } : options, at);
export const prefetch = stage(prefetchDef);
export const tensorify = stage(tensorifyDef);
export const train = stage(trainDef);
export const infer = stage(inferDef);
export const refine = stage(refineDef);
export const epie = stage(epieDef);
export const evaluate = stage(evaluateDef);
export const compare = stage(compareDef);
export const images = stage(imagesDef);
export const writeNpz = stage(writeNpzDef);
export const writeErrors = stage(writeErrorsDef);

/**
 * An ordered parallel map over the records: `map(fn, { concurrency: 4 })`.
 * Give a second map in one chain its own `type`.
 */
export const map = <T, U>(
  fn: (record: T, position: number, signal: AbortSignal) => Promise<U>,
  o: MapSpec & StageIdOptions & { concurrency?: number } = {},
): ChainStep =>
  use(
    defineMap(fn, { ...(o.type !== undefined ? { type: o.type } : {}), ...(o.emits !== undefined ? { emits: o.emits } : {}) }),
    o.concurrency !== undefined ? { concurrency: o.concurrency } : {},
    o.id !== undefined ? { id: o.id } : {},
  );

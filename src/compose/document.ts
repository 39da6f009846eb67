// The steps of a chain composed in code, as the plain pipeline document a
// YAML file holds (sources, transforms, sinks with their inputs): what the
// planner checks and the runner runs. The chain is linear; see chainDocument.
import { OptionsError } from '../errors.js';
import type { ComponentDef } from '../pipeline/types.js';

export interface Step {
  readonly def: ComponentDef;
  readonly options: Readonly<Record<string, unknown>>;
  /** The stage id in the plan (default: its type, then `type-2`, `type-3`, ...). */
  readonly id?: string;
  /** Which named output of the stage before this one it reads (`split`'s `train`), if not the main one. */
  readonly output?: string;
}

export interface StageIdOptions {
  /** The stage id in the plan and the run summary. */
  id?: string;
}

/** Marks "the next step reads this output" in the step list (not a stage). */
export const OUTPUT_MARK = { kind: 'transform', type: '(output)' } as unknown as ComponentDef;

/** A chain's stages as pipeline-file sections: what `planPipeline` checks. */
export interface ChainDocument {
  sources: Record<string, Record<string, unknown>>;
  transforms: Record<string, Record<string, unknown>>;
  sinks: Record<string, Record<string, unknown>>;
  /** Every component the chain uses, by type (built-in or not). */
  defs: ComponentDef[];
}

function orderError(message: string, hint: string): OptionsError {
  return new OptionsError('COMPOSE_ORDER', message, { hint });
}

/**
 * The chain as a linear pipeline file. A transform reads the stage before it;
 * a sink reads the stage before it too, unless that is a sink: then it reads
 * that sink's output if it emits one (infer → evaluate), or else what that
 * sink read, and runs after it (train → infer on the same batches).
 */
export function chainDocument(steps: readonly Step[]): ChainDocument {
  const doc: ChainDocument = { sources: {}, transforms: {}, sinks: {}, defs: [] };
  const used = new Set<string>();
  let last: { id: string; kind: ComponentDef['kind']; emits: boolean; fed?: string } | undefined;
  let output: string | undefined;
  for (const step of steps) {
    if (step.def === OUTPUT_MARK) {
      output = String(step.options.name);
      continue;
    }
    const { def } = step;
    const id = uniqueId(step.id ?? def.type, used, step.id !== undefined);
    if (!doc.defs.includes(def)) doc.defs.push(def);
    const entry: Record<string, unknown> = { type: def.type, ...step.options };
    if (def.kind === 'source') {
      if (last !== undefined) throw orderError(`source '${id}' after '${last.id}': a chain has one source, first`, 'start a new pipe() for another scan');
      doc.sources[id] = entry;
      last = { id, kind: 'source', emits: true };
      continue;
    }
    if (last === undefined)
      throw orderError(`'${id}' has no input: a chain starts with a source`, 'put a source stage (npz, hdf5, simulate, ...) first in pipe()');
    const ref = output === undefined ? last.id : `${last.id}.${output}`;
    output = undefined;
    if (def.kind === 'transform') {
      if (last.kind === 'sink') throw orderError(`transform '${id}' after sink '${last.id}': sinks end a chain`, 'put every transform before the first sink');
      doc.transforms[id] = { ...entry, inputs: [ref] };
      last = { id, kind: 'transform', emits: true };
      continue;
    }
    if (last.kind !== 'sink') doc.sinks[id] = { ...entry, inputs: [ref] };
    else if (last.emits) doc.sinks[id] = { ...entry, inputs: [ref] };
    else doc.sinks[id] = { ...entry, inputs: [last.fed!], after: [last.id] };
    const fed = (doc.sinks[id].inputs as string[])[0]!;
    last = { id, kind: 'sink', emits: def.emits !== undefined, fed };
  }
  if (last === undefined) throw orderError('an empty chain', 'pipe() a source, transforms and a sink or a terminal');
  return doc;
}

function uniqueId(base: string, used: Set<string>, explicit: boolean): string {
  let id = base;
  for (let n = 2; used.has(id); n++) {
    if (explicit) throw new OptionsError('COMPOSE_ORDER', `stage id '${base}' is used twice in the chain`, { stage: base, hint: 'give each stage its own id' });
    id = `${base}-${n}`;
  }
  used.add(id);
  return id;
}

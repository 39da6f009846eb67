// The planner behind every run: a pipeline document as plain data (settings,
// stage types, ids, inputs, cycles, options, record kinds) checked into a
// plan, or one PipelineFileError listing every problem. Pipeline files
// (load.ts) and pipelines composed in code (src/compose) both go through it.
import path from 'node:path';
import { z } from 'zod';
import { BACKEND_NAMES as BACKENDS } from '../backend/names.js';
import { checkKinds } from './kinds.js';
import { describeValue, didYouMean, pipelineInvalid, type Problem, zodProblems } from './problems.js';
import type { Registry } from './registry.js';
import type { ComponentDef } from './types.js';
import { seedNumber } from '../core/options.js';

export const SECTIONS = ['sources', 'transforms', 'sinks'] as const;
export type Section = (typeof SECTIONS)[number];
const KIND: Record<Section, ComponentDef['kind']> = { sources: 'source', transforms: 'transform', sinks: 'sink' };

export { BACKEND_NAMES as BACKENDS } from '../backend/names.js';

/** Top-level settings of a pipeline file (the stage maps are checked separately). */
export const settingsSchema = z
  .object({
    description: z.string().optional().describe('What the pipeline does (shown by `ptychoflow validate`).'),
    backend: z.enum(BACKENDS).default('auto').describe('Compute backend: auto tries tensorflow-gpu, tensorflow, wasm, cpu.'),
    seed: seedNumber().default(0).describe('Seed for every random choice in the run.'),
    output: z
      .string()
      .min(1)
      .optional()
      .describe("Directory for the run's outputs, relative to the pipeline file (default: runs/<file name> in the working directory)."),
    memory: z
      .object({
        tensor_bytes: z.number().int().positive().optional().describe('Most live tensor bytes allowed at once; a stage that crosses it fails the run.'),
      })
      .strict()
      .default({})
      .describe('Memory budgets.'),
    allow: z
      .object({
        paths_outside: z
          .boolean()
          .default(false)
          .describe('Let manifest paths leave the manifest directory and output paths (sinks, checkpoints) leave the output directory.'),
        hdf5_external_links: z.boolean().default(false).describe('Follow HDF5 external links (into other files).'),
        plugins_outside: z.boolean().default(false).describe("Import plugin files from outside the pipeline file's directory."),
      })
      .strict()
      .prefault({})
      .describe('Relaxations of the safety rules for files you trust (all off by default).'),
    plugins: z.array(z.string()).default([]).describe('Modules (paths relative to the file, or package names) whose exported components join the registry.'),
    sources: z.record(z.string(), z.unknown()).default({}),
    transforms: z.record(z.string(), z.unknown()).default({}),
    sinks: z.record(z.string(), z.unknown()).default({}),
  })
  .strict();

export type PipelineSettings = z.output<typeof settingsSchema>;

export interface StagePlan {
  id: string;
  section: Section;
  def: ComponentDef;
  options: unknown;
  /** Input references as written (`id` or `id.output`). */
  inputs: string[];
  after: string[];
}

export interface PipelinePlan {
  file: string;
  baseDir: string;
  settings: PipelineSettings;
  /** Sources and transforms in an order where every input comes first. */
  streams: StagePlan[];
  /** Sinks in the order they run. */
  sinks: StagePlan[];
}

/** Where a plan's value came from: its file (or a name), and how to place a key path in it. */
export interface PlanOrigin {
  file: string;
  /** Directory relative paths resolve against (default: the file's). */
  baseDir?: string;
  /** Line and column of a key path (absent for plans built in code). */
  at?: (p: (string | number)[]) => { line?: number; col?: number; set?: string };
}

/** Records a problem at a key path. */
type AddProblem = (p: (string | number)[], message: string) => void;

const isMap = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);
const isStringList = (v: unknown): v is string[] => Array.isArray(v) && v.every((x) => typeof x === 'string');

/** The stage's component, or a problem naming the types its section takes. */
function resolveDef(section: Section, type: unknown, registry: Registry, at: (string | number)[], add: AddProblem): ComponentDef | undefined {
  if (typeof type !== 'string') {
    add(at, `missing 'type' (one of: ${registry.types(KIND[section]).join(', ')})`);
    return undefined;
  }
  const def = registry.get(type);
  if (def !== undefined && def.kind === KIND[section]) return def;
  const hint = didYouMean(type, registry.types(KIND[section]));
  const other = def !== undefined ? ` ('${type}' is a ${def.kind}, not a ${KIND[section]})` : '';
  add([...at, 'type'], `unknown ${KIND[section]} type '${type}'${other}${hint !== undefined ? `; did you mean '${hint}'?` : ''}`);
  return undefined;
}

/** A stage's `inputs`: none for a source, else a non-empty list of ids within the component's arity. */
function stageInputs(section: Section, def: ComponentDef, inputs: unknown, at: (string | number)[], add: AddProblem): string[] {
  if (section === 'sources') {
    if (inputs !== undefined) add([...at, 'inputs'], 'a source takes no inputs');
    return [];
  }
  const ar = 'arity' in def && def.arity !== undefined ? def.arity : { min: 1, max: 1 };
  // A sink that may take no input (evaluate and compare read earlier runs' files) may leave `inputs` out.
  if (inputs === undefined && ar.min === 0) return [];
  if (!isStringList(inputs)) {
    add([...at, 'inputs'], `expected a list of stage ids, got ${describeValue(inputs)}`);
    return [];
  }
  if (inputs.length < ar.min || inputs.length > ar.max) {
    add(
      [...at, 'inputs'],
      `'${def.type}' takes ${ar.min === ar.max ? ar.min : `${ar.min} to ${ar.max}`} input${ar.max === 1 ? '' : 's'}, got ${inputs.length}`,
    );
  }
  return inputs;
}

/** A stage's `after`: sinks only, a list of ids. */
function stageAfter(section: Section, after: unknown, at: (string | number)[], add: AddProblem): string[] {
  if (after === undefined) return [];
  if (section !== 'sinks') add([...at, 'after'], "only sinks take 'after'");
  else if (!isStringList(after)) add([...at, 'after'], `expected a list of sink ids, got ${describeValue(after)}`);
  else return after;
  return [];
}

/** Pass 1 for one entry: its id, type, wiring keys and options; undefined when it cannot be planned at all. */
function planStage(
  section: Section,
  id: string,
  entryRaw: unknown,
  known: ReadonlyMap<string, StagePlan>,
  registry: Registry,
  add: AddProblem,
): StagePlan | undefined {
  const at: (string | number)[] = [section, id];
  if (id.includes('.')) add(at, `stage id '${id}' may not contain '.' (it separates an id from an output name)`);
  if (known.has(id)) {
    add(at, `duplicate id '${id}' (already used in ${known.get(id)!.section}); ids must be unique across sources, transforms and sinks`);
    return undefined;
  }
  if (!isMap(entryRaw)) {
    add(at, `expected a map with 'type' and options, got ${describeValue(entryRaw)}`);
    return undefined;
  }
  const { type, inputs, after, ...entry } = entryRaw;
  const def = resolveDef(section, type, registry, at, add);
  if (def === undefined) return undefined;
  const inputList = stageInputs(section, def, inputs, at, add);
  const afterList = stageAfter(section, after, at, add);
  const opt = def.options.safeParse(entry);
  if (!opt.success) {
    for (const pr of zodProblems(opt.error, at, entry, def.options)) add(pr.path, pr.message);
  }
  return { id, section, def, options: opt.success ? opt.data : undefined, inputs: inputList, after: afterList };
}

/** Pass 2: every input names a stage with an output, every `after` a sink. */
function checkReferences(stages: ReadonlyMap<string, StagePlan>, add: AddProblem): void {
  const producers = [...stages.keys()].filter((k) => stages.get(k)!.section !== 'sinks');
  for (const st of stages.values()) {
    st.inputs.forEach((ref, i) => {
      const [id = '', output] = ref.split('.', 2);
      const target = stages.get(id);
      const at = [st.section, st.id, 'inputs', i];
      if (target === undefined) {
        const hint = didYouMean(id, producers);
        add(at, `unknown input '${ref}'${hint !== undefined ? `; did you mean '${hint}'?` : ''}`);
      } else if (target.section === 'sinks' && (target.def.emits === undefined || st.section !== 'sinks')) {
        const why =
          target.def.emits === undefined
            ? `'${id}' is a sink and has no output; use 'after: [${id}]' to run after it`
            : `'${id}' is a sink: only sinks (which run after it) can take its output`;
        add(at, why);
      } else if (output !== undefined && output !== 'errors' && output.length === 0) {
        add(at, `empty output name in '${ref}'`);
      }
    });
    st.after.forEach((ref, i) => {
      const target = stages.get(ref);
      if (target === undefined || target.section !== 'sinks') add([st.section, st.id, 'after', i], `'${ref}' is not a sink in this file`);
    });
  }
  if (stages.size > 0 && ![...stages.values()].some((s) => s.section === 'sinks')) {
    add(['sinks'], 'no sinks: nothing would consume the data');
  }
}

/** Pass 3: the order stages run in (inputs among sources/transforms; `after` and emitted outputs among sinks), reporting cycles. */
function runOrder(stages: ReadonlyMap<string, StagePlan>, add: AddProblem): { streams: string[]; sinks: string[] } {
  const all = [...stages.values()];
  const streams = topoSort(
    all.filter((s) => s.section !== 'sinks'),
    (s) => s.inputs.map((r) => r.split('.')[0]!).filter((id) => stages.get(id)?.section !== 'sinks' && stages.has(id)),
    (cycle) => add([stages.get(cycle[0]!)!.section, cycle[0]!, 'inputs'], `cycle: ${cycle.join(' -> ')}`),
  );
  const sinks = topoSort(
    all.filter((s) => s.section === 'sinks'),
    // A sink runs after the sinks it runs `after` and the sinks whose output it takes.
    (s) => [...s.after, ...s.inputs.map((r) => r.split('.')[0]!)].filter((id) => stages.get(id)?.section === 'sinks'),
    (cycle) => add(['sinks', cycle[0]!, 'after'], `cycle: ${cycle.join(' -> ')}`),
  );
  return { streams, sinks };
}

/** Checks a pipeline document given as plain data and returns the plan, or throws one PipelineFileError listing every problem. */
export function planPipeline(raw: unknown, registry: Registry, origin: PlanOrigin): PipelinePlan {
  const problems: Problem[] = [];
  const add: AddProblem = (p, message) => {
    problems.push({ path: p, message, ...(origin.at?.(p) ?? {}) });
  };
  if (!isMap(raw)) {
    add([], 'a pipeline file is a map with sources, transforms and sinks');
    throw pipelineInvalid(origin.file, problems);
  }
  // Settings problems are collected, and the stages are still checked.
  const parsed = settingsSchema.safeParse(raw);
  if (!parsed.success) {
    for (const pr of zodProblems(parsed.error, [], raw, settingsSchema)) add(pr.path, pr.message);
  }
  const sectionMap = (section: Section): Record<string, unknown> => {
    if (parsed.success) return parsed.data[section];
    const v = raw[section];
    return isMap(v) ? v : {};
  };

  const stages = new Map<string, StagePlan>();
  for (const section of SECTIONS) {
    for (const [id, entryRaw] of Object.entries(sectionMap(section))) {
      const st = planStage(section, id, entryRaw, stages, registry, add);
      if (st !== undefined) stages.set(id, st);
    }
  }
  checkReferences(stages, add);
  const order = runOrder(stages, add);
  // Pass 4: record kinds along the wiring (what each input gives against what its stage accepts).
  checkKinds(
    [...order.streams, ...order.sinks].map((id) => stages.get(id)!),
    (id, i, message) => add([stages.get(id)!.section, id, 'inputs', i], message),
  );

  if (problems.length > 0 || !parsed.success) throw pipelineInvalid(origin.file, problems);
  return {
    file: origin.file,
    baseDir: origin.baseDir ?? path.dirname(path.resolve(origin.file)),
    settings: parsed.data,
    streams: order.streams.map((id) => stages.get(id)!),
    sinks: order.sinks.map((id) => stages.get(id)!),
  };
}

/** Depth-first topological sort in file order; reports each cycle once. */
function topoSort(nodes: StagePlan[], deps: (s: StagePlan) => string[], onCycle: (cycle: string[]) => void): string[] {
  const byId = new Map(nodes.map((n) => [n.id, n]));
  const state = new Map<string, 'visiting' | 'done'>();
  const order: string[] = [];
  const stack: string[] = [];
  const visit = (id: string): void => {
    const s = state.get(id);
    if (s === 'done') return;
    if (s === 'visiting') {
      const from = stack.indexOf(id);
      onCycle([...stack.slice(from), id]);
      return;
    }
    state.set(id, 'visiting');
    stack.push(id);
    for (const d of deps(byId.get(id)!)) if (byId.has(d)) visit(d);
    stack.pop();
    state.set(id, 'done');
    order.push(id);
  };
  for (const n of nodes) visit(n.id);
  return order;
}

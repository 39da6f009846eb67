// Pipeline files: read YAML or JSON keeping source positions, apply `--set`
// overrides, and validate everything (top-level keys, stage types, ids,
// inputs, cycles, options) before anything runs. Every problem is collected
// and reported as `FILE:LINE:COL  path.to.key: message`.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Document } from 'yaml';
import { z } from 'zod';
import { BACKEND_NAMES as BACKENDS } from '../backend/names.js';
import { PipelineFileError } from '../errors.js';
import { optionKeysAt, overrideOf } from './hints.js';
import { checkKinds } from './kinds.js';
import type { Registry } from './registry.js';
import type { ComponentDef } from './types.js';

export const SECTIONS = ['sources', 'transforms', 'sinks'] as const;
export type Section = (typeof SECTIONS)[number];
const KIND: Record<Section, ComponentDef['kind']> = { sources: 'source', transforms: 'transform', sinks: 'sink' };

export { BACKEND_NAMES as BACKENDS } from '../backend/names.js';

/** Top-level settings of a pipeline file (the stage maps are checked separately). */
export const settingsSchema = z
  .object({
    description: z.string().optional().describe('What the pipeline does (shown by `ptychoflow validate`).'),
    backend: z.enum(BACKENDS).default('auto').describe('Compute backend: auto tries tensorflow-gpu, tensorflow, wasm, cpu.'),
    seed: z.number().int().min(0).max(2 ** 32 - 1).default(0).describe('Seed for every random choice in the run.'),
    output: z.string().min(1).optional().describe("Directory for the run's outputs, relative to the pipeline file (default: runs/<file name> in the working directory)."),
    memory: z
      .object({
        tensor_bytes: z.number().int().positive().optional().describe('Most live tensor bytes allowed at once; a stage that crosses it fails the run.'),
      })
      .strict()
      .default({})
      .describe('Memory budgets.'),
    allow: z
      .object({
        paths_outside: z.boolean().default(false).describe('Let manifest paths leave the manifest directory and output paths (sinks, checkpoints) leave the output directory.'),
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

export interface Problem {
  /** Path of the key the problem is about. */
  path: (string | number)[];
  message: string;
  line?: number;
  col?: number;
  /** The `--set` override the problem is about (it has no line in the file). */
  set?: string;
}

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

/** Raw document with positions: used for validation messages. */
export interface LoadedFile {
  file: string;
  text: string;
  doc: Document.Parsed;
  lines: LineCounter;
}

/**
 * The document as plain data. Aliases expand (a legitimate file may use a few
 * hundred; yaml's default limit of 100 tripped on those), and a file whose
 * expansion trips the limit — a billion-laughs document — or that nests
 * deeper than the parser's stack is a typed error, not a ReferenceError.
 */
export function documentValue(doc: Document, file: string): unknown {
  try {
    return doc.toJS({ maxAliasCount: 10_000 });
  } catch (e) {
    throw new PipelineFileError('PIPELINE_YAML', `the YAML cannot be expanded: ${(e as Error).message}`, { file, hint: 'use fewer aliases (or shallower nesting)', cause: e });
  }
}

export function readPipelineFile(file: string, text?: string): LoadedFile {
  let body: string;
  try {
    body = text ?? readFileSync(file, 'utf8');
  } catch (e) {
    throw new PipelineFileError('PIPELINE_READ', `cannot read pipeline file: ${(e as Error).message}`, { file });
  }
  const lines = new LineCounter();
  const doc = parseDocument(body, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  return { file, text: body, doc, lines };
}

/** Parses a `--set key.path=value` override; the value is read as YAML (numbers, booleans, lists). */
export function parseSetting(spec: string): { path: string[]; value: unknown } {
  const eq = spec.indexOf('=');
  if (eq <= 0) {
    throw new PipelineFileError('BAD_SET', `--set ${spec}: expected key.path=value`, { hint: 'e.g. --set sinks.train.epochs=3' });
  }
  const keyPath = spec.slice(0, eq).split('.').filter((k) => k.length > 0);
  const raw = spec.slice(eq + 1);
  const parsed = parseDocument(raw);
  const value: unknown = parsed.errors.length > 0 ? raw : parsed.toJS();
  return { path: keyPath, value: value ?? raw };
}

function position(loaded: LoadedFile, p: (string | number)[]): { line?: number; col?: number } {
  // Walk down as far as the path exists so a missing key points at its parent.
  for (let n = p.length; n >= 0; n--) {
    const node: unknown = n === 0 ? loaded.doc.contents : loaded.doc.getIn(p.slice(0, n), true);
    if (node !== undefined && node !== null && typeof node === 'object' && 'range' in node) {
      const range = (node as { range?: [number, number, number] }).range;
      if (range !== undefined) {
        // For a key's value, point at the key when we can.
        const at = n > 0 ? keyOffset(loaded, p.slice(0, n)) ?? range[0] : range[0];
        const pos = loaded.lines.linePos(at);
        return { line: pos.line, col: pos.col };
      }
    }
  }
  return {};
}

function keyOffset(loaded: LoadedFile, p: (string | number)[]): number | undefined {
  const parent: unknown = p.length === 1 ? loaded.doc.contents : loaded.doc.getIn(p.slice(0, -1), true);
  const last = p[p.length - 1];
  if (isMap(parent)) {
    for (const item of parent.items) {
      if (isScalar(item.key) && item.key.value === last && item.key.range !== undefined && item.key.range !== null) {
        return item.key.range[0];
      }
    }
  }
  if (isSeq(parent) && typeof last === 'number') {
    const item: unknown = parent.items[last];
    if (item !== null && typeof item === 'object' && 'range' in item) {
      return (item as { range?: [number, number, number] }).range?.[0];
    }
  }
  return undefined;
}

/** Formats problems as the CLI prints them. */
export function formatProblems(file: string, problems: readonly Problem[]): string {
  return problems
    .map((pr) => {
      const where = pr.set !== undefined ? `--set ${pr.set}` : pr.line === undefined ? file : `${file}:${pr.line}:${pr.col ?? 1}`;
      const key = pr.path.length > 0 ? pr.path.join('.') : '(file)';
      return `${where}  ${key}: ${pr.message}`;
    })
    .join('\n');
}

/** Edit distance, for "did you mean". */
function distance(a: string, b: string): number {
  const dp = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = dp[0]!;
    dp[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = dp[j]!;
      dp[j] = Math.min(dp[j]! + 1, dp[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return dp[b.length]!;
}

export function didYouMean(name: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  for (const c of candidates) {
    const d = distance(name.toLowerCase(), c.toLowerCase());
    if (d < bestD) {
      bestD = d;
      best = c;
    }
  }
  return best !== undefined && bestD <= Math.max(2, Math.floor(name.length / 3)) ? best : undefined;
}

function describeValue(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a map';
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? v.slice(0, 37) + '...' : v);
  return typeof v === 'number' || typeof v === 'boolean' ? String(v) : typeof v;
}

const meant = (hint: string | undefined): string => (hint !== undefined ? `; did you mean '${hint}'?` : '');

/** Turns zod issues into problems at `prefix + issue.path`, with the value found there and a did-you-mean where one fits. */
function zodProblems(err: z.ZodError, prefix: (string | number)[], value: unknown, schema: z.ZodType): Problem[] {
  return err.issues.map((issue) => {
    const p = issue.path.map((k) => (typeof k === 'symbol' ? String(k) : k));
    let got: unknown = value;
    for (const k of p) got = got !== null && typeof got === 'object' ? (got as Record<string | number, unknown>)[k] : undefined;
    let message = issue.message;
    if (issue.code === 'unrecognized_keys') {
      const known = optionKeysAt(schema, p).filter((k) => !issue.keys.includes(k));
      const one = issue.keys.length === 1;
      const named = issue.keys.map((k) => {
        const hint = didYouMean(k, known);
        return one ? `'${k}'${meant(hint)}` : `'${k}'${hint !== undefined ? ` (did you mean '${hint}'?)` : ''}`;
      });
      message = `unknown option${one ? '' : 's'} ${named.join(', ')}`;
      return { path: [...prefix, ...p, ...(issue.keys.length === 1 ? [issue.keys[0]!] : [])], message };
    }
    if (issue.code === 'invalid_type') {
      message = `expected ${issue.expected}, got ${describeValue(got)}`;
    } else if (issue.code === 'invalid_value') {
      const values = issue.values.filter((v): v is string => typeof v === 'string');
      message = `${issue.message}, got ${describeValue(got)}${typeof got === 'string' ? meant(didYouMean(got, values)) : ''}`;
    } else if (issue.code === 'too_small' || issue.code === 'too_big') {
      message = `${issue.message}, got ${describeValue(got)}`;
    }
    return { path: [...prefix, ...p], message };
  });
}

/**
 * Validates a loaded pipeline file against the registry. Returns the plan, or
 * throws one PipelineFileError listing every problem.
 */
export function validatePipeline(loaded: LoadedFile, registry: Registry, sets: readonly string[] = []): PipelinePlan {
  const problems: Problem[] = [];

  for (const e of loaded.doc.errors) {
    const pos = loaded.lines.linePos(e.pos[0]);
    problems.push({ path: [], message: e.message.split('\n')[0] ?? e.message, line: pos.line, col: pos.col });
  }
  if (problems.length > 0) throw fail(loaded.file, problems);

  const overrides = sets.map((spec) => ({ spec, path: parseSetting(spec).path }));
  for (const spec of sets) {
    const { path: p, value } = parseSetting(spec);
    loaded.doc.setIn(p, value);
  }

  const raw: unknown = documentValue(loaded.doc, loaded.file);
  // A key an override set has no line of its own in the file: the problem names the override.
  const at = (p: (string | number)[]): { line?: number; col?: number; set?: string } => {
    const set = overrideOf(p, overrides);
    return set !== undefined ? { set } : position(loaded, p);
  };
  return planPipeline(raw, registry, { file: loaded.file, at });
}

/** Where a plan's value came from: its file (or a name), and how to place a key path in it. */
export interface PlanOrigin {
  file: string;
  /** Directory relative paths resolve against (default: the file's). */
  baseDir?: string;
  /** Line and column of a key path (absent for plans built in code). */
  at?: (p: (string | number)[]) => { line?: number; col?: number; set?: string };
}

/**
 * The planner behind every run: checks a pipeline document given as plain
 * data (settings, stage types, ids, inputs, cycles, options, record kinds)
 * and returns the plan, or throws one PipelineFileError listing every problem.
 * Pipeline files and pipelines composed in code (src/compose) both go through it.
 */
export function planPipeline(raw: unknown, registry: Registry, origin: PlanOrigin): PipelinePlan {
  const problems: Problem[] = [];
  const add = (p: (string | number)[], message: string): void => {
    problems.push({ path: p, message, ...(origin.at?.(p) ?? {}) });
  };
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    add([], 'a pipeline file is a map with sources, transforms and sinks');
    throw fail(origin.file, problems);
  }
  // Settings problems are collected, and the stages are still checked.
  const parsed = settingsSchema.safeParse(raw);
  if (!parsed.success) {
    for (const pr of zodProblems(parsed.error, [], raw, settingsSchema)) add(pr.path, pr.message);
  }
  const sectionMap = (section: Section): Record<string, unknown> => {
    if (parsed.success) return parsed.data[section];
    const v = (raw as Record<string, unknown>)[section];
    return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
  };

  // Pass 1: ids, types and options.
  const stages = new Map<string, StagePlan>();
  for (const section of SECTIONS) {
    for (const [id, entryRaw] of Object.entries(sectionMap(section))) {
      const at: (string | number)[] = [section, id];
      if (id.includes('.')) add(at, `stage id '${id}' may not contain '.' (it separates an id from an output name)`);
      if (stages.has(id)) {
        add(at, `duplicate id '${id}' (already used in ${stages.get(id)!.section}); ids must be unique across sources, transforms and sinks`);
        continue;
      }
      if (entryRaw === null || typeof entryRaw !== 'object' || Array.isArray(entryRaw)) {
        add(at, `expected a map with 'type' and options, got ${describeValue(entryRaw)}`);
        continue;
      }
      const entry = { ...(entryRaw as Record<string, unknown>) };
      const type = entry.type;
      delete entry.type;
      const inputs = entry.inputs;
      delete entry.inputs;
      const after = entry.after;
      delete entry.after;
      if (typeof type !== 'string') {
        add(at, `missing 'type' (one of: ${registry.types(KIND[section]).join(', ')})`);
        continue;
      }
      const def = registry.get(type);
      if (def === undefined || def.kind !== KIND[section]) {
        const names = registry.types(KIND[section]);
        const hint = didYouMean(type, names);
        const other = def !== undefined ? ` ('${type}' is a ${def.kind}, not a ${KIND[section]})` : '';
        add([...at, 'type'], `unknown ${KIND[section]} type '${type}'${other}${hint !== undefined ? `; did you mean '${hint}'?` : ''}`);
        continue;
      }
      let inputList: string[] = [];
      if (section === 'sources') {
        if (inputs !== undefined) add([...at, 'inputs'], 'a source takes no inputs');
      } else if (!Array.isArray(inputs) || inputs.length === 0 || !inputs.every((x) => typeof x === 'string')) {
        add([...at, 'inputs'], `expected a list of stage ids, got ${describeValue(inputs)}`);
      } else {
        inputList = inputs;
        const ar = 'arity' in def && def.arity !== undefined ? def.arity : { min: 1, max: 1 };
        if (inputList.length < ar.min || inputList.length > ar.max) {
          add([...at, 'inputs'], `'${type}' takes ${ar.min === ar.max ? ar.min : `${ar.min} to ${ar.max}`} input${ar.max === 1 ? '' : 's'}, got ${inputList.length}`);
        }
      }
      let afterList: string[] = [];
      if (after !== undefined) {
        if (section !== 'sinks') add([...at, 'after'], "only sinks take 'after'");
        else if (!Array.isArray(after) || !after.every((x) => typeof x === 'string')) add([...at, 'after'], `expected a list of sink ids, got ${describeValue(after)}`);
        else afterList = after;
      }
      const opt = def.options.safeParse(entry);
      if (!opt.success) {
        for (const pr of zodProblems(opt.error, at, entry, def.options)) add(pr.path, pr.message);
      }
      stages.set(id, { id, section, def, options: opt.success ? opt.data : undefined, inputs: inputList, after: afterList });
    }
  }

  // Pass 2: references.
  for (const st of stages.values()) {
    st.inputs.forEach((ref, i) => {
      const [id = '', output] = ref.split('.', 2);
      const target = stages.get(id);
      if (target === undefined) {
        const hint = didYouMean(id, [...stages.keys()].filter((k) => stages.get(k)!.section !== 'sinks'));
        add([st.section, st.id, 'inputs', i], `unknown input '${ref}'${hint !== undefined ? `; did you mean '${hint}'?` : ''}`);
      } else if (target.section === 'sinks' && (target.def.emits === undefined || st.section !== 'sinks')) {
        const why = target.def.emits === undefined ? `'${id}' is a sink and has no output; use 'after: [${id}]' to run after it` : `'${id}' is a sink: only sinks (which run after it) can take its output`;
        add([st.section, st.id, 'inputs', i], why);
      } else if (output !== undefined && output !== 'errors' && output.length === 0) {
        add([st.section, st.id, 'inputs', i], `empty output name in '${ref}'`);
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

  // Pass 3: cycles (inputs among sources/transforms; `after` among sinks).
  const streamOrder = topoSort(
    [...stages.values()].filter((s) => s.section !== 'sinks'),
    (s) => s.inputs.map((r) => r.split('.')[0]!).filter((id) => stages.get(id)?.section !== 'sinks' && stages.has(id)),
    (cycle) => add([stages.get(cycle[0]!)!.section, cycle[0]!, 'inputs'], `cycle: ${cycle.join(' -> ')}`),
  );
  const sinkOrder = topoSort(
    [...stages.values()].filter((s) => s.section === 'sinks'),
    // A sink runs after the sinks it runs `after` and the sinks whose output it takes.
    (s) => [...s.after, ...s.inputs.map((r) => r.split('.')[0]!)].filter((id) => stages.get(id)?.section === 'sinks'),
    (cycle) => add(['sinks', cycle[0]!, 'after'], `cycle: ${cycle.join(' -> ')}`),
  );

  // Pass 4: record kinds along the wiring (what each input gives against what its stage accepts).
  const ordered = [...streamOrder, ...sinkOrder].map((id) => stages.get(id)!);
  checkKinds(ordered, (id, i, message) => add([stages.get(id)!.section, id, 'inputs', i], message));

  if (problems.length > 0 || !parsed.success) throw fail(origin.file, problems);
  return {
    file: origin.file,
    baseDir: origin.baseDir ?? path.dirname(path.resolve(origin.file)),
    settings: parsed.data,
    streams: streamOrder.map((id) => stages.get(id)!),
    sinks: sinkOrder.map((id) => stages.get(id)!),
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

function fail(file: string, unsorted: Problem[]): PipelineFileError {
  const problems = [...unsorted].sort((a, b) => (a.line ?? 0) - (b.line ?? 0) || (a.col ?? 0) - (b.col ?? 0));
  const err = new PipelineFileError(
    'PIPELINE_INVALID',
    `${problems.length} problem${problems.length === 1 ? '' : 's'} in pipeline file\n${formatProblems(file, problems)}`,
  );
  (err as PipelineFileError & { problems: Problem[] }).problems = problems;
  return err;
}

/** Problems attached to a PipelineFileError by validatePipeline. */
export function problemsOf(e: unknown): Problem[] {
  return e instanceof PipelineFileError && 'problems' in e ? (e as PipelineFileError & { problems: Problem[] }).problems : [];
}

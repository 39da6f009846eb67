// Pipeline files: read YAML or JSON keeping source positions, apply `--set`
// overrides, and hand the document to the planner (plan.ts), which validates
// everything before anything runs. Every problem is reported as
// `FILE:LINE:COL  path.to.key: message`.
import { readFileSync } from 'node:fs';
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Document } from 'yaml';
import { PipelineFileError } from '../errors.js';
import { overrideOf } from './hints.js';
import { planPipeline, type PipelinePlan } from './plan.js';
import { pipelineInvalid, type Problem } from './problems.js';
import type { Registry } from './registry.js';

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
    throw new PipelineFileError('PIPELINE_YAML', `the YAML cannot be expanded: ${(e as Error).message}`, {
      file,
      hint: 'use fewer aliases (or shallower nesting)',
      cause: e,
    });
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
  const keyPath = spec
    .slice(0, eq)
    .split('.')
    .filter((k) => k.length > 0);
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
        const at = n > 0 ? (keyOffset(loaded, p.slice(0, n)) ?? range[0]) : range[0];
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
  if (problems.length > 0) throw pipelineInvalid(loaded.file, problems);

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

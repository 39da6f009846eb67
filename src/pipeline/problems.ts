// Validation problems: what one is (a key path, a message, where it is), how
// zod's issues become messages a user can act on (the value found, a "did you
// mean"), and the one PipelineFileError that lists them all.
import type { z } from 'zod';
import { PipelineFileError } from '../errors.js';
import { optionKeysAt } from './hints.js';

export interface Problem {
  /** Path of the key the problem is about. */
  path: (string | number)[];
  message: string;
  line?: number;
  col?: number;
  /** The `--set` override the problem is about (it has no line in the file). */
  set?: string;
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

export function describeValue(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a map';
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? v.slice(0, 37) + '...' : v);
  return typeof v === 'number' || typeof v === 'boolean' ? String(v) : typeof v;
}

const meant = (hint: string | undefined): string => (hint !== undefined ? `; did you mean '${hint}'?` : '');

/** Turns zod issues into problems at `prefix + issue.path`, with the value found there and a did-you-mean where one fits. */
export function zodProblems(err: z.ZodError, prefix: (string | number)[], value: unknown, schema: z.ZodType): Problem[] {
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

/** The error that lists every problem, sorted by position. */
export function pipelineInvalid(file: string, unsorted: Problem[]): PipelineFileError {
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

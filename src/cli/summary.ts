// The closing lines of `ptychoflow run` for a person: status, each sink's
// time, key results (scalars at a readable precision, at most six; curves and
// long arrays stay in summary.json) and the files it wrote, then the other
// stages in one line (the per-stage table with -v), tensor and memory peaks. The full summary is summary.json in the output directory,
// or stdout with --json.
import path from 'node:path';
import type { RunSummary } from '../pipeline/run.js';
import type { Json } from '../pipeline/types.js';

function fmtBytes(n: number): string {
  return n >= 1 << 30 ? `${(n / 2 ** 30).toFixed(2)} GiB` : `${(n / 2 ** 20).toFixed(1)} MiB`;
}

function fmtNumber(v: number): string {
  if (Number.isInteger(v)) return String(v);
  if (v !== 0 && (Math.abs(v) < 1e-3 || Math.abs(v) >= 1e6)) return v.toExponential(2);
  return String(Number(v.toPrecision(4)));
}

const FILE = /\.(npz|npy|png|json|jsonl|yaml|h5)$/i;

/** Scalars of a sink result as key=value (nested keys joined with '.'), and the file names in it. */
export function keyResults(
  result: Json,
  prefix = '',
  out: { fields: string[]; files: string[] } = { fields: [], files: [] },
): { fields: string[]; files: string[] } {
  if (result === null || typeof result !== 'object') return out;
  for (const [k, v] of Object.entries(result)) {
    const key = prefix === '' ? k : `${prefix}.${k}`;
    if (k === 'note') continue;
    if (typeof v === 'number') out.fields.push(`${key}=${fmtNumber(v)}`);
    else if (typeof v === 'boolean') out.fields.push(`${key}=${v}`);
    else if (typeof v === 'string') {
      if (FILE.test(v) || k === 'checkpoint') out.files.push(v);
      else if (v.length <= 40) out.fields.push(`${key}=${v}`);
    } else if (Array.isArray(v)) {
      if (v.every((x) => typeof x === 'string' && FILE.test(x))) out.files.push(...(v as string[]));
      else if (v.length <= 3 && v.every((x) => typeof x === 'number')) out.fields.push(`${key}=${v.map((x) => fmtNumber(x)).join('×')}`);
    } else if (v !== null && prefix.split('.').length < 2) keyResults(v, key, out);
  }
  return out;
}

function wrap(head: string, items: readonly string[], width: number): string[] {
  const lines: string[] = [];
  let line = head;
  for (const item of items) {
    if (line.length + 1 + item.length > width && line.trim() !== '') {
      lines.push(line);
      line = ' '.repeat(head.length) + item;
    } else line += (line === head ? '' : ' ') + item;
  }
  if (line.trim() !== '') lines.push(line);
  return lines;
}

/** Key results shown per sink; the rest are counted and left to summary.json. */
const MAX_FIELDS = 6;

/** Quality first, then fit, then extent; a sink's own time is in its row already. */
const RANKS: [RegExp, number][] = [
  [/ssim/i, 0],
  [/psnr|frc/i, 1],
  [/loss|mse|rms|error/i, 2],
  [/epoch|pass/i, 3],
];
const rank = (field: string): number => RANKS.find(([re]) => re.test(field.slice(0, field.indexOf('='))))?.[1] ?? 4;

function headline(fields: readonly string[]): string[] {
  return fields
    .filter((f) => !f.startsWith('seconds='))
    .map((f, i) => [rank(f), i, f] as const)
    .sort((a, b) => a[0] - b[0] || a[1] - b[1])
    .map(([, , f]) => f);
}

function stageTable(stages: RunSummary['stages']): string[] {
  const w = Math.max(5, ...stages.map((x) => x.id.length));
  const lines = [`  ${'stage'.padEnd(w)}  ${'type'.padEnd(12)} ${'in'.padStart(8)} ${'out'.padStart(8)} ${'errors'.padStart(6)} ${'s'.padStart(8)}`];
  for (const st of stages) {
    lines.push(
      `  ${st.id.padEnd(w)}  ${st.type.padEnd(12)} ${String(st.records_in).padStart(8)} ${String(st.records_out).padStart(8)} ${String(st.errors).padStart(6)} ${(st.ms / 1000).toFixed(1).padStart(8)}`,
    );
  }
  return lines;
}

/**
 * The closing lines: status; each sink's time, key results and files; the
 * sources and transforms in one line (each listed only when it had errors,
 * or all with `verbose`); what stages reported; tensor and memory peaks.
 */
export function humanSummary(s: RunSummary, width = 100, verbose = false): string {
  const lines = [`pipeline ${s.pipeline}: ${s.status} in ${(s.wall_ms / 1000).toFixed(1)} s on ${s.backend} (seed ${s.seed})`];
  const ids = Object.keys(s.sinks);
  const sinkIds = new Set(ids);
  const others = s.stages.filter((st) => !sinkIds.has(st.id));
  const iw = Math.max(4, ...ids.map((id) => id.length));
  const msOf = new Map(s.stages.map((st) => [st.id, st.ms]));
  for (const id of ids) {
    const { fields: all, files } = keyResults(s.sinks[id]!);
    const fields = headline(all);
    const shown = fields.slice(0, MAX_FIELDS);
    if (fields.length > MAX_FIELDS) shown.push(`(+${fields.length - MAX_FIELDS} in summary.json)`);
    const secs = msOf.has(id) ? `${(msOf.get(id)! / 1000).toFixed(1)} s` : '';
    lines.push(...wrap(`  ${id.padEnd(iw)} ${secs.padStart(9)}  `, shown.length > 0 ? shown : ['done'], width));
    if (files.length > 0)
      lines.push(
        ...wrap(
          `  ${''.padEnd(iw)} ${''.padStart(9)}  files: `,
          [...new Set(files)].map((f) => (path.isAbsolute(f) ? path.relative(s.output, f) || f : f)),
          width,
        ),
      );
  }
  const errors = others.reduce((a, st) => a + st.errors, 0);
  const ms = others.reduce((a, st) => a + st.ms, 0);
  if (others.length > 0) {
    lines.push(
      `  ${others.length} source and transform stage${others.length === 1 ? '' : 's'}: ${errors} error${errors === 1 ? '' : 's'}, ${(ms / 1000).toFixed(1)} s${verbose ? '' : ' (per stage: -v, or summary.json)'}`,
    );
  }
  const listed = verbose ? s.stages : s.stages.filter((st) => st.errors > 0);
  if (listed.length > 0) lines.push(...stageTable(listed));
  // What a stage reports beyond its counts (a live source: received, dropped, duplicated, out of order).
  for (const st of s.stages) if (st.info !== undefined) lines.push(...wrap(`  ${st.id}  `, keyResults(st.info).fields, width));
  lines.push(`  tensors: peak ${s.tensors.peak_count} (${fmtBytes(s.tensors.peak_bytes)}), leaked ${s.tensors.leaked}; peak RSS ${fmtBytes(s.peak_rss_bytes)}`);
  lines.push(`  outputs in ${s.output} (full summary: summary.json)`);
  return lines.join('\n');
}

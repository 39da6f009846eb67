// The closing lines of `ptychoflow run` for a person: status, the per-stage
// table, tensor and memory peaks, then each sink's key results (scalars at
// a readable precision; curves and long arrays stay in summary.json) and the
// files it wrote. The full summary is summary.json in the output directory,
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
export function keyResults(result: Json, prefix = '', out: { fields: string[]; files: string[] } = { fields: [], files: [] }): { fields: string[]; files: string[] } {
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

export function humanSummary(s: RunSummary, width = 100): string {
  const lines = [`pipeline ${s.pipeline}: ${s.status} in ${(s.wall_ms / 1000).toFixed(1)} s on ${s.backend} (seed ${s.seed})`];
  const w = Math.max(5, ...s.stages.map((x) => x.id.length));
  lines.push(`  ${'stage'.padEnd(w)}  ${'type'.padEnd(12)} ${'in'.padStart(8)} ${'out'.padStart(8)} ${'errors'.padStart(6)} ${'s'.padStart(8)}`);
  for (const st of s.stages) {
    lines.push(`  ${st.id.padEnd(w)}  ${st.type.padEnd(12)} ${String(st.records_in).padStart(8)} ${String(st.records_out).padStart(8)} ${String(st.errors).padStart(6)} ${(st.ms / 1000).toFixed(1).padStart(8)}`);
  }
  // What a stage reports beyond its counts (a live source: received, dropped, duplicated, out of order).
  for (const st of s.stages) if (st.info !== undefined) lines.push(...wrap(`  ${st.id}  `, keyResults(st.info).fields, width));
  lines.push(`  tensors: peak ${s.tensors.peak_count} (${fmtBytes(s.tensors.peak_bytes)}), leaked ${s.tensors.leaked}; peak RSS ${fmtBytes(s.peak_rss_bytes)}`);
  const ids = Object.keys(s.sinks);
  const iw = Math.max(0, ...ids.map((id) => id.length));
  for (const id of ids) {
    const { fields, files } = keyResults(s.sinks[id]!);
    if (fields.length > 0) lines.push(...wrap(`  ${id.padEnd(iw)}  `, fields, width));
    if (files.length > 0) lines.push(...wrap(`  ${''.padEnd(iw)}  files: `, [...new Set(files)].map((f) => (path.isAbsolute(f) ? path.relative(s.output, f) || f : f)), width));
  }
  lines.push(`  outputs in ${s.output} (full summary: summary.json)`);
  return lines.join('\n');
}

// The closing lines of `ptychoflow run` for a person: status, the per-stage
// table, tensor and memory peaks, where the files are.
import type { RunSummary } from '../pipeline/run.js';

function fmtBytes(n: number): string {
  return n >= 1 << 30 ? `${(n / 2 ** 30).toFixed(2)} GiB` : `${(n / 2 ** 20).toFixed(1)} MiB`;
}

export function humanSummary(s: RunSummary): string {
  const lines = [`pipeline ${s.pipeline}: ${s.status} in ${(s.wall_ms / 1000).toFixed(1)} s on ${s.backend} (seed ${s.seed})`];
  const w = Math.max(5, ...s.stages.map((x) => x.id.length));
  lines.push(`  ${'stage'.padEnd(w)}  ${'type'.padEnd(12)} ${'in'.padStart(8)} ${'out'.padStart(8)} ${'errors'.padStart(6)} ${'ms'.padStart(9)}`);
  for (const st of s.stages) {
    lines.push(`  ${st.id.padEnd(w)}  ${st.type.padEnd(12)} ${String(st.records_in).padStart(8)} ${String(st.records_out).padStart(8)} ${String(st.errors).padStart(6)} ${String(st.ms).padStart(9)}`);
  }
  lines.push(`  tensors: peak ${s.tensors.peak_count} (${fmtBytes(s.tensors.peak_bytes)}), leaked ${s.tensors.leaked}; peak RSS ${fmtBytes(s.peak_rss_bytes)}`);
  lines.push(`  outputs in ${s.output}`);
  for (const [id, r] of Object.entries(s.sinks)) lines.push(`  ${id}: ${JSON.stringify(r)}`);
  return lines.join('\n');
}

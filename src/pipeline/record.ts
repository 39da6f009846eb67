// A run records itself in its output directory: pipeline.yaml (the plan as it
// ran: --set overrides applied, defaults filled in, input paths resolved),
// run.json (ptychoflow version, backend, Node, machine, start time) and, when
// it ends, summary.json (the run summary, its paths relative to the output
// directory). Enough to tell later what produced the files next to them.
// Each is written to a temp file and renamed, so a killed run leaves the old
// record or the new one, never half of one.
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';
import { writeFileAtomicSync } from '../util/atomic.js';
import { relativeInside } from '../io/paths.js';
import { ptychoflowVersion } from '../util/version.js';
import type { PipelinePlan, StagePlan } from './plan.js';

/**
 * Relative strings that name an existing file or directory next to the
 * pipeline file become absolute, so the recorded plan still finds its inputs
 * from the output directory. Output names (which do not exist yet) stay.
 */
function resolveInputs(v: unknown, baseDir: string): unknown {
  if (typeof v === 'string') {
    if (v === '' || path.isAbsolute(v) || v.includes('\n')) return v;
    const abs = path.resolve(baseDir, v);
    return existsSync(abs) ? abs : v;
  }
  if (Array.isArray(v)) return v.map((x) => resolveInputs(x, baseDir));
  if (v !== null && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, resolveInputs(x, baseDir)]));
  return v;
}

function stageEntry(st: StagePlan, baseDir: string): Record<string, unknown> {
  return {
    type: st.def.type,
    ...(st.section !== 'sources' ? { inputs: st.inputs } : {}),
    ...(st.after.length > 0 ? { after: st.after } : {}),
    ...(resolveInputs(st.options, baseDir) as Record<string, unknown>),
  };
}

/** The plan as a pipeline document that `ptychoflow run` accepts again. */
export function planDocument(plan: PipelinePlan, backend: string): Record<string, unknown> {
  const { settings } = plan;
  const doc: Record<string, unknown> = {
    ...(settings.description !== undefined ? { description: settings.description } : {}),
    backend,
    seed: settings.seed,
    output: '.',
    ...(settings.memory.tensor_bytes !== undefined ? { memory: settings.memory } : {}),
    ...(settings.plugins.length > 0 ? { plugins: resolveInputs(settings.plugins, plan.baseDir) } : {}),
    // The run's own relaxations, and its plugins (already accepted next to the
    // original file) by absolute path: the record re-runs as the run did.
    allow: { ...settings.allow, ...(settings.plugins.length > 0 ? { plugins_outside: true } : {}) },
  };
  for (const section of ['sources', 'transforms', 'sinks'] as const) {
    const stages = [...plan.streams, ...plan.sinks].filter((s) => s.section === section);
    if (stages.length > 0) doc[section] = Object.fromEntries(stages.map((s) => [s.id, stageEntry(s, plan.baseDir)]));
  }
  return doc;
}

export interface RunRecordInfo {
  requested: string;
  backend: string;
}

/** Writes pipeline.yaml and run.json at the start of a run (the backend is known); small files, written synchronously so the stages start at once. */
export function writeRunRecord(plan: PipelinePlan, outDir: string, info: RunRecordInfo): void {
  const header = `# The pipeline as run by ptychoflow ${ptychoflowVersion()} from ${plan.file}\n# (overrides applied, defaults filled in, input paths made absolute).\n`;
  writeFileAtomicSync(path.join(outDir, 'pipeline.yaml'), header + stringify(planDocument(plan, info.backend)));
  const cpus = os.cpus();
  const run = {
    ptychoflow: ptychoflowVersion(),
    pipeline: plan.file,
    backend: info.backend,
    backend_requested: info.requested,
    node: process.versions.node,
    platform: `${process.platform}-${process.arch}`,
    machine: { hostname: os.hostname(), cpus: cpus.length, cpu_model: cpus[0]?.model ?? 'unknown', memory_bytes: os.totalmem() },
    started_at: new Date().toISOString(),
  };
  writeFileAtomicSync(path.join(outDir, 'run.json'), JSON.stringify(run, null, 2) + '\n');
}

/** Writes summary.json at the end of a run, with paths relative to the output directory. */
export function writeSummaryRecord<S extends { pipeline: string; output: string }>(summary: S, outDir: string): void {
  // Sink results name their files by absolute path (in memory and with --json); the record names them after the directory it is in.
  const relative = { ...relativeInside(summary, outDir), pipeline: path.relative(outDir, path.resolve(summary.pipeline)) || '.', output: '.' };
  writeFileAtomicSync(path.join(outDir, 'summary.json'), JSON.stringify(relative, null, 2) + '\n');
}

// Runs one shard through the normal planner and runner (the same stages,
// instrumentation, tensor ledger and cleanup as `ptychoflow run`), into an
// output directory of its own. A tile shard also keeps what each
// reconstruction sink emitted and turns it into its partial (the object under
// the tile's core weights); a rounds shard runs the contribution sink in
// place of refine and keeps that file. Workers call this; so do the tests,
// to run the same shards in one process as the reference.
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { BackendName } from '../backend/select.js';
import { builtinRegistry } from '../components.js';
import { DataError, messageOf, OptionsError, ScaleError } from '../errors.js';
import { planPipeline } from '../pipeline/plan.js';
import { runPlan, type RunSummary } from '../pipeline/run.js';
import type { Json, ProgressEvent } from '../pipeline/types.js';
import type { Logger } from '../util/log.js';
import { CAPTURE_STAGE, captureSink, type Captured } from './capture.js';
import { contributionSink } from './contribution.js';
import { shardDocument, type ShardDescriptor } from './job.js';
import { partialOf, type Partial } from './partial.js';
import tileStage from './tile-stage.js';
import { coreWeights, tileGeometry } from './tiles.js';

export interface ShardPartial {
  sink: string;
  partial: Partial;
  /** The files the sink writes in a local run, relative to the output directory. */
  files: { npz: string; amplitude_png: string; phase_png: string };
}

export interface ShardRun {
  summary: RunSummary;
  partials: ShardPartial[];
  /** Rounds shards: the file holding the tile's contribution. */
  contribution?: string;
}

export interface ExecuteOptions {
  outDir: string;
  backend?: BackendName;
  signal?: AbortSignal;
  log?: Logger;
  progress?: (e: ProgressEvent) => void;
  /** Rounds shards (round ≥ 1): the pass's state, fetched by the caller. */
  statePath?: string;
}

type Doc = Record<string, unknown>;

function reconstructionSinks(doc: Doc): string[] {
  const sinks = (doc.sinks ?? {}) as Record<string, { type?: unknown }>;
  return Object.entries(sinks)
    .filter(([, s]) => s.type === 'infer' || s.type === 'refine')
    .map(([id]) => id);
}

function filesOf(summary: Json | undefined, outDir: string, sink: string): ShardPartial['files'] {
  const s = summary as Record<string, unknown> | undefined;
  const rel = (k: string): string => {
    const v = s?.[k];
    if (typeof v !== 'string') throw new OptionsError('NO_OUTPUT_FILES', `sink '${sink}' reported no '${k}'`, { stage: sink });
    return path.relative(outDir, v);
  };
  return { npz: rel('npz'), amplitude_png: rel('amplitude_png'), phase_png: rel('phase_png') };
}

/** Runs shard `d` of the job pipeline `jobDoc`; throws the run's error when it fails. */
export async function executeShard(jobDoc: Doc, d: ShardDescriptor, o: ExecuteOptions): Promise<ShardRun> {
  const doc = shardDocument(jobDoc, d);
  const captured = new Map<string, Captured>();
  const contribution = d.round !== undefined ? path.join(o.outDir, '.scale', 'contribution.npz') : undefined;
  const registry = builtinRegistry().add(tileStage, 'ptychoflow/scale').add(captureSink(captured), 'ptychoflow/scale');
  if (contribution !== undefined) {
    await mkdir(path.dirname(contribution), { recursive: true });
    registry.add(contributionSink({ out: contribution, ...(o.statePath !== undefined ? { state: o.statePath } : {}) }), 'ptychoflow/scale');
  }
  const tiled = d.tile !== undefined && d.round === undefined ? reconstructionSinks(doc) : [];
  if (tiled.length > 0) {
    const sinks = doc.sinks as Record<string, unknown>;
    for (const id of tiled) sinks[`${id}__capture`] = { type: CAPTURE_STAGE, inputs: [id], of: id };
  }
  const plan = planPipeline(doc, registry, { file: `job ${d.job} shard ${d.shard}`, baseDir: o.outDir });
  const outcome = await runPlan(plan, {
    outDir: o.outDir,
    ...(o.backend !== undefined ? { backend: o.backend } : {}),
    ...(o.signal !== undefined ? { signal: o.signal } : {}),
    ...(o.log !== undefined ? { log: o.log } : {}),
    ...(o.progress !== undefined ? { progress: o.progress } : {}),
  });
  if (outcome.error !== undefined)
    throw outcome.error instanceof Error ? outcome.error : new ScaleError('SHARD_FAILED', `shard ${d.shard}: ${messageOf(outcome.error)}`);
  const partials: ShardPartial[] = [];
  for (const sink of tiled) {
    const c = captured.get(sink);
    if (c === undefined || d.tile === undefined) continue;
    const { record: r, scan } = c;
    if (scan === undefined) throw new DataError('NO_SCAN_META', `sink '${sink}' emitted a reconstruction without its scan's positions`, { stage: sink });
    const placement = { height: r.object.height, width: r.object.width, originX: r.origin[0], originY: r.origin[1] };
    const geometry = tileGeometry(scan.xcoords, scan.ycoords, scan.N, d.tile);
    partials.push({ sink, partial: partialOf(r, coreWeights(geometry, placement)), files: filesOf(outcome.summary.sinks[sink], o.outDir, sink) });
  }
  return { summary: outcome.summary, partials, ...(contribution !== undefined ? { contribution } : {}) };
}

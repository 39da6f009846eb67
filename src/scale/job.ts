// The job and shard model. A job is a pipeline (stored once, as the plan
// document `ptychoflow run` would record, input paths absolute) and a list of
// shards; a shard descriptor is a few hundred bytes of JSON that names the
// job, the shard, the pipeline's object and how this shard narrows it:
// `sets` (per-scan: which input this shard reads) or `tile` (which spatial
// tile). Frames stay where the pipeline reads them (shared storage); no
// message carries pixels. `shardDocument` turns the job's pipeline into the
// shard's: the sets applied and, for a tile, a `scale-tile` stage in front of
// every `group` stage.
import path from 'node:path';
import { OptionsError } from '../errors.js';
import { parseSetting } from '../pipeline/load.js';
import { checkId } from './config.js';
import { TILE_STAGE } from './tile-stage.js';
import { tileGrid, type TileSpec } from './tiles.js';

/** The sink type that replaces refine in a rounds shard (contribution.ts; here so submit loads no TensorFlow.js). */
export const CONTRIBUTION_STAGE = 'scale-contribution';

export type ShardMode = 'single' | 'per-scan' | 'tiles' | 'rounds';

export interface ShardDescriptor {
  v: 1;
  job: string;
  shard: string;
  /** Object-store name of the job's pipeline document. */
  pipeline: string;
  /** `key.path=value` overrides of this shard (per-scan: its input). */
  sets: string[];
  tile?: TileSpec;
  /** Rounds jobs: the pass this shard contributes to (0: the scale fit; p ≥ 1: pass p's gradient). */
  round?: number;
  /** Sub-directory of the job's output this shard's files go to (per-scan). */
  output?: string;
}

export interface JobManifest {
  v: 1;
  job: string;
  mode: ShardMode;
  created_at: string;
  pipeline_file: string;
  pipeline: string;
  shards: ShardDescriptor[];
  /** Rounds jobs: the refine sink they run pass by pass, and its number of passes. */
  rounds?: { sink: string; epochs: number };
}

/** Object names of a job. */
export const names = {
  manifest: (job: string): string => `jobs/${job}/job.json`,
  pipeline: (job: string): string => `jobs/${job}/pipeline.json`,
  result: (job: string, shard: string): string => `jobs/${job}/${shard}/result.json`,
  file: (job: string, shard: string, file: string): string => `jobs/${job}/${shard}/files/${file}`,
  /** The object and probe every tile of round `round` (≥ 1) computes its contribution at. */
  state: (job: string, round: number): string => `jobs/${job}/rounds/${String(round).padStart(4, '0')}/state.npz`,
};

/** `per-scan`, `tiles:K` or nothing (one shard). */
export function parseShards(spec: string | undefined): { mode: ShardMode; K?: number } {
  if (spec === undefined || spec === 'single') return { mode: 'single' };
  if (spec === 'per-scan') return { mode: 'per-scan' };
  const m = /^tiles:(\d+)$/.exec(spec);
  if (m !== null) return { mode: 'tiles', K: Number(m[1]) };
  throw new OptionsError('BAD_SHARDS', `--shards ${spec}: expected per-scan or tiles:K`, { hint: 'e.g. --shards tiles:4, or --shards per-scan with --inputs' });
}

type Doc = Record<string, unknown>;
type Section = Record<string, Record<string, unknown>>;

function section(doc: Doc, name: string): Section {
  const s = doc[name];
  return s !== null && typeof s === 'object' ? (s as Section) : {};
}

/** The source option per-scan shards set: the one source's `path` unless `--input-key` says otherwise. */
export function inputKey(doc: Doc, given: string | undefined): string {
  if (given !== undefined) return given;
  const withPath = Object.entries(section(doc, 'sources')).filter(([, s]) => 'path' in s);
  if (withPath.length !== 1) {
    throw new OptionsError('NO_INPUT_KEY', `per-scan shards: the pipeline has ${withPath.length} sources with a path`, {
      hint: 'name the option each scan sets with --input-key sources.ID.path',
    });
  }
  return `sources.${withPath[0]![0]}.path`;
}

export interface PlanJobOptions {
  job: string;
  doc: Doc;
  pipelineFile: string;
  shards?: string;
  inputs?: string[];
  inputKey?: string;
  margin?: number;
}

/** The job's manifest and shard descriptors (published in this order). */
export function planJob(o: PlanJobOptions): JobManifest {
  const job = checkId(o.job, 'job id');
  const { mode, K } = parseShards(o.shards);
  const pipeline = names.pipeline(job);
  const base = { v: 1 as const, job, pipeline };
  let shards: ShardDescriptor[];
  if (mode === 'per-scan') {
    const inputs = o.inputs ?? [];
    if (inputs.length === 0) throw new OptionsError('NO_INPUTS', 'per-scan shards need the scans: --inputs FILE...', { hint: 'one shard per input' });
    const key = inputKey(o.doc, o.inputKey);
    const used = new Set<string>();
    shards = inputs.map((input, i) => {
      // Outputs by scan name (the file's base name), numbered when two scans share one.
      let out =
        path
          .basename(input)
          .replace(/\.[^.]*$/, '')
          .replace(/[^A-Za-z0-9_-]/g, '_') || `scan-${i}`;
      if (used.has(out)) out = `${out}-${i}`;
      used.add(out);
      const value = key.endsWith('.path') && !path.isAbsolute(input) ? path.resolve(input) : input;
      return { ...base, shard: `scan-${String(i).padStart(4, '0')}`, sets: [`${key}=${value}`], output: out };
    });
  } else if (mode === 'tiles') {
    const types = [...Object.values(section(o.doc, 'transforms')), ...Object.values(section(o.doc, 'sinks'))].map((s) => s.type);
    if (!types.includes('group'))
      throw new OptionsError('NO_GROUP_STAGE', 'tile shards narrow the positions a group stage plans with, and the pipeline has none', {
        hint: 'tile an infer or refine pipeline (… → group → batch → tensorify → infer/refine)',
      });
    if (!types.some((t) => t === 'infer' || t === 'refine'))
      throw new OptionsError('NO_RECONSTRUCTION', 'tile shards merge reconstructions, and the pipeline has no infer or refine sink', {
        hint: 'use --shards tiles:K for infer and refine pipelines',
      });
    const { kx, ky } = tileGrid(K!);
    const rounds = roundsOf(o.doc, o.margin);
    if (rounds !== undefined)
      return {
        v: 1,
        job,
        mode: 'rounds',
        created_at: new Date().toISOString(),
        pipeline_file: o.pipelineFile,
        pipeline,
        shards: roundShards(base, kx, ky, rounds.epochs),
        rounds,
      };
    shards = Array.from({ length: kx * ky }, (_, index) => ({
      ...base,
      shard: `tile-${String(index).padStart(4, '0')}`,
      sets: [],
      tile: { index, kx, ky, ...(o.margin !== undefined ? { margin: o.margin } : {}) },
    }));
  } else {
    shards = [{ ...base, shard: 'all', sets: [] }];
  }
  return { v: 1, job, mode, created_at: new Date().toISOString(), pipeline_file: o.pipelineFile, pipeline, shards };
}

/**
 * A tile job whose refine sink has `step: pass` runs in rounds (rounds.ts):
 * its update sums over all patterns, so each tile contributes its core's
 * patterns and the job applies the single-process update. The sink must be
 * the only reconstruction sink and start from a file or flat (not from an
 * infer in the same pipeline, which would run per tile).
 */
export function roundsOf(doc: Doc, margin: number | undefined): { sink: string; epochs: number } | undefined {
  const sinks = Object.entries(section(doc, 'sinks'));
  const pass = sinks.filter(([, s]) => s.type === 'refine' && s.step === 'pass');
  if (pass.length === 0) return undefined;
  const [id, s] = pass[0]!;
  const bad = (why: string, hint: string): OptionsError =>
    new OptionsError('BAD_OPTION', `sink '${id}' (refine, step: pass) in a tile job: ${why}`, { stage: id, hint });
  if (sinks.filter(([, x]) => x.type === 'infer' || x.type === 'refine').length !== 1)
    throw bad('it must be the only infer/refine sink', 'tile the infer and the refine as two jobs (refine from the infer NPZ)');
  if (!Array.isArray(s.inputs) || s.inputs.length !== 1)
    throw bad('it must start from its reconstruction option or flat, not from input 1', 'give the starting NPZ as reconstruction: (an absolute path)');
  if (s.max_minutes !== undefined) throw bad("max_minutes does not apply (passes are the job's rounds)", 'bound the passes with epochs');
  if (typeof s.score_every === 'number' && s.score_every > 0)
    throw bad('score_every does not apply (no tile holds the whole object)', 'score the collected NPZ');
  if (margin !== undefined && margin !== 0)
    throw bad("a round reads each tile's core only (each pattern counted once); --margin does not apply", 'leave --margin out');
  return { sink: id, epochs: typeof s.epochs === 'number' ? s.epochs : 50 };
}

/** Rounds 0…epochs of every tile; round r's shards are published once round r − 1 is reduced. */
function roundShards(base: Pick<ShardDescriptor, 'v' | 'job' | 'pipeline'>, kx: number, ky: number, epochs: number): ShardDescriptor[] {
  const out: ShardDescriptor[] = [];
  for (let round = 0; round <= epochs; round++) {
    for (let index = 0; index < kx * ky; index++)
      out.push({
        ...base,
        shard: `r${String(round).padStart(4, '0')}-tile-${String(index).padStart(4, '0')}`,
        sets: [],
        tile: { index, kx, ky, margin: 0 },
        round,
      });
  }
  return out;
}

function setIn(doc: Doc, keys: string[], value: unknown): void {
  let at: Record<string, unknown> = doc;
  for (const k of keys.slice(0, -1)) {
    const next = at[k];
    if (next === null || typeof next !== 'object') at[k] = {};
    at = at[k] as Record<string, unknown>;
  }
  at[keys[keys.length - 1]!] = value;
}

/** The shard's pipeline: the job's with its sets applied and its tile stage in front of every group. */
export function shardDocument(jobDoc: Doc, d: ShardDescriptor): Doc {
  const doc = structuredClone(jobDoc);
  for (const spec of d.sets) {
    const { path: keys, value } = parseSetting(spec);
    setIn(doc, keys, value);
  }
  if (d.tile !== undefined) {
    const transforms = section(doc, 'transforms');
    const added: Section = {};
    for (const [id, st] of Object.entries(transforms)) {
      if (st.type !== 'group' || !Array.isArray(st.inputs)) continue;
      const tileId = `${id}__tile`;
      added[tileId] = { type: TILE_STAGE, inputs: st.inputs, ...d.tile };
      st.inputs = [tileId];
    }
    doc.transforms = { ...transforms, ...added };
  }
  if (d.round !== undefined) {
    // The refine sink becomes this round's contribution, with refine's options.
    const sinks = section(doc, 'sinks');
    const id = roundsOf(doc, undefined)?.sink;
    if (id === undefined)
      throw new OptionsError('BAD_OPTION', `shard ${d.shard} is a round of a refine (step: pass) job, and the job's pipeline has none`, {
        hint: 'resubmit the job',
      });
    const { type: _type, inputs, ...refine } = sinks[id]!;
    sinks[id] = { type: CONTRIBUTION_STAGE, inputs, of: id, round: d.round, refine };
  }
  return doc;
}

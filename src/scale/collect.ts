// Collecting a job: wait (optionally) until every shard is done or failed,
// then write what a local run writes. Per-scan and single shards: each
// shard's files into its own directory (the scan's name). Tile shards: per
// reconstruction sink, the partials merged (merge.ts) and written under that
// sink's file names. Every job gets job-summary.json naming each shard's
// state, deliveries and error. All files are written atomically.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ScaleError } from '../errors.js';
import type { Json } from '../pipeline/types.js';
import { writeReconstruction } from '../sinks/shared/reconstruction.js';
import { writeFileAtomic } from '../util/atomic.js';
import type { ScaleClient } from './client.js';
import { countStates, jobStatus, type ShardStatus } from './events.js';
import { names, type JobManifest } from './job.js';
import { mergePartials } from './merge.js';
import { runRounds } from './rounds.js';
import { readPartial, type Partial } from './partial.js';
import { fetchTo, getJson, type ResultManifest } from './results.js';

export interface CollectOptions {
  outDir: string;
  /** Wait for unfinished shards (default: refuse an unfinished job). */
  wait?: boolean;
  /** Give up waiting after this many seconds (default: no limit). */
  timeoutS?: number;
  pollMs?: number;
  onStatus?: (s: readonly ShardStatus[]) => void;
  signal?: AbortSignal;
}

export interface JobSummary {
  job: string;
  mode: JobManifest['mode'];
  status: 'ok' | 'partial' | 'failed';
  counts: Record<string, number>;
  failed: string[];
  shards: (ShardStatus & { output?: string; deliveries_stored?: number })[];
  merged: Record<string, Json>;
  merge_seconds: number;
  output: string;
  collected_at: string;
}

export async function loadManifest(c: ScaleClient, job: string): Promise<JobManifest> {
  const m = await getJson<JobManifest>(c, names.manifest(job));
  if (m === undefined)
    throw new ScaleError('JOB_NOT_FOUND', `no job '${job}' in bucket '${c.config.bucket}'`, {
      hint: 'check the job id that submit printed, and --server/--bucket',
    });
  return m;
}

/** Polls until every shard is done or failed. */
export async function waitForJob(
  c: ScaleClient,
  m: JobManifest,
  o: Pick<CollectOptions, 'timeoutS' | 'pollMs' | 'onStatus' | 'signal'>,
): Promise<ShardStatus[]> {
  const t0 = Date.now();
  // Polls ask only about unsettled shards: a large job's poll shrinks as it finishes.
  const settled = new Map<string, ShardStatus>();
  for (;;) {
    o.signal?.throwIfAborted();
    let s: ShardStatus[] | undefined;
    try {
      s = await jobStatus(c, m, settled);
    } catch {
      // The server is away (restart): ask again at the next poll.
    }
    if (s !== undefined) {
      o.onStatus?.(s);
      if (s.every((x) => x.state === 'done' || x.state === 'failed')) return s;
    }
    if (o.timeoutS !== undefined && Date.now() - t0 > o.timeoutS * 1000) {
      const counts = s === undefined ? 'unknown' : JSON.stringify(countStates(s));
      throw new ScaleError('JOB_TIMEOUT', `job '${m.job}' not finished after ${o.timeoutS} s (${counts})`, {
        hint: 'start workers (ptychoflow worker), or collect later',
      });
    }
    await new Promise((r) => setTimeout(r, o.pollMs ?? 500));
  }
}

async function mergeTiles(c: ScaleClient, m: JobManifest, results: ResultManifest[], outDir: string): Promise<Record<string, Json>> {
  const merged: Record<string, Json> = {};
  const tmp = await mkdtemp(path.join(os.tmpdir(), `ptychoflow-collect-${m.job}-`));
  try {
    const sinks = new Map<string, { files: ResultManifest['partials'][number]['files']; parts: Map<string, Partial> }>();
    for (const r of results) {
      for (const p of r.partials) {
        const file = path.join(tmp, r.shard, p.file);
        await fetchTo(c, names.file(m.job, r.shard, p.file), file);
        const entry = sinks.get(p.sink) ?? { files: p.files, parts: new Map<string, Partial>() };
        entry.parts.set(r.shard, await readPartial(file));
        sinks.set(p.sink, entry);
      }
    }
    for (const [sink, { files, parts }] of sinks) {
      const out = { npz: path.join(outDir, files.npz), amplitude_png: path.join(outDir, files.amplitude_png), phase_png: path.join(outDir, files.phase_png) };
      const mg = mergePartials(parts);
      await writeReconstruction(out, mg, mg.probe, sink);
      let wmin = Infinity,
        wmax = -Infinity;
      for (const w of mg.weightSum) {
        wmin = Math.min(wmin, w);
        wmax = Math.max(wmax, w);
      }
      merged[sink] = { ...out, shards: mg.shards, weight_min: wmin, weight_max: wmax, shape: [mg.object.height, mg.object.width] };
    }
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
  return merged;
}

/** A rounds job: collect --wait is its coordinator (rounds.ts); without --wait it only replays a job whose rounds are all done. */
async function collectRounds(c: ScaleClient, m: JobManifest, o: CollectOptions): Promise<JobSummary> {
  if (o.wait !== true) {
    const c0 = countStates(await jobStatus(c, m));
    if (c0.pending + c0.running > 0)
      throw new ScaleError('JOB_NOT_FINISHED', `job '${m.job}' runs in rounds (refine, step: pass): ${c0.done} of ${m.shards.length} round shards done`, {
        hint: 'collect --wait (or submit --wait) coordinates its rounds; run it while workers run',
      });
  }
  const outDir = path.resolve(o.outDir);
  const t0 = performance.now();
  const r = await runRounds(c, m, outDir, {
    ...(o.timeoutS !== undefined ? { timeoutS: o.timeoutS } : {}),
    wait: (mm, timeoutS) => waitForJob(c, mm, { ...o, ...(timeoutS !== undefined ? { timeoutS } : {}) }),
  });
  const states = await jobStatus(c, m);
  const merged: Record<string, Json> = r.merged !== undefined ? { [m.rounds!.sink]: r.merged } : {};
  return writeSummary(m, states, merged, new Map(), t0, outDir, r.merged === undefined ? 'failed' : 'ok');
}

export async function collectJob(c: ScaleClient, job: string, o: CollectOptions): Promise<JobSummary> {
  const m = await loadManifest(c, job);
  if (m.mode === 'rounds') return collectRounds(c, m, o);
  const states = o.wait === true ? await waitForJob(c, m, o) : await jobStatus(c, m);
  const counts = countStates(states);
  if (counts.pending + counts.running > 0) {
    throw new ScaleError('JOB_NOT_FINISHED', `job '${job}': ${counts.pending} shard(s) pending, ${counts.running} running`, {
      hint: 'collect --wait, or check ptychoflow status',
    });
  }
  const outDir = path.resolve(o.outDir);
  const t0 = performance.now();
  const results: ResultManifest[] = [];
  for (const s of states) {
    if (s.state !== 'done') continue;
    const r = await getJson<ResultManifest>(c, names.result(job, s.shard));
    if (r === undefined)
      throw new ScaleError('MISSING_OBJECT', `shard '${s.shard}' is done but its result is gone`, { hint: 'the bucket was purged; resubmit the job' });
    results.push(r);
  }
  let merged: Record<string, Json> = {};
  const bySub = new Map(m.shards.map((d) => [d.shard, d.output ?? '']));
  if (m.mode === 'tiles') merged = await mergeTiles(c, m, results, outDir);
  else {
    for (const r of results) {
      for (const f of r.files) await fetchTo(c, names.file(job, r.shard, f), path.join(outDir, bySub.get(r.shard) ?? '', f));
    }
  }
  return writeSummary(m, states, merged, new Map(results.map((r) => [r.shard, r.delivery])), t0, outDir);
}

async function writeSummary(
  m: JobManifest,
  states: ShardStatus[],
  merged: Record<string, Json>,
  delivered: Map<string, number>,
  t0: number,
  outDir: string,
  status?: JobSummary['status'],
): Promise<JobSummary> {
  const bySub = new Map(m.shards.map((d) => [d.shard, d.output ?? '']));
  const failed = states.filter((s) => s.state === 'failed').map((s) => s.shard);
  const summary: JobSummary = {
    job: m.job,
    mode: m.mode,
    status: status ?? (failed.length === 0 ? 'ok' : failed.length === states.length ? 'failed' : 'partial'),
    counts: countStates(states),
    failed,
    shards: states.map((s) => ({
      ...s,
      ...(bySub.get(s.shard) ? { output: bySub.get(s.shard)! } : {}),
      ...(delivered.has(s.shard) ? { deliveries_stored: delivered.get(s.shard)! } : {}),
    })),
    merged,
    merge_seconds: +((performance.now() - t0) / 1000).toFixed(3),
    output: outDir,
    collected_at: new Date().toISOString(),
  };
  await writeFileAtomic(path.join(outDir, 'job-summary.json'), JSON.stringify(summary, null, 2) + '\n');
  return summary;
}

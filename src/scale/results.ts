// Shard results in the object store. A result is its files (claim checks
// under jobs/JOB/SHARD/files/) and, written last, result.json naming them:
// result.json present means the shard is done. Names are per shard, so a
// shard that is redelivered and stored again replaces its own result and
// still counts once.
import { mkdir, readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { ScaleError } from '../errors.js';
import type { RunSummary } from '../pipeline/run.js';
import { writeFileAtomic } from '../util/atomic.js';
import type { ScaleClient } from './client.js';
import type { ShardRun } from './execute.js';
import { names, type ShardDescriptor } from './job.js';
import { writePartial } from './partial.js';

export interface ResultManifest {
  v: 1;
  job: string;
  shard: string;
  worker: string;
  delivery: number;
  finished_at: string;
  summary: RunSummary;
  /** Files of the shard's run, relative to its output directory (per-scan and single shards). */
  files: string[];
  /** Tile partials: the sink, its partial's file, and the files that sink writes in a local run. */
  partials: { sink: string; file: string; files: { npz: string; amplitude_png: string; phase_png: string } }[];
}

/** The one file a rounds shard stores. */
export const CONTRIBUTION_FILE = 'contribution.npz';

async function filesUnder(dir: string, rel = ''): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(path.join(dir, rel), { withFileTypes: true })) {
    const r = path.posix.join(rel, e.name);
    if (e.name.startsWith('.')) continue; // temp files of atomic writes
    if (e.isDirectory()) out.push(...(await filesUnder(dir, r)));
    else if (e.isFile()) out.push(r);
  }
  return out;
}

async function putFile(c: ScaleClient, name: string, file: string): Promise<void> {
  await c.store.putBlob({ name }, new Uint8Array(await readFile(file)));
}

/** Uploads a finished shard's result (files first, result.json last). */
export async function storeResult(c: ScaleClient, d: ShardDescriptor, dir: string, run: ShardRun, worker: string, delivery: number): Promise<ResultManifest> {
  const partials: ResultManifest['partials'] = [];
  let files: string[] = [];
  if (run.contribution !== undefined) {
    files = [CONTRIBUTION_FILE];
    await putFile(c, names.file(d.job, d.shard, CONTRIBUTION_FILE), run.contribution);
  } else if (d.tile !== undefined) {
    for (const p of run.partials) {
      const file = `partial-${p.sink}.npz`;
      await mkdir(path.join(dir, '.scale'), { recursive: true });
      await writePartial(path.join(dir, '.scale', file), p.partial);
      await putFile(c, names.file(d.job, d.shard, file), path.join(dir, '.scale', file));
      partials.push({ sink: p.sink, file, files: p.files });
    }
  } else {
    files = await filesUnder(dir);
    for (const f of files) await putFile(c, names.file(d.job, d.shard, f), path.join(dir, f));
  }
  const manifest: ResultManifest = {
    v: 1,
    job: d.job,
    shard: d.shard,
    worker,
    delivery,
    finished_at: new Date().toISOString(),
    summary: run.summary,
    files,
    partials,
  };
  await c.store.putBlob({ name: names.result(d.job, d.shard) }, new TextEncoder().encode(JSON.stringify(manifest)));
  return manifest;
}

/**
 * Retries `fn` while it fails with a client error (timeout, no responders,
 * disconnected: the server restarting); our own ScaleErrors are final.
 */
export async function retryTransient<T>(fn: () => Promise<T>, tries = 40, delayMs = 500): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await fn();
    } catch (e) {
      if (e instanceof ScaleError || i >= tries) throw e;
      await new Promise((r) => setTimeout(r, delayMs));
    }
  }
}

export async function getJson<T>(c: ScaleClient, name: string): Promise<T | undefined> {
  const bytes = await retryTransient(() => c.store.getBlob(name));
  if (bytes === null) return undefined;
  try {
    return JSON.parse(new TextDecoder().decode(bytes)) as T;
  } catch (e) {
    throw new ScaleError('BAD_OBJECT', `object '${name}' in bucket '${c.config.bucket}' is not JSON`, {
      cause: e,
      hint: 'the bucket holds something other than ptychoflow jobs; use another --bucket',
    });
  }
}

/** Downloads a stored object to `file` (atomically). */
export async function fetchTo(c: ScaleClient, name: string, file: string): Promise<void> {
  const bytes = await retryTransient(() => c.store.getBlob(name));
  if (bytes === null)
    throw new ScaleError('MISSING_OBJECT', `object '${name}' is missing from bucket '${c.config.bucket}'`, {
      hint: 'the shard result is incomplete; resubmit the job',
    });
  await mkdir(path.dirname(file), { recursive: true });
  await writeFileAtomic(file, bytes);
}

// Safety of the checkpoint directory: saveCheckpoint swaps a directory by
// rename and deletes the one it replaced, so it must only ever replace a
// ptychoflow checkpoint. This module tells a checkpoint from anything else,
// recovers a swap that crashed half-way (`<dir>.old-*` left, `<dir>` gone),
// and removes temp and old directories that a dead save left behind — only
// those that hold nothing but checkpoint files, so nothing the run did not
// create is ever deleted.
import { existsSync, lstatSync, readdirSync, readFileSync } from 'node:fs';
import { readdir, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { DataError } from '../errors.js';

/** The files a checkpoint directory holds; a directory with anything else is not ours to delete. */
const CHECKPOINT_FILES = new Set(['model.json', 'weights.bin', 'optimizer.bin', 'ptychoflow.json']);

/** Whether `dir` holds a complete ptychoflow checkpoint (its sidecar says format 'ptychoflow'). */
export function isCheckpointDir(dir: string): boolean {
  try {
    const side = JSON.parse(readFileSync(path.join(dir, 'ptychoflow.json'), 'utf8')) as { format?: unknown };
    return side.format === 'ptychoflow';
  } catch {
    return false;
  }
}

/** A directory that only holds checkpoint files (complete or not), nothing else, no subdirectories. */
function onlyCheckpointFiles(dir: string): boolean {
  try {
    if (!lstatSync(dir).isDirectory()) return false;
    return readdirSync(dir, { withFileTypes: true }).every((e) => e.isFile() && CHECKPOINT_FILES.has(e.name));
  } catch {
    return false;
  }
}

/**
 * Whether another process that wrote a `<pid>-<hex>` tag is still running (its
 * temp dir may be in use). This process's own leftovers are stale: its saves
 * of one directory run one after another.
 */
function writerAlive(tag: string): boolean {
  const pid = Number(/^(\d+)-/.exec(tag)?.[1]);
  if (!Number.isInteger(pid) || pid <= 0 || pid === process.pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Throws unless `dir` is absent, an empty directory, or a ptychoflow checkpoint. */
export function assertCheckpointTarget(dir: string, stage?: string): void {
  if (!existsSync(dir)) return;
  const st = lstatSync(dir);
  const details = {
    file: dir,
    ...(stage === undefined ? {} : { stage }),
    hint: 'checkpoint_dir must name a new directory or an earlier ptychoflow checkpoint; choose another name',
  };
  if (!st.isDirectory()) throw new DataError('CHECKPOINT_DIR_NOT_OURS', 'the checkpoint path exists and is not a directory: refusing to replace it', details);
  if (isCheckpointDir(dir) && onlyCheckpointFiles(dir)) return;
  if (readdirSync(dir).length === 0) return;
  throw new DataError(
    'CHECKPOINT_DIR_NOT_OURS',
    'the checkpoint directory exists and is not a ptychoflow checkpoint: refusing to replace (and delete) it',
    details,
  );
}

interface Leftover {
  path: string;
  kind: 'tmp' | 'old';
  tag: string;
}

async function leftovers(dir: string): Promise<Leftover[]> {
  const parent = path.dirname(dir),
    base = path.basename(dir);
  const names = existsSync(parent) ? await readdir(parent) : [];
  const out: Leftover[] = [];
  for (const name of names) {
    const m = /^\.(tmp|old)-(\d+-[0-9a-f]+)$/.exec(name.slice(base.length));
    if (!name.startsWith(base) || m === null) continue;
    out.push({ path: path.join(parent, name), kind: m[1] as 'tmp' | 'old', tag: m[2]! });
  }
  return out;
}

/**
 * Repairs what a crashed save left next to `dir`: when `dir` is gone, the
 * newest complete checkpoint among the leftovers (a finished temp dir is newer
 * than the old one it was replacing) becomes `dir` again; then every leftover
 * of a dead writer that holds only checkpoint files is removed. Returns what
 * was recovered, if anything, for the log.
 */
export async function recoverCheckpointDir(dir: string): Promise<string | undefined> {
  const abs = path.resolve(dir);
  const found = (await leftovers(abs)).filter((l) => !writerAlive(l.tag));
  let recovered: string | undefined;
  if (!existsSync(abs)) {
    const complete = found.filter((l) => isCheckpointDir(l.path) && onlyCheckpointFiles(l.path));
    const epochOf = (p: string): number => {
      try {
        return Number((JSON.parse(readFileSync(path.join(p, 'ptychoflow.json'), 'utf8')) as { epoch?: unknown }).epoch) || 0;
      } catch {
        return 0;
      }
    };
    complete.sort((a, b) => epochOf(b.path) - epochOf(a.path) || (a.kind === 'tmp' ? -1 : 1));
    const best = complete[0];
    if (best !== undefined) {
      await rename(best.path, abs);
      recovered = best.path;
    }
  }
  for (const l of found) {
    if (l.path === recovered || !onlyCheckpointFiles(l.path)) continue;
    await rm(l.path, { recursive: true, force: true });
  }
  return recovered;
}

/**
 * Before a train run does any work: repairs a crashed swap, then refuses a
 * `dir` that is not a checkpoint. Returns the leftover that became `dir`, if any.
 */
export async function prepareCheckpointDir(dir: string, stage?: string): Promise<string | undefined> {
  const recovered = await recoverCheckpointDir(dir);
  assertCheckpointTarget(dir, stage);
  return recovered;
}

// Owner markers for temp directories. A run killed with SIGKILL (or the OOM
// killer) runs no cleanup, so its spill directory would stay in TMPDIR
// forever. Each such directory therefore holds a marker with the pid and host
// of the process that made it; the next run removes the ones whose owner is
// dead. A directory is removed only when its name has our prefix, the marker
// is ours and names this host, the owner pid is not alive, and the directory
// holds nothing but the marker and files named as we name spill files. Temp
// files of atomic writes need no marker: their name holds the writer's pid.
import { existsSync } from 'node:fs';
import { lstat, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

export const OWNER_MARKER = '.ptychoflow-owner';
const MAGIC = 'ptychoflow temp dir';

/** Writes the owner marker into a directory this process just created. */
export async function markOwner(dir: string): Promise<void> {
  await writeFile(path.join(dir, OWNER_MARKER), `${MAGIC}\npid ${process.pid}\nhost ${os.hostname()}\n`);
}

/** Whether process `pid` exists (EPERM: it exists but belongs to someone else). */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}

/** The owner pid a marker names, or undefined when the marker is missing, foreign or from another host. */
async function ownerPid(dir: string): Promise<number | undefined> {
  let text: string;
  try {
    text = await readFile(path.join(dir, OWNER_MARKER), 'utf8');
  } catch {
    return undefined;
  }
  const m = /^ptychoflow temp dir\npid (\d+)\nhost (.*)\n$/.exec(text);
  if (m === null || m[2] !== os.hostname()) return undefined;
  const pid = Number(m[1]);
  return Number.isSafeInteger(pid) && pid > 0 ? pid : undefined;
}

/**
 * Removes directories `root/<prefix>*` left by dead processes (see the file
 * comment); returns the paths removed. Best effort: anything unreadable is kept.
 */
export async function sweepStaleTempDirs(root: string, prefix: string, fileName: RegExp): Promise<string[]> {
  if (!existsSync(root)) return [];
  const removed: string[] = [];
  let names: string[];
  try {
    names = (await readdir(root)).filter((n) => n.startsWith(prefix));
  } catch {
    return removed;
  }
  for (const name of names) {
    const dir = path.join(root, name);
    try {
      if (!(await lstat(dir)).isDirectory()) continue;
      const pid = await ownerPid(dir);
      if (pid === undefined || pid === process.pid || pidAlive(pid)) continue;
      const entries = await readdir(dir, { withFileTypes: true });
      if (!entries.every((e) => e.isFile() && (e.name === OWNER_MARKER || fileName.test(e.name)))) continue;
      await rm(dir, { recursive: true, force: true });
      removed.push(dir);
    } catch {
      // Raced with its owner or unreadable: not ours to judge, keep it.
    }
  }
  return removed;
}

/** Temp files of atomic writes (util/atomic.ts: `.<name>.<pid>.<8 hex>.tmp`): the pid in the name is their marker. */
const ATOMIC_TEMP = /^\..+\.(\d+)\.[0-9a-f]{8}\.tmp$/;

/** Removes atomic-write temp files directly in `dir` whose writer is dead (a killed run's half-written outputs). */
export async function sweepStaleAtomicTemps(dir: string): Promise<string[]> {
  const removed: string[] = [];
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return removed;
  }
  for (const name of names) {
    const m = ATOMIC_TEMP.exec(name);
    const pid = m === null ? NaN : Number(m[1]);
    if (!Number.isSafeInteger(pid) || pid <= 0 || pid === process.pid || pidAlive(pid)) continue;
    const file = path.join(dir, name);
    try {
      if (!(await lstat(file)).isFile()) continue;
      await rm(file, { force: true });
      removed.push(file);
    } catch {
      // Gone already or not ours to remove: keep going.
    }
  }
  return removed;
}

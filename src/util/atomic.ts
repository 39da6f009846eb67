// Atomic file output: write to a temporary name in the target directory, then
// rename over the target, so a failed or interrupted run never leaves a half file.
import { randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, openSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { mkdir, open, rename, rm, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { trackTemp } from './signals.js';

/** A temporary path next to `target` (same directory, so rename is atomic). */
export function tempPathFor(target: string): string {
  return path.join(path.dirname(target), `.${path.basename(target)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
}

/**
 * Opens a temporary file next to `target`, lets `write` fill it, then renames
 * it to `target`. On any error the temporary file is removed and the error rethrown.
 */
export async function writeAtomic<T>(target: string, write: (fh: FileHandle, tempPath: string) => Promise<T>): Promise<T> {
  await mkdir(path.dirname(target), { recursive: true });
  const tmp = tempPathFor(target);
  const untrack = trackTemp(tmp);
  const fh = await open(tmp, 'w');
  let ok = false;
  try {
    const out = await write(fh, tmp);
    await fh.sync();
    await fh.close();
    await rename(tmp, target);
    ok = true;
    return out;
  } finally {
    if (!ok) {
      await fh.close().catch(() => undefined);
      await rm(tmp, { force: true });
    }
    untrack();
  }
}

/** Writes text or bytes atomically. */
export async function writeFileAtomic(target: string, data: string | Uint8Array): Promise<void> {
  await writeAtomic(target, async (fh) => {
    await fh.writeFile(data);
  });
}

/** Writes text synchronously, atomically (temp file, fsync, rename): for the small run records a killed run must not leave half written. */
export function writeFileAtomicSync(target: string, data: string): void {
  const tmp = tempPathFor(target);
  const untrack = trackTemp(tmp);
  let ok = false;
  try {
    const fd = openSync(tmp, 'w');
    try {
      writeFileSync(fd, data);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, target);
    ok = true;
  } finally {
    if (!ok) rmSync(tmp, { force: true });
    untrack();
  }
}

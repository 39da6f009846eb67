// Spill files for deflated NPZ entries: an entry is inflated once, streaming
// (read stream → inflateRaw → CRC check → file), into a private temp directory
// so that later reads are positioned reads of the spill file; the directory is
// removed when the owner closes. It holds an owner marker, so that one left
// by a killed run is removed by the next (temp-owner.ts).
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createInflateRaw } from 'node:zlib';
import { FormatError, PtychoflowError } from '../errors.js';
import { trackTemp } from '../util/signals.js';
import { crc32 } from './crc32.js';
import { markOwner, sweepStaleTempDirs } from './temp-owner.js';

export const SPILL_PREFIX = 'ptychoflow-spill-';
/** How spill files are named (`file()`): the sweep removes nothing else. */
const SPILL_FILE = /^\d+-[A-Za-z0-9_.-]*$/;

/** Removes spill directories under `root` left by dead processes (a run killed with SIGKILL). */
export function sweepStaleSpillDirs(root: string = os.tmpdir()): Promise<string[]> {
  return sweepStaleTempDirs(root, SPILL_PREFIX, SPILL_FILE);
}

/** A lazily created temp directory (under os.tmpdir()) that holds spill files. */
export class SpillDir {
  private dir: Promise<string> | undefined;
  private untrack: (() => void) | undefined;
  private counter = 0;
  /** `root`: where the directory is made (default os.tmpdir()). */
  constructor(private readonly root: string = os.tmpdir()) {}

  /** A fresh file path inside the directory (creating it on first use). */
  async file(stem: string): Promise<string> {
    this.dir ??= (async () => {
      await sweepStaleSpillDirs(this.root);
      const d = await mkdtemp(path.join(this.root, SPILL_PREFIX));
      // Registered so that an exit on a second signal still removes it.
      this.untrack = trackTemp(d);
      try {
        await markOwner(d);
      } catch (e) {
        await rm(d, { recursive: true, force: true });
        throw e;
      }
      return d;
    })();
    const dir = await this.dir;
    return path.join(dir, `${this.counter++}-${stem.replace(/[^A-Za-z0-9_.-]/g, '_')}`);
  }

  async remove(): Promise<void> {
    if (this.dir === undefined) return;
    const dir = await this.dir.catch(() => undefined);
    this.dir = undefined;
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
    this.untrack?.();
    this.untrack = undefined;
  }
}

export interface InflateJob {
  source: string;
  /** File offset and length of the raw deflate data. */
  start: number;
  compressedSize: number;
  size: number;
  crc32: number;
  dest: string;
  /** For error messages. */
  file: string;
  key: string;
}

/** Inflates a raw-deflate byte range of `source` into `dest`, checking size and CRC-32 as it streams. */
export async function inflateToFile(job: InflateJob): Promise<void> {
  let crc = 0,
    n = 0;
  const tooLong = (): FormatError =>
    new FormatError('CORRUPT_ENTRY', `inflates to more than the ${job.size} bytes the directory says`, {
      file: job.file,
      key: job.key,
      hint: 're-save the archive',
    });
  const check = new Transform({
    transform(chunk: Buffer, _enc, done) {
      crc = crc32(chunk, crc);
      n += chunk.length;
      // Stop at once: an understated size must not fill the spill disk before it is noticed.
      if (n > job.size) done(tooLong());
      else done(null, chunk);
    },
  });
  const input = job.compressedSize > 0 ? createReadStream(job.source, { start: job.start, end: job.start + job.compressedSize - 1 }) : Readable.from([]);
  let writeFailed: NodeJS.ErrnoException | undefined;
  const output = createWriteStream(job.dest).on('error', (e) => (writeFailed = e));
  try {
    await pipeline(input, createInflateRaw(), check, output);
  } catch (e) {
    if (e instanceof FormatError) throw e;
    if (writeFailed !== undefined) {
      throw new PtychoflowError('SPILL_WRITE', `cannot write the spill file for a deflated entry (${writeFailed.code ?? writeFailed.message})`, {
        file: job.dest,
        key: job.key,
        cause: e,
        hint: 'free space in the temp directory (TMPDIR), or store the archive uncompressed',
      });
    }
    throw new FormatError('CORRUPT_ENTRY', `deflated data is corrupt (${(e as Error).message})`, {
      file: job.file,
      key: job.key,
      cause: e,
      hint: 're-save the archive',
    });
  }
  if (n !== job.size)
    throw new FormatError('CORRUPT_ENTRY', `inflated to ${n} bytes, the directory says ${job.size}`, {
      file: job.file,
      key: job.key,
      hint: 're-save the archive',
    });
  if (crc !== job.crc32)
    throw new FormatError('CRC_MISMATCH', 'CRC-32 does not match: the entry is corrupt', { file: job.file, key: job.key, hint: 're-save the archive' });
}

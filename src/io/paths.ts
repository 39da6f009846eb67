// Path policy for untrusted names: a path written in a manifest or a pipeline
// option resolves inside the directory it is relative to (the manifest's, the
// run output's) unless the caller allows leaving it; a file opened as input is
// a regular file (a FIFO or a device would block or never end).
import { constants, type Stats } from 'node:fs';
import { open, stat, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { DataError, printableName as printable, type ErrorDetails } from '../errors.js';

export interface ConfineOptions {
  /** Allow a result outside `dir` (the documented relaxation). */
  allowOutside?: boolean;
  /** Whether `dir` itself is an acceptable result (no for outputs that get replaced). */
  allowSelf?: boolean;
  /** What the path names, for the message ("manifest path", "output path"). */
  what: string;
  /** The option or setting that relaxes the rule, for the hint. */
  relax: string;
  details?: ErrorDetails;
}

/** Whether `p` (absolute) lies inside `dir` (absolute); `dir` itself counts only with `self`. */
export function isInside(dir: string, p: string, self = false): boolean {
  const rel = path.relative(dir, p);
  if (rel === '') return self;
  return !rel.startsWith('..') && !path.isAbsolute(rel);
}

/** `p` resolved against `dir`, refused (typed) when it leaves `dir` and that is not allowed. */
export function confinedPath(dir: string, p: string, o: ConfineOptions): string {
  const base = path.resolve(dir);
  const out = path.resolve(base, p);
  if (o.allowOutside === true || isInside(base, out, o.allowSelf === true)) return out;
  const self = out === base;
  throw new DataError('PATH_OUTSIDE', `${o.what} '${printable(p)}' ${self ? 'names the directory itself' : 'leaves its directory'} (${printable(base)})`, {
    ...o.details,
    hint: self ? `name a file or subdirectory inside it` : `keep paths inside the directory, or set ${o.relax}: true if you trust this file`,
  });
}

function kindOf(st: Stats): string {
  if (st.isDirectory()) return 'a directory';
  if (st.isFIFO()) return 'a FIFO (named pipe)';
  if (st.isSocket()) return 'a socket';
  if (st.isCharacterDevice() || st.isBlockDevice()) return 'a device';
  return 'not a regular file';
}

/** Throws a typed error unless `st` is a regular file. */
export function assertRegular(st: Stats, details: ErrorDetails): void {
  if (!st.isFile()) throw new DataError('NOT_A_FILE', `is ${kindOf(st)}, not a regular file`, { ...details, hint: 'inputs must be regular files' });
}

/**
 * Opens `file` for reading, refusing anything but a regular file. The open
 * itself does not block on a FIFO (O_NONBLOCK), and the check is made on the
 * opened descriptor, so a file swapped in between cannot slip past.
 */
export async function openRegular(file: string, details: ErrorDetails = {}): Promise<FileHandle> {
  const fh = await open(file, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0));
  try {
    assertRegular(await fh.stat(), { file: details.file ?? path.basename(file), ...details });
    return fh;
  } catch (e) {
    await fh.close();
    throw e;
  }
}

/** Checks by path that `file` is a regular file (for readers that open it themselves). */
export async function checkRegular(file: string, details: ErrorDetails = {}): Promise<void> {
  assertRegular(await stat(file), { file: details.file ?? path.basename(file), ...details });
}

/**
 * `v` with every absolute path string inside `dir` made relative to it
 * (`dir` itself becomes '.'), so a file written there still names its
 * neighbours after the directory is moved or copied.
 */
export function relativeInside<T>(v: T, dir: string): T {
  if (typeof v === 'string') return (path.isAbsolute(v) && isInside(dir, v, true) ? path.relative(dir, v) || '.' : v) as T;
  if (Array.isArray(v)) return v.map((x: unknown) => relativeInside(x, dir)) as T;
  if (v !== null && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, relativeInside(x, dir)])) as T;
  return v;
}

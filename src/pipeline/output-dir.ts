// The run's output directory is checked before any stage starts: a path that
// names a file, or a directory the run cannot write (read-only mount, no
// permission, immutable), is a typed error now rather than a raw EEXIST or
// ENOENT from the first sink, possibly after the first epoch of training.
import { randomBytes } from 'node:crypto';
import { closeSync, mkdirSync, openSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { PipelineFileError, printableName } from '../errors.js';

function codeOf(e: unknown): string | undefined {
  return (e as NodeJS.ErrnoException | null)?.code;
}

/** The first existing ancestor of `dir` (or `dir` itself) that is not a directory, if any. */
function fileInTheWay(dir: string): string | undefined {
  for (let p = dir; ; p = path.dirname(p)) {
    try {
      return statSync(p).isDirectory() ? undefined : p;
    } catch {
      if (path.dirname(p) === p) return undefined;
    }
  }
}

/**
 * Creates `outDir` if needed and proves it writable by creating and removing
 * a probe file (access(2) misses immutable directories and some mounts).
 * `key` is where the path came from (`output`, or `--output`), for the message.
 */
export function prepareOutputDir(outDir: string, details: { file?: string; key: string }): void {
  const where = { ...(details.file !== undefined ? { file: details.file } : {}), key: details.key };
  const notDir = (p: string): PipelineFileError =>
    new PipelineFileError(
      'OUTPUT_NOT_A_DIRECTORY',
      `the output directory ${printableName(outDir)} ${p === outDir ? 'is an existing file' : `cannot be made: ${printableName(p)} is a file`}`,
      {
        ...where,
        hint: 'name a directory (new or existing) for the outputs, or move the file away',
      },
    );
  const notWritable = (e: unknown): PipelineFileError =>
    new PipelineFileError('OUTPUT_NOT_WRITABLE', `cannot write in the output directory ${printableName(outDir)} (${codeOf(e) ?? (e as Error).message})`, {
      ...where,
      cause: e,
      hint: 'choose a writable directory (output: in the pipeline file, or --output), or fix its permissions or mount',
    });
  const inTheWay = fileInTheWay(outDir);
  if (inTheWay !== undefined) throw notDir(inTheWay);
  try {
    mkdirSync(outDir, { recursive: true });
  } catch (e) {
    if (codeOf(e) === 'EEXIST' || codeOf(e) === 'ENOTDIR') throw notDir(fileInTheWay(outDir) ?? outDir);
    throw notWritable(e);
  }
  const probe = path.join(outDir, `.ptychoflow-write-test.${process.pid}.${randomBytes(4).toString('hex')}`);
  try {
    closeSync(openSync(probe, 'wx'));
  } catch (e) {
    throw notWritable(e);
  }
  rmSync(probe, { force: true });
}

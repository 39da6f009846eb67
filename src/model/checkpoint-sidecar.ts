// A checkpoint's JSON sidecar (ptychoflow.json) read on its own, without
// TensorFlow.js: where the checkpoint is (or the one a save interrupted
// mid-swap left), and how its training data were normalised. `normalize`
// reads it this way, so `stages` and `validate` never load tfjs.
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { DataError, FormatError } from '../errors.js';

/** The directory to read: `dir`, or the previous checkpoint left by a save interrupted mid-swap. */
export async function resolveDir(dir: string): Promise<string> {
  if (existsSync(path.join(dir, 'ptychoflow.json'))) return dir;
  const parent = path.dirname(path.resolve(dir));
  const base = path.basename(path.resolve(dir));
  const olds = existsSync(parent) ? (await readdir(parent)).filter((f) => f.startsWith(`${base}.old-`)) : [];
  const found = olds.map((f) => path.join(parent, f)).find((d) => existsSync(path.join(d, 'ptychoflow.json')));
  if (found !== undefined) return found;
  throw new DataError('NO_CHECKPOINT', `no checkpoint in ${dir} (ptychoflow.json missing)`, {
    file: dir,
    hint: 'train first, or point checkpoint at a train output directory',
  });
}

export async function readJson(file: string): Promise<Record<string, unknown>> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as Record<string, unknown>;
  } catch (e) {
    throw new FormatError('CHECKPOINT_JSON', `cannot read checkpoint file: ${(e as Error).message}`, { file, cause: e });
  }
}

export const modeOf = (side: Record<string, unknown>): 'all' | 'scan' => (side.normalization_mode === 'scan' ? 'scan' : 'all');

/** How a checkpoint's training data were normalised, from its sidecar alone (no weights loaded). */
export async function readNormalization(dir: string): Promise<{ factor: number; mode: 'all' | 'scan' }> {
  const root = await resolveDir(dir);
  const side = await readJson(path.join(root, 'ptychoflow.json'));
  const factor = Number(side.normalization);
  if (!(factor > 0))
    throw new FormatError('CHECKPOINT_JSON', `normalization is ${String(side.normalization)}`, {
      file: path.join(root, 'ptychoflow.json'),
      key: 'normalization',
      hint: 'retrain, or give normalize a factor',
    });
  return { factor, mode: modeOf(side) };
}

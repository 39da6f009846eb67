// A probe read from a file, for sources that take a probe other than the one
// the scan came with (e.g. one refined by another reconstruction): a .npy, an
// .npz holding `probeGuess` (or `probe`), or `FILE.npz:KEY` for any other key.
// Paths are resolved against the pipeline file's directory.
import path from 'node:path';
import { DataError, OptionsError } from '../errors.js';
import { probeFromArray } from '../physics/probegen.js';
import type { Complex2D } from '../records/index.js';
import { openNpz, readNpyFile } from './npz.js';

/** Keys tried, in order, in an .npz named without a key. */
const PROBE_KEYS = ['probeGuess', 'probe'];

/** Splits `FILE.npz:KEY` into file and key (no key: undefined). */
export function parseProbeSpec(spec: string): { file: string; key: string | undefined } {
  const m = /^(.*\.npz):([A-Za-z_][\w.-]*)$/i.exec(spec);
  return m === null ? { file: spec, key: undefined } : { file: m[1]!, key: m[2]! };
}

/**
 * Loads the probe `spec` names, resolved against `baseDir`. Errors are
 * typed and name the stage, the file and the option key (`optionKey`).
 */
export async function loadProbeFile(spec: string, baseDir: string, stage: string, optionKey = 'probe'): Promise<{ probe: Complex2D; origin: string }> {
  const { file: rel, key } = parseProbeSpec(spec);
  const file = path.resolve(baseDir, rel);
  try {
    if (file.toLowerCase().endsWith('.npz')) {
      const npz = await openNpz(file);
      try {
        const entries = npz.entries();
        const pick = key ?? PROBE_KEYS.find((k) => entries.includes(k));
        if (pick === undefined || !entries.includes(pick)) {
          throw new DataError('MISSING_KEY', `no ${key ?? PROBE_KEYS.join(' or ')} array in the archive (it holds ${entries.join(', ')})`, {
            stage,
            file,
            key: key ?? PROBE_KEYS[0]!,
            hint: `name the array as ${path.basename(rel)}:KEY`,
          });
        }
        return { probe: probeFromArray(await npz.readArray(pick), `${file} [${pick}]`), origin: `${file}:${pick}` };
      } finally {
        await npz.close();
      }
    }
    return { probe: probeFromArray(await readNpyFile(file), file), origin: file };
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new OptionsError('FILE_NOT_FOUND', 'probe file not found', { stage, file, key: optionKey, hint: 'the path is relative to the pipeline file' });
    }
    throw e;
  }
}

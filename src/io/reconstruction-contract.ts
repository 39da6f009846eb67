// Recognising ptychoflow's own reconstruction NPZ (what infer, refine and
// epie write: object, amplitude, phase, probe, origin) so that `inspect`
// checks it against its own layout instead of listing the scan arrays it
// was never meant to hold.
import type { NpyHeader } from './npy.js';

const complex = (h: NpyHeader | undefined): boolean => h !== undefined && /^[<>|]?c(8|16)$/.test(h.descr);

/** Whether the arrays are those of a reconstruction NPZ: a complex object, a complex probe and an origin. */
export function isReconstructionNpz(headers: ReadonlyMap<string, NpyHeader>): boolean {
  return complex(headers.get('object')) && headers.has('probe') && headers.has('origin') && !headers.has('diffraction');
}

/** What keeps a reconstruction NPZ from being read back (by evaluate, refine, epie or write-npz); empty when nothing. */
export function checkReconstructionNpz(headers: ReadonlyMap<string, NpyHeader>): string[] {
  const problems: string[] = [];
  const object = headers.get('object')!,
    probe = headers.get('probe')!,
    origin = headers.get('origin')!;
  if (object.shape.length !== 2) problems.push(`[object] expected a 2-D complex array, got shape (${object.shape.join(', ')})`);
  if (!complex(probe) || probe.shape.length !== 2 || probe.shape[0] !== probe.shape[1])
    problems.push(`[probe] expected a square 2-D complex array, got ${probe.descr} (${probe.shape.join(', ')})`);
  if (origin.shape.length !== 1 || origin.shape[0] !== 2)
    problems.push(`[origin] expected 2 values (x, y of the canvas's first pixel), got shape (${origin.shape.join(', ')})`);
  for (const key of ['amplitude', 'phase']) {
    const h = headers.get(key);
    if (h !== undefined && h.shape.join(',') !== object.shape.join(','))
      problems.push(`[${key}] shape (${h.shape.join(', ')}) differs from the object's (${object.shape.join(', ')})`);
  }
  return problems;
}

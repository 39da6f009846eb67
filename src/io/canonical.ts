// The canonical NPZ contract (SPEC §2) checked on NPY headers alone: which key
// holds the patterns, how to lay them out (legacy fixes), and what is wrong.
// Pure: both the npz source and `inspect` use it, so they agree on the rules.
import { dtypeInfo, type NpyHeader } from './npy.js';

export interface ContractProblem {
  key: string;
  message: string;
  hint: string;
}

/** How patterns sit in the diffraction array. */
export interface PatternLayout {
  key: 'diffraction' | 'diff3d';
  descr: string;
  /** Number of patterns and pattern side. */
  n: number;
  N: number;
  /**
   * 'frames': (n, N, N) C order (or (n, N, N, 1)), each pattern contiguous;
   * 'strided': legacy (N, N, n) or Fortran order, patterns are not contiguous.
   */
  storage: 'frames' | 'strided';
  /** (N, N, n) legacy order: transpose. */
  transposed: boolean;
  integer: boolean;
}

export interface ContractCheck {
  problems: ContractProblem[];
  /** Fixes applied, one line each (logged by the source). */
  notes: string[];
  layout?: PatternLayout;
}

type Found = Pick<ContractCheck, 'problems' | 'notes'>;

/**
 * The patterns' shape as stored: a trailing singleton axis squeezed, legacy
 * (N, N, n) recognised by the coordinate count; (n, h, w) in pattern order.
 */
function patternShape(
  key: string,
  diff: NpyHeader,
  nCoords: number | undefined,
  notes: string[],
): { rank: number; transposed: boolean; nhw: (number | undefined)[] } {
  let shape = [...diff.shape];
  if (shape.length === 4 && shape[3] === 1) {
    shape = shape.slice(0, 3);
    notes.push(`${key} of shape (${diff.shape.join(', ')}) squeezed to (${shape.join(', ')})`);
  }
  const transposed = shape.length === 3 && nCoords !== undefined && shape[2] === nCoords && shape[0] !== nCoords && shape[0] === shape[1];
  if (transposed) notes.push(`${key} in legacy (N, N, n) layout (${shape.join(', ')}): transposed to (n, N, N)`);
  return { rank: shape.length, transposed, nhw: transposed ? [shape[2], shape[0], shape[1]] : [shape[0], shape[1], shape[2]] };
}

/** The patterns' layout from the diffraction header; undefined (with a problem) when they are not real, 3-D and square. */
function patternLayout(key: PatternLayout['key'], diff: NpyHeader, nCoords: number | undefined, found: Found): PatternLayout | undefined {
  const { problems, notes } = found;
  const info = dtypeInfo(diff.descr);
  const { rank, transposed, nhw } = patternShape(key, diff, nCoords, notes);
  const [n, h, w] = nhw;
  if (info.complex || info.kind === 'b') {
    problems.push({ key, message: `patterns must be real amplitudes, got dtype ${diff.descr}`, hint: 'store |ψ| as float32' });
    return undefined;
  }
  if (rank !== 3 || n === undefined || h === undefined || w === undefined) {
    problems.push({ key, message: `patterns must have shape (n, N, N), got (${diff.shape.join(', ')})`, hint: 'stack the patterns along the first axis' });
    return undefined;
  }
  if (h !== w) {
    problems.push({ key, message: `patterns must be square, got ${h}×${w}`, hint: 'crop or pad the patterns to N×N' });
    return undefined;
  }
  if (info.kind !== 'f') notes.push(`${key} holds integer data (${diff.descr}): converted to float32`);
  else if (info.dtype !== 'f4') notes.push(`${key} dtype ${diff.descr} converted to float32`);
  if (diff.fortranOrder && !transposed) notes.push(`${key} is in Fortran order: patterns are gathered from strided storage`);
  return { key, descr: diff.descr, n, N: h, storage: transposed || diff.fortranOrder ? 'strided' : 'frames', transposed, integer: info.kind !== 'f' };
}

/** Arrays whose size follows from the patterns: one coordinate and one optional per-pattern value each, an N×N probe. */
function checkAgainstLayout(headers: ReadonlyMap<string, NpyHeader>, layout: PatternLayout, problems: ContractProblem[]): void {
  const { n, N } = layout;
  for (const k of ['xcoords', 'ycoords'] as const) {
    const c = headers.get(k);
    if (c !== undefined && c.shape.length === 1 && c.shape[0] !== n)
      problems.push({ key: k, message: `${k} has ${c.shape[0]!} entries but there are ${n} patterns`, hint: 'give exactly one coordinate per pattern' });
  }
  const probe = headers.get('probeGuess');
  if (probe !== undefined && (probe.shape.length !== 2 || probe.shape[0] !== N || probe.shape[1] !== N)) {
    problems.push({
      key: 'probeGuess',
      message: `probeGuess must have shape (${N}, ${N}), got (${probe.shape.join(', ')})`,
      hint: 'the probe is sampled like the patterns',
    });
  }
}

/** The optional arrays: a 2-D object guess, per-pattern start coordinates and scan index. */
function checkOptional(headers: ReadonlyMap<string, NpyHeader>, layout: PatternLayout | undefined, problems: ContractProblem[]): void {
  const obj = headers.get('objectGuess');
  if (obj !== undefined && obj.shape.length !== 2)
    problems.push({
      key: 'objectGuess',
      message: `objectGuess must be 2-D, got shape (${obj.shape.join(', ')})`,
      hint: 'save the object as a complex (H, W) array',
    });
  if (layout === undefined) return;
  for (const k of ['xcoords_start', 'ycoords_start', 'scan_index']) {
    const h = headers.get(k);
    if (h !== undefined && (h.shape.length !== 1 || h.shape[0] !== layout.n))
      problems.push({ key: k, message: `${k} must have shape (${layout.n},), got (${h.shape.join(', ')})`, hint: 'one value per pattern' });
  }
}

/** Checks the canonical contract on the headers of an NPZ's arrays. */
export function checkCanonical(headers: ReadonlyMap<string, NpyHeader>): ContractCheck {
  const found: Found = { problems: [], notes: [] };
  const { problems, notes } = found;
  const need = (key: string, hint: string): NpyHeader | undefined => {
    const h = headers.get(key);
    if (h === undefined) problems.push({ key, message: `required array '${key}' is missing`, hint });
    return h;
  };
  const key = headers.has('diffraction') ? 'diffraction' : headers.has('diff3d') ? 'diff3d' : undefined;
  if (key === 'diff3d') notes.push("patterns read from the legacy key 'diff3d' (canonical: 'diffraction')");
  if (key === undefined) need('diffraction', "save the amplitude patterns as 'diffraction' with shape (n, N, N)");
  const xc = need('xcoords', 'save probe-window centres (columns, object pixels) as xcoords, shape (n,)');
  const yc = need('ycoords', 'save probe-window centres (rows, object pixels) as ycoords, shape (n,)');
  need('probeGuess', 'save the probe as a complex (N, N) array probeGuess');
  for (const [k, h] of [
    ['xcoords', xc],
    ['ycoords', yc],
  ] as const) {
    if (h !== undefined && h.shape.length !== 1)
      problems.push({ key: k, message: `${k} must be 1-D, got shape (${h.shape.join(', ')})`, hint: 'save one coordinate per pattern' });
  }
  const nCoords = xc?.shape.length === 1 ? xc.shape[0] : undefined;
  const layout = key === undefined ? undefined : patternLayout(key, headers.get(key)!, nCoords, found);
  if (layout !== undefined) checkAgainstLayout(headers, layout, problems);
  checkOptional(headers, layout, problems);
  return { problems, notes, ...(layout === undefined || problems.length > 0 ? {} : { layout }) };
}

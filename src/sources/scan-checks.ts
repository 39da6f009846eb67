// Value and geometry checks every file source applies to the scan it read,
// before any stage sees it: a NaN position or a zero probe would otherwise go
// through grouping and training and come out as a silent nonsense result.
// Each refusal is typed and names the file and key.
import { DataError, PtychoflowError } from '../errors.js';
import { confinedPath } from '../io/paths.js';
import type { ScanMeta, StageContext } from '../pipeline/types.js';

/** Positions further than this from the origin (object pixels) are taken as corrupt: no object is that large. */
export const MAX_POSITION = 2 ** 24;

export interface ScanKeys {
  /** Keys as the file names them (for the messages). */
  x?: string;
  y?: string;
  probe?: string;
}

/** Throws a DataError naming `file` and the key unless the scan's geometry and probe are usable. */
export function checkScan(scan: ScanMeta, o: { stage?: string; file: string; keys?: ScanKeys }): void {
  const at = (key: string, hint: string): { file: string; key: string; hint: string; stage?: string } => ({
    file: o.file,
    key,
    hint,
    ...(o.stage === undefined ? {} : { stage: o.stage }),
  });
  const k = { x: 'xcoords', y: 'ycoords', probe: 'probeGuess', ...o.keys };
  if (!Number.isInteger(scan.N) || scan.N < 2)
    throw new DataError('BAD_GEOMETRY', `patterns are ${scan.N}×${scan.N}; at least 2×2 is needed`, at('diffraction', 'store (n, N, N) patterns with N ≥ 2'));
  if (scan.count < 1) throw new DataError('NO_PATTERNS', 'the scan holds no patterns', at('diffraction', 'a scan needs at least one pattern'));
  for (const [key, v] of [
    [k.x, scan.xcoords],
    [k.y, scan.ycoords],
  ] as const) {
    if (v.length < scan.count) throw new DataError('BAD_GEOMETRY', `${v.length} positions for ${scan.count} patterns`, at(key, 'one position per pattern'));
    for (let i = 0; i < scan.count; i++) {
      const p = v[i]!;
      if (!Number.isFinite(p))
        throw new DataError('BAD_POSITION', `position ${i} is ${p}`, at(key, 'positions must be finite numbers (object pixels); fix or drop that pattern'));
      if (Math.abs(p) > MAX_POSITION)
        throw new DataError(
          'BAD_POSITION',
          `position ${i} is ${p}, beyond ±${MAX_POSITION} pixels`,
          at(key, 'positions are in object pixels; check the units (metres need a pixel size)'),
        );
    }
  }
  const { re, im } = scan.probe;
  let energy = 0;
  for (let i = 0; i < re.length; i++) {
    const a = re[i]!,
      b = im[i]!;
    if (!Number.isFinite(a) || !Number.isFinite(b))
      throw new DataError('BAD_PROBE', `the probe holds ${Number.isFinite(a) ? b : a} at pixel ${i}`, at(k.probe, 'the probe must be finite'));
    energy += a * a + b * b;
  }
  if (!(energy > 0)) throw new DataError('BAD_PROBE', 'the probe is zero everywhere', at(k.probe, 'give a probe estimate with some amplitude'));
}

/** Throws unless `v` is a finite number > 0 (wavelength, distance, pixel size). */
export function checkPositive(v: number, o: { stage?: string; file: string; key: string; what: string }): number {
  if (!(Number.isFinite(v) && v > 0)) {
    throw new DataError('BAD_VALUE', `${o.what} is ${v}; it must be a positive number`, {
      file: o.file,
      key: o.key,
      ...(o.stage === undefined ? {} : { stage: o.stage }),
      hint: 'fix the file, or give the value as an option',
    });
  }
  return v;
}

/** A path named inside a manifest, resolved inside the manifest's directory unless the pipeline allows leaving it. */
export function manifestPath(
  dir: string,
  name: string,
  ctx: { id: string; allow?: StageContext['allow'] | undefined },
  where: { file: string; key: string },
): string {
  return confinedPath(dir, name, {
    what: 'manifest path',
    relax: 'allow.paths_outside',
    allowOutside: ctx.allow?.paths_outside === true,
    details: { stage: ctx.id, ...where },
  });
}

/** An error's message without the "file [key]: " prefix a typed error adds (for messages that name the file already). */
export function reason(e: unknown): string {
  if ((e as NodeJS.ErrnoException).code === 'ENOENT') return 'file not found';
  if (!(e instanceof PtychoflowError)) return e instanceof Error ? e.message : String(e);
  const prefix = `${e.file ?? ''}${e.key === undefined ? '' : ` [${e.key}]`}: `;
  return e.file !== undefined && e.message.startsWith(prefix) ? e.message.slice(prefix.length) : e.message;
}

/** checkScan, closing `store` when the scan is refused (the source's create then throws with nothing left open). */
export async function checkScanOrClose(scan: ScanMeta, o: Parameters<typeof checkScan>[1], store: { close(): Promise<void> }): Promise<void> {
  try {
    checkScan(scan, o);
  } catch (e) {
    await store.close();
    throw e;
  }
}

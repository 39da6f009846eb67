// Where the `epie` sink starts: the object (flat, or the NPZ an infer/refine/
// epie sink wrote, placed by its origin) and the probe modes (the scan's
// probe, the starting NPZ's probe, or a file that may carry several modes,
// e.g. tike's `probeModes`), grown or cut to `probe_modes` and orthogonalised.
import path from 'node:path';
import { DataError, OptionsError } from '../../errors.js';
import { openNpz, readNpyFile } from '../../io/npz.js';
import { parseProbeSpec } from '../../io/probe-file.js';
import type { Canvas } from '../../physics/epie.js';
import { growModes, type Mode } from '../../physics/modes.js';
import type { ScanMeta, StageContext } from '../../pipeline/types.js';
import { placementFor, readComplex, type CanvasPlacement } from './reconstruction.js';
import { outPath } from './util.js';

export interface EngineStart {
  canvas: Canvas;
  placement: CanvasPlacement;
  modes: Mode[];
  /** What the object came from ('flat' or a file) and the probe. */
  from: string;
  probeFrom: string;
}

/** Probe modes from a decoded array: (N, N), (M, N, N), leading axes of length 1 dropped. */
export function modesFromArray(a: { shape: readonly number[]; descr: string; data: ArrayLike<number | bigint> }, source: string, stage: string): Mode[] {
  const shape = [...a.shape];
  while (shape.length > 3 && shape[0] === 1) shape.shift();
  if (shape.length === 2) shape.unshift(1);
  const [M, h, w] = shape as [number, number, number];
  if (shape.length !== 3 || h !== w || h < 1 || M < 1) {
    throw new DataError('PROBE_SHAPE', `probe modes must be an (N, N) or (modes, N, N) array, got shape (${a.shape.join(', ')})`, {
      stage,
      file: source,
      hint: 'save the modes as a complex (M, N, N) array',
    });
  }
  const complex = /^[<>|=]?c/.test(a.descr),
    n = h * w;
  return Array.from({ length: M }, (_, m) => {
    const re = new Float64Array(n),
      im = new Float64Array(n);
    for (let t = 0; t < n; t++) {
      const k = m * n + t;
      re[t] = Number(complex ? a.data[2 * k]! : a.data[k]!);
      im[t] = complex ? Number(a.data[2 * k + 1]!) : 0;
      if (!Number.isFinite(re[t]!) || !Number.isFinite(im[t]!))
        throw new DataError('PROBE_VALUES', `probe mode ${m} value ${t} is not finite`, { stage, file: source });
    }
    return { re, im };
  });
}

/** Reads FILE.npy, FILE.npz (probeModes, probeGuess or probe) or FILE.npz:KEY, relative to the pipeline file. */
async function readModes(spec: string, ctx: StageContext): Promise<{ modes: Mode[]; origin: string }> {
  const { file: rel, key } = parseProbeSpec(spec);
  const file = path.resolve(ctx.baseDir, rel);
  try {
    if (!file.toLowerCase().endsWith('.npz')) return { modes: modesFromArray(await readNpyFile(file), file, ctx.id), origin: file };
    const npz = await openNpz(file);
    try {
      const names = npz.entries(),
        pick = key ?? ['probeModes', 'probeGuess', 'probe'].find((k) => names.includes(k));
      if (pick === undefined || !names.includes(pick)) {
        throw new DataError('MISSING_KEY', `no ${key ?? 'probeModes, probeGuess or probe'} array (it holds ${names.join(', ')})`, {
          stage: ctx.id,
          file,
          key: 'probe',
          hint: `name the array as ${path.basename(rel)}:KEY`,
        });
      }
      return { modes: modesFromArray(await npz.readArray(pick), `${file} [${pick}]`, ctx.id), origin: `${file}:${pick}` };
    } finally {
      await npz.close();
    }
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT')
      throw new OptionsError('FILE_NOT_FOUND', 'probe file not found', {
        stage: ctx.id,
        file,
        key: 'probe',
        hint: 'the path is relative to the pipeline file',
      });
    throw e;
  }
}

const toModes = (p: { re: ArrayLike<number>; im: ArrayLike<number> }): Mode[] => [{ re: Float64Array.from(p.re), im: Float64Array.from(p.im) }];

export async function engineStart(
  o: { reconstruction?: string | undefined; probe?: string | undefined; probe_modes?: number | undefined },
  scan: ScanMeta,
  ctx: StageContext,
): Promise<EngineStart> {
  let canvas: Canvas, placement: CanvasPlacement, from: string, modes: Mode[], probeFrom: string;
  if (o.reconstruction === undefined) {
    placement = placementFor(scan);
    const n = placement.width * placement.height;
    canvas = { width: placement.width, height: placement.height, re: new Float64Array(n).fill(1), im: new Float64Array(n) };
    from = 'flat';
    modes = toModes(scan.probe);
    probeFrom = scan.origin;
  } else {
    const file = outPath(ctx, o.reconstruction);
    const object = await readComplex(file, 'object', [], ctx.id);
    if (object.origin === undefined)
      throw new DataError('MISSING_KEY', `no 'origin' array: the canvas cannot be placed on the scan positions`, {
        stage: ctx.id,
        file,
        hint: 'start from an NPZ written by infer, refine or epie',
      });
    placement = { originX: object.origin[0], originY: object.origin[1], width: object.width, height: object.height };
    canvas = { width: object.width, height: object.height, re: Float64Array.from(object.re), im: Float64Array.from(object.im) };
    from = file;
    modes = toModes(await readComplex(file, 'probe', [], ctx.id));
    probeFrom = file;
  }
  if (o.probe !== undefined) ({ modes, origin: probeFrom } = await readModes(o.probe, ctx));
  const N = scan.N,
    side = Math.round(Math.sqrt(modes[0]!.re.length));
  if (side !== N) {
    throw new DataError('SHAPE_MISMATCH', `stage '${ctx.id}': the probe is ${side}×${side} but the patterns are ${N}×${N}`, {
      stage: ctx.id,
      file: probeFrom,
      key: 'probe',
      hint: 'give a probe of the pattern size (the one this scan was measured with)',
    });
  }
  return { canvas, placement, modes: growModes(modes, o.probe_modes ?? modes.length, N), from, probeFrom };
}

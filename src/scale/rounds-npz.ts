// The files a rounds job exchanges through the object store, as NPZ (claim
// checks; each well under the 1 MB payload even for large canvases, since
// the object store chunks them): a tile's round-0 contribution (the sums of
// refine's scale fit, its lit and covered pixels, the start), a tile's pass
// contribution (gradient sums in float64, so adding tiles loses nothing), and
// the state of a pass (object and probe, float32: what every tile's
// variables hold, as in the single-process run).
import { FormatError } from '../errors.js';
import { openNpz } from '../io/npz.js';
import { writeNpz } from '../io/npz-writer.js';
import type { Complex2D } from '../pipeline/types.js';
import type { CanvasPlacement } from '../sinks/shared/reconstruction.js';
import type { PassGradient } from '../sinks/shared/refine-pass.js';

export interface FitContribution {
  /** Σ A·X, Σ A², Σ X² and the number of values, at the start object. */
  sums: [number, number, number, number];
  lit: Uint8Array;
  centre: Uint8Array;
  start: Complex2D;
  probe: Complex2D;
  placement: CanvasPlacement;
}

export interface RoundState {
  object: Complex2D;
  probe: Complex2D;
  placement: CanvasPlacement;
}

type Arrays = Map<string, { data: ArrayLike<number>; shape: number[] }>;

async function readAll(file: string, required: readonly string[]): Promise<Arrays> {
  const npz = await openNpz(file);
  try {
    const out: Arrays = new Map();
    for (const name of npz.entries()) {
      const a = await npz.readArray(name);
      out.set(name.replace(/\.npy$/, ''), { data: a.data as ArrayLike<number>, shape: [...a.shape] });
    }
    for (const r of required)
      if (!out.has(r))
        throw new FormatError('BAD_PARTIAL', `round file has no '${r}'`, {
          file,
          hint: 'it was not written by a ptychoflow worker of this version; resubmit the job',
        });
    return out;
  } finally {
    await npz.close();
  }
}

const f4 = (shape: number[], data: Float32Array): { shape: number[]; data: Float32Array; descr: string } => ({ shape, data, descr: '<f4' });
const f8 = (shape: number[], data: Float64Array): { shape: number[]; data: Float64Array; descr: string } => ({ shape, data, descr: '<f8' });
const placementArray = (p: CanvasPlacement): Float64Array => Float64Array.of(p.originX, p.originY, p.width, p.height);

function placementOf(a: Arrays): CanvasPlacement {
  const p = a.get('placement')!.data;
  return { originX: p[0]!, originY: p[1]!, width: p[2]!, height: p[3]! };
}

function complexOf(a: Arrays, prefix: string): Complex2D {
  const re = a.get(`${prefix}_re`)!,
    im = a.get(`${prefix}_im`)!;
  return { height: re.shape[0]!, width: re.shape[1]!, re: Float32Array.from(re.data), im: Float32Array.from(im.data) };
}

export async function writeFit(file: string, f: FitContribution): Promise<void> {
  const { height: H, width: W } = f.placement,
    N = f.probe.height;
  await writeNpz(file, {
    sums: f8([4], Float64Array.from(f.sums)),
    lit: { shape: [H, W], data: f.lit, descr: '|u1' },
    centre: { shape: [H, W], data: f.centre, descr: '|u1' },
    start_re: f4([H, W], f.start.re),
    start_im: f4([H, W], f.start.im),
    probe_re: f4([N, N], f.probe.re),
    probe_im: f4([N, N], f.probe.im),
    placement: f8([4], placementArray(f.placement)),
  });
}

export async function readFit(file: string): Promise<FitContribution> {
  const a = await readAll(file, ['sums', 'lit', 'centre', 'start_re', 'start_im', 'probe_re', 'probe_im', 'placement']);
  const s = a.get('sums')!.data;
  return {
    sums: [s[0]!, s[1]!, s[2]!, s[3]!],
    lit: Uint8Array.from(a.get('lit')!.data),
    centre: Uint8Array.from(a.get('centre')!.data),
    start: complexOf(a, 'start'),
    probe: complexOf(a, 'probe'),
    placement: placementOf(a),
  };
}

export async function writeGradient(file: string, g: PassGradient): Promise<void> {
  const arrays: Parameters<typeof writeNpz>[1] = {
    obj_re: f8([g.objRe.length], g.objRe),
    obj_im: f8([g.objIm.length], g.objIm),
    loss: f8([2], Float64Array.of(g.loss, g.values)),
  };
  if (g.probeRe !== undefined && g.probeIm !== undefined)
    Object.assign(arrays, { probe_re: f8([g.probeRe.length], g.probeRe), probe_im: f8([g.probeIm.length], g.probeIm) });
  await writeNpz(file, arrays);
}

export async function readGradient(file: string): Promise<PassGradient> {
  const a = await readAll(file, ['obj_re', 'obj_im', 'loss']);
  const loss = a.get('loss')!.data;
  const g: PassGradient = {
    objRe: Float64Array.from(a.get('obj_re')!.data),
    objIm: Float64Array.from(a.get('obj_im')!.data),
    loss: loss[0]!,
    values: loss[1]!,
  };
  if (a.has('probe_re') && a.has('probe_im')) {
    g.probeRe = Float64Array.from(a.get('probe_re')!.data);
    g.probeIm = Float64Array.from(a.get('probe_im')!.data);
  }
  return g;
}

export async function writeState(file: string, s: RoundState): Promise<void> {
  const { height: H, width: W } = s.object,
    N = s.probe.height;
  await writeNpz(file, {
    obj_re: f4([H, W], s.object.re),
    obj_im: f4([H, W], s.object.im),
    probe_re: f4([N, N], s.probe.re),
    probe_im: f4([N, N], s.probe.im),
    placement: f8([4], placementArray(s.placement)),
  });
}

export async function readState(file: string): Promise<RoundState> {
  const a = await readAll(file, ['obj_re', 'obj_im', 'probe_re', 'probe_im', 'placement']);
  return { object: complexOf(a, 'obj'), probe: complexOf(a, 'probe'), placement: placementOf(a) };
}

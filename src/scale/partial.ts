// A tile shard's result in additive form, one per reconstruction sink:
// the weighted object sum w·o, the weight w (the tile's core indicator),
// the pixels a patch covered within the core, the probe and the canvas
// origin. Stored as an NPZ (the claim check the object store holds), read
// back by the merge. Sums and weights, not divided objects, so a merge is a
// plain addition whatever the weights are.
import { FormatError } from '../errors.js';
import { openNpz } from '../io/npz.js';
import { writeNpz } from '../io/npz-writer.js';
import type { Complex2D, Reconstruction } from '../pipeline/types.js';
import { interleave } from '../sinks/shared/reconstruction.js';

export interface Partial {
  height: number;
  width: number;
  origin: [number, number];
  /** Σ w·o, real and imaginary parts. */
  sumRe: Float32Array;
  sumIm: Float32Array;
  weight: Float32Array;
  covered: Uint8Array;
  probe: Complex2D;
}

/** The partial of a reconstruction under merge weights `w` (canvas-sized). */
export function partialOf(r: Reconstruction, w: Float32Array): Partial {
  const { height, width, re, im } = r.object;
  const n = height * width,
    sumRe = new Float32Array(n),
    sumIm = new Float32Array(n),
    covered = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    sumRe[i] = w[i]! * re[i]!;
    sumIm[i] = w[i]! * im[i]!;
    covered[i] = w[i]! > 0 && r.weights[i] !== 0 ? 1 : 0;
  }
  return { height, width, origin: [r.origin[0], r.origin[1]], sumRe, sumIm, weight: w, covered, probe: r.probe };
}

export async function writePartial(file: string, p: Partial): Promise<void> {
  const shape = [p.height, p.width];
  await writeNpz(file, {
    sum_re: { shape, data: p.sumRe, descr: '<f4' },
    sum_im: { shape, data: p.sumIm, descr: '<f4' },
    weight: { shape, data: p.weight, descr: '<f4' },
    covered: { shape, data: p.covered, descr: '|u1' },
    probe: { shape: [p.probe.height, p.probe.width], data: interleave(p.probe), descr: '<c8' },
    origin: { shape: [2], data: Float64Array.of(p.origin[0], p.origin[1]), descr: '<f8' },
  });
}

export async function readPartial(file: string): Promise<Partial> {
  const npz = await openNpz(file);
  try {
    const get = async (name: string, n?: number): Promise<{ data: ArrayLike<number>; shape: number[] }> => {
      if (!npz.entries().includes(name))
        throw new FormatError('BAD_PARTIAL', `shard result has no '${name}'`, {
          file,
          hint: 'the result was not written by a ptychoflow worker of this version; resubmit the job',
        });
      const a = await npz.readArray(name);
      if (n !== undefined && a.data.length !== n)
        throw new FormatError('BAD_PARTIAL', `shard result '${name}' has ${a.data.length} values, expected ${n}`, { file });
      return { data: a.data as ArrayLike<number>, shape: [...a.shape] };
    };
    const w = await get('weight');
    const [height, width] = w.shape as [number, number],
      n = height * width;
    const probeRaw = await get('probe');
    const [ph, pw] = probeRaw.shape as [number, number];
    const pre = new Float32Array(ph * pw),
      pim = new Float32Array(ph * pw);
    for (let i = 0; i < ph * pw; i++) {
      pre[i] = probeRaw.data[2 * i]!;
      pim[i] = probeRaw.data[2 * i + 1]!;
    }
    const origin = await get('origin', 2);
    return {
      height,
      width,
      origin: [origin.data[0]!, origin.data[1]!],
      sumRe: Float32Array.from((await get('sum_re', n)).data),
      sumIm: Float32Array.from((await get('sum_im', n)).data),
      weight: Float32Array.from(w.data),
      covered: Uint8Array.from((await get('covered', n)).data),
      probe: { height: ph, width: pw, re: pre, im: pim },
    };
  } finally {
    await npz.close();
  }
}

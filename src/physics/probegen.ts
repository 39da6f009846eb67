// Probes for simulation (SPEC §8). The default is a defocused disk: a circular
// aperture with a soft (tanh) edge and a quadratic phase across it, the
// geometric picture of a beam a little out of focus. The curvature spreads the
// far field over many detector pixels (a flat disk would put nearly all counts
// in the central Airy spot), which is what real defocused ptychography probes
// are chosen for. Its radius (N/5 by default) keeps almost all of |P|² inside
// the central N/2 square and the model's N/4 disk mask.
// Probes read from files arrive here as decoded arrays (the simulate source
// does the reading), so this module stays free of I/O.
import { DataError, OptionsError } from '../errors.js';
import type { Complex2D } from '../records/index.js';

export interface DefaultProbeOptions {
  /** Aperture radius in pixels (where |P| falls to 1/2); default N/5. */
  radius?: number;
  /** Edge width in pixels (tanh scale); default max(0.5, N/64). */
  edge?: number;
  /** Phase at the aperture radius relative to the centre, radians (defocus); default 2π. */
  rimPhase?: number;
}

/** The default defocused-disk probe, N×N, peak amplitude 1, centred at (N/2 − 0.5, N/2 − 0.5). */
export function defaultProbe(N: number, opts: DefaultProbeOptions = {}): Complex2D {
  if (!Number.isInteger(N) || N < 4) throw new OptionsError('PROBE_SIZE', `defaultProbe: N must be an integer ≥ 4, got ${N}`);
  const radius = opts.radius ?? N / 5;
  const edge = opts.edge ?? Math.max(0.5, N / 64);
  const rimPhase = opts.rimPhase ?? 2 * Math.PI;
  if (!(radius > 0 && radius <= N / 2)) throw new OptionsError('PROBE_OPTION', `defaultProbe: radius must lie in (0, N/2], got ${radius}`);
  if (!(edge > 0)) throw new OptionsError('PROBE_OPTION', `defaultProbe: edge must be > 0, got ${edge}`);
  const c = N / 2 - 0.5;
  const re = new Float32Array(N * N),
    im = new Float32Array(N * N);
  for (let y = 0; y < N; y++) {
    for (let x = 0; x < N; x++) {
      const r = Math.hypot(x - c, y - c);
      const amp = 0.5 * (1 - Math.tanh((r - radius) / edge));
      const ph = rimPhase * (r / radius) ** 2;
      re[y * N + x] = amp * Math.cos(ph);
      im[y * N + x] = amp * Math.sin(ph);
    }
  }
  return { width: N, height: N, re, im };
}

/** Fraction of Σ|P|² within `radius` of the window centre (N/2 − 0.5, N/2 − 0.5). */
export function powerWithin(probe: Complex2D, radius: number): number {
  const N = probe.width,
    c = N / 2 - 0.5;
  let inside = 0,
    total = 0;
  for (let y = 0; y < probe.height; y++) {
    for (let x = 0; x < N; x++) {
      const i = y * N + x,
        p = probe.re[i]! ** 2 + probe.im[i]! ** 2;
      total += p;
      if (Math.hypot(x - c, y - (probe.height / 2 - 0.5)) <= radius) inside += p;
    }
  }
  return total > 0 ? inside / total : 0;
}

/** A decoded array as the io layer returns it (complex interleaved re, im). */
export interface ArrayLikeNpy {
  readonly shape: readonly number[];
  readonly descr: string;
  readonly data: ArrayLike<number | bigint>;
}

/**
 * A probe from a decoded .npy/.npz array: (N, N), or (modes, N, N) / (1, N, N)
 * of which the first mode is taken. Real dtypes give a real probe.
 * `source` names the file (and key) in errors.
 */
export function probeFromArray(arr: ArrayLikeNpy, source: string): Complex2D {
  let shape = [...arr.shape];
  if (shape.length === 3) shape = shape.slice(1);
  const [h, w] = shape;
  if (shape.length !== 2 || h === undefined || w === undefined || h !== w || h < 1) {
    throw new DataError('PROBE_SHAPE', `a probe must be a square (N, N) array or (modes, N, N), got shape (${arr.shape.join(', ')})`, {
      file: source,
      hint: 'save the probe as a 2-D complex array',
    });
  }
  const complex = /^[<>|=]?c/.test(arr.descr);
  const n = h * w;
  if (arr.data.length < (complex ? 2 * n : n))
    throw new DataError('PROBE_SHAPE', `probe array holds ${arr.data.length} values, too few for shape (${arr.shape.join(', ')})`, { file: source });
  const re = new Float32Array(n),
    im = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    re[i] = Number(complex ? arr.data[2 * i]! : arr.data[i]!);
    im[i] = complex ? Number(arr.data[2 * i + 1]!) : 0;
    if (!Number.isFinite(re[i]!) || !Number.isFinite(im[i]!)) throw new DataError('PROBE_VALUES', `probe value ${i} is not finite`, { file: source });
  }
  return { width: w, height: h, re, im };
}

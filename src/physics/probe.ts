// Probe helpers on typed arrays (SPEC §3, §5): the disk mask, the reference's
// probe normalisation, and the probe's power support, which decides whether the
// object may live in the central N/2 square or needs the full N×N window.
import type { Complex2D } from '../records/index.js';
import { DataError, OptionsError } from '../errors.js';

/**
 * Hard disk mask, 1 where the distance to the grid centre (N/2 − 0.5, N/2 − 0.5)
 * is < radius (the reference's `r < N//4`), row-major N×N.
 */
export function diskMask(N: number, radius: number = N / 4): Float32Array {
  if (!Number.isInteger(N) || N <= 0) throw new OptionsError('PHYSICS_OPTION', `diskMask: N must be a positive integer, got ${N}`);
  const c = N / 2 - 0.5;
  const m = new Float32Array(N * N);
  for (let y = 0; y < N; y++) {
    for (let x = 0; x < N; x++) m[y * N + x] = Math.hypot(x - c, y - c) < radius ? 1 : 0;
  }
  return m;
}

function checkSquare(probe: Complex2D, fn: string): number {
  const N = probe.width;
  if (probe.height !== N || probe.re.length !== N * N || probe.im.length !== N * N) {
    throw new DataError(
      'PHYSICS_SHAPE',
      `${fn}: the probe must be square N×N with N² re and im values, got ${probe.height}×${probe.width} (${probe.re.length}/${probe.im.length} values)`,
    );
  }
  return N;
}

export interface NormalizeProbeOptions {
  /** Target: mean_{N×N}|M·P| = 1/probeScale after normalisation. */
  probeScale?: number;
  /** Measure |P| inside the disk mask of radius N/4 (true) or over the whole window. */
  mask?: boolean;
}

/**
 * Divides the probe by factor = probeScale · mean_{N×N}|M·P| so that the mean of
 * |M·P| over the whole window becomes 1/probeScale (the file's absolute scale is
 * discarded, as in the reference). Returns the new probe and the factor.
 */
export function normalizeProbe(probe: Complex2D, opts: NormalizeProbeOptions = {}): { probe: Complex2D; factor: number } {
  const { probeScale = 4, mask = true } = opts;
  const N = checkSquare(probe, 'normalizeProbe');
  if (!(probeScale > 0) || !Number.isFinite(probeScale))
    throw new OptionsError('PHYSICS_OPTION', `normalizeProbe: probeScale must be a positive number, got ${probeScale}`);
  const M = mask ? diskMask(N) : undefined;
  let sum = 0;
  for (let i = 0; i < N * N; i++) sum += (M === undefined ? 1 : M[i]!) * Math.hypot(probe.re[i]!, probe.im[i]!);
  const factor = (probeScale * sum) / (N * N);
  if (!(factor > 0) || !Number.isFinite(factor)) {
    throw new DataError('PHYSICS_VALUE', `normalizeProbe: mean |probe|${mask ? ' inside the disk mask' : ''} is ${sum / (N * N)}; cannot normalise`, {
      hint: mask ? 'the probe is zero (or NaN) in its central disk; check probeGuess or set probe_mask: false' : 'check probeGuess',
    });
  }
  const re = new Float32Array(N * N);
  const im = new Float32Array(N * N);
  for (let i = 0; i < N * N; i++) {
    re[i] = probe.re[i]! / factor;
    im[i] = probe.im[i]! / factor;
  }
  return { probe: { height: N, width: N, re, im }, factor };
}

/**
 * Smallest centred square (rows and columns N/2 − r … N/2 + r − 1, half-width r in
 * pixels) holding ≥ `fraction` of Σ|P|². mode is 'center' when it fits in the
 * central N/2 square (r ≤ N/4, the reference's `pad_object` support), else 'full'.
 */
export function probeSupport(probe: Complex2D, fraction = 0.95): { radius: number; mode: 'center' | 'full'; enclosed: number } {
  const N = checkSquare(probe, 'probeSupport');
  if (!(fraction > 0 && fraction <= 1)) throw new OptionsError('PHYSICS_OPTION', `probeSupport: fraction must be in (0, 1], got ${fraction}`);
  const power = new Float64Array(N * N);
  let total = 0;
  for (let i = 0; i < N * N; i++) {
    power[i] = probe.re[i]! ** 2 + probe.im[i]! ** 2;
    total += power[i]!;
  }
  if (!(total > 0) || !Number.isFinite(total)) throw new DataError('PHYSICS_VALUE', `probeSupport: the probe has no finite power (Σ|P|² = ${total})`);
  const h = Math.floor(N / 2);
  const inside = (r: number): number => {
    let s = 0;
    for (let y = Math.max(0, h - r); y < Math.min(N, h + r); y++) {
      for (let x = Math.max(0, h - r); x < Math.min(N, h + r); x++) s += power[y * N + x]!;
    }
    return s / total;
  };
  let radius = Math.ceil(N / 2);
  for (let r = 1; r <= Math.ceil(N / 2); r++) {
    if (inside(r) >= fraction * (1 - 1e-12)) {
      radius = r;
      break;
    }
  }
  return { radius, mode: radius <= N / 4 ? 'center' : 'full', enclosed: inside(radius) };
}

// Mixed-state (incoherent) probe modes: orthogonalisation and growing extra
// modes from one. A partially coherent beam is a sum of mutually incoherent
// modes whose far-field intensities add; only their density matrix
// ρ = Σ_m P_m P_mᴴ is measurable, so any unitary mix of the modes fits the data
// equally. Orthogonalising fixes that freedom: with P the N²×M matrix of
// modes, the eigenvectors V of the M×M Gram matrix G = PᴴP give Q = P·V,
// mutually orthogonal, ordered by power, with the same ρ (QQᴴ = PVVᴴPᴴ).
// G is diagonalised by complex Jacobi rotations (M is small).
import { OptionsError } from '../errors.js';

/** One probe mode, N×N row-major, float64 parts (mutable: engines update it in place). */
export interface Mode {
  re: Float64Array;
  im: Float64Array;
}

/** Σ |P|² of a mode. */
export function modePower(m: Mode): number {
  let s = 0;
  for (let t = 0; t < m.re.length; t++) s += m.re[t]! * m.re[t]! + m.im[t]! * m.im[t]!;
  return s;
}

/** Eigen-decomposition of an M×M Hermitian matrix (row-major re/im): eigenvalues and column eigenvectors. */
export function hermitianEigen(gr: Float64Array, gi: Float64Array, M: number): { values: Float64Array; vr: Float64Array; vi: Float64Array } {
  const ar = Float64Array.from(gr),
    ai = Float64Array.from(gi);
  const vr = new Float64Array(M * M),
    vi = new Float64Array(M * M);
  for (let k = 0; k < M; k++) vr[k * M + k] = 1;
  let scale = 0;
  for (let k = 0; k < M; k++) scale = Math.max(scale, Math.abs(ar[k * M + k]!));
  for (let sweep = 0; sweep < 50; sweep++) {
    let off = 0;
    for (let p = 0; p < M; p++) for (let q = p + 1; q < M; q++) off += ar[p * M + q]! ** 2 + ai[p * M + q]! ** 2;
    if (off <= (1e-15 * scale) ** 2) break;
    for (let p = 0; p < M; p++) {
      for (let q = p + 1; q < M; q++) {
        const hr = ar[p * M + q]!,
          hi = ai[p * M + q]!,
          r = Math.hypot(hr, hi);
        if (r === 0) continue;
        // Columns p, q of the rotation: (c, e^{-iφ}s) and (−s, e^{-iφ}c), which turn
        // [[a, h], [h̄, b]] (h = r·e^{iφ}) into the real problem [[a, r], [r, b]].
        const phi = Math.atan2(hi, hr),
          theta = 0.5 * Math.atan2(2 * r, ar[p * M + p]! - ar[q * M + q]!);
        const c = Math.cos(theta),
          s = Math.sin(theta),
          er = Math.cos(phi),
          ei = -Math.sin(phi);
        // Column update A ← A·U, V ← V·U, then row update A ← Uᴴ·A.
        const cols = (xr: Float64Array, xi: Float64Array): void => {
          for (let k = 0; k < M; k++) {
            const pr = xr[k * M + p]!,
              pi = xi[k * M + p]!,
              qr = xr[k * M + q]!,
              qi = xi[k * M + q]!;
            // e^{-iφ}·x_q
            const tr = er * qr - ei * qi,
              ti = er * qi + ei * qr;
            xr[k * M + p] = c * pr + s * tr;
            xi[k * M + p] = c * pi + s * ti;
            xr[k * M + q] = -s * pr + c * tr;
            xi[k * M + q] = -s * pi + c * ti;
          }
        };
        cols(ar, ai);
        cols(vr, vi);
        for (let k = 0; k < M; k++) {
          const pr = ar[p * M + k]!,
            pi = ai[p * M + k]!,
            qr = ar[q * M + k]!,
            qi = ai[q * M + k]!;
          // conj(e^{-iφ})·x_q = e^{iφ}·x_q
          const tr = er * qr + ei * qi,
            ti = er * qi - ei * qr;
          ar[p * M + k] = c * pr + s * tr;
          ai[p * M + k] = c * pi + s * ti;
          ar[q * M + k] = -s * pr + c * tr;
          ai[q * M + k] = -s * pi + c * ti;
        }
      }
    }
  }
  const values = new Float64Array(M);
  for (let k = 0; k < M; k++) values[k] = ar[k * M + k]!;
  return { values, vr, vi };
}

/**
 * The modes made mutually orthogonal with the same density matrix, in place,
 * strongest first. Returns each mode's share of the total power.
 */
export function orthogonalizeModes(modes: Mode[]): number[] {
  const M = modes.length;
  if (M === 0) throw new OptionsError('BAD_OPTION', 'orthogonalizeModes: no modes given');
  if (M === 1) return [1];
  const n = modes[0]!.re.length;
  const gr = new Float64Array(M * M),
    gi = new Float64Array(M * M);
  for (let i = 0; i < M; i++) {
    for (let j = i; j < M; j++) {
      const a = modes[i]!,
        b = modes[j]!;
      let sr = 0,
        si = 0;
      // conj(a)·b
      for (let t = 0; t < n; t++) {
        sr += a.re[t]! * b.re[t]! + a.im[t]! * b.im[t]!;
        si += a.re[t]! * b.im[t]! - a.im[t]! * b.re[t]!;
      }
      gr[i * M + j] = sr;
      gi[i * M + j] = si;
      gr[j * M + i] = sr;
      gi[j * M + i] = -si;
    }
  }
  const { values, vr, vi } = hermitianEigen(gr, gi, M);
  const order = Array.from({ length: M }, (_, k) => k).sort((a, b) => values[b]! - values[a]!);
  const mixed = order.map((k) => {
    const re = new Float64Array(n),
      im = new Float64Array(n);
    for (let i = 0; i < M; i++) {
      const cr = vr[i * M + k]!,
        ci = vi[i * M + k]!,
        src = modes[i]!;
      for (let t = 0; t < n; t++) {
        re[t] = re[t]! + cr * src.re[t]! - ci * src.im[t]!;
        im[t] = im[t]! + cr * src.im[t]! + ci * src.re[t]!;
      }
    }
    return { re, im };
  });
  for (let k = 0; k < M; k++) {
    modes[k]!.re.set(mixed[k]!.re);
    modes[k]!.im.set(mixed[k]!.im);
  }
  const total = order.reduce((s, k) => s + Math.max(values[k]!, 0), 0);
  return order.map((k) => (total > 0 ? Math.max(values[k]!, 0) / total : 0));
}

/**
 * `count` modes from the given ones: missing modes are the strongest mode
 * times low-order polynomials of the position about its centroid (x, y, xy,
 * x²−y², …), each carrying `share` of its power, then all are orthogonalised
 * and rescaled to the original total power. Extra given modes are dropped
 * (the weakest, after orthogonalising).
 */
export function growModes(given: readonly Mode[], count: number, N: number, share = 0.05): Mode[] {
  if (!Number.isInteger(count) || count < 1)
    throw new OptionsError('BAD_OPTION', `probe modes must be a positive integer, got ${count}`, { key: 'probe_modes' });
  if (given.length === 0) throw new OptionsError('BAD_OPTION', 'growModes: no mode to grow from');
  const modes = given.map((m) => ({ re: Float64Array.from(m.re), im: Float64Array.from(m.im) }));
  const total = modes.reduce((s, m) => s + modePower(m), 0);
  orthogonalizeModes(modes);
  if (modes.length > count) modes.length = count;
  const base = modes[0]!;
  let w = 0,
    cx = 0,
    cy = 0,
    r2 = 0;
  for (let t = 0; t < N * N; t++) {
    const p = base.re[t]! ** 2 + base.im[t]! ** 2,
      x = t % N,
      y = Math.floor(t / N);
    w += p;
    cx += p * x;
    cy += p * y;
    r2 += p * (x * x + y * y);
  }
  cx /= w;
  cy /= w;
  const sigma = Math.sqrt(Math.max(r2 / w - cx * cx - cy * cy, 1e-6));
  const shapes = [
    (x: number, _y: number): number => x,
    (_x: number, y: number): number => y,
    (x: number, y: number): number => x * y,
    (x: number, y: number): number => x * x - y * y,
  ];
  for (let k = modes.length; k < count; k++) {
    const f = shapes[(k - 1) % shapes.length]!,
      order = Math.floor((k - 1) / shapes.length) + 1;
    const re = new Float64Array(N * N),
      im = new Float64Array(N * N);
    for (let t = 0; t < N * N; t++) {
      const v = f(((t % N) - cx) / sigma, (Math.floor(t / N) - cy) / sigma) ** order;
      re[t] = base.re[t]! * v;
      im[t] = base.im[t]! * v;
    }
    const m = { re, im },
      scale = Math.sqrt((share * modePower(base)) / Math.max(modePower(m), 1e-300));
    for (let t = 0; t < N * N; t++) {
      re[t] = re[t]! * scale;
      im[t] = im[t]! * scale;
    }
    modes.push(m);
  }
  orthogonalizeModes(modes);
  const now = modes.reduce((s, m) => s + modePower(m), 0),
    fix = Math.sqrt(total / now);
  for (const m of modes)
    for (let t = 0; t < N * N; t++) {
      m.re[t] = m.re[t]! * fix;
      m.im[t] = m.im[t]! * fix;
    }
  return modes;
}

// The modulus constraint of the fused ePIE update (epie-fused.ts) with the
// transform's last forward and first inverse stage around it: both are the
// span-1 stage (every twiddle 1) on the same rows, so one loop reads the
// spectrum before the last stage and writes it after the first inverse one.

/** Σ(|Ψ|/N − A)² and Σ A² over the pattern, before the constraint. */
export interface Misfit {
  error: number;
  energy: number;
}

/**
 * Last forward stage (span 1), modulus constraint and first inverse stage (span 1) on rows
 * 4j … 4j+3 at once. Each spectrum value y is scaled by A/(N|y|): the measured modulus N·A
 * with the inverse's 1/N² folded in. Returns Σ(|Ψ|/N − A)² and Σ A² before the constraint.
 */
export function modulusRadix4(wr: Float64Array, wi: Float64Array, N: number, map: Uint32Array, amplitude: Float32Array): Misfit {
  const inv = 1 / N;
  let error = 0,
    energy = 0;
  for (let g = 0; g < N * N; g += 4 * N) {
    for (let a = g, end = g + N; a < end; a++) {
      const b = a + N,
        c = b + N,
        d = c + N;
      const t0r = wr[a]! + wr[c]!,
        t0i = wi[a]! + wi[c]!,
        t1r = wr[a]! - wr[c]!,
        t1i = wi[a]! - wi[c]!,
        t2r = wr[b]! + wr[d]!,
        t2i = wi[b]! + wi[d]!,
        t3r = wr[b]! - wr[d]!,
        t3i = wi[b]! - wi[d]!;
      let y0r = t0r + t2r,
        y0i = t0i + t2i,
        y1r = t1r + t3i,
        y1i = t1i - t3r,
        y2r = t0r - t2r,
        y2i = t0i - t2i,
        y3r = t1r - t3i,
        y3i = t1i + t3r;
      const A0 = amplitude[map[a]!]!,
        A1 = amplitude[map[b]!]!,
        A2 = amplitude[map[c]!]!,
        A3 = amplitude[map[d]!]!;
      const m0 = Math.sqrt(y0r * y0r + y0i * y0i),
        m1 = Math.sqrt(y1r * y1r + y1i * y1i),
        m2 = Math.sqrt(y2r * y2r + y2i * y2i),
        m3 = Math.sqrt(y3r * y3r + y3i * y3i);
      const e0 = m0 * inv - A0,
        e1 = m1 * inv - A1,
        e2 = m2 * inv - A2,
        e3 = m3 * inv - A3;
      error += e0 * e0 + e1 * e1 + e2 * e2 + e3 * e3;
      energy += A0 * A0 + A1 * A1 + A2 * A2 + A3 * A3;
      const f0 = m0 > 0 ? (A0 * inv) / m0 : 0,
        f1 = m1 > 0 ? (A1 * inv) / m1 : 0,
        f2 = m2 > 0 ? (A2 * inv) / m2 : 0,
        f3 = m3 > 0 ? (A3 * inv) / m3 : 0;
      y0r *= f0;
      y0i *= f0;
      y1r *= f1;
      y1i *= f1;
      y2r *= f2;
      y2i *= f2;
      y3r *= f3;
      y3i *= f3;
      // The inverse butterfly on the constrained y0 … y3.
      const u0r = y0r + y2r,
        u0i = y0i + y2i,
        u1r = y0r - y2r,
        u1i = y0i - y2i,
        u2r = y1r + y3r,
        u2i = y1i + y3i,
        u3r = y1r - y3r,
        u3i = y1i - y3i;
      wr[a] = u0r + u2r;
      wi[a] = u0i + u2i;
      wr[b] = u1r - u3i;
      wi[b] = u1i + u3r;
      wr[c] = u0r - u2r;
      wi[c] = u0i - u2i;
      wr[d] = u1r + u3i;
      wi[d] = u1i - u3r;
    }
  }
  return { error, energy };
}

/** The same with radix-2 span-1 stages (log₂N odd), on rows 2j and 2j+1. */
export function modulusRadix2(wr: Float64Array, wi: Float64Array, N: number, map: Uint32Array, amplitude: Float32Array): Misfit {
  const inv = 1 / N;
  let error = 0,
    energy = 0;
  for (let g = 0; g < N * N; g += 2 * N) {
    for (let a = g, end = g + N; a < end; a++) {
      const b = a + N;
      let y0r = wr[a]! + wr[b]!,
        y0i = wi[a]! + wi[b]!,
        y1r = wr[a]! - wr[b]!,
        y1i = wi[a]! - wi[b]!;
      const A0 = amplitude[map[a]!]!,
        A1 = amplitude[map[b]!]!,
        m0 = Math.sqrt(y0r * y0r + y0i * y0i),
        m1 = Math.sqrt(y1r * y1r + y1i * y1i),
        e0 = m0 * inv - A0,
        e1 = m1 * inv - A1;
      error += e0 * e0 + e1 * e1;
      energy += A0 * A0 + A1 * A1;
      const f0 = m0 > 0 ? (A0 * inv) / m0 : 0,
        f1 = m1 > 0 ? (A1 * inv) / m1 : 0;
      y0r *= f0;
      y0i *= f0;
      y1r *= f1;
      y1i *= f1;
      wr[a] = y0r + y1r;
      wi[a] = y0i + y1i;
      wr[b] = y0r - y1r;
      wi[b] = y0i - y1i;
    }
  }
  return { error, energy };
}

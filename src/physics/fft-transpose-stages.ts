// The span-1 stages of fft-stages.ts (radix 4 or 2, every twiddle 1) with the 2-D
// transform's transpose folded in: they read one N×N array and write the
// other, so the separate transpose passes (a strided swap over both arrays,
// about as dear as a stage) disappear. Used by the fused ePIE update.

/** Forward span-1 stage on rows 4j … 4j+3 of (sr, si), written transposed into (dr, di). */
export function difLastTransposed(sr: Float64Array, si: Float64Array, dr: Float64Array, di: Float64Array, N: number): void {
  for (let j = 0; j < N; j += 4) {
    for (let c = 0, a = j * N, o = j; c < N; c++, a++, o += N) {
      const ar = sr[a]!,
        ai = si[a]!,
        br = sr[a + N]!,
        bi = si[a + N]!,
        cr = sr[a + 2 * N]!,
        ci = si[a + 2 * N]!,
        xr = sr[a + 3 * N]!,
        xi = si[a + 3 * N]!;
      const t0r = ar + cr,
        t0i = ai + ci,
        t1r = ar - cr,
        t1i = ai - ci,
        t2r = br + xr,
        t2i = bi + xi,
        t3r = br - xr,
        t3i = bi - xi;
      dr[o] = t0r + t2r;
      di[o] = t0i + t2i;
      dr[o + 1] = t1r + t3i;
      di[o + 1] = t1i - t3r;
      dr[o + 2] = t0r - t2r;
      di[o + 2] = t0i - t2i;
      dr[o + 3] = t1r - t3i;
      di[o + 3] = t1i + t3r;
    }
  }
}

/** Inverse span-1 stage on the transpose of (sr, si) (rows 4j … 4j+3 of it), written in the normal layout into (dr, di). */
export function ditFirstTransposed(sr: Float64Array, si: Float64Array, dr: Float64Array, di: Float64Array, N: number): void {
  for (let j = 0; j < N; j += 4) {
    for (let c = 0, a = j * N, o = j; c < N; c++, a++, o += N) {
      const ar = sr[o]!,
        ai = si[o]!,
        br = sr[o + 1]!,
        bi = si[o + 1]!,
        cr = sr[o + 2]!,
        ci = si[o + 2]!,
        xr = sr[o + 3]!,
        xi = si[o + 3]!;
      const t0r = ar + cr,
        t0i = ai + ci,
        t1r = ar - cr,
        t1i = ai - ci,
        t2r = br + xr,
        t2i = bi + xi,
        t3r = br - xr,
        t3i = bi - xi;
      dr[a] = t0r + t2r;
      di[a] = t0i + t2i;
      dr[a + N] = t1r - t3i;
      di[a + N] = t1i + t3r;
      dr[a + 2 * N] = t0r - t2r;
      di[a + 2 * N] = t0i - t2i;
      dr[a + 3 * N] = t1r + t3i;
      di[a + 3 * N] = t1i - t3r;
    }
  }
}

/** Forward radix-2 span-1 stage on rows 2j, 2j+1 of (sr, si), written transposed into (dr, di). */
export function difPairTransposed(sr: Float64Array, si: Float64Array, dr: Float64Array, di: Float64Array, N: number): void {
  for (let j = 0; j < N; j += 2) {
    for (let c = 0, a = j * N, o = j; c < N; c++, a++, o += N) {
      const ar = sr[a]!,
        ai = si[a]!,
        br = sr[a + N]!,
        bi = si[a + N]!;
      dr[o] = ar + br;
      di[o] = ai + bi;
      dr[o + 1] = ar - br;
      di[o + 1] = ai - bi;
    }
  }
}

/** Inverse radix-2 span-1 stage on the transpose of (sr, si), written in the normal layout into (dr, di). */
export function ditPairTransposed(sr: Float64Array, si: Float64Array, dr: Float64Array, di: Float64Array, N: number): void {
  for (let j = 0; j < N; j += 2) {
    for (let c = 0, a = j * N, o = j; c < N; c++, a++, o += N) {
      const ar = sr[o]!,
        ai = si[o]!,
        br = sr[o + 1]!,
        bi = si[o + 1]!;
      dr[a] = ar + br;
      di[a] = ai + bi;
      dr[a + N] = ar - br;
      di[a + N] = ai - bi;
    }
  }
}

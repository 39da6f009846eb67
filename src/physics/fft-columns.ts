// The column transform of the host FFT (fftjs.ts): the DFT of every column of
// an N×N array, power-of-two N, in place, vectorised over whole rows. Split
// out of fftjs.ts because this is the hot loop of the iterative engines.

/** A radix-2 plan (fftjs.ts builds and caches it). */
export interface Radix2 {
  readonly n: number;
  /** Twiddles exp(−2πik/len) of every stage, stage len at offset len/2 − 1 (read in order). */
  readonly twRe: Float64Array;
  readonly twIm: Float64Array;
  /** Bit-reversal permutation as a list of swaps (i < j). */
  readonly swapA: Uint32Array;
  readonly swapB: Uint32Array;
}

/**
 * Unscaled DFT of every column of an N×N array (power-of-two N), in place:
 * decimation in time over the row index after the bit-reversal permutation,
 * each butterfly combining whole rows with one twiddle, so the inner loops
 * run over contiguous memory. Stages are taken two at a time (radix 2², the
 * second stage's odd twiddle being the first's times ∓i): half the passes
 * over the array of plain radix 2, which is what a pass costs here.
 */
export function columns(p: Radix2, wr: Float64Array, wi: Float64Array, inverse: boolean): void {
  const { n: N, swapA, swapB } = p;
  for (let s = 0; s < swapA.length; s++) {
    const a = swapA[s]! * N,
      b = swapB[s]! * N;
    for (let c = 0; c < N; c++) {
      const tr = wr[a + c]!,
        ti = wi[a + c]!;
      wr[a + c] = wr[b + c]!;
      wi[a + c] = wi[b + c]!;
      wr[b + c] = tr;
      wi[b + c] = ti;
    }
  }
  let len = 2;
  if ((Math.round(Math.log2(N)) & 1) === 1) {
    // An odd number of stages: the first alone (twiddle 1).
    for (let a = 0; a < N * N; a += 2 * N) {
      for (let c = a; c < a + N; c++) {
        const b = c + N,
          br = wr[b]!,
          bi = wi[b]!,
          ar = wr[c]!,
          ai = wi[c]!;
        wr[b] = ar - br;
        wi[b] = ai - bi;
        wr[c] = ar + br;
        wi[c] = ai + bi;
      }
    }
    len = 4;
  }
  for (; len * 2 <= N; len <<= 2) radix4Stage(p, wr, wi, len >> 1, inverse);
}

/** radix4Stage's butterfly for k = 0, where both twiddles are 1 (every butterfly of the first stage pair). */
function twiddleFree(wr: Float64Array, wi: Float64Array, a0: number, N: number, hN: number, sg: number): void {
  for (let a = a0, end = a0 + N; a < end; a++) {
    const b = a + hN,
      c = b + hN,
      d = c + hN;
    const ar = wr[a]!,
      ai = wi[a]!,
      br = wr[b]!,
      bi = wi[b]!,
      cr = wr[c]!,
      ci = wi[c]!,
      dr = wr[d]!,
      di = wi[d]!;
    const a1r = ar + br,
      a1i = ai + bi,
      b1r = ar - br,
      b1i = ai - bi;
    const c1r = cr + dr,
      c1i = ci + di,
      d1r = cr - dr,
      d1i = ci - di;
    const qr = sg * d1i,
      qi = -sg * d1r;
    wr[a] = a1r + c1r;
    wi[a] = a1i + c1i;
    wr[c] = a1r - c1r;
    wi[c] = a1i - c1i;
    wr[b] = b1r + qr;
    wi[b] = b1i + qi;
    wr[d] = b1r - qr;
    wi[d] = b1i - qi;
  }
}

/** The stages of lengths 2h and 4h together, over every column (see columns). */
function radix4Stage(p: Radix2, wr: Float64Array, wi: Float64Array, h: number, inverse: boolean): void {
  const { n: N, twRe, twIm } = p,
    sg = inverse ? -1 : 1,
    hN = h * N;
  for (let start = 0; start < N; start += 4 * h) {
    for (let k = 0; k < h; k++) {
      // W_2h^k (stage 2h) and W_4h^k (stage 4h): the tables hold stage len at len/2 − 1.
      const u1 = twRe[h - 1 + k]!,
        v1 = sg * twIm[h - 1 + k]!,
        u2 = twRe[2 * h - 1 + k]!,
        v2 = sg * twIm[2 * h - 1 + k]!;
      const a0 = (start + k) * N;
      if (k === 0) {
        twiddleFree(wr, wi, a0, N, hN, sg);
        continue;
      }
      for (let a = a0, end = a0 + N; a < end; a++) {
        const b = a + hN,
          c = b + hN,
          d = c + hN;
        const br = wr[b]!,
          bi = wi[b]!,
          dr = wr[d]!,
          di = wi[d]!;
        const xr = br * u1 - bi * v1,
          xi = br * v1 + bi * u1,
          yr = dr * u1 - di * v1,
          yi = dr * v1 + di * u1;
        const ar = wr[a]!,
          ai = wi[a]!,
          cr = wr[c]!,
          ci = wi[c]!;
        const a1r = ar + xr,
          a1i = ai + xi,
          b1r = ar - xr,
          b1i = ai - xi;
        const c1r = cr + yr,
          c1i = ci + yi,
          d1r = cr - yr,
          d1i = ci - yi;
        const zr = c1r * u2 - c1i * v2,
          zi = c1r * v2 + c1i * u2;
        // d1 · W_4h^k · (∓i)
        const tr = d1r * u2 - d1i * v2,
          ti = d1r * v2 + d1i * u2,
          qr = sg * ti,
          qi = -sg * tr;
        wr[a] = a1r + zr;
        wi[a] = a1i + zi;
        wr[c] = a1r - zr;
        wi[c] = a1i - zi;
        wr[b] = b1r + qr;
        wi[b] = b1i + qi;
        wr[d] = b1r - qr;
        wi[d] = b1i - qi;
      }
    }
  }
}

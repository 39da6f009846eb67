// The column stages of fft-scrambled.ts: radix-4 butterflies over four rows
// of an N×N array at a time (rows a, a+q, a+2q, a+3q), every inner loop
// running along a row, so over contiguous memory with the twiddles fixed.
// The butterflies where every twiddle is 1 (k = 0) have their own loops.

/** The forward butterfly where every twiddle is 1 (k = 0), over the N columns of row a0 and its partners. */
function difFree(re: Float64Array, im: Float64Array, a0: number, N: number, qN: number): void {
  for (let a = a0, end = a0 + N; a < end; a++) {
    const b = a + qN,
      c = b + qN,
      d = c + qN;
    const ar = re[a]!,
      ai = im[a]!,
      br = re[b]!,
      bi = im[b]!,
      cr = re[c]!,
      ci = im[c]!,
      dr = re[d]!,
      di = im[d]!;
    const t0r = ar + cr,
      t0i = ai + ci,
      t1r = ar - cr,
      t1i = ai - ci,
      t2r = br + dr,
      t2i = bi + di,
      t3r = br - dr,
      t3i = bi - di;
    re[a] = t0r + t2r;
    im[a] = t0i + t2i;
    re[b] = t1r + t3i;
    im[b] = t1i - t3r;
    re[c] = t0r - t2r;
    im[c] = t0i - t2i;
    re[d] = t1r - t3i;
    im[d] = t1i + t3r;
  }
}

/** Forward radix-4 stage of span q over every column (decimation in frequency: butterfly, then twiddles). */
export function difStage(re: Float64Array, im: Float64Array, N: number, q: number, tw: Float64Array): void {
  const qN = q * N;
  for (let g = 0; g < N; g += 4 * q) {
    difFree(re, im, g * N, N, qN);
    for (let k = 1; k < q; k++) {
      const w1r = tw[6 * k]!,
        w1i = tw[6 * k + 1]!,
        w2r = tw[6 * k + 2]!,
        w2i = tw[6 * k + 3]!,
        w3r = tw[6 * k + 4]!,
        w3i = tw[6 * k + 5]!;
      for (let a = (g + k) * N, end = a + N; a < end; a++) {
        const b = a + qN,
          c = b + qN,
          d = c + qN;
        const ar = re[a]!,
          ai = im[a]!,
          br = re[b]!,
          bi = im[b]!,
          cr = re[c]!,
          ci = im[c]!,
          dr = re[d]!,
          di = im[d]!;
        const t0r = ar + cr,
          t0i = ai + ci,
          t1r = ar - cr,
          t1i = ai - ci,
          t2r = br + dr,
          t2i = bi + di,
          t3r = br - dr,
          t3i = bi - di;
        re[a] = t0r + t2r;
        im[a] = t0i + t2i;
        // y1 = (t1 − i·t3)·w1, y2 = (t0 − t2)·w2, y3 = (t1 + i·t3)·w3
        const y1r = t1r + t3i,
          y1i = t1i - t3r,
          y2r = t0r - t2r,
          y2i = t0i - t2i,
          y3r = t1r - t3i,
          y3i = t1i + t3r;
        re[b] = y1r * w1r - y1i * w1i;
        im[b] = y1r * w1i + y1i * w1r;
        re[c] = y2r * w2r - y2i * w2i;
        im[c] = y2r * w2i + y2i * w2r;
        re[d] = y3r * w3r - y3i * w3i;
        im[d] = y3r * w3i + y3i * w3r;
      }
    }
  }
}

/** The inverse butterfly where every twiddle is 1 (k = 0), over the N columns of row a0 and its partners. */
function ditFree(re: Float64Array, im: Float64Array, a0: number, N: number, qN: number): void {
  for (let a = a0, end = a0 + N; a < end; a++) {
    const b = a + qN,
      c = b + qN,
      d = c + qN;
    const ar = re[a]!,
      ai = im[a]!,
      br = re[b]!,
      bi = im[b]!,
      cr = re[c]!,
      ci = im[c]!,
      dr = re[d]!,
      di = im[d]!;
    const t0r = ar + cr,
      t0i = ai + ci,
      t1r = ar - cr,
      t1i = ai - ci,
      t2r = br + dr,
      t2i = bi + di,
      t3r = br - dr,
      t3i = bi - di;
    re[a] = t0r + t2r;
    im[a] = t0i + t2i;
    re[b] = t1r - t3i;
    im[b] = t1i + t3r;
    re[c] = t0r - t2r;
    im[c] = t0i - t2i;
    re[d] = t1r + t3i;
    im[d] = t1i - t3r;
  }
}

/** Inverse radix-4 stage of span q over every column (decimation in time: conjugate twiddles, then butterfly). */
export function ditStage(re: Float64Array, im: Float64Array, N: number, q: number, tw: Float64Array): void {
  const qN = q * N;
  for (let g = 0; g < N; g += 4 * q) {
    ditFree(re, im, g * N, N, qN);
    for (let k = 1; k < q; k++) {
      const w1r = tw[6 * k]!,
        w1i = -tw[6 * k + 1]!,
        w2r = tw[6 * k + 2]!,
        w2i = -tw[6 * k + 3]!,
        w3r = tw[6 * k + 4]!,
        w3i = -tw[6 * k + 5]!;
      for (let a = (g + k) * N, end = a + N; a < end; a++) {
        const b = a + qN,
          c = b + qN,
          d = c + qN;
        const xr = re[b]!,
          xi = im[b]!,
          yr = re[c]!,
          yi = im[c]!,
          zr = re[d]!,
          zi = im[d]!;
        const br = xr * w1r - xi * w1i,
          bi = xr * w1i + xi * w1r,
          cr = yr * w2r - yi * w2i,
          ci = yr * w2i + yi * w2r,
          dr = zr * w3r - zi * w3i,
          di = zr * w3i + zi * w3r;
        const ar = re[a]!,
          ai = im[a]!;
        const t0r = ar + cr,
          t0i = ai + ci,
          t1r = ar - cr,
          t1i = ai - ci,
          t2r = br + dr,
          t2i = bi + di,
          t3r = br - dr,
          t3i = bi - di;
        // y1 = t1 + i·t3, y3 = t1 − i·t3
        re[a] = t0r + t2r;
        im[a] = t0i + t2i;
        re[b] = t1r - t3i;
        im[b] = t1i + t3r;
        re[c] = t0r - t2r;
        im[c] = t0i - t2i;
        re[d] = t1r + t3i;
        im[d] = t1i - t3r;
      }
    }
  }
}

/** The radix-2 stage of span 1 (twiddle-free, its own adjoint): rows 2j and 2j+1. */
export function pairStage(re: Float64Array, im: Float64Array, N: number): void {
  for (let a = 0; a < N * N; a += 2 * N) {
    for (let c = a, end = a + N; c < end; c++) {
      const b = c + N,
        ar = re[c]!,
        ai = im[c]!,
        br = re[b]!,
        bi = im[b]!;
      re[c] = ar + br;
      im[c] = ai + bi;
      re[b] = ar - br;
      im[b] = ai - bi;
    }
  }
}

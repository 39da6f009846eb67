// Shared helpers for the physics tests.

/** Deterministic pseudo-random values in [-1, 1) (a plain LCG: tests depend on the exact values). */
export function noise(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 2 ** 31 - 1;
  }
  return out;
}

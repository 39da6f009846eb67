// Probe modes: the Hermitian eigen-solver, orthogonalisation (same density
// matrix, orthogonal modes, strongest first) and growing modes from one.
import test from 'ava';
import { growModes, hermitianEigen, modePower, orthogonalizeModes, type Mode } from '../../src/physics/modes.js';
import { Rng } from '../../src/util/rng.js';

function randomModes(M: number, n: number, seed: number): Mode[] {
  const rng = new Rng(seed);
  return Array.from({ length: M }, () => ({
    re: Float64Array.from({ length: n }, () => rng.normal()),
    im: Float64Array.from({ length: n }, () => rng.normal()),
  }));
}

/** ρ(t, t') for a few pixel pairs: Σ_m P_m(t)·conj(P_m(t')). */
function density(modes: Mode[], pairs: [number, number][]): number[] {
  return pairs.flatMap(([a, b]) => {
    let re = 0,
      im = 0;
    for (const m of modes) {
      re += m.re[a]! * m.re[b]! + m.im[a]! * m.im[b]!;
      im += m.im[a]! * m.re[b]! - m.re[a]! * m.im[b]!;
    }
    return [re, im];
  });
}

test('hermitianEigen: A·v = λ·v for every eigenpair of a random Hermitian matrix', (t) => {
  const M = 5,
    rng = new Rng(7),
    gr = new Float64Array(M * M),
    gi = new Float64Array(M * M);
  for (let i = 0; i < M; i++) {
    gr[i * M + i] = rng.normal() * 3;
    for (let j = i + 1; j < M; j++) {
      const a = rng.normal(),
        b = rng.normal();
      gr[i * M + j] = a;
      gi[i * M + j] = b;
      gr[j * M + i] = a;
      gi[j * M + i] = -b;
    }
  }
  const { values, vr, vi } = hermitianEigen(gr, gi, M);
  for (let k = 0; k < M; k++) {
    for (let i = 0; i < M; i++) {
      let sr = 0,
        si = 0;
      for (let j = 0; j < M; j++) {
        sr += gr[i * M + j]! * vr[j * M + k]! - gi[i * M + j]! * vi[j * M + k]!;
        si += gr[i * M + j]! * vi[j * M + k]! + gi[i * M + j]! * vr[j * M + k]!;
      }
      t.true(Math.abs(sr - values[k]! * vr[i * M + k]!) < 1e-9 && Math.abs(si - values[k]! * vi[i * M + k]!) < 1e-9, `pair ${k} row ${i}`);
    }
  }
});

test('orthogonalizeModes keeps the density matrix, makes the modes orthogonal and sorts them by power', (t) => {
  const modes = randomModes(3, 64, 1),
    pairs: [number, number][] = [
      [0, 0],
      [3, 9],
      [10, 63],
      [20, 21],
    ];
  const before = density(modes, pairs),
    total = modes.reduce((s, m) => s + modePower(m), 0);
  const shares = orthogonalizeModes(modes);
  density(modes, pairs).forEach((v, i) => t.true(Math.abs(v - before[i]!) < 1e-9 * (1 + Math.abs(before[i]!)), `ρ entry ${i}: ${v} vs ${before[i]!}`));
  for (let i = 0; i < 3; i++) {
    for (let j = i + 1; j < 3; j++) {
      let re = 0,
        im = 0;
      for (let k = 0; k < 64; k++) {
        re += modes[i]!.re[k]! * modes[j]!.re[k]! + modes[i]!.im[k]! * modes[j]!.im[k]!;
        im += modes[i]!.re[k]! * modes[j]!.im[k]! - modes[i]!.im[k]! * modes[j]!.re[k]!;
      }
      t.true(Math.hypot(re, im) < 1e-9 * total, `<${i},${j}> = ${re} + ${im}i`);
    }
  }
  t.true(shares[0]! >= shares[1]! && shares[1]! >= shares[2]!);
  t.true(Math.abs(shares.reduce((a, b) => a + b, 0) - 1) < 1e-12);
  t.true(Math.abs(modePower(modes[0]!) / total - shares[0]!) < 1e-9);
});

test('growModes: from one mode to three, orthogonal, the first keeps most power, the total is unchanged', (t) => {
  const N = 16,
    base = randomModes(1, N * N, 4);
  const total = modePower(base[0]!);
  const grown = growModes(base, 3, N);
  t.is(grown.length, 3);
  t.true(Math.abs(grown.reduce((s, m) => s + modePower(m), 0) / total - 1) < 1e-9);
  t.true(modePower(grown[0]!) / total > 0.85, `first mode holds ${modePower(grown[0]!) / total}`);
  t.true(modePower(grown[2]!) > 0);
  // Cutting down keeps the strongest: two random modes → one.
  const two = randomModes(2, N * N, 9),
    strong = Math.max(...orthogonalizeModes(two.map((m) => ({ re: Float64Array.from(m.re), im: Float64Array.from(m.im) }))));
  const one = growModes(two, 1, N);
  t.is(one.length, 1);
  t.true(strong > 0.5);
  t.throws(() => growModes(base, 0, N), { name: 'OptionsError' });
});

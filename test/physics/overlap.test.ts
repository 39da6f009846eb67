// reassembleAndExtract: consistent patches cut from one object come back
// unchanged (integer and sub-pixel offsets), inconsistent ones are averaged as a
// host-side reference computes it, groups never mix, C = 1 is the identity.
import test from 'ava';
import * as tf from '../../src/tf.js';
import '@tensorflow/tfjs-backend-wasm';
import { reassembleAndExtract } from '../../src/physics/overlap.js';
import { noise } from './helpers.js';

type Field = (x: number, y: number) => number;

/**
 * Patches (B,N,N,C) of an analytic object seen at positions centre − offset, the
 * window rows y−N/2 … y+N/2−1 (SPEC §1), plus the (B,1,2,C) offsets array.
 */
function groupPatches(field: Field, centres: [number, number][], offs: [number, number][][], N: number): { patches: Float32Array; offsets: Float32Array } {
  const B = centres.length;
  const C = offs[0]!.length;
  const patches = new Float32Array(B * N * N * C);
  const offsets = new Float32Array(B * 2 * C);
  for (let b = 0; b < B; b++) {
    for (let c = 0; c < C; c++) {
      const [ox, oy] = offs[b]![c]!;
      offsets[b * 2 * C + c] = ox;
      offsets[b * 2 * C + C + c] = oy;
      const px = centres[b]![0] - ox;
      const py = centres[b]![1] - oy;
      for (let i = 0; i < N; i++) for (let j = 0; j < N; j++) patches[((b * N + i) * N + j) * C + c] = field(px - N / 2 + j, py - N / 2 + i);
    }
  }
  return { patches, offsets };
}

const grid = (x: number, y: number): number => Math.sin(0.37 * x + 1.3) * Math.cos(0.23 * y - 0.4) + 0.01 * x * y;
const ramp = (x: number, y: number): number => 0.5 * x - 0.25 * y + 3;

for (const backend of ['cpu', 'wasm']) {
  test.serial(`${backend}: consistent patches at integer offsets are returned unchanged`, async (t) => {
    await tf.setBackend(backend);
    const before = tf.memory().numTensors;
    const N = 12;
    const offs: [number, number][][] = [
      [
        [3, 2],
        [-2, 3],
        [1, -4],
        [-3, -1],
      ],
      [
        [0, 5],
        [4, 0],
        [-4, -2],
        [2, -3],
      ],
    ];
    const { patches, offsets } = groupPatches(
      grid,
      [
        [30, 30],
        [50, 41],
      ],
      offs,
      N,
    );
    const re = tf.tensor4d(patches, [2, N, N, 4]);
    const im = tf.tensor4d(
      patches.map((v) => -2 * v),
      [2, N, N, 4],
    );
    const o = tf.tensor4d(offsets, [2, 1, 2, 4]);
    const out = reassembleAndExtract(re, im, o, N);
    const gr = out.re.dataSync();
    const gi = out.im.dataSync();
    let err = 0;
    for (let i = 0; i < patches.length; i++) err = Math.max(err, Math.abs(gr[i]! - patches[i]!), Math.abs(gi[i]! + 2 * patches[i]!));
    t.true(err < 1e-5, `max error ${err}`);
    tf.dispose([re, im, o, out.re, out.im]);
    t.is(tf.memory().numTensors, before);
  });

  test.serial(`${backend}: sub-pixel offsets keep a linear object unchanged where all members cover it`, async (t) => {
    await tf.setBackend(backend);
    const N = 16;
    const members: [number, number][] = [
      [2.5, 1.25],
      [-1.75, 2.3],
      [0.6, -3.4],
      [-2.2, -0.9],
    ];
    const { patches, offsets } = groupPatches(ramp, [[40, 40]], [members], N);
    const out = tf.tidy(() => {
      const re = tf.tensor4d(patches, [1, N, N, 4]);
      return reassembleAndExtract(re, tf.zerosLike(re), tf.tensor4d(offsets, [1, 1, 2, 4]), N).re.dataSync();
    });
    // Bilinear placement blurs each member's one-pixel edge ring (zero fill beyond the
    // patch), so check object points that lie strictly inside every member's window.
    let err = 0;
    let checked = 0;
    for (let c = 0; c < 4; c++) {
      for (let i = 0; i < N; i++) {
        for (let j = 0; j < N; j++) {
          // Object point relative to the group centre, then in each member's pixel frame.
          const gx = j - N / 2 - members[c]![0];
          const gy = i - N / 2 - members[c]![1];
          const inside = members.every(([ox, oy]) => gx + N / 2 + ox >= 1 && gx + N / 2 + ox <= N - 2 && gy + N / 2 + oy >= 1 && gy + N / 2 + oy <= N - 2);
          if (!inside) continue;
          checked++;
          err = Math.max(err, Math.abs(out[(i * N + j) * 4 + c]! - patches[(i * N + j) * 4 + c]!));
        }
      }
    }
    t.true(checked > 4 * 25, `checked ${checked}`);
    t.true(err < 1e-4, `max error where all members cover: ${err}`);
  });
}

test.serial('inconsistent patches are averaged over their overlap like a host reference; groups stay apart', async (t) => {
  await tf.setBackend('cpu');
  const [B, N, C] = [2, 6, 4];
  const offs = [
    [
      [1, 1],
      [-1, 1],
      [1, -1],
      [-1, -1],
    ],
    [
      [2, 0],
      [0, 2],
      [-2, 0],
      [0, -1],
    ],
  ];
  const data = noise(B * N * N * C, 9);
  const flatOffs = new Float32Array(B * 2 * C);
  for (let b = 0; b < B; b++) for (let c = 0; c < C; c++) [flatOffs[b * 2 * C + c], flatOffs[b * 2 * C + C + c]] = offs[b]![c]! as [number, number];
  // Host reference: canvas with margin 2, member c at canvas (i + 2 − oy, j + 2 − ox).
  const pad = 2;
  const P = N + 2 * pad;
  const want = new Float32Array(data.length);
  for (let b = 0; b < B; b++) {
    const sum = new Float64Array(P * P);
    const cnt = new Float64Array(P * P);
    for (let c = 0; c < C; c++) {
      const [ox, oy] = offs[b]![c]!;
      for (let i = 0; i < N; i++)
        for (let j = 0; j < N; j++) {
          const q = (i + pad - oy!) * P + (j + pad - ox!);
          sum[q]! += data[((b * N + i) * N + j) * C + c]!;
          cnt[q]! += 1;
        }
    }
    for (let c = 0; c < C; c++) {
      const [ox, oy] = offs[b]![c]!;
      for (let i = 0; i < N; i++)
        for (let j = 0; j < N; j++) {
          const q = (i + pad - oy!) * P + (j + pad - ox!);
          want[((b * N + i) * N + j) * C + c] = sum[q]! / cnt[q]!;
        }
    }
  }
  const run = (d: Float32Array): Float32Array =>
    tf.tidy(() => {
      const re = tf.tensor4d(d, [B, N, N, C]);
      return reassembleAndExtract(re, re, tf.tensor4d(flatOffs, [B, 1, 2, C]), N).re.dataSync() as Float32Array;
    });
  const got = run(data);
  let err = 0;
  for (let i = 0; i < data.length; i++) err = Math.max(err, Math.abs(got[i]! - want[i]!));
  t.true(err < 1e-5, `max error vs host reference ${err}`);
  // Per-group independence: change every value of group 1, group 0 is bit-identical.
  const changed = data.slice();
  for (let i = N * N * C; i < changed.length; i++) changed[i] = changed[i]! * 3 + 1;
  const got2 = run(changed);
  t.deepEqual(Array.from(got2.subarray(0, N * N * C)), Array.from(got.subarray(0, N * N * C)));
  t.notDeepEqual(Array.from(got2.subarray(N * N * C)), Array.from(got.subarray(N * N * C)));
});

for (const backend of ['cpu', 'wasm']) {
  test.serial(`${backend}: with a central support, a member's zero border does not dilute its neighbours`, async (t) => {
    await tf.setBackend(backend);
    const before = tf.memory().numTensors;
    // Patches of one object, zero outside their central S×S square (the model's
    // 'center' support). Every pixel some member's square covers must come back
    // as the object value, in every member's extracted patch.
    const N = 16,
      S = 8,
      lo = (N - S) / 2;
    const offs: [number, number][] = [
      [2, 2],
      [-2, 2],
      [2, -2],
      [-2, -2],
    ];
    const { patches, offsets } = groupPatches(grid, [[40, 40]], [offs], N);
    const inSquare = (i: number, j: number): boolean => i >= lo && i < lo + S && j >= lo && j < lo + S;
    for (let i = 0; i < N; i++) for (let j = 0; j < N; j++) if (!inSquare(i, j)) for (let c = 0; c < 4; c++) patches[(i * N + j) * 4 + c] = 0;
    const run = (support: number | undefined): Float32Array =>
      tf.tidy(() => {
        const re = tf.tensor4d(patches, [1, N, N, 4]);
        const o = tf.tensor4d(offsets, [1, 1, 2, 4]);
        return reassembleAndExtract(re, re, o, N, support === undefined ? {} : { support }).re.dataSync() as Float32Array;
      });
    const got = run(S);
    let err = 0,
      checked = 0;
    for (let c = 0; c < 4; c++) {
      for (let i = 0; i < N; i++)
        for (let j = 0; j < N; j++) {
          // The object point of member c's pixel (i, j), in every member's frame.
          const covered = offs.some(([ox, oy]) => inSquare(i - offs[c]![1] + oy, j - offs[c]![0] + ox));
          if (!covered) continue;
          checked++;
          const x = 40 - offs[c]![0] - N / 2 + j,
            y = 40 - offs[c]![1] - N / 2 + i;
          err = Math.max(err, Math.abs(got[(i * N + j) * 4 + c]! - grid(x, y)));
        }
    }
    t.true(checked >= 4 * S * S, `checked ${checked}`);
    t.true(err < 1e-5, `max error where a support covers: ${err}`);
    // Counting the full N×N instead averages the squares with their neighbours' zeros.
    const full = run(undefined);
    let diluted = 0;
    for (let k = 0; k < full.length; k++) diluted = Math.max(diluted, Math.abs(full[k]! - got[k]!));
    t.true(diluted > 0.1, `a full-support count should dilute, max difference ${diluted}`);
    t.throws(() => run(7), { message: /support must be/ });
    t.is(tf.memory().numTensors, before);
  });
}

test.serial('C = 1 is the identity; bad shapes are refused', async (t) => {
  await tf.setBackend('cpu');
  const before = tf.memory().numTensors;
  const x = tf.tensor4d(noise(2 * 8 * 8, 3), [2, 8, 8, 1]);
  const o = tf.tensor4d([1.5, -2, 0.5, 3], [2, 1, 2, 1]);
  const out = reassembleAndExtract(x, x, o, 8);
  t.deepEqual(Array.from(out.re.dataSync()), Array.from(x.dataSync()));
  t.throws(() => reassembleAndExtract(x, x, o, 16), { message: /patches must be/ });
  const bad = tf.zeros<tf.Rank.R4>([2, 1, 2, 4]);
  t.throws(() => reassembleAndExtract(x, x, bad, 8), { message: /offsets must be/ });
  tf.dispose([x, o, out.re, out.im, bad]);
  t.is(tf.memory().numTensors, before);
});

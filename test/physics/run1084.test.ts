// Forward model against real data: on the noise-free Run1084 simulation (object
// and probe from an LCLS-XPP reconstruction, integer positions), farFieldAmplitude
// of objectGuess patches under probeGuess reproduces `diffraction`. Also the probe
// helpers on that probe (SPEC §3, §5: 28 % of its power is outside the central
// square, so the support must be 'full'). Skips when the shared data is absent.
import test from 'ava';
import * as tf from '../../src/tf.js';
import '@tensorflow/tfjs-backend-wasm';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { openNpz, type NpyArray } from '../../src/io/npz.js';
import { farFieldAmplitude } from '../../src/physics/forward.js';
import { normalizeProbe, probeSupport } from '../../src/physics/probe.js';
import type { Complex2D } from '../../src/pipeline/types.js';

const NPZ = path.resolve(import.meta.dirname, '../../../shared/data/ptychopinn_run1084/run1084_sim_canonical.npz');
const PICK = 16;

interface Run1084 {
  N: number;
  object: Complex2D;
  probe: Complex2D;
  /** PICK patterns (PICK, N, N) and their integer centres. */
  diffraction: Float32Array;
  x: number[];
  y: number[];
}

/** Splits an interleaved complex array into a Complex2D. */
function complex2d(a: NpyArray): Complex2D {
  const [height, width] = a.shape as [number, number];
  const re = new Float32Array(height * width);
  const im = new Float32Array(height * width);
  for (let i = 0; i < height * width; i++) {
    re[i] = Number(a.data[2 * i]);
    im[i] = Number(a.data[2 * i + 1]);
  }
  return { height, width, re, im };
}

/** Reads the object, probe and PICK evenly spaced patterns with the project's NPZ reader. */
async function load(): Promise<Run1084> {
  const npz = await openNpz(NPZ);
  try {
    const object = complex2d(await npz.readArray('objectGuess'));
    const probe = complex2d(await npz.readArray('probeGuess'));
    const diff = await npz.readArray('diffraction');
    const xs = (await npz.readArray('xcoords')).data;
    const ys = (await npz.readArray('ycoords')).data;
    const [n, N] = diff.shape as [number, number, number];
    const diffraction = new Float32Array(PICK * N * N);
    const x: number[] = [];
    const y: number[] = [];
    for (let k = 0; k < PICK; k++) {
      const j = Math.floor((k * n) / PICK);
      for (let p = 0; p < N * N; p++) diffraction[k * N * N + p] = Number(diff.data[j * N * N + p]);
      x.push(Number(xs[j]));
      y.push(Number(ys[j]));
    }
    return { N, object, probe, diffraction, x, y };
  } finally {
    await npz.close();
  }
}

const available = existsSync(NPZ);
const data = available ? await load() : undefined;

// Without the data the tests are skipped, visibly: ava lists them as skipped with the reason in the title.
const needsData = (title: string): string => (data === undefined ? `${title} (skipped: ${NPZ} is not present)` : title);
const serial = data === undefined ? test.serial.skip : test.serial;
const plain = data === undefined ? test.skip : test;

for (const backend of ['cpu', 'wasm']) {
  serial(needsData(`${backend}: farFieldAmplitude of objectGuess patches reproduces the Run1084 diffraction`), async (t) => {
    if (data === undefined) return;
    await tf.setBackend(backend);
    const before = tf.memory().numTensors;
    const { N, object, probe, diffraction } = data;
    t.is(N, 64);
    const re = new Float32Array(PICK * N * N);
    const im = new Float32Array(PICK * N * N);
    for (let j = 0; j < PICK; j++) {
      const cx = data.x[j]!;
      const cy = data.y[j]!;
      t.true(Number.isInteger(cx) && Number.isInteger(cy));
      // Rows y − N/2 … y + N/2 − 1, columns x − N/2 … x + N/2 − 1 (SPEC §1).
      for (let r = 0; r < N; r++) {
        const src = (cy - N / 2 + r) * object.width + (cx - N / 2);
        re.set(object.re.subarray(src, src + N), (j * N + r) * N);
        im.set(object.im.subarray(src, src + N), (j * N + r) * N);
      }
    }
    const amp = tf.tidy(() =>
      farFieldAmplitude(
        tf.tensor4d(re, [PICK, N, N, 1]),
        tf.tensor4d(im, [PICK, N, N, 1]),
        tf.tensor2d(probe.re, [N, N]),
        tf.tensor2d(probe.im, [N, N]),
      ).dataSync(),
    );
    let worst = 0;
    for (let j = 0; j < PICK; j++) {
      let err = 0;
      let peak = 0;
      for (let p = 0; p < N * N; p++) {
        const want = diffraction[j * N * N + p]!;
        err = Math.max(err, Math.abs(amp[j * N * N + p]! - want));
        peak = Math.max(peak, want);
      }
      worst = Math.max(worst, err / peak);
    }
    t.log(`${backend}: worst max|A − D| / max D over ${PICK} patterns = ${worst.toExponential(2)}`);
    t.true(worst <= 1e-4, `relative error ${worst}`);
    t.is(tf.memory().numTensors, before);
  });
}

plain(needsData('Run1084 probe: normalisation factor and a full-window support'), (t) => {
  if (data === undefined) return;
  const { factor } = normalizeProbe(data.probe);
  // numpy: 4 · mean_{64×64}|M·P| with the r < 16 disk about (31.5, 31.5).
  t.true(Math.abs(factor - 0.9738758) < 1e-5, `factor ${factor}`);
  const s = probeSupport(data.probe);
  t.is(s.radius, 24);
  t.is(s.mode, 'full');
});

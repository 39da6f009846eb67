// Every built-in source runs the stage-compliance suite from
// `ptychoflow/testing` (early exit and re-open, abort, close twice, no tensor
// left, same seed same records, on_error on a file with bad patterns), over
// the small fixtures in test/fixtures or a manifest written to a temp dir.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { builtinComponents } from '../../src/components.js';
import { encodeNpy } from '../../src/io/npy.js';
import hdf5 from '../../src/sources/hdf5.js';
import json from '../../src/sources/json.js';
import npz from '../../src/sources/npz.js';
import simulate from '../../src/sources/simulate.js';
import { checkCompliance, type ComplianceCase } from '../../src/testing/index.js';

const fixtures = path.resolve(import.meta.dirname, '../fixtures');
const none = (): [] => [];
const frameKey = (r: unknown): unknown => {
  const f = r as { index: number; x: number; y: number; amplitude: Float32Array };
  return [f.index, f.x, f.y, Array.from(f.amplitude.subarray(0, 8))];
};

/** A JSON manifest of 6 frames (one of them NaN when `bad`) in `dir`. */
async function manifest(dir: string, name: string, bad: boolean): Promise<string> {
  const N = 4;
  const frames = [];
  for (let i = 0; i < 6; i++) {
    const a = new Float32Array(N * N).fill(1 + i);
    if (bad && i === 2) a[3] = Number.NaN;
    await writeFile(path.join(dir, `${name}-${i}.npy`), encodeNpy({ shape: [N, N], data: a }));
    frames.push({ file: `${name}-${i}.npy`, x: 10 + i, y: 10 });
  }
  await writeFile(path.join(dir, `${name}-probe.npy`), encodeNpy({ shape: [N, N], data: new Float32Array(N * N).fill(1) }));
  await writeFile(path.join(dir, `${name}.json`), JSON.stringify({ N, probe: `${name}-probe.npy`, frames }));
  return `${name}.json`;
}

test('every built-in source passes the stage-compliance suite', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'ptychoflow-source-compliance-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const good = await manifest(dir, 'good', false);
  const bad = await manifest(dir, 'bad', true);
  const cases: ComplianceCase[] = [
    { def: npz, options: { path: path.join(fixtures, 'npz/canonical_stored.npz') }, inputs: none, key: frameKey, bad: { inputs: none, options: { path: path.join(fixtures, 'npz/bad_nan_frames.npz') }, kept: 34 } },
    { def: hdf5, options: { path: path.join(fixtures, 'hdf5/canonical.h5') }, inputs: none, key: frameKey, bad: { inputs: none, options: { path: path.join(fixtures, 'hdf5/bad_nan.h5') }, kept: 11 } },
    { def: json, options: { path: path.join(dir, good) }, inputs: none, key: frameKey, bad: { inputs: none, options: { path: path.join(dir, bad) }, kept: 5 } },
    { def: simulate, options: { N: 16, object: { kind: 'image', size: 40 }, scan: { step: 6 }, noise: 'none' }, inputs: none, key: frameKey },
  ];
  const covered = new Set(cases.map((c) => c.def.type));
  for (const def of builtinComponents) if (def.kind === 'source') t.true(covered.has(def.type), `${def.type} runs the suite`);
  for (const c of cases) t.deepEqual(await checkCompliance(c), [], c.def.type);
});

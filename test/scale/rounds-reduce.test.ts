// The reduction of a rounds job without a server: each round's tile shards
// run in this process through executeShard (as a worker runs them), and
// RoundReducer (what the coordinator runs) adds them and applies the pass's
// update. Sub-pixel (jittered) positions, so the windows are bilinear, and the
// probe refined from pass 2, so its gradient is reduced too; 6 tiles on a
// 3×2 grid. The result must equal the single-process refine (step: pass):
// tolerance 1e-5 of the largest amplitude, for the reasons in rounds.test.ts
// (per-pattern float32 terms added in float64; only the order differs).
process.env.PTYCHOFLOW_WASM_THREADS ??= '1';
import test from 'ava';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { builtinRegistry } from '../../src/components.js';
import { loadPlan } from '../../src/pipeline/index.js';
import { planDocument } from '../../src/pipeline/record.js';
import { runPlan } from '../../src/pipeline/run.js';
import { executeShard } from '../../src/scale/execute.js';
import { planJob, shardDocument } from '../../src/scale/job.js';
import { readFit, readGradient, writeState } from '../../src/scale/rounds-npz.js';
import { RoundReducer } from '../../src/scale/rounds-reduce.js';
import { readComplex } from '../../src/sinks/shared/reconstruction.js';
import { maxDifference, readObject } from './helpers.js';

const PASSES = 3;

test('rounds reduced in-process equal the single-process refine (step: pass): bilinear windows, probe refined, 6 tiles', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'ptychoflow-rounds-reduce-'));
  try {
    const file = path.join(dir, 'refine.yaml');
    writeFileSync(
      file,
      `seed: 7
backend: wasm
output: local
sources:
  scan: { type: simulate, N: 16, object: { kind: grf, size: 48 }, scan: { pattern: raster, step: 4, jitter: 0.7 }, nphotons: 1.0e6 }
transforms:
  norm: { type: normalize, inputs: [scan] }
  singles: { type: group, inputs: [norm], gridsize: 1 }
  b: { type: batch, inputs: [singles], batch_size: 8 }
  t: { type: tensorify, inputs: [b] }
sinks:
  refine: { type: refine, inputs: [t], epochs: ${PASSES}, step: pass, lr: 0.05, refine_probe: 2 }
`,
    );
    const plan = await loadPlan(file, { registry: builtinRegistry() });
    const doc = planDocument(plan, 'wasm');
    const m = planJob({ job: 'reduce', doc, pipelineFile: file, shards: 'tiles:6' });
    t.is(m.mode, 'rounds');
    const reducer = new RoundReducer({ lr: 0.05, final_lr: 2e-4, epochs: PASSES, refine_probe: 2 }, 'reduce');
    let leaked = 0;
    let startProbe: Awaited<ReturnType<typeof readFit>>['probe'] | undefined;
    for (let round = 0; round <= PASSES; round++) {
      const statePath = path.join(dir, `state-${round}.npz`);
      if (round > 0) await writeState(statePath, reducer.state());
      const files: string[] = [];
      for (const d of m.shards.filter((s) => s.round === round)) {
        const run = await executeShard(doc, d, { outDir: path.join(dir, d.shard), backend: 'wasm', ...(round > 0 ? { statePath } : {}) });
        leaked += run.summary.tensors.leaked;
        files.push(run.contribution!);
      }
      if (round === 0) {
        const fits = await Promise.all(files.map(readFit));
        startProbe = fits[0]!.probe;
        reducer.fit(fits);
      } else reducer.pass(round, await Promise.all(files.map(readGradient)));
    }
    t.is(leaked, 0, 'no shard leaves a tensor behind');

    const local = path.join(dir, 'local');
    const run = await runPlan(plan, { outDir: local, record: false });
    t.is(run.error, undefined);
    const got = reducer.result();
    const obj = maxDifference(got.object, await readObject(path.join(local, 'refined.npz')));
    const probe = maxDifference(got.probe, await readComplex(path.join(local, 'refined.npz'), 'probe', [], 'test'));
    t.log(`max difference: object ${obj.max.toExponential(2)} of ${obj.scale.toFixed(3)}, probe ${probe.max.toExponential(2)} of ${probe.scale.toFixed(3)}`);
    t.true(obj.max <= 1e-5 * obj.scale, `objects differ by ${obj.max}`);
    t.true(probe.max <= 1e-5 * probe.scale, `probes differ by ${probe.max}`);
    // The probe really was refined (pass 2 on): it moved from the scan's by far more than the bound.
    t.is((run.summary.sinks.refine as { probe_refined_from: number | null }).probe_refined_from, 2);
    const moved = maxDifference(got.probe, startProbe!).max;
    t.log(`the probe moved by up to ${moved.toExponential(2)}`);
    t.true(moved > 100 * 1e-5 * probe.scale);
    t.deepEqual(
      reducer.history.map((h) => h.epoch),
      [1, 2, 3],
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a tile job of refine with step: pass is planned in rounds; what rounds cannot honour is refused at submit', (t) => {
  const doc = (refine: Record<string, unknown>, extra: Record<string, unknown> = {}): Record<string, unknown> => ({
    sources: { scan: { type: 'simulate' } },
    transforms: { g: { type: 'group', inputs: ['scan'] }, t: { type: 'tensorify', inputs: ['g'] } },
    sinks: { refine: { type: 'refine', inputs: ['t'], epochs: 2, step: 'pass', ...refine }, ...extra },
  });
  const m = planJob({ job: 'j', doc: doc({}), pipelineFile: 'p.yaml', shards: 'tiles:4' });
  t.is(m.mode, 'rounds');
  t.deepEqual(m.rounds, { sink: 'refine', epochs: 2 });
  t.deepEqual(m.shards.map((d) => d.shard).slice(0, 5), ['r0000-tile-0000', 'r0000-tile-0001', 'r0000-tile-0002', 'r0000-tile-0003', 'r0001-tile-0000']);
  t.is(m.shards.length, 12);
  const sd = shardDocument(doc({}), m.shards[5]!) as { sinks: Record<string, Record<string, unknown>>; transforms: Record<string, Record<string, unknown>> };
  t.like(sd.sinks.refine, { type: 'scale-contribution', inputs: ['t'], of: 'refine', round: 1 });
  t.like(sd.transforms.g__tile, { type: 'scale-tile', index: 1, margin: 0 });
  t.is(planJob({ job: 'j', doc: doc({ step: 'batch' }), pipelineFile: 'p.yaml', shards: 'tiles:4' }).mode, 'tiles');
  for (const [why, d, margin] of [
    ['input 1', doc({ inputs: ['t', 'infer'] }), undefined],
    ['max_minutes', doc({ max_minutes: 5 }), undefined],
    ['score_every', doc({ score_every: 2 }), undefined],
    ['another reconstruction sink', doc({}, { inf: { type: 'infer', inputs: ['t'] } }), undefined],
    ['--margin', doc({}), 8],
  ] as const) {
    const e = t.throws(
      () => planJob({ job: 'j', doc: d, pipelineFile: 'p.yaml', shards: 'tiles:4', ...(margin !== undefined ? { margin } : {}) }),
      undefined,
      why,
    );
    t.is((e as { code?: string }).code, 'BAD_OPTION', why);
  }
});

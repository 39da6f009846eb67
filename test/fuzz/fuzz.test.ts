// The fuzz property in the normal suite: a few thousand mutated NPY headers,
// NPZ archives and pipeline documents, each giving a typed error or success
// within its time limit, with the process's resident memory staying bounded.
// The long run (and abort detection in child processes) is scripts/fuzz.ts.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import fc from 'fast-check';
import { npyCase, pipelineCase, runCase, zipCase, type Kind } from './cases.js';

const RUNS: Record<Kind, number> = { npy: 2000, zip: 800, pipeline: 200 };
const LIMIT_MS = 5000;
const RSS_BOUND = 1.5 * 2 ** 30;

for (const [kind, arb] of [
  ['npy', npyCase],
  ['zip', zipCase],
  ['pipeline', pipelineCase],
] as const) {
  test.serial(`fuzz ${kind}: only typed errors or success, no case past ${LIMIT_MS} ms, RSS bounded`, async (t) => {
    const dir = await mkdtemp(path.join(os.tmpdir(), `pf-fuzz-${kind}-`));
    t.teardown(() => rm(dir, { recursive: true, force: true }));
    const counts = { ok: 0, typed: 0, untyped: 0, hang: 0 };
    let k = 0,
      peak = 0;
    await fc.assert(
      fc.asyncProperty(arb as fc.Arbitrary<Uint8Array | string>, async (input) => {
        const r = await runCase(kind, input, dir, k++, LIMIT_MS);
        counts[r.outcome]++;
        peak = Math.max(peak, process.memoryUsage().rss);
        if (r.outcome === 'untyped' || r.outcome === 'hang') throw new Error(r.detail);
        return peak < RSS_BOUND;
      }),
      { numRuns: RUNS[kind], seed: 19 },
    );
    t.log(`${kind}: ${JSON.stringify(counts)}, peak RSS ${(peak / 2 ** 20).toFixed(0)} MiB`);
    t.is(counts.ok + counts.typed, RUNS[kind]);
  });
}

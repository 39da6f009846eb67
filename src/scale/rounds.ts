// The coordinator of a rounds job (a tile job of refine with `step: pass`),
// run by `collect` / `submit --wait`. Each pass is one round on JetStream:
// the coordinator stores the pass's state (object and probe) in the object
// store, publishes one shard per tile for that round, waits until every
// tile's contribution is stored, adds them in shard-id order and applies the
// one update refine applies in a single process (PassRefiner). Round 0 is
// refine's scale fit. Contributions are keyed by (round, tile) in the shard
// id, so a redelivered shard replaces its own and counts once. The
// coordinator keeps nothing but what is stored: a restarted collect replays
// the stored rounds (the same sums, the same updates) and carries on.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ScaleError } from '../errors.js';
import type { Json } from '../pipeline/types.js';
import { writeReconstruction } from '../sinks/shared/reconstruction.js';
import { refineOptions } from '../sinks/shared/refine-spec.js';
import { writeFileAtomic } from '../util/atomic.js';
import type { ScaleClient } from './client.js';
import { SHARD_SUBJECT } from './config.js';
import type { ShardStatus } from './events.js';
import { names, type JobManifest, type ShardDescriptor } from './job.js';
import { CONTRIBUTION_FILE, fetchTo, getJson } from './results.js';
import { readFit, readGradient, writeState } from './rounds-npz.js';
import { RoundReducer } from './rounds-reduce.js';

export interface RoundsOutcome {
  /** The merged files and facts, or undefined when a round's shard failed. */
  merged?: Json;
  failedRound?: number;
}

/** Publishes round shards not done yet (deduplicated by message id while the server remembers it). */
async function publishRound(c: ScaleClient, shards: readonly ShardDescriptor[]): Promise<void> {
  const enc = new TextEncoder();
  for (const d of shards) {
    if ((await c.store.info(names.result(d.job, d.shard))) !== null) continue;
    await c.js.publish(`${SHARD_SUBJECT}.${d.job}`, enc.encode(JSON.stringify(d)), { msgID: `${d.job}.${d.shard}` });
  }
}

async function contributions<T>(c: ScaleClient, shards: readonly ShardDescriptor[], tmp: string, read: (file: string) => Promise<T>): Promise<T[]> {
  const out: T[] = [];
  for (const d of [...shards].sort((a, b) => (a.shard < b.shard ? -1 : 1))) {
    const file = path.join(tmp, `${d.shard}.npz`);
    await fetchTo(c, names.file(d.job, d.shard, CONTRIBUTION_FILE), file);
    out.push(await read(file));
  }
  return out;
}

/** Waits until the given round's shards are all done or failed, within `timeoutS` seconds (collect's waitForJob). */
export type WaitFor = (m: JobManifest, timeoutS: number | undefined) => Promise<ShardStatus[]>;

/** Drives rounds 0…epochs, then writes the refined object as a local run names it. */
export async function runRounds(c: ScaleClient, m: JobManifest, outDir: string, o: { timeoutS?: number; wait: WaitFor }): Promise<RoundsOutcome> {
  if (m.rounds === undefined) throw new ScaleError('BAD_OBJECT', `job '${m.job}' is not a rounds job`);
  const doc = await getJson<{ sinks: Record<string, unknown> }>(c, m.pipeline);
  const options = refineOptions.parse(
    Object.fromEntries(Object.entries((doc?.sinks[m.rounds.sink] ?? {}) as Record<string, unknown>).filter(([k]) => k !== 'type' && k !== 'inputs')),
  );
  const deadline = o.timeoutS === undefined ? undefined : Date.now() + o.timeoutS * 1000;
  const tmp = await mkdtemp(path.join(os.tmpdir(), `ptychoflow-rounds-${m.job}-`));
  try {
    const reducer = new RoundReducer(options, m.job);
    for (let round = 0; round <= m.rounds.epochs; round++) {
      const shards = m.shards.filter((d) => d.round === round);
      const name = names.state(m.job, round);
      if (reducer.started && (await c.store.info(name)) === null) {
        const file = path.join(tmp, `state-${round}.npz`);
        await writeState(file, reducer.state());
        await c.store.putBlob({ name }, new Uint8Array(await readFile(file)));
      }
      await publishRound(c, shards);
      const states = await o.wait({ ...m, shards }, deadline === undefined ? undefined : Math.max(1, (deadline - Date.now()) / 1000));
      if (states.some((s) => s.state === 'failed')) return { failedRound: round };
      if (round === 0) reducer.fit(await contributions(c, shards, tmp, readFit));
      else reducer.pass(round, await contributions(c, shards, tmp, readGradient));
    }
    const r = reducer.result(),
      { history } = reducer;
    const files = {
      npz: path.join(outDir, options.npz),
      amplitude_png: path.join(outDir, options.amplitude_png),
      phase_png: path.join(outDir, options.phase_png),
    };
    await writeReconstruction(files, { object: r.object, covered: r.covered, placement: r.placement }, r.probe, m.rounds.sink);
    await writeFileAtomic(path.join(outDir, options.history), JSON.stringify(history, null, 2) + '\n');
    return {
      merged: {
        ...files,
        history: path.join(outDir, options.history),
        passes: history.length,
        scale: r.scale,
        start_loss: r.startLoss,
        final_loss: history.at(-1)?.loss ?? r.startLoss,
        tiles: m.shards.filter((d) => d.round === 0).length,
        shape: [r.placement.height, r.placement.width],
      },
    };
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

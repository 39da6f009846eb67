// Live reconstruction over loopback ZeroMQ (127.0.0.1, a free port per run,
// every wait bounded): a scan replayed into the live pipeline reconstructs as
// the file pipeline does with the same checkpoint; injected loss and
// reordering are counted exactly, and the result is the file pipeline's over
// the frames that arrived; a sender that
// stops without its series end still gives a reconstruction after the idle
// timeout. No tensor is left behind by any run.
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import test from 'ava';
import { replay, type ReplayOptions, type ReplayReport } from '../../src/cli/replay.js';
import { compareRecons, freePort, inferPipeline, makeFixture, readRecon, refinePipeline, runText, scanWithout, type Fixture, type Ran } from './helpers.js';

let fx: Fixture;
let fileRecon: Awaited<ReturnType<typeof readRecon>>;

test.before(async () => {
  fx = await makeFixture();
  const out = path.join(fx.dir, 'file');
  await mkdir(out);
  const r = await runText(inferPipeline(`{ type: npz, path: ${fx.scan} }`, fx), out);
  if (r.error !== undefined) throw r.error as Error;
  fileRecon = await readRecon(path.join(out, 'reconstruction.npz'));
});

test.after.always(async () => fx?.remove());

/** The live pipeline and replay side by side; both bounded in time. */
async function live(
  name: string,
  o: Omit<ReplayOptions, 'scan' | 'endpoint'>,
  idle = 5,
  pipeline = inferPipeline,
): Promise<{ ran: Ran; sent: ReplayReport; out: string }> {
  const endpoint = `tcp://127.0.0.1:${await freePort()}`;
  const out = path.join(fx.dir, name);
  await mkdir(out);
  const stop = AbortSignal.timeout(60_000);
  const sender = replay({ ...o, scan: fx.scan, endpoint, signal: stop });
  const ran = await runText(pipeline(`{ type: zmq, endpoint: "${endpoint}", idle_timeout_s: ${idle} }`, fx, ', window: 256'), out);
  return { ran, sent: await sender, out };
}

const info = (ran: Ran): Record<string, number> => ran.summary.stages.find((s) => s.id === 'scan')!.info as Record<string, number>;

test.serial('a replayed scan reconstructs live as from the file (SSIM ≥ 0.98), counted, nothing leaked', async (t) => {
  const { ran, sent, out } = await live('clean', {});
  t.is(ran.error, undefined, String(ran.error));
  t.is(ran.summary.tensors.leaked, 0);
  t.like(info(ran), { received: fx.frames, dropped: 0, duplicated: 0, out_of_order: 0, declared: fx.frames });
  t.is(sent.sent, fx.frames);
  const s = compareRecons(fileRecon, await readRecon(path.join(out, 'reconstruction.npz')));
  t.log(`live vs file: amplitude SSIM ${s.amplitude.toFixed(4)}, phase SSIM ${s.phase.toFixed(4)} over ${s.pixels} px`);
  t.true(s.amplitude >= 0.98 && s.phase >= 0.98, JSON.stringify(s));
  t.true(existsSync(path.join(out, 'amplitude.png')) && existsSync(path.join(out, 'phase.png')));
});

// Loss changes the data, not just its order: a dropped frame takes its own
// group and every group whose K = 7 pool it was in, and this briefly trained
// network's phase is specific to each group (phase SSIM 0.005 against the
// true object; two group seeds over the same frames agree to 0.55), so the
// phase against the whole-scan file run cannot reach 0.95 on every seed
// (measured in docs/BENCHMARKS.md, "Live stream"). What the live path must get
// right is checked exactly: the reconstruction equals the file pipeline's over
// the frames that arrived (those replay did not drop, indices kept), whatever
// the order they came in.
for (const seed of [1, 2, 3, 4, 5]) {
  test.serial(
    `seed ${seed}: with 5 % dropped and a shuffle window of 16 the counts equal what replay injected; live = file over the frames that arrived`,
    async (t) => {
      const { ran, sent, out } = await live(`lossy-${seed}`, { drop: 0.05, shuffleWindow: 16, seed });
      t.is(ran.error, undefined, String(ran.error));
      t.is(ran.summary.tensors.leaked, 0);
      t.true(sent.dropped > 0 && sent.out_of_order > 0, JSON.stringify(sent));
      t.like(info(ran), { received: sent.sent, dropped: sent.dropped, out_of_order: sent.out_of_order, duplicated: 0 });
      const liveRecon = await readRecon(path.join(out, 'reconstruction.npz'));
      const arrived = await scanWithout(fx, sent.dropped_indices, path.join(fx.dir, `arrived-${seed}.npz`));
      const keptOut = path.join(fx.dir, `arrived-${seed}`);
      await mkdir(keptOut);
      const k = await runText(inferPipeline(`{ type: npz, path: ${arrived}, on_error: skip }`, fx), keptOut);
      t.is(k.error, undefined, String(k.error));
      const same = compareRecons(await readRecon(path.join(keptOut, 'reconstruction.npz')), liveRecon);
      const whole = compareRecons(fileRecon, liveRecon);
      t.log(
        `dropped ${sent.dropped}, out of order ${sent.out_of_order}: vs the file run over what arrived ${same.amplitude.toFixed(4)} / ${same.phase.toFixed(4)}; vs the whole scan's ${whole.amplitude.toFixed(4)} / ${whole.phase.toFixed(4)} (amplitude / phase SSIM)`,
      );
      t.true(same.amplitude >= 0.98 && same.phase >= 0.98, JSON.stringify(same));
      // Against the whole scan only the amplitude is bounded: the phase depends on which groups the lost
      // frames removed and on this briefly trained network's per-group phase noise (0.52-0.98 over
      // seeds and checkpoints, docs/BENCHMARKS.md "Live stream"); it is logged above.
      t.true(whole.amplitude >= 0.95, JSON.stringify(whole));
    },
  );
}

test.serial('a sender that stops without its series end: the run ends after idle_timeout_s with a warning and a reconstruction', async (t) => {
  const t0 = performance.now();
  const { ran, out } = await live('no-end', { end: false }, 1.5);
  t.is(ran.error, undefined, String(ran.error));
  t.true(performance.now() - t0 >= 1500);
  t.true(
    ran.warnings.some((w) => w.includes('no series end')),
    ran.warnings.join('\n'),
  );
  t.is(info(ran).received, fx.frames);
  t.is(info(ran).declared, undefined);
  const s = compareRecons(fileRecon, await readRecon(path.join(out, 'reconstruction.npz')));
  t.true(s.amplitude >= 0.98, JSON.stringify(s));
  t.is(ran.summary.tensors.leaked, 0);
});

test.serial('refine at the end of the series over the spilled frames: as the file pipeline refines, nothing leaked', async (t) => {
  const passes = 3;
  const { ran, sent, out } = await live('refined', {}, 5, (src, f, extra) => refinePipeline(src, f, passes, extra));
  t.is(ran.error, undefined, String(ran.error));
  t.is(ran.summary.tensors.leaked, 0);
  t.is(sent.sent, fx.frames);
  const r = ran.summary.sinks.refine as { passes: number; start_loss: number; final_loss: number };
  t.is(r.passes, passes);
  t.true(r.final_loss < r.start_loss, JSON.stringify(r));
  const fileOut = path.join(fx.dir, 'refined-file');
  await mkdir(fileOut);
  const f = await runText(refinePipeline(`{ type: npz, path: ${fx.scan} }`, fx, passes), fileOut);
  t.is(f.error, undefined, String(f.error));
  const s = compareRecons(await readRecon(path.join(fileOut, 'refined.npz')), await readRecon(path.join(out, 'refined.npz')));
  t.log(`refined live vs refined file (${passes} passes over ${fx.frames} frames): amplitude SSIM ${s.amplitude.toFixed(4)}, phase SSIM ${s.phase.toFixed(4)}`);
  t.true(s.amplitude >= 0.98 && s.phase >= 0.98, JSON.stringify(s));
});

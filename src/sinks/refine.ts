// The `refine` sink: iterative refinement of a stitched object directly
// against the measured patterns, with the same far-field forward model the
// network is trained through (SPEC §1). The object canvas itself is the only
// unknown: for every batch, each pattern's N×N window is cut out of the canvas
// at its scan position (bilinear for sub-pixel positions), multiplied by the
// probe, propagated, and its amplitude compared with the measured one (squared
// error on amplitudes, the variance-stabilised form of the Poisson
// likelihood); Adam updates the canvas. The probe stays fixed unless
// `refine_probe` names the pass from which it is updated too (as ePIE does
// once the object has taken shape; object and probe share one overall scale,
// so only their product is determined).
//
// It starts from what `infer` wrote (object, probe, canvas origin), so the
// network's reconstruction is the initial guess, or from a flat object. A first
// pass fits one real factor that scales the starting object to the data (the
// network's object and the data need not share units). The step size is
// relative to the object's mean amplitude and decays (cosine) over `epochs` or
// `max_minutes`, whichever ends first.
//
// Memory: the canvas, its Adam moments and one batch; the patterns stream in
// again on every pass, as in training.
import { DataError, OptionsError } from '../errors.js';
import { linePlot } from '../io/png.js';
import { defineSink, type Json, type ScanMeta, type SinkOutput, type StageContext } from '../pipeline/types.js';
import { writeFileAtomic } from '../util/atomic.js';
import { duration, rate, sig } from '../util/format.js';
import { writeReconstruction, type InferOutputs } from './shared/reconstruction.js';
import { budgetSpent, checkCosineRates, outPath, reconstructionOutput, savePng, secondsSince, tensorBatchStream } from './shared/util.js';
import { PassScorer, timeToSsim, type PassScore } from './shared/pass-score.js';
import { refineSpec } from './shared/refine-spec.js';
import { Refinement, type Fit } from './shared/refine-run.js';
import { startingPoint, type RefineOptions, type Start } from './shared/refine-windows.js';

export { cutWindows, measured, startingPoint, windowTaps, type RefineOptions, type Start } from './shared/refine-windows.js';

type History = ({ epoch: number; loss: number; lr: number; seconds: number } & Partial<PassScore>)[];

/** The probe's RMS amplitude; a probe that lights nothing is refused (before any tensor exists). */
function probeRmsOf(start: Start, N: number, ctx: StageContext): number {
  const { probe } = start;
  if (probe.height !== N || probe.width !== N) {
    throw new DataError('SHAPE_MISMATCH', `stage '${ctx.id}': the probe is ${probe.height}×${probe.width} but the patterns are ${N}×${N}`, {
      stage: ctx.id,
      file: start.from,
      hint: 'refine with the reconstruction of this scan',
    });
  }
  let ms = 0;
  for (let i = 0; i < N * N; i++) ms += probe.re[i]! ** 2 + probe.im[i]! ** 2;
  const rms = Math.sqrt(ms / (N * N));
  if (!(rms > 0)) {
    throw new DataError('NO_SIGNAL', `stage '${ctx.id}': the probe is zero (or not finite): it lights nothing, so the object cannot be fitted`, {
      stage: ctx.id,
      file: start.from,
      hint: 'refine the NPZ infer wrote for this scan, whose probe the network used',
    });
  }
  return rms;
}

/** Passes until `epochs` or the time budget, each scored when due. */
async function runPasses(
  ctx: StageContext,
  run: Refinement,
  options: RefineOptions,
  scan: ScanMeta,
  start: Start,
  fit: Fit,
  budget: number,
): Promise<{ history: History; stopped: 'epochs' | 'time_budget'; seconds: number; scored: boolean }> {
  const { placement } = start;
  const history: History = [];
  const scorer = PassScorer.for(scan, options.score_every);
  const tr = performance.now();
  const t = { seconds: () => secondsSince(tr), budget, batches: undefined as number | undefined };
  for (let epoch = 0; epoch < options.epochs; epoch++) {
    ctx.signal.throwIfAborted();
    const te = performance.now();
    const { loss, lr, seen } = await run.pass(epoch, fit, t);
    t.batches ??= seen;
    const record = { epoch: epoch + 1, loss, lr, seconds: secondsSince(te) };
    const outOfTime = epoch + 1 < options.epochs && budgetSpent(t.seconds(), budget, record.seconds, true);
    const score =
      scorer?.due(epoch + 1, outOfTime || epoch + 1 === options.epochs) === true
        ? scorer.score(run.object(), [placement.originX, placement.originY])
        : undefined;
    history.push({ ...record, ...score });
    ctx.progress({
      label: 'pass',
      pass: { index: epoch + 1, of: options.epochs },
      done: seen,
      total: seen,
      unit: 'batches',
      info: { loss, lr, ...score },
      finished: true,
    });
    if (outOfTime) return { history, stopped: 'time_budget', seconds: t.seconds(), scored: scorer !== undefined };
  }
  return { history, stopped: 'epochs', seconds: t.seconds(), scored: scorer !== undefined };
}

export default defineSink({
  ...refineSpec,
  async create(options, { ctx, inputs }): Promise<SinkOutput> {
    const t0 = performance.now();
    const input = tensorBatchStream(inputs[0], ctx, 'input 0 (pattern batches)');
    const scan = input.meta.scan;
    if (scan === undefined)
      throw new OptionsError('NO_SCAN_META', `stage '${ctx.id}': its input carries no scan metadata (positions)`, {
        stage: ctx.id,
        hint: 'feed refine from a source through group/batch/tensorify',
      });
    checkCosineRates(ctx, options.lr, options.final_lr);
    const start = await startingPoint(options, scan, ctx, inputs[1]);
    const { placement } = start;
    const run = new Refinement(ctx, options, input, start, probeRmsOf(start, scan.N, ctx));
    try {
      const fit = await run.fit();
      const budget = options.max_minutes === undefined ? Infinity : options.max_minutes * 60;
      ctx.log.info(
        `starting from ${start.from}: scaled by ${fit.scale.toPrecision(6)}, mean amplitude ${fit.meanAmp.toPrecision(4)}, amplitude MSE ${sig(fit.startLoss)}; lr cosine ${rate(options.lr)} → ${rate(options.final_lr)} over ${options.epochs} passes${Number.isFinite(budget) ? ` or ${duration(budget)}` : ''}`,
      );
      const { history, stopped, seconds, scored } = await runPasses(ctx, run, options, scan, start, fit, budget);
      const last = history[history.length - 1]!;
      ctx.log.info(
        `${history.length} passes in ${duration(seconds)}: amplitude MSE ${sig(fit.startLoss)} → ${sig(last.loss)}, lr ${rate(last.lr)} at the end${stopped === 'time_budget' ? ' (time budget)' : ''}`,
      );
      const object = run.object();
      const files: InferOutputs = {
        npz: outPath(ctx, options.npz),
        amplitude_png: outPath(ctx, options.amplitude_png),
        phase_png: outPath(ctx, options.phase_png),
      };
      const finalProbe = run.probe();
      await writeReconstruction(files, { object, covered: fit.centre, placement }, finalProbe, ctx.id);
      await writeFileAtomic(outPath(ctx, options.history), JSON.stringify(history, null, 2) + '\n');
      await savePng(
        outPath(ctx, options.loss_plot),
        linePlot([{ name: 'amplitude MSE', x: [0, ...history.map((h) => h.epoch)], y: [fit.startLoss, ...history.map((h) => h.loss)] }], {
          title: `${ctx.id} loss`,
          xlabel: 'pass',
          ylabel: 'loss',
        }),
      );
      const summary: Json = {
        ...files,
        from: start.from,
        scale: fit.scale,
        passes: history.length,
        probe_refined_from: options.refine_probe > 0 && history.length >= options.refine_probe ? options.refine_probe : null,
        stopped,
        start_loss: fit.startLoss,
        final_loss: last.loss,
        ...(scored ? { time_to_ssim: timeToSsim(history) } : {}),
        history: outPath(ctx, options.history),
        loss_plot: outPath(ctx, options.loss_plot),
        seconds: secondsSince(t0),
      };
      return reconstructionOutput(
        summary,
        { object, probe: finalProbe, origin: [placement.originX, placement.originY], weights: fit.centre, file: files.npz },
        scan,
      );
    } finally {
      run.dispose();
    }
  },
});

// The `epie` sink: the classical iterative engine (ePIE, or rPIE with
// `alpha` < 1) on the same frame streams as the network. Every pass visits
// every pattern once, one at a time, in a new seeded random order, and
// corrects the object where that pattern's window lies (physics/epie.ts);
// the probe (one or several incoherent modes) is corrected too from pass
// `refine_probe` on, and the scan positions from pass `refine_positions` on.
// The step β decays (cosine) from `step` to `final_step` over `epochs` or
// `max_minutes`, as refine's learning rate does: full steps to converge,
// small ones to average the noise.
//
// Typed arrays and the host FFT, no tensors: the update is sequential, and
// per-pattern tensor calls cost more than the arithmetic (docs/RESULTS.md).
// Memory: the object canvas, the probe modes, the positions and one chunk of
// frames, whatever the scan size. Writes the layout of infer/refine (NPZ,
// PNGs, history) and emits the reconstruction record, so `evaluate` scores it
// (inputs: [epie]).
import { DataError, OptionsError } from '../errors.js';
import { linePlot } from '../io/png.js';
import { EpieKernel } from '../physics/epie.js';
import { orthogonalizeModes, modePower, type Mode } from '../physics/modes.js';
import { defineSink, type Complex2D, type Frame, type ScanMeta, type SinkOutput, type StageContext } from '../pipeline/types.js';
import { writeFileAtomic } from '../util/atomic.js';
import { duration, rate, sig } from '../util/format.js';
import { yieldToEventLoop } from '../util/signals.js';
import { PassScorer, timeToSsim, type PassScore } from './shared/pass-score.js';
import { epieOptions, type EpieOptions } from './shared/epie-spec.js';
import { engineStart, type EngineStart } from './shared/epie-start.js';
import { frameStream, framesInRandomOrder } from './shared/frame-order.js';
import { interleave, writeReconstruction, type InferOutputs } from './shared/reconstruction.js';
import { PositionTracker } from './shared/positions.js';
import { budgetSpent, cosineLr, outPath, reconstructionOutput, savePng, secondsSince, trainingProgress } from './shared/util.js';

/** The modes as one (M·N, N) complex array, interleaved like infer's arrays. */
function interleaveModes(modes: readonly Mode[], N: number): Float32Array {
  const NN = N * N,
    re = new Float32Array(NN * modes.length),
    im = new Float32Array(NN * modes.length);
  modes.forEach((m, k) => {
    re.set(m.re, k * NN);
    im.set(m.im, k * NN);
  });
  return interleave({ height: N * modes.length, width: N, re, im });
}

type History = ({ epoch: number; loss: number; fourier_error: number; step: number; seconds: number; position_rms?: number } & Partial<PassScore>)[];

/** One run's engine: the kernel over the canvas and probe modes, the positions, and the seeded frame order per pass. */
interface Engine {
  ctx: StageContext;
  options: EpieOptions;
  N: number;
  where: string;
  scan: ScanMeta;
  start: EngineStart;
  kernel: EpieKernel;
  positions: PositionTracker;
  order: (pass: number) => AsyncIterable<Frame>;
}

/** Pass 0: the object's scale from the energies (Σ Â² against Σ A², Parseval), applied to the canvas, and the starting misfit. */
async function fitScale(e: Engine): Promise<{ scale: number; startLoss: number; patterns: number }> {
  const { kernel, positions, where, ctx, start, N } = e;
  let ax = 0,
    aa = 0,
    xx = 0,
    patterns = 0;
  for await (const f of e.order(0)) {
    const [sx, sy] = positions.corner(f.index);
    const r = kernel.predict(f.amplitude, sx, sy);
    ax += r.ax;
    aa += r.aa;
    xx += r.xx;
    patterns++;
  }
  if (patterns === 0) throw new DataError('EMPTY_INPUT', `${where}: the input yielded no frames`, { stage: ctx.id });
  if (!(aa > 0) || !(xx > 0))
    throw new DataError('NO_SIGNAL', `${where}: the start predicts no signal, or the data has none (Σ Â² = ${aa}, Σ A² = ${xx})`, {
      stage: ctx.id,
      file: start.from,
      hint: 'check that the probe and the starting object belong to this scan',
    });
  const scale = Math.sqrt(xx / aa),
    values = patterns * N * N;
  const { canvas } = start;
  for (let i = 0; i < canvas.re.length; i++) {
    canvas.re[i] = canvas.re[i]! * scale;
    canvas.im[i] = canvas.im[i]! * scale;
  }
  return { scale, startLoss: (scale * scale * aa - 2 * scale * ax + xx) / values, patterns };
}

/** One pass over the patterns in its seeded order: the ePIE/rPIE update of each, with the probe and position corrections when on. */
async function onePass(
  e: Engine,
  epoch: number,
  patterns: number,
  clock: { seconds: () => number; budget: number },
): Promise<{ error: number; energy: number; done: number; beta: number; probeOn: boolean; positionsOn: boolean }> {
  const { kernel, positions, options, where, ctx } = e;
  const pass = { index: epoch + 1, of: options.epochs };
  const probeOn = options.refine_probe > 0 && epoch + 1 >= options.refine_probe;
  const positionsOn = options.refine_positions > 0 && epoch + 1 >= options.refine_positions;
  let error = 0,
    energy = 0,
    done = 0,
    beta = options.step;
  for await (const f of e.order(epoch + 1)) {
    beta = cosineLr(
      options.step,
      options.final_step,
      trainingProgress({ epoch, batch: done, batches: patterns, epochs: options.epochs, seconds: clock.seconds(), budget: clock.budget }),
    );
    let [sx, sy] = positions.corner(f.index);
    if (positionsOn && options.position_search > 0) {
      const radius = options.position_search * (1 - 0.9 * ((epoch + 1 - options.refine_positions) / Math.max(options.epochs - options.refine_positions, 1)));
      const jump = kernel.searchShift(f.amplitude, sx, sy, radius);
      if (jump.dx !== 0 || jump.dy !== 0) {
        positions.move(f.index, jump.dx, jump.dy, Infinity);
        [sx, sy] = positions.corner(f.index);
      }
    }
    const r = kernel.update(f.amplitude, sx, sy, { object: beta, probe: probeOn ? beta : 0, position: positionsOn });
    if (!Number.isFinite(r.error))
      throw new DataError('LOSS_NOT_FINITE', `${where}: the misfit became ${r.error} at frame ${f.index} in pass ${epoch + 1}`, {
        stage: ctx.id,
        key: `frame ${f.index}`,
        hint: 'check the frame for NaN/Inf values, or lower step / alpha',
      });
    if (positionsOn) positions.move(f.index, options.position_step * r.dx, options.position_step * r.dy, options.max_position_step);
    error += r.error;
    energy += r.energy;
    done++;
    if (done % 256 === 0) {
      ctx.progress({ label: 'pass', pass, done, total: patterns, unit: 'patterns', info: { error: error / energy, step: beta } });
      // The loop is CPU-bound and a frame store may answer without I/O: let timers and
      // signal handlers (an abort, Ctrl-C) run now and then.
      await yieldToEventLoop();
      ctx.signal.throwIfAborted();
    }
  }
  await yieldToEventLoop();
  return { error, energy, done, beta, probeOn, positionsOn };
}

/** Passes until `epochs` or the time budget; the modes re-orthogonalised and the positions recentred after each. */
async function runPasses(
  e: Engine,
  patterns: number,
): Promise<{ history: History; stopped: 'epochs' | 'time_budget'; modePowers: number[]; seconds: number; scored: boolean }> {
  const { options, ctx, start, N, positions } = e;
  const { modes, placement } = start;
  const budget = options.max_minutes === undefined ? Infinity : options.max_minutes * 60;
  const history: History = [];
  const scorer = PassScorer.for(e.scan, options.score_every);
  let modePowers = modes.length === 1 ? [1] : orthogonalizeModes(modes);
  const tr = performance.now();
  const clock = { seconds: () => secondsSince(tr), budget };
  for (let epoch = 0; epoch < options.epochs; epoch++) {
    ctx.signal.throwIfAborted();
    const te = performance.now();
    const p = await onePass(e, epoch, patterns, clock);
    if (p.probeOn && modes.length > 1) {
      modePowers = orthogonalizeModes(modes);
      e.kernel.probeChanged();
    }
    if (p.positionsOn) positions.recentre();
    const record = {
      epoch: epoch + 1,
      loss: p.error / (p.done * N * N),
      fourier_error: p.error / p.energy,
      step: p.beta,
      seconds: secondsSince(te),
      ...(p.positionsOn ? { position_rms: positions.rmsShift() } : {}),
    };
    const outOfTime = epoch + 1 < options.epochs && budgetSpent(clock.seconds(), budget, record.seconds, options.final_step < options.step);
    const score =
      scorer?.due(epoch + 1, outOfTime || epoch + 1 === options.epochs) === true
        ? scorer.score(start.canvas, [placement.originX, placement.originY])
        : undefined;
    history.push({ ...record, ...score });
    ctx.progress({
      label: 'pass',
      pass: { index: epoch + 1, of: options.epochs },
      done: p.done,
      total: patterns,
      unit: 'patterns',
      info: { error: record.fourier_error, step: p.beta, ...score },
      finished: true,
    });
    if (outOfTime) return { history, stopped: 'time_budget', modePowers, seconds: clock.seconds(), scored: scorer !== undefined };
  }
  return { history, stopped: 'epochs', modePowers, seconds: clock.seconds(), scored: scorer !== undefined };
}

export default defineSink({
  kind: 'sink',
  type: 'epie',
  description: 'Reconstructs object (and optionally probe modes and positions) with ePIE/rPIE from a frame stream; writes it like infer.',
  arity: { min: 1, max: 1 },
  accepts: [['frame']],
  emits: 'reconstruction',
  options: epieOptions,
  async create(options, { ctx, inputs }): Promise<SinkOutput> {
    const t0 = performance.now();
    const input = frameStream(inputs[0], ctx);
    const scan = input.meta.scan!,
      N = scan.N,
      where = `stage '${ctx.id}'`;
    if (options.final_step > options.step)
      throw new OptionsError('BAD_OPTION', `${where}: final_step ${options.final_step} is above step ${options.step}`, {
        stage: ctx.id,
        key: 'final_step',
        hint: 'the step decays from step to final_step: choose final_step ≤ step',
      });
    const start = await engineStart(options, scan, ctx);
    const { canvas, placement, modes } = start;
    const kernel = new EpieKernel(N, canvas, modes, options.alpha);
    const positions = new PositionTracker(scan, placement, N, (sx, sy) => kernel.fits(sx, sy), where);
    const order = (p: number): AsyncIterable<Frame> =>
      framesInRandomOrder(input, { pass: p, seed: ctx.seed, chunk: options.read_chunk, buffer: options.shuffle_buffer, signal: ctx.signal });
    const engine: Engine = { ctx, options, N, where, scan, start, kernel, positions, order };
    const { scale, startLoss, patterns } = await fitScale(engine);
    ctx.log.info(
      `starting from ${start.from} with ${modes.length} probe mode(s) from ${start.probeFrom}: object scaled by ${scale.toPrecision(6)}, amplitude MSE ${startLoss.toPrecision(6)}`,
    );
    const { history, stopped, modePowers, seconds, scored } = await runPasses(engine, patterns);

    const object: Complex2D = { height: canvas.height, width: canvas.width, re: Float32Array.from(canvas.re), im: Float32Array.from(canvas.im) };
    const probe: Complex2D = { height: N, width: N, re: Float32Array.from(modes[0]!.re), im: Float32Array.from(modes[0]!.im) };
    const extra = {
      ...(modes.length > 1 ? { probe_modes: { shape: [modes.length, N, N], data: interleaveModes(modes, N), descr: '<c8' } } : {}),
      ...(options.refine_positions > 0 ? positions.arrays() : {}),
    };
    const files: InferOutputs = {
      npz: outPath(ctx, options.npz),
      amplitude_png: outPath(ctx, options.amplitude_png),
      phase_png: outPath(ctx, options.phase_png),
    };
    const covered = positions.covered(canvas.re.length);
    await writeReconstruction(files, { object, covered, placement }, probe, ctx.id, extra);
    await writeFileAtomic(outPath(ctx, options.history), JSON.stringify(history, null, 2) + '\n');
    await savePng(
      outPath(ctx, options.loss_plot),
      linePlot([{ name: 'amplitude MSE', x: [0, ...history.map((h) => h.epoch)], y: [startLoss, ...history.map((h) => h.loss)] }], {
        title: `${ctx.id} misfit`,
        xlabel: 'pass',
        ylabel: 'amplitude MSE',
      }),
    );
    const last = history[history.length - 1]!,
      passes = history.length;
    ctx.log.info(
      `${passes} passes in ${duration(seconds)}: Fourier error ${sig(last.fourier_error)}, step ${rate(last.step)} at the end${stopped === 'time_budget' ? ' (time budget)' : ''}`,
    );
    const after = (k: number): number | null => (k > 0 && passes >= k ? k : null);
    const summary = {
      ...files,
      engine: options.alpha === 1 ? 'ePIE' : 'rPIE',
      alpha: options.alpha,
      from: start.from,
      probe_from: start.probeFrom,
      scale,
      passes,
      probe_refined_from: after(options.refine_probe),
      probe_modes: modes.length,
      mode_power: modePowers.map((p) => +p.toFixed(4)),
      probe_power: modes.reduce((s, m) => s + modePower(m), 0),
      positions_refined_from: after(options.refine_positions),
      ...(options.refine_positions > 0 ? positions.summary() : {}),
      stopped,
      start_loss: startLoss,
      final_loss: last.loss,
      fourier_error: last.fourier_error,
      seconds_per_pass: +(seconds / passes).toFixed(3),
      ...(scored ? { time_to_ssim: timeToSsim(history) } : {}),
      history: outPath(ctx, options.history),
      loss_plot: outPath(ctx, options.loss_plot),
      seconds: secondsSince(t0),
    };
    return reconstructionOutput(summary, { object, probe, origin: [placement.originX, placement.originY], weights: covered, file: files.npz }, scan);
  },
});

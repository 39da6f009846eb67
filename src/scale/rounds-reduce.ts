// The arithmetic of a rounds job, apart from the messaging (rounds.ts): the
// tiles' contributions of one round, added in shard-id order, and the update
// refine applies with `step: pass` (PassRefiner, the very code of the
// single-process run). Round 0 is refine's scale fit: its sums add, its lit
// and covered pixels unite. Tests drive it with shards run in-process.
import { DataError, ScaleError } from '../errors.js';
import type { CanvasPlacement } from '../sinks/shared/reconstruction.js';
import { addGradient, PassRefiner, type PassGradient, type PassSchedule } from '../sinks/shared/refine-pass.js';
import type { FitContribution, RoundState } from './rounds-npz.js';

interface Started {
  passer: PassRefiner;
  placement: CanvasPlacement;
  centre: Uint8Array;
  N: number;
  scale: number;
  startLoss: number;
}

export class RoundReducer {
  readonly history: { epoch: number; loss: number; lr: number }[] = [];
  private s: Started | undefined;
  constructor(
    private readonly schedule: PassSchedule,
    private readonly job: string,
  ) {}

  get started(): boolean {
    return this.s !== undefined;
  }

  /** Round 0, the tiles' fits in shard order. */
  fit(fits: readonly FitContribution[]): void {
    const first = fits[0];
    if (first === undefined) throw new ScaleError('NOTHING_TO_MERGE', `rounds job '${this.job}': round 0 has no contributions`);
    const [sAX, sAA, sXX, values] = [0, 1, 2, 3].map((k) => fits.reduce((s, f) => s + f.sums[k]!, 0)) as [number, number, number, number];
    const q = first.placement,
      lit = new Uint8Array(first.lit.length),
      centre = new Uint8Array(first.lit.length);
    for (const f of fits) {
      const p = f.placement;
      if (p.width !== q.width || p.height !== q.height || p.originX !== q.originX || p.originY !== q.originY)
        throw new ScaleError('CANVAS_MISMATCH', `rounds job '${this.job}': the tiles have different canvases`, {
          hint: 'all tiles must read the same scan; resubmit the job',
        });
      for (let i = 0; i < lit.length; i++) {
        lit[i] = lit[i]! | f.lit[i]!;
        centre[i] = centre[i]! | f.centre[i]!;
      }
    }
    if (values === 0) throw new DataError('EMPTY_INPUT', `rounds job '${this.job}': no tile yielded a pattern`);
    if (!(sAA > 0) || !(sAX > 0))
      throw new DataError(
        'NO_SIGNAL',
        `rounds job '${this.job}': the starting object predicts no signal where the data has some (Σ A·X = ${sAX}, Σ A² = ${sAA})`,
        { hint: 'check that the start reconstruction and the probe belong to this scan' },
      );
    const scale = sAX / sAA;
    this.s = {
      passer: new PassRefiner(first.start, first.probe, scale, lit),
      placement: q,
      centre,
      N: first.probe.height,
      scale,
      startLoss: (sXX - (sAX * sAX) / sAA) / values,
    };
  }

  /** Round `round` ≥ 1 (pass `round`), the tiles' gradients in shard order. */
  pass(round: number, parts: readonly PassGradient[]): void {
    const s = this.started0();
    const g = parts[0];
    if (g === undefined) throw new ScaleError('NOTHING_TO_MERGE', `rounds job '${this.job}': round ${round} has no contributions`);
    for (const x of parts.slice(1)) addGradient(g, x);
    const lr = PassRefiner.lr(this.schedule, round - 1);
    const loss = s.passer.step(g, lr);
    if (!Number.isFinite(loss))
      throw new DataError('LOSS_NOT_FINITE', `rounds job '${this.job}': the loss became ${loss} in pass ${round}`, { hint: 'lower lr' });
    this.history.push({ epoch: round, loss, lr });
  }

  /** The object and probe the next round computes at. */
  state(): RoundState {
    const s = this.started0();
    return { object: s.passer.object(s.placement.height, s.placement.width), probe: s.passer.probe(s.N), placement: s.placement };
  }

  result(): RoundState & { covered: Uint8Array; scale: number; startLoss: number } {
    const s = this.started0();
    return { ...this.state(), covered: s.centre, scale: s.scale, startLoss: s.startLoss };
  }

  private started0(): Started {
    if (this.s === undefined) throw new ScaleError('NOTHING_TO_MERGE', `rounds job '${this.job}': round 0 (the scale fit) is not reduced yet`);
    return this.s;
  }
}

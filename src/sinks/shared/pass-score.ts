// Scoring an iterative engine's object every K passes against the scan's
// truth (simulations, or a scan file with an objectGuess), so a comparison
// can state the time each method needs to reach an SSIM, not only where it
// ends. Scored like `evaluate` with its defaults (scan box ± N/4, sub-pixel
// registration, phase plane removed, amplitude scaled by the mean ratio); the
// scoring time is not counted in the pass's seconds.
import { evaluateObject } from '../../physics/metrics.js';
import type { Complex2D, Json, ScanMeta } from '../../pipeline/types.js';
import { scanCrop, toObjectFrame, type ComplexGrid } from './object-frame.js';

export interface PassScore {
  amplitude_ssim: number;
  phase_ssim: number;
}

/** A history record, with the per-pass score where one was taken. */
export interface ScoredPass {
  epoch: number;
  seconds: number;
  amplitude_ssim?: number;
  phase_ssim?: number;
}

export const SSIM_TARGETS = [0.95, 0.99] as const;

export class PassScorer {
  private constructor(
    private readonly truth: Complex2D,
    private readonly scan: ScanMeta,
    private readonly every: number,
  ) {}

  /** A scorer when `every` > 0 and the scan carries a truth object; undefined otherwise. */
  static for(scan: ScanMeta, every: number): PassScorer | undefined {
    return every > 0 && scan.object !== undefined ? new PassScorer(scan.object, scan, every) : undefined;
  }

  /** Whether pass `epoch` (1-based) is scored: every K-th, and the last. */
  due(epoch: number, last: boolean): boolean {
    return epoch % this.every === 0 || last;
  }

  score(object: ComplexGrid, origin: readonly [number, number]): PassScore {
    const recon = toObjectFrame(object, origin[0], origin[1], this.truth.height, this.truth.width);
    const r = evaluateObject(this.truth, recon, { crop: scanCrop(this.scan, undefined) });
    return { amplitude_ssim: +r.amplitude.ssim.toFixed(5), phase_ssim: +r.phase.ssim.toFixed(5) };
  }
}

/**
 * Engine seconds (the sum of pass times) and passes until each SSIM target was
 * first reached, for amplitude and phase; null where it never was.
 */
export function timeToSsim(history: readonly ScoredPass[]): Json {
  const out: Record<string, Record<string, { pass: number; seconds: number } | null>> = { amplitude: {}, phase: {} };
  for (const part of ['amplitude', 'phase'] as const) {
    for (const target of SSIM_TARGETS) {
      let elapsed = 0,
        hit: { pass: number; seconds: number } | null = null;
      for (const h of history) {
        elapsed += h.seconds;
        const v = h[`${part}_ssim`];
        if (v !== undefined && v >= target) {
          hit = { pass: h.epoch, seconds: +elapsed.toFixed(3) };
          break;
        }
      }
      out[part]![String(target)] = hit;
    }
  }
  return out;
}

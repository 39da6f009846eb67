// Builds the per-stage context (signal, log, progress, ledger, rng, error policy).
import { DataError, isErrorCode, pluginCode, PtychoflowError } from '../errors.js';
import { type Logger, silentLogger } from '../util/log.js';
import { Rng } from '../util/rng.js';
import { TensorLedger } from './ledger.js';
import type { AllowSettings, ErrorPolicy, ProgressEvent, RoutedError, StageContext } from './types.js';

export interface ContextOptions {
  id: string;
  signal: AbortSignal;
  seed: number;
  log?: Logger;
  ledger?: TensorLedger;
  progress?: (event: ProgressEvent) => void;
  baseDir?: string;
  outDir?: string;
  backend?: string;
  allow?: AllowSettings;
  /** Most routed errors kept in memory per stage (the count is always exact). */
  maxRouted?: number;
}

export function createStageContext(o: ContextOptions): StageContext {
  const stats: StageContext['stats'] = { errors: 0, routed: [] };
  const maxRouted = o.maxRouted ?? 10_000;
  const progress = o.progress;
  return {
    id: o.id,
    signal: o.signal,
    log: (o.log ?? silentLogger).child(o.id),
    progress: (event) => progress?.({ ...event, stage: o.id }),
    ledger: o.ledger ?? new TensorLedger(),
    rng: Rng.derive(o.seed, 'stage', o.id),
    seed: o.seed,
    baseDir: o.baseDir ?? process.cwd(),
    outDir: o.outDir ?? process.cwd(),
    backend: o.backend ?? 'unknown',
    ...(o.allow === undefined ? {} : { allow: o.allow }),
    stats,
    badRecord(policy: ErrorPolicy, error: Error & { code?: string }, record?: number | string): void {
      if (policy === 'fail') {
        if (error instanceof PtychoflowError) throw error;
        // A plugin's own code passes through as the plugin named it.
        throw new DataError(isErrorCode(error.code) ? error.code : error.code !== undefined ? pluginCode(error.code) : 'BAD_RECORD', error.message, {
          stage: o.id,
          cause: error,
        });
      }
      stats.errors++;
      if (policy === 'route' && stats.routed.length < maxRouted) {
        const routed: RoutedError = { stage: o.id, code: error.code ?? 'BAD_RECORD', message: error.message, ...(record === undefined ? {} : { record }) };
        stats.routed.push(routed);
      }
    },
  };
}

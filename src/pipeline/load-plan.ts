// Reading a pipeline file into a validated plan, apart from the runner, so
// that `validate` imports neither the runner nor TensorFlow.js behind it.
import path from 'node:path';
import { PipelineFileError } from '../errors.js';
import { documentValue, readPipelineFile, validatePipeline } from './load.js';
import type { PipelinePlan } from './plan.js';
import { loadPlugins, type Registry } from './registry.js';

export interface LoadOptions {
  registry: Registry;
  /** `key.path=value` overrides applied before validation. */
  sets?: readonly string[];
  /** File contents (tests); read from `file` when absent. */
  text?: string;
}

/** Reads, loads plugins for, and validates a pipeline file. Throws PipelineFileError listing every problem. */
export async function loadPlan(file: string, opts: LoadOptions): Promise<PipelinePlan> {
  const loaded = readPipelineFile(file, opts.text);
  const raw: unknown = loaded.doc.errors.length === 0 ? documentValue(loaded.doc, file) : undefined;
  const plugins = raw !== null && typeof raw === 'object' && 'plugins' in raw ? raw.plugins : undefined;
  let registry = opts.registry;
  if (Array.isArray(plugins) && plugins.length > 0) {
    if (!plugins.every((p) => typeof p === 'string')) {
      throw new PipelineFileError('PIPELINE_INVALID', 'plugins: expected a list of module paths or package names', { file, key: 'plugins' });
    }
    registry = registry.clone();
    const allow = (raw as { allow?: { plugins_outside?: unknown } }).allow;
    await loadPlugins(plugins, path.dirname(path.resolve(file)), registry, { allowOutside: allow?.plugins_outside === true });
  }
  return validatePipeline(loaded, registry, opts.sets ?? []);
}

/**
 * The run's output directory: `override` (the command line's, relative to
 * the working directory), else the file's `output` (relative to the file, as
 * every path in it), else runs/<file name> in the working directory, which is
 * where a pipeline shipped in the package or copied from it writes.
 */
export function outputDir(plan: Pick<PipelinePlan, 'file' | 'baseDir' | 'settings'>, override?: string): string {
  if (override !== undefined) return path.resolve(override);
  if (plan.settings.output !== undefined) return path.resolve(plan.baseDir, plan.settings.output);
  return path.resolve('runs', path.basename(plan.file).replace(/\.(ya?ml|json)$/i, '') || 'out');
}

// A chain's plan: its document, with the file-level settings, through the
// same planner as a pipeline file (planPipeline: options, ids, wiring,
// record kinds), against the built-in registry plus the chain's own
// components. Problems are an OptionsError listing them all, by key path.
import { builtinRegistry } from '../components.js';
import { sameComponent } from '../pipeline/lazy.js';
import { OptionsError } from '../errors.js';
import { planPipeline, type PipelinePlan } from '../pipeline/plan.js';
import { formatProblems, problemsOf } from '../pipeline/problems.js';
import type { BackendName } from '../backend/names.js';
import { chainDocument, type Step } from './document.js';

/** The settings a pipeline file has at its top level, for a chain. */
export interface ComposeSettings {
  description?: string;
  backend?: BackendName;
  seed?: number;
  /** Output directory, relative to `baseDir` (default runs/out). */
  output?: string;
  memory?: { tensor_bytes?: number };
  allow?: { paths_outside?: boolean; hdf5_external_links?: boolean; plugins_outside?: boolean };
  /** What relative paths in options resolve against (default: the working directory). */
  baseDir?: string;
  /** The name the run summary gives the pipeline (default `(composed)`). */
  name?: string;
}

const SETTING_KEYS = ['description', 'backend', 'seed', 'output', 'memory', 'allow'] as const;

/** The pipeline document a chain stands for (what a YAML file with the same stages holds). */
export function composedDocument(steps: readonly Step[], settings: ComposeSettings = {}): Record<string, unknown> {
  const { sources, transforms, sinks } = chainDocument(steps);
  const top = Object.fromEntries(SETTING_KEYS.filter((k) => settings[k] !== undefined).map((k) => [k, settings[k]]));
  return { ...top, sources, transforms, ...(Object.keys(sinks).length > 0 ? { sinks } : {}) };
}

/** Plans a chain's steps (a session adds its port as the last one). */
export function planChain(steps: readonly Step[], settings: ComposeSettings = {}): PipelinePlan {
  const { defs } = chainDocument(steps);
  const registry = builtinRegistry();
  for (const def of defs) {
    const have = registry.get(def.type);
    if (have === undefined || !sameComponent(have, def)) registry.add(def, 'the composed chain');
  }
  const file = settings.name ?? '(composed)';
  try {
    // A chain has no file to name its outputs after: runs/out, as before.
    return planPipeline(composedDocument(steps, { ...settings, output: settings.output ?? 'runs/out' }), registry, {
      file,
      baseDir: settings.baseDir ?? process.cwd(),
    });
  } catch (e) {
    const problems = problemsOf(e);
    if (problems.length === 0) throw e;
    const stage = problems.map((p) => p.path[1]).find((k) => typeof k === 'string');
    throw new OptionsError(
      'BAD_OPTIONS',
      `${problems.length} problem${problems.length === 1 ? '' : 's'} in the composed pipeline\n${formatProblems(file, problems)}`,
      {
        ...(stage !== undefined ? { stage } : {}),
        cause: e,
      },
    );
  }
}

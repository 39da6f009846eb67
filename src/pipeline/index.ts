// Loading and running pipeline files: the programmatic entry points the CLI uses.
import { loadPlan, type LoadOptions } from './load-plan.js';
import { runPlan, type RunOptions, type RunOutcome } from './run.js';

export { loadPlan, type LoadOptions } from './load-plan.js';

/** Loads, validates and runs a pipeline file. */
export async function runPipelineFile(file: string, opts: LoadOptions & RunOptions): Promise<RunOutcome> {
  const plan = await loadPlan(file, opts);
  return runPlan(plan, opts);
}

export { runPlan } from './run.js';
export type { RunOptions, RunOutcome, RunSummary, StageSummary } from './run.js';
export { validatePipeline, readPipelineFile } from './load.js';
export { formatProblems, problemsOf, type Problem } from './problems.js';
export type { PipelinePlan, StagePlan } from './plan.js';
export { Registry, loadPlugins } from './registry.js';

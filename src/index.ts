// The public API of ptychoflow for people who script rather than write
// pipeline files. See README.md ("Programmatic use").
export * from './pipeline/types.js';
export { defineFrameMap, type FrameMapSpec } from './transforms/frame-map.js';
export { defineMap, type MapSpec } from './transforms/map-stage.js';
export * from './errors.js';
export { Rng, deriveSeed } from './util/rng.js';
export { createLogger, silentLogger, type Logger, type LogLevel } from './util/log.js';
export { TensorLedger } from './pipeline/ledger.js';
export { loadPlan, runPipelineFile, runPlan, Registry, loadPlugins, formatProblems } from './pipeline/index.js';
export type { RunOptions, RunOutcome, RunSummary, PipelinePlan } from './pipeline/index.js';
export { builtinRegistry, builtinComponents } from './components.js';
export { openScan, type OpenScanOptions, type BatchOptions, type ScanHandle } from './scan.js';
// Composing in code with it-pipe: pipe(stages.npz({ path }), stages.normalize(), ..., run()).
export { pipe } from 'it-pipe';
export * as stages from './compose/stages.js';
export { run, iterate, session, fromStream, type ComposeOptions, type Session } from './compose/run.js';
export { Chain } from './compose/chain.js';
export { composedDocument, type ComposeSettings } from './compose/plan.js';
export { inspectFile } from './io/inspect.js';
export { openNpz, readNpyFile } from './io/npz.js';
export { writeNpz } from './io/npz-writer.js';
export { selectBackend, type BackendInfo, type BackendName } from './backend/select.js';
// The checkpoint format (model weights, config, normalisation, optimizer state).
export { loadCheckpoint, saveCheckpoint, type CheckpointSidecar } from './model/checkpoint.js';
// The zod that ptychoflow validates options with, so a plugin's schemas need
// no zod of their own (a second copy would not be recognised as a schema).
export { z } from 'zod';

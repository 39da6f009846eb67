// The built-in stages, listed explicitly: importing a stage module never
// registers it by side effect; this list is the registry's single source.
// A stage whose module loads TensorFlow.js is listed by its spec and
// imported when a run creates it (pipeline/lazy.ts).
import { lazyComponent } from './pipeline/lazy.js';
import { Registry } from './pipeline/registry.js';
import type { ComponentDef } from './pipeline/types.js';
import compare from './sinks/compare.js';
import epie from './sinks/epie.js';
import evaluate from './sinks/evaluate.js';
import images from './sinks/images.js';
import infer from './sinks/shared/infer-spec.js';
import refine from './sinks/shared/refine-spec.js';
import train from './sinks/shared/train-spec.js';
import writeErrors from './sinks/write-errors.js';
import writeNpz from './sinks/write-npz.js';
import hdf5 from './sources/hdf5.js';
import json from './sources/json.js';
import npz from './sources/npz.js';
import simulate from './sources/simulate.js';
import zmq from './sources/zmq.js';
import batch from './transforms/batch.js';
import group from './transforms/group.js';
import normalize from './transforms/normalize.js';
import poisson from './transforms/poisson.js';
import prefetch from './transforms/prefetch.js';
import shuffle from './transforms/shuffle.js';
import spill from './transforms/spill.js';
import split from './transforms/split.js';
import tensorify from './transforms/tensorify-spec.js';

export const builtinComponents: readonly ComponentDef[] = [
  npz,
  hdf5,
  json,
  simulate,
  zmq,
  normalize,
  poisson,
  group,
  split,
  shuffle,
  spill,
  batch,
  prefetch,
  // Declared by their specs: their modules import TensorFlow.js, which
  // `stages` and `validate` do not need.
  lazyComponent(tensorify, () => import('./transforms/tensorify.js')),
  lazyComponent(train, () => import('./sinks/train.js')),
  lazyComponent(infer, () => import('./sinks/infer.js')),
  lazyComponent(refine, () => import('./sinks/refine.js')),
  epie,
  evaluate,
  compare,
  images,
  writeNpz,
  writeErrors,
] as ComponentDef[];

export function builtinRegistry(): Registry {
  const r = new Registry();
  for (const def of builtinComponents) r.add(def);
  return r;
}

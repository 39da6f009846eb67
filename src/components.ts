// The built-in stages, listed explicitly: importing a stage module never
// registers it by side effect; this list is the registry's single source.
import { Registry } from './pipeline/registry.js';
import type { ComponentDef } from './pipeline/types.js';

export const builtinComponents: readonly ComponentDef[] = [];

export function builtinRegistry(): Registry {
  const r = new Registry();
  for (const def of builtinComponents) r.add(def);
  return r;
}

// The registry of stage components. Components are added explicitly (the
// built-ins by src/components.ts, plugins by `loadPlugins`); nothing registers
// itself by being imported. A type name may exist once.
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { PipelineFileError } from '../errors.js';
import { isInside } from '../io/paths.js';
import { pluginLoadHint } from './plugin-hint.js';
import { importPlugin } from './plugin-import.js';
import type { ComponentDef } from './types.js';

export class Registry {
  private readonly defs = new Map<string, { def: ComponentDef; origin: string }>();

  add(def: ComponentDef, origin = 'ptychoflow'): this {
    const have = this.defs.get(def.type);
    if (have !== undefined) {
      throw new PipelineFileError('DUPLICATE_COMPONENT', `stage type '${def.type}' from ${origin} clashes with the one from ${have.origin}`, {
        hint: 'rename the plugin component',
      });
    }
    this.defs.set(def.type, { def, origin });
    return this;
  }

  get(type: string): ComponentDef | undefined {
    return this.defs.get(type)?.def;
  }

  origin(type: string): string | undefined {
    return this.defs.get(type)?.origin;
  }

  /** Type names, optionally of one kind, sorted. */
  types(kind?: ComponentDef['kind']): string[] {
    return [...this.defs.values()]
      .filter((d) => kind === undefined || d.def.kind === kind)
      .map((d) => d.def.type)
      .sort();
  }

  all(): ComponentDef[] {
    return this.types().map((t) => this.defs.get(t)!.def);
  }

  clone(): Registry {
    const r = new Registry();
    for (const { def, origin } of this.defs.values()) r.add(def, origin);
    return r;
  }
}

export function isComponentDef(v: unknown): v is ComponentDef {
  if (v === null || typeof v !== 'object') return false;
  const o = v as Record<string, unknown>;
  return (
    (o.kind === 'source' || o.kind === 'transform' || o.kind === 'sink') &&
    typeof o.type === 'string' &&
    typeof o.create === 'function' &&
    o.options !== null &&
    typeof o.options === 'object' &&
    typeof (o.options as { safeParse?: unknown }).safeParse === 'function'
  );
}

/**
 * Imports plugin modules (paths relative to `baseDir`, or package names) and
 * adds every exported component (default export, array, or named exports).
 */
export async function loadPlugins(specs: readonly string[], baseDir: string, registry: Registry, options: { allowOutside?: boolean } = {}): Promise<void> {
  for (const spec of specs) {
    const isPath = spec.startsWith('.') || spec.startsWith('/') || /^[A-Za-z]:[\\/]/.test(spec);
    // A plugin's code runs as soon as it is imported (even by `validate`): only files under the pipeline's directory, unless allowed.
    if (isPath && options.allowOutside !== true && !isInside(path.resolve(baseDir), path.resolve(baseDir, spec))) {
      throw new PipelineFileError('PLUGIN_OUTSIDE', `plugin '${spec}' lies outside the pipeline file's directory`, {
        key: 'plugins',
        hint: 'move it next to the pipeline file, install it as a package, or set allow.plugins_outside: true',
      });
    }
    const target = isPath ? pathToFileURL(path.resolve(baseDir, spec)).href : spec;
    let mod: Record<string, unknown>;
    try {
      mod = await importPlugin(target, isPath);
    } catch (e) {
      throw new PipelineFileError('PLUGIN_LOAD', `cannot load plugin '${spec}': ${(e as Error).message}`, {
        key: 'plugins',
        hint: pluginLoadHint(spec, isPath, e),
      });
    }
    const found: ComponentDef[] = [];
    for (const value of Object.values(mod)) {
      if (isComponentDef(value)) found.push(value);
      else if (Array.isArray(value)) found.push(...value.filter(isComponentDef));
    }
    if (found.length === 0) {
      throw new PipelineFileError('PLUGIN_EMPTY', `plugin '${spec}' exports no components`, {
        key: 'plugins',
        hint: 'export objects made with defineSource/defineTransform/defineSink',
      });
    }
    for (const def of new Set(found)) registry.add(def, `plugin ${spec}`);
  }
}

// What "did you mean" draws on beyond stage names: the option keys a schema
// has at a path (for an unknown option) and the `--set` override a problem
// came from (so it is reported against the override, not a file line).
import type { z } from 'zod';

interface Def {
  type: string;
  innerType?: z.ZodType;
  in?: z.ZodType;
  shape?: Record<string, z.ZodType>;
  options?: z.ZodType[];
}

const def = (s: z.ZodType): Def => (s as unknown as { def: Def }).def;

/** The schemas `s` may stand for once wrappers (default, optional, prefault, …) are taken off. */
function unwrap(s: z.ZodType, depth = 0): z.ZodType[] {
  const d = def(s);
  if (depth > 20) return [];
  if (d.innerType !== undefined) return unwrap(d.innerType, depth + 1);
  if (d.type === 'pipe' && d.in !== undefined) return unwrap(d.in, depth + 1);
  if (d.type === 'union' && d.options !== undefined) return d.options.flatMap((o) => unwrap(o, depth + 1));
  return [s];
}

/** The keys of the object schema found at `path` inside `schema` (empty when there is none). */
export function optionKeysAt(schema: z.ZodType, path: readonly (string | number)[]): string[] {
  let here = unwrap(schema);
  for (const key of path) {
    here = here.flatMap((s) => {
      const shape = def(s).shape;
      const next = shape !== undefined && typeof key === 'string' ? shape[key] : undefined;
      return next !== undefined ? unwrap(next) : [];
    });
  }
  return [...new Set(here.flatMap((s) => Object.keys(def(s).shape ?? {})))];
}

/** The `--set` override a key path belongs to: one that set this key or a key above it (the last one wins). */
export function overrideOf(p: readonly (string | number)[], overrides: readonly { path: readonly string[]; spec: string }[]): string | undefined {
  for (let i = overrides.length - 1; i >= 0; i--) {
    const o = overrides[i]!;
    if (o.path.length <= p.length && o.path.every((k, j) => k === String(p[j]))) return o.spec;
  }
  return undefined;
}

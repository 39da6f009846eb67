// The layer rules as a test over the source tree (static and dynamic
// imports, which ESLint's no-restricted-imports does not see): the pure layers
// (physics, model, io, records, core) import no pipeline, source, transform,
// sink or CLI module; sinks do not import sources, transforms or each other
// (shared code is in sinks/shared); and no module imports itself through a cycle.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import test from 'ava';

const src = path.resolve(import.meta.dirname, '../src');

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = path.join(dir, name);
    return statSync(p).isDirectory() ? files(p) : /\.(ts|mjs)$/.test(name) ? [p] : [];
  });
}

/** Relative imports of a module, resolved to files under src (`.js` → `.ts`). */
function imports(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const specs = [...text.matchAll(/(?:from\s+|import\s*\(\s*)'(\.{1,2}\/[^']+)'/g)].map((m) => m[1]!);
  return specs.map((s) => path.resolve(path.dirname(file), s).replace(/\.js$/, '.ts'));
}

const layerOf = (file: string): string => path.relative(src, file).split(path.sep)[0]!.replace(/\.ts$/, '');
const graph = new Map(files(src).map((f) => [f, imports(f)]));

/** Known exceptions, each with its reason; an entry that no longer applies fails the test (so the list shrinks). */
const EXCEPTIONS = new Map<string, string>([]);

test('pure layers import no engine or stage module; sinks import no source or transform', (t) => {
  const pure = new Set(['physics', 'model', 'io', 'records', 'core', 'util', 'errors']);
  const stages = new Set(['pipeline', 'sources', 'transforms', 'sinks', 'cli', 'compose', 'scan', 'components', 'index', 'testing']);
  const found: string[] = [];
  for (const [file, deps] of graph) {
    const from = layerOf(file);
    for (const d of deps) {
      const to = layerOf(d);
      const edge = `${path.relative(src, file)} -> ${path.relative(src, d)}`;
      if ((pure.has(from) && stages.has(to)) || (from === 'sinks' && (to === 'sources' || to === 'transforms'))) found.push(edge);
    }
  }
  const unexpected = found.filter((e) => !EXCEPTIONS.has(e));
  t.deepEqual(unexpected, [], unexpected.join('\n'));
  for (const e of EXCEPTIONS.keys()) t.true(found.includes(e), `exception '${e}' no longer applies: remove it`);
});

test('no sink imports another: what sinks share lives in sinks/shared, which imports no sink', (t) => {
  const sinkFile = (f: string): boolean => path.dirname(f) === path.join(src, 'sinks');
  const shared = (f: string): boolean => path.relative(path.join(src, 'sinks', 'shared'), f).split(path.sep)[0] !== '..';
  const found: string[] = [];
  for (const [file, deps] of graph) {
    if (!sinkFile(file) && !shared(file)) continue;
    for (const d of deps) if (sinkFile(d)) found.push(`${path.relative(src, file)} -> ${path.relative(src, d)}`);
  }
  t.deepEqual(found, [], found.join('\n'));
});

test('no import cycles', (t) => {
  const state = new Map<string, 'visiting' | 'done'>();
  const stack: string[] = [];
  const cycles: string[] = [];
  const visit = (f: string): void => {
    if (state.get(f) === 'done') return;
    if (state.get(f) === 'visiting') {
      cycles.push([...stack.slice(stack.indexOf(f)), f].map((p) => path.relative(src, p)).join(' -> '));
      return;
    }
    state.set(f, 'visiting');
    stack.push(f);
    for (const d of graph.get(f) ?? []) if (graph.has(d)) visit(d);
    stack.pop();
    state.set(f, 'done');
  };
  for (const f of graph.keys()) visit(f);
  t.deepEqual(cycles, [], cycles.join('\n'));
});

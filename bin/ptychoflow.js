#!/usr/bin/env node
// Entry point of the `ptychoflow` command. An installed package runs its
// compiled JavaScript (dist/). In a clone of the repository, where src/ is
// present, it runs the TypeScript sources through tsx (a devDependency), so
// `npm run demo` needs no build step and can never run a stale dist/.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const source = fileURLToPath(new URL('../src/cli/main.ts', import.meta.url));
let main;
if (existsSync(source)) {
  const { register } = await import('tsx/esm/api');
  register();
  // Self-imports of 'ptychoflow' (plugins in examples/) resolve to the sources
  // too: the package's exports map them there under this condition.
  const hook = "export const resolve = (s, c, next) => next(s, { ...c, conditions: [...c.conditions, 'ptychoflow-source'] });";
  (await import('node:module')).register(`data:text/javascript,${encodeURIComponent(hook)}`);
  ({ main } = await import(source));
} else {
  ({ main } = await import('../dist/cli/main.js'));
}
const code = await main(process.argv.slice(2));
// Let stdout drain (the JSON summary may be large), then exit with the code.
process.stdout.write('', () => process.exit(code));

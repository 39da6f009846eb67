#!/usr/bin/env node
// Entry point of the `ptychoflow` command. The package ships its TypeScript
// sources and runs them through tsx, so there is no build step to forget.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src/cli/main.ts');
const code = await main(process.argv.slice(2));
// Let stdout drain (the JSON summary may be large), then exit with the code.
process.stdout.write('', () => process.exit(code));

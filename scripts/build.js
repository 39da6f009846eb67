#!/usr/bin/env node
// `npm run build`: compiles src/ into dist/ (JavaScript, declarations, source
// maps) and copies the files tsc does not emit (the simulator's images, the
// HDF5 reader thread) to the same relative places, where the compiled code
// finds them through import.meta. dist/ is rebuilt from scratch so a file
// deleted from src/ cannot linger in a published package.
import { spawnSync } from 'node:child_process';
import { cpSync, readdirSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

const root = path.resolve(import.meta.dirname, '..');
const src = path.join(root, 'src');
const dist = path.join(root, 'dist');

rmSync(dist, { recursive: true, force: true });
await import('./tfjs-extras.js');
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
const r = spawnSync(process.execPath, [tsc, '-p', path.join(root, 'tsconfig.build.json')], { stdio: 'inherit' });
if (r.status !== 0) {
  process.stderr.write(`build: tsc failed (exit ${r.status ?? r.signal})\n`);
  process.exit(r.status ?? 1);
}

let copied = 0;
for (const entry of readdirSync(src, { recursive: true, withFileTypes: true })) {
  if (!entry.isFile() || (entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts'))) continue;
  const from = path.join(entry.parentPath, entry.name);
  cpSync(from, path.join(dist, path.relative(src, from)));
  copied++;
}
process.stdout.write(`build: dist/ written (${copied} asset file${copied === 1 ? '' : 's'} copied)\n`);

#!/usr/bin/env node
// Runs ava with its normal reporter and ends with one plain line,
// "N passed, N failed, N skipped", that CI logs and people can grep for.
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import path from 'node:path';

// ava's package exports hide its CLI entry point; find it next to the main one.
const require = createRequire(import.meta.url);
const avaCli = path.join(path.dirname(require.resolve('ava')), 'cli.mjs');
const child = spawn(process.execPath, [avaCli, ...process.argv.slice(2)], {
  stdio: ['inherit', 'pipe', 'pipe'],
  env: { ...process.env, FORCE_COLOR: process.env.FORCE_COLOR ?? '0' },
});
let text = '';
const keep = (chunk) => {
  text += chunk.toString();
  if (text.length > 1 << 20) text = text.slice(-(1 << 19));
};
child.stdout.on('data', (d) => {
  process.stdout.write(d);
  keep(d);
});
child.stderr.on('data', (d) => {
  process.stderr.write(d);
  keep(d);
});
child.on('close', (code) => {
  const count = (re) => {
    const m = text.match(re);
    return m === null ? 0 : Number(m[1]);
  };
  // ava prints "N tests passed" only when nothing failed; count the per-test marks otherwise.
  const marks = (re) => (text.match(re) ?? []).length;
  const failed = count(/(\d+) tests? failed/) + count(/(\d+) uncaught exceptions?/) + count(/(\d+) unhandled rejections?/);
  const passed = count(/(\d+) tests? passed/) || marks(/^\s*✔/gm);
  const skipped = count(/(\d+) tests? skipped/);
  const status = code === 0 && failed === 0 ? code : code || 1;
  process.stdout.write(`\nunit: ${passed} passed, ${failed} failed, ${skipped} skipped\n`);
  process.exit(status);
});

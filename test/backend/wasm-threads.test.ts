// The threaded wasm build (src/backend/wasm-threads.ts): thread count from the
// environment, results equal to cpu's, and a process that ends by itself.
// Each case runs in a child process: a backend's threads are fixed once it starts.
import { execFile } from 'node:child_process';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import test from 'ava';
import { WASM_THREADS_ENV, wasmThreadsWanted } from '../../src/backend/wasm-threads.js';
import { createLogger } from '../../src/util/log.js';

const child = fileURLToPath(new URL('./wasm-threads-child.ts', import.meta.url));

interface ChildReport {
  backend: string;
  threads: number;
  maxDiff: number;
  warnings: string[];
}

function runChild(threads: string | undefined, mode = ''): Promise<ChildReport> {
  const env = { ...process.env };
  if (threads === undefined) delete env[WASM_THREADS_ENV];
  else env[WASM_THREADS_ENV] = threads;
  return new Promise((resolve, reject) => {
    // The timeout is what fails the test if referenced pool workers keep the child alive.
    execFile(process.execPath, ['--import=tsx', child, ...(mode === '' ? [] : [mode])], { env, timeout: 90_000 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`${error.message}\n${stderr}`));
      else resolve(JSON.parse(stdout.trim().split('\n').at(-1)!) as ChildReport);
    });
  });
}

const cores = Math.min(os.cpus().length, 8);

test('wasmThreadsWanted: the environment variable, else one per core, at most 8; a bad value warns', (t) => {
  const warnings: string[] = [];
  const log = createLogger('warn', (_l, _s, m) => warnings.push(m));
  t.is(wasmThreadsWanted(log, {}), cores);
  t.is(wasmThreadsWanted(log, { [WASM_THREADS_ENV]: '1' }), 1);
  t.is(wasmThreadsWanted(log, { [WASM_THREADS_ENV]: ' 3 ' }), 3);
  t.is(wasmThreadsWanted(log, { [WASM_THREADS_ENV]: '64' }), 8);
  t.deepEqual(warnings, []);
  t.is(wasmThreadsWanted(log, { [WASM_THREADS_ENV]: 'two' }), cores);
  t.is(wasmThreadsWanted(log, { [WASM_THREADS_ENV]: '0' }), cores);
  t.is(warnings.length, 2);
  t.regex(warnings[0]!, /PTYCHOFLOW_WASM_THREADS=two/);
});

test('two threads: the pool has two, the convolution equals cpu, and the process exits', async (t) => {
  const report = await runChild('2');
  t.is(report.backend, 'wasm');
  t.is(report.threads, 2);
  t.deepEqual(report.warnings, []);
  t.true(report.maxDiff < 1e-4, `max |wasm − cpu| = ${report.maxDiff}`);
});

test(`${WASM_THREADS_ENV}=1 keeps the single-threaded build`, async (t) => {
  const report = await runChild('1');
  t.is(report.threads, 1);
  t.true(report.maxDiff < 1e-4);
});

test('default: one thread per core', async (t) => {
  const report = await runChild(undefined);
  t.is(report.threads, cores);
});

test('a threaded loader that fails falls back to the single-threaded build, with a warning', async (t) => {
  const report = await runChild('2', 'fail');
  t.is(report.backend, 'wasm');
  t.is(report.threads, 1);
  t.true(report.maxDiff < 1e-4);
  t.is(report.warnings.length, 1);
  t.regex(report.warnings[0]!, /threaded wasm backend unavailable/);
});

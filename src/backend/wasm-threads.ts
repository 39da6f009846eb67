// The wasm backend on more than one core in Node. tfjs-backend-wasm 4.22 ships a
// threaded SIMD build (XNNPACK on a pthreadpool of Web Workers) but never uses
// it in Node, for three reasons this module works around:
//  - its WASM_HAS_MULTITHREAD_SUPPORT check is false under Node;
//  - its loader hands Emscripten `blob:` URLs for the pthread worker script and
//    the main script, which worker_threads.Worker refuses (ERR_WORKER_PATH);
//    here the worker script (the package's own, exported as a string) is
//    written to a temporary file, and the main script is the package file;
//  - the C++ side caps the pool at emscripten_num_logical_cores() / 2, which
//    in Node is os.cpus().length / 2 (it assumes two hyperthreads per core):
//    1 on a 2-core machine. os.cpus() is doubled while the module initialises.
// The factory registered here replaces the package's for the name 'wasm', so
// every kernel registered for 'wasm' (the package's and the project's) serves
// it unchanged. It leans on the package's file layout and loader internals
// (pinned version), so any failure, or no answer within WASM_INIT_TIMEOUT_MS,
// falls back to the package's single-threaded loader, with a warning.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import type { Worker } from 'node:worker_threads';
import * as tf from '../tf.js';
import * as wasmPackage from '@tensorflow/tfjs-backend-wasm';
import { messageOf } from '../errors.js';
import type { Logger } from '../util/log.js';

const require = createRequire(import.meta.url);
const WASM_INIT_TIMEOUT_MS = 60_000;

/** Environment variable: worker threads for the wasm backend (1 = the package's single-threaded build). */
export const WASM_THREADS_ENV = 'PTYCHOFLOW_WASM_THREADS';

/**
 * Threads to use: the environment variable if set to a whole number ≥ 1, else
 * every core; at most 8 (the pool of workers the build starts).
 */
export function wasmThreadsWanted(log: Logger, env: NodeJS.ProcessEnv = process.env): number {
  const cores = Math.max(1, Math.min(os.cpus().length, 8));
  const raw = env[WASM_THREADS_ENV];
  if (raw === undefined || raw.trim() === '') return cores;
  const n = Number(raw);
  if (Number.isInteger(n) && n >= 1) return Math.min(n, 8);
  log.warn(`${WASM_THREADS_ENV}=${raw} is not a whole number ≥ 1; using ${cores} (one per core)`);
  return cores;
}

export type EmscriptenModule = Record<string, unknown> & { cwrap: (name: string, ret: string | null, args: string[]) => unknown };
type Factory = (config: Record<string, unknown>) => Promise<EmscriptenModule>;

/** Loads the threaded build with `threads` pool threads; the caller owns the module. */
async function loadThreaded(threads: number): Promise<EmscriptenModule> {
  const dir = path.join(path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'wasm-out');
  const mainScript = path.join(dir, 'tfjs-backend-wasm-threaded-simd.js');
  const factory = require(mainScript) as Factory;
  const { wasmWorkerContents } = require(path.join(dir, 'tfjs-backend-wasm-threaded-simd.worker.js')) as { wasmWorkerContents: string };
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'ptychoflow-wasm-'));
  const workerScript = path.join(tmp, 'worker.cjs');
  // The string was a template literal: its "\n" escapes became newlines inside string literals.
  writeFileSync(workerScript, wasmWorkerContents.replace(/\n/g, '\\n'));
  const realCpus = os.cpus;
  os.cpus = () => {
    const cpus = realCpus();
    return Array.from({ length: Math.max(2 * threads, cpus.length) }, (_, i) => cpus[i % cpus.length]!);
  };
  let timer: NodeJS.Timeout | undefined;
  try {
    const loading = factory({
      locateFile: (file: string) => (file.endsWith('.worker.js') ? workerScript : path.join(dir, file)),
      mainScriptUrlOrBlob: mainScript,
    });
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${WASM_INIT_TIMEOUT_MS / 1000} s`)), WASM_INIT_TIMEOUT_MS);
    });
    return await Promise.race([loading, timeout]);
  } finally {
    clearTimeout(timer);
    os.cpus = realCpus;
    // Emscripten resolves only after every pool worker has loaded its script.
    rmSync(tmp, { recursive: true, force: true });
  }
}

/** The cwraps the package's BackendWasm expects on `module.tfjs` (as its own loader sets them). */
function attachTfjsApi(mod: EmscriptenModule): void {
  mod['tfjs'] = {
    init: mod.cwrap('init', null, []),
    initWithThreadsCount: mod.cwrap('init_with_threads_count', null, ['number']),
    getThreadsCount: mod.cwrap('get_threads_count', 'number', []),
    registerTensor: mod.cwrap('register_tensor', null, ['number', 'number', 'number']),
    disposeData: mod.cwrap('dispose_data', null, ['number']),
    dispose: mod.cwrap('dispose', null, []),
  };
}

let installed = false;

/**
 * Makes 'wasm' start the threaded build with `threads` threads when it is
 * first initialised. Does nothing for threads ≤ 1, or if the wasm backend has
 * already been initialised in this process (its thread count is then fixed).
 * `load` is replaceable for tests of the fallback.
 */
export function installThreadedWasm(threads: number, log: Logger, load: (threads: number) => Promise<EmscriptenModule> = loadThreaded): void {
  if (installed || threads <= 1) return;
  const original = tf.findBackendFactory('wasm');
  // Not tf.findBackend: it would initialise the backend it looks for.
  const initialised = (tf.engine() as unknown as { registry: Record<string, unknown> }).registry;
  if (original === null || 'wasm' in initialised) return;
  const priority = 2; // the package's own registration priority for 'wasm'
  tf.removeBackend('wasm');
  tf.registerBackend(
    'wasm',
    async () => {
      let pthread: { runningWorkers?: Worker[]; unusedWorkers?: Worker[] } | undefined;
      try {
        const mod = await load(threads);
        pthread = mod['PThread'] as typeof pthread;
        attachTfjsApi(mod);
        wasmPackage.setThreadsCount(threads);
        const backend = new wasmPackage.BackendWasm(mod as never);
        // The pool's threads started in that constructor hold a reference on
        // their workers, which would keep Node running after the program ends.
        // The build starts 8 workers whatever the pool size; the idle ones
        // (about 17 MiB each) are ended: tfjs starts no thread after this.
        for (const worker of pthread?.runningWorkers ?? []) worker.unref();
        for (const worker of pthread?.unusedWorkers?.splice(0) ?? []) void worker.terminate();
        return backend;
      } catch (e) {
        // A module that loaded but could not become a backend: end its workers.
        for (const worker of [...(pthread?.runningWorkers ?? []), ...(pthread?.unusedWorkers?.splice(0) ?? [])]) void worker.terminate();
        log.warn('threaded wasm backend unavailable; using the single-threaded build', {
          error: messageOf(e),
          hint: `set ${WASM_THREADS_ENV}=1 to skip the attempt`,
        });
        wasmPackage.setThreadsCount(1);
        return original();
      }
    },
    priority,
  );
  installed = true;
}

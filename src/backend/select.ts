// Chooses and initialises the tfjs backend for a run: 'auto' takes the first of
// tensorflow-gpu, tensorflow, wasm, cpu that loads; a backend asked for by name
// must load or the run stops with a BackendError saying how to install it.
// The native packages are optional dependencies (their install downloads
// libtensorflow), so a failed import is the normal case and logged at debug.
// Both native packages register the same backend name ('tensorflow') and bind a
// native library each, so at most one of them is ever imported per process.
import * as tf from '../tf.js';
import { BackendError, messageOf } from '../errors.js';
import { silentLogger, type Logger } from '../util/log.js';

import { BACKEND_NAMES, type BackendName } from './names.js';

export { BACKEND_NAMES, type BackendName };

export interface BackendInfo {
  /** tfjs backend name in use: 'tensorflow' | 'wasm' | 'cpu'. */
  name: string;
  requested: string;
  /** npm package that provides it (absent for cpu, which ships with tfjs). */
  package?: string;
  /** What was tried in order, with the reason each failure was skipped. */
  tried: { name: string; error?: string }[];
  /** Threads of the wasm backend's XNNPACK pool (1: single-threaded; PTYCHOFLOW_WASM_THREADS sets it). */
  threads?: number;
}

type Concrete = Exclude<BackendName, 'auto'>;

const PACKAGES: Record<Concrete, string | undefined> = {
  'tensorflow-gpu': '@tensorflow/tfjs-node-gpu',
  tensorflow: '@tensorflow/tfjs-node',
  wasm: '@tensorflow/tfjs-backend-wasm',
  cpu: undefined,
};

const HINTS: Record<Concrete, string> = {
  'tensorflow-gpu':
    'install it with `npm install @tensorflow/tfjs-node-gpu@4.22` (needs CUDA 11.2 + cuDNN 8 and internet access to fetch libtensorflow), or use backend: auto',
  tensorflow: 'install it with `npm install @tensorflow/tfjs-node@4.22` (fetches libtensorflow while installing), or use backend: auto',
  wasm: 'reinstall dependencies (`npm ci`): @tensorflow/tfjs-backend-wasm is a regular dependency',
  cpu: 'the cpu backend ships with @tensorflow/tfjs-backend-cpu, a regular dependency; reinstall dependencies (`npm ci`)',
};

/**
 * Environment defaults for the native TensorFlow library, which reads them
 * when it loads (so before the import). TF_ENABLE_ONEDNN_OPTS=1: the library
 * built for tfjs-node 4.22 leaves its oneDNN CPU kernels off unless asked, and
 * they took a training step at the reference configuration from 1 235–1 330
 * to 1 040–1 110 ms on a 2-core x86 machine (docs/BACKENDS.md). A value the
 * user set (0 turns them off) is kept.
 */
export function nativeEnvDefaults(env: Record<string, string | undefined>): void {
  env['TF_ENABLE_ONEDNN_OPTS'] ??= '1';
}

/** The native package imported in this process, if any (never two). */
let nativeLoaded: string | undefined;

async function load(name: Concrete, log: Logger): Promise<void> {
  const pkg = PACKAGES[name];
  if (name === 'tensorflow-gpu' || name === 'tensorflow') {
    // The CPU build is satisfied by whichever native package is loaded (same
    // backend); asking for the GPU build after the CPU one cannot be.
    if (nativeLoaded !== undefined && nativeLoaded !== pkg && name === 'tensorflow-gpu') {
      throw new Error(`${nativeLoaded} is already loaded in this process; ${pkg!} cannot be loaded next to it`);
    }
    if (nativeLoaded === undefined) {
      // A variable specifier: the packages are optional and may be absent at type-check time.
      const specifier: string = pkg!;
      nativeEnvDefaults(process.env);
      await import(specifier);
      nativeLoaded = pkg;
    }
    // A native package built against another @tensorflow/tfjs-core registers its
    // backend on that copy, invisible to ours.
    if (tf.findBackendFactory('tensorflow') === null) {
      throw new Error(
        `${pkg!} loaded but registered no 'tensorflow' backend on this @tensorflow/tfjs-core ${tf.version_core}; its tfjs-core version differs (run \`npm ls @tensorflow/tfjs-core\` and align versions)`,
      );
    }
    // Imported on use: the kernels module loads the wasm backend, which would
    // otherwise become tfjs's default for anyone importing ptychoflow.
    (await import('./kernels.js')).registerTensorflowKernels();
  } else if (name === 'wasm') {
    await import('@tensorflow/tfjs-backend-wasm');
    const { installThreadedWasm, wasmThreadsWanted } = await import('./wasm-threads.js');
    installThreadedWasm(wasmThreadsWanted(log), log);
    (await import('./kernels.js')).registerWasmKernels();
  }
  const backend = name === 'tensorflow-gpu' ? 'tensorflow' : name;
  const ok = await tf.setBackend(backend);
  if (!ok) throw new Error(`tf.setBackend('${backend}') failed to initialise`);
  await tf.ready();
}

async function wasmThreads(): Promise<number> {
  const wasm = await import('@tensorflow/tfjs-backend-wasm');
  return wasm.getThreadsCount();
}

/** Selects, loads and initialises a backend; see the module comment for the order. */
export async function selectBackend(name: BackendName, log: Logger = silentLogger): Promise<BackendInfo> {
  if (!(BACKEND_NAMES as readonly string[]).includes(name)) {
    throw new BackendError('BACKEND_UNKNOWN', `unknown backend '${String(name)}'`, { key: 'backend', hint: `use one of ${BACKEND_NAMES.join(', ')}` });
  }
  // tfjs prints advice banners ("install the node backend…") through console.warn
  // unless in production mode; ptychoflow reports the backend itself.
  tf.enableProdMode();
  const candidates: Concrete[] = name === 'auto' ? ['tensorflow-gpu', 'tensorflow', 'wasm', 'cpu'] : [name];
  const tried: BackendInfo['tried'] = [];
  for (const candidate of candidates) {
    // With one native package loaded, its sibling must not be imported too.
    if (name === 'auto' && candidate === 'tensorflow' && nativeLoaded === PACKAGES['tensorflow-gpu']) continue;
    try {
      await load(candidate, log);
    } catch (e) {
      const error = messageOf(e);
      tried.push({ name: candidate, error });
      if (name !== 'auto') {
        throw new BackendError('BACKEND_UNAVAILABLE', `backend '${candidate}' cannot be loaded: ${error}`, {
          key: 'backend',
          hint: HINTS[candidate],
          cause: e,
        });
      }
      const native = candidate === 'tensorflow-gpu' || candidate === 'tensorflow';
      if (native) log.debug(`backend ${candidate} unavailable, trying the next`, { error });
      else log.warn(`backend ${candidate} unavailable, trying the next`, { error });
      continue;
    }
    tried.push({ name: candidate });
    const info: BackendInfo = { name: tf.getBackend(), requested: name, tried };
    const pkg = candidate === 'tensorflow' || candidate === 'tensorflow-gpu' ? nativeLoaded : PACKAGES[candidate];
    if (pkg !== undefined) info.package = pkg;
    if (candidate === 'wasm') info.threads = await wasmThreads();
    log.info('compute backend', {
      backend: info.name,
      requested: name,
      ...(pkg !== undefined ? { package: pkg } : {}),
      ...(info.threads !== undefined ? { threads: info.threads } : {}),
    });
    return info;
  }
  throw new BackendError('BACKEND_UNAVAILABLE', 'no compute backend could be initialised', { key: 'backend', hint: 'reinstall dependencies (`npm ci`)' });
}

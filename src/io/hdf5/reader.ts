// The HDF5 reader thread's client: h5wasm (HDF5's C library compiled to
// WebAssembly: no native build; gzip is the only compression filter built in)
// runs in one worker thread (worker.mjs) shared by every open file, so HDF5's
// synchronous reads stay off the main thread. Format code only: what a scan
// is lives in layouts.ts, the pipeline adapter in sources/hdf5.ts.
import { closeSync, openSync, readSync, statSync } from 'node:fs';
import { Worker } from 'node:worker_threads';

/** Bytes of patterns read per hyperslab on a sequential pass (and at most per run of a random read). */
export const BLOCK_BYTES = 4 << 20;

/** A dataset as the reader thread describes it. */
export interface DatasetInfo {
  shape: number[];
  dtype: string;
  /** HDF5 type class: 0 integer, 1 float, 6 compound, … */
  cls: number;
  /** A two-member compound: complex (r, i) as h5py writes it. */
  complex: boolean;
}

export interface Structure {
  datasets: Record<string, DatasetInfo>;
  groups: string[];
}

/** What the reader thread returns for a dataset or a hyperslab. */
export type H5Value = ArrayLike<number> | BigInt64Array | BigUint64Array | number | bigint | [number, number][] | null;

/**
 * The HDF5 reader thread (worker.mjs), shared by every open file and
 * started on first use. It runs h5wasm without the tsx loader (see the
 * worker's header) and keeps HDF5's synchronous reads off the main thread.
 * It holds the process open only while a request is in flight.
 */
class H5Reader {
  private worker: Worker | undefined;
  private next = 1;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();

  private start(): Worker {
    const w = new Worker(new URL('./worker.mjs', import.meta.url), { execArgv: [] });
    w.unref();
    w.on('message', (m: { id: number; result?: unknown; error?: string }) => {
      const p = this.pending.get(m.id);
      if (p === undefined) return;
      this.pending.delete(m.id);
      if (this.pending.size === 0) w.unref();
      if (m.error !== undefined) p.reject(new Error(m.error));
      else p.resolve(m.result);
    });
    const fail = (e: Error): void => {
      for (const p of this.pending.values()) p.reject(e);
      this.pending.clear();
      this.worker = undefined;
    };
    w.on('error', fail);
    w.on('exit', (code) => fail(new Error(`the HDF5 reader thread exited (code ${code})`)));
    return w;
  }

  request<T>(op: string, args: Record<string, unknown>): Promise<T> {
    this.worker ??= this.start();
    const w = this.worker;
    const id = this.next++;
    if (this.pending.size === 0) w.ref();
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      w.postMessage({ id, op, ...args });
    });
  }
}

export const reader = new H5Reader();

const SIGNATURE = [0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a];

/** Whether the file carries the HDF5 signature (at 0, or after a user block of 512·2^k bytes). */
export function isHdf5(file: string): boolean {
  const size = statSync(file).size;
  const fd = openSync(file, 'r');
  try {
    const head = Buffer.alloc(8);
    for (let at = 0; at + 8 <= size; at = at === 0 ? 512 : at * 2) {
      if (readSync(fd, head, 0, 8, at) === 8 && SIGNATURE.every((b, k) => head[k] === b)) return true;
    }
    return false;
  } finally {
    closeSync(fd);
  }
}

/** Values of a real numeric dataset or hyperslab as numbers (bigint and typed arrays alike). */
export function numbers(v: H5Value): ArrayLike<number> {
  if (v instanceof BigInt64Array || v instanceof BigUint64Array) return Float64Array.from(v, Number);
  if (ArrayBuffer.isView(v)) return v as unknown as ArrayLike<number>;
  if (typeof v === 'number') return [v];
  if (typeof v === 'bigint') return [Number(v)];
  throw new TypeError('not a numeric array');
}

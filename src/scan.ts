// The programmatic face of the data pipeline, for people who script:
// `openScan(path)` opens a canonical NPZ (or any frame stream) and offers
// normalised groups and tensor batches with the same semantics as a pipeline
// normalize → group → [shuffle] → batch → tensorify → [prefetch], plus
// whole-dataset tensors X()/Y() built on demand (with a logged warning of
// their size: they are what the streaming design avoids).
//
// It composes those chains with it-pipe (src/compose) and holds each open as
// a session of the runner: every stage is created, counted and closed by
// runPlan, with its tensor ledger. groups() is one session; each distinct
// batches() configuration is another, reused for every later epoch (so a
// shuffle changes per call), with the normalisation factor the first one
// measured, so every session scales alike.
import path from 'node:path';
import * as tf from './tf.js';
import { DataError } from './errors.js';
import { fmtBytes } from './pipeline/ledger.js';
import type { Frame, Group, ScanMeta, Stream, StreamMeta, TensorBatch } from './pipeline/types.js';
import { extractPatch } from './physics/patch.js';
import { pipe } from 'it-pipe';
import { fromStream, session, type Session } from './compose/run.js';
import { batch, group, hdf5, normalize, npz, prefetch, shuffle, tensorify, type ChainStep, type SourceStep } from './compose/stages.js';
import { silentLogger, type Logger } from './util/log.js';

export interface OpenScanOptions {
  seed?: number;
  gridsize?: number;
  k?: number;
  n_groups?: number;
  oversample?: boolean;
  /** What the patterns hold (source option; default amplitude, intensity for CXI). */
  input?: 'amplitude' | 'intensity';
  /** A probe file to use instead of the scan's (source option; required for CXI). */
  probe?: string;
  limit?: number;
  on_error?: 'fail' | 'skip' | 'route';
  /** Normalisation factor to use instead of measuring it (e.g. from a checkpoint). */
  factor?: number;
  cache_frames?: number;
  log?: Logger;
}

export interface BatchOptions {
  shuffle?: boolean;
  drop_remainder?: boolean;
  /** Batches pulled ahead of the consumer (0: none). */
  prefetch?: number;
  signal?: AbortSignal;
}

export interface ScanHandle {
  readonly scan: ScanMeta;
  /** Metadata of the group stream (count, gridsize, normalization). */
  readonly meta: StreamMeta;
  readonly normalization: number;
  groups(signal?: AbortSignal): AsyncIterable<Group>;
  /** TensorBatches; the caller owns each and must dispose it. */
  batches(batchSize: number, opts?: BatchOptions): AsyncIterable<TensorBatch>;
  /** All groups' amplitudes as one (G, N, N, C) tensor; the caller disposes it. */
  X(): Promise<tf.Tensor4D>;
  /** Ground-truth object patches (G, N, N, C) at each member's position, re and im; needs the scan's object. */
  Y(): Promise<{ re: tf.Tensor4D; im: tf.Tensor4D }>;
  close(): Promise<void>;
}

const defined = <T extends Record<string, unknown>>(o: T): Partial<T> => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;

const HDF5_EXT = /\.(h5|hdf5|hdf|cxi|nxs)$/i;

function sourceStep(source: string | Stream<Frame>, o: OpenScanOptions): SourceStep {
  if (typeof source !== 'string') return fromStream(source, { id: 'stream' });
  const common = defined({ path: path.resolve(source), input: o.input, limit: o.limit, on_error: o.on_error, probe: o.probe });
  // HDF5 files by their usual extensions, everything else as NPZ.
  return HDF5_EXT.test(source) ? hdf5(common) : npz(common);
}

function warnSize(log: Logger, what: string, shape: number[], tensors: number): void {
  const bytes = shape.reduce((a, b) => a * b, 4 * tensors);
  log.warn(`${what}: building the whole (${shape.join(', ')}) tensor = ${fmtBytes(bytes)} in memory; prefer batches() for large scans`, { bytes });
}

/** Ground-truth patches at each member's true position (the reference mirrors them through the centre for gridsize > 1: a bug not copied). */
async function patchesOf(groups: AsyncIterable<Group>, scan: ScanMeta, meta: StreamMeta, log: Logger): Promise<{ re: tf.Tensor4D; im: tf.Tensor4D }> {
  const object = scan.object;
  if (object === undefined) throw new DataError('NO_OBJECT', 'the scan has no ground-truth object: Y() is not available', { file: scan.origin });
  const N = scan.N;
  const C = (meta.gridsize ?? 1) ** 2;
  const G = meta.count ?? 0;
  const shape: [number, number, number, number] = [G, N, N, C];
  warnSize(log, 'Y()', shape, 2);
  const re = new Float32Array(G * N * N * C);
  const im = new Float32Array(G * N * N * C);
  let b = 0;
  for await (const g of groups) {
    for (let c = 0; c < C; c++) {
      const m = g.indices[c]!;
      const p = extractPatch(object, scan.xcoords[m]!, scan.ycoords[m]!, N);
      for (let k = 0; k < N * N; k++) {
        re[(b * N * N + k) * C + c] = p.re[k]!;
        im[(b * N * N + k) * C + c] = p.im[k]!;
      }
    }
    b++;
  }
  return { re: tf.tensor4d(re, shape), im: tf.tensor4d(im, shape) };
}

export async function openScan(source: string | Stream<Frame>, options: OpenScanOptions = {}): Promise<ScanHandle> {
  const log = options.log ?? silentLogger;
  // No run records (pipeline.yaml, summary.json): a script's handle is not a run directory.
  const settings = { seed: options.seed ?? 1, log, record: false, name: 'openScan' };
  const first = sourceStep(source, options);
  const groupOpts = defined({
    gridsize: options.gridsize,
    k: options.k,
    n_groups: options.n_groups,
    oversample: options.oversample,
    cache_frames: options.cache_frames,
  });
  const grouped = await pipe(first, normalize(defined({ factor: options.factor })), group(groupOpts), session<Group>(settings));
  const scan = grouped.meta.scan!;
  const normalization = grouped.meta.normalization ?? 1;
  const sessions: Promise<Session<TensorBatch>>[] = [];
  const byConfig = new Map<string, Promise<Session<TensorBatch>>>();
  const batchSession = (batchSize: number, o: BatchOptions): Promise<Session<TensorBatch>> => {
    const key = JSON.stringify([batchSize, o.shuffle === true, o.drop_remainder === true, o.prefetch ?? 0]);
    let s = byConfig.get(key);
    if (s === undefined) {
      const steps: ChainStep[] = [normalize({ factor: normalization }), group(groupOpts)];
      if (o.shuffle === true) steps.push(shuffle());
      steps.push(batch(defined({ batch_size: batchSize, drop_remainder: o.drop_remainder })), tensorify());
      if ((o.prefetch ?? 0) > 0) steps.push(prefetch({ n: o.prefetch! }));
      // The chain pipe() would build from these steps (their number varies).
      s = session<TensorBatch>(settings)(steps.reduce((chain, step) => step(chain), first()));
      byConfig.set(key, s);
      sessions.push(s);
    }
    return s;
  };
  return {
    scan,
    meta: grouped.meta,
    normalization,
    groups: (signal) => grouped.open(signal),
    batches(batchSize, opts = {}) {
      return {
        async *[Symbol.asyncIterator]() {
          yield* (await batchSession(batchSize, opts)).open(opts.signal);
        },
      };
    },
    async X() {
      const groups: Group[] = [];
      for await (const g of grouped.open()) groups.push(g);
      const C = (grouped.meta.gridsize ?? 1) ** 2;
      const NN = scan.N * scan.N;
      const shape: [number, number, number, number] = [groups.length, scan.N, scan.N, C];
      warnSize(log, 'X()', shape, 1);
      const data = new Float32Array(groups.length * NN * C);
      groups.forEach((g, b) => data.set(g.amplitudes, b * NN * C));
      return tf.tensor4d(data, shape);
    },
    Y: () => patchesOf(grouped.open(), scan, grouped.meta, log),
    async close() {
      const all = await Promise.allSettled(sessions);
      for (const r of all) if (r.status === 'fulfilled') await r.value.close();
      await grouped.close();
    },
  };
}

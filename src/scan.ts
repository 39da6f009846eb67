// The programmatic face of the data pipeline, for people who script:
// `openScan(path)` opens a canonical NPZ (or any frame stream) and offers
// normalised groups and tensor batches with the same semantics as a pipeline
// normalize → group → [shuffle] → batch → tensorify → [prefetch], plus
// whole-dataset tensors X()/Y() built on demand (with a logged warning of
// their size: they are what the streaming design avoids).
import path from 'node:path';
import * as tf from './tf.js';
import type { z } from 'zod';
import { DataError, OptionsError } from './errors.js';
import { fmtBytes } from './pipeline/ledger.js';
import { createStageContext } from './pipeline/context.js';
import type { ComponentDef, Frame, Group, ScanMeta, StageContext, Stream, StreamMeta, TensorBatch } from './pipeline/types.js';
import { extractPatch } from './physics/patch.js';
import hdf5Source from './sources/hdf5.js';
import npzSource from './sources/npz.js';
import batchDef from './transforms/batch.js';
import groupDef from './transforms/group.js';
import normalizeDef from './transforms/normalize.js';
import prefetchDef from './transforms/prefetch.js';
import shuffleDef from './transforms/shuffle.js';
import tensorifyDef from './transforms/tensorify.js';
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

function parse<S extends z.ZodType>(def: ComponentDef & { options: S }, options: unknown, stage: string): z.output<S> {
  const r = def.options.safeParse(options);
  if (!r.success) {
    const detail = r.error.issues.map((i) => `${i.path.join('.') || '(options)'}: ${i.message}`).join('; ');
    throw new OptionsError('BAD_OPTIONS', `openScan: ${detail}`, { stage });
  }
  return r.data;
}

const defined = <T extends Record<string, unknown>>(o: T): Partial<T> => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;

const HDF5_EXT = /\.(h5|hdf5|hdf|cxi|nxs)$/i;

export async function openScan(source: string | Stream<Frame>, options: OpenScanOptions = {}): Promise<ScanHandle> {
  const seed = options.seed ?? 1;
  const log = options.log ?? silentLogger;
  const abort = new AbortController();
  const ctxFor = (id: string): StageContext => createStageContext({ id, signal: abort.signal, seed, log, baseDir: process.cwd() });
  let frames: Stream<Frame>;
  if (typeof source !== 'string') frames = source;
  else {
    const common = defined({ path: path.resolve(source), input: options.input, limit: options.limit, on_error: options.on_error, probe: options.probe });
    // HDF5 files by their usual extensions, everything else as NPZ.
    frames = HDF5_EXT.test(source)
      ? ((await hdf5Source.create(parse(hdf5Source, common, 'hdf5'), { ctx: ctxFor('hdf5'), inputs: [] })) as Stream<Frame>)
      : ((await npzSource.create(parse(npzSource, common, 'npz'), { ctx: ctxFor('npz'), inputs: [] })) as Stream<Frame>);
  }
  try {
    const normalized = await normalizeDef.create(parse(normalizeDef, defined({ factor: options.factor }), 'normalize'), { ctx: ctxFor('normalize'), inputs: [frames] });
    const groupOpts = defined({ gridsize: options.gridsize, k: options.k, n_groups: options.n_groups, oversample: options.oversample, cache_frames: options.cache_frames });
    const grouped = (await groupDef.create(parse(groupDef, groupOpts, 'group'), { ctx: ctxFor('group'), inputs: [normalized] })) as Stream<Group>;
    const scan = grouped.meta.scan!;
    const all = async (): Promise<Group[]> => {
      const out: Group[] = [];
      for await (const g of grouped.open(abort.signal)) out.push(g);
      return out;
    };
    const warnSize = (what: string, shape: number[], tensors: number): void => {
      const bytes = shape.reduce((a, b) => a * b, 4 * tensors);
      log.warn(`${what}: building the whole (${shape.join(', ')}) tensor = ${fmtBytes(bytes)} in memory; prefer batches() for large scans`, { bytes });
    };
    // One shuffle stage for the handle's life: each batches() call is a new epoch with a new order.
    let shuffled: Promise<Stream<unknown>> | undefined;
    const handle: ScanHandle = {
      scan,
      meta: grouped.meta,
      normalization: normalized.meta.normalization ?? 1,
      groups: (signal = abort.signal) => grouped.open(signal),
      batches(batchSize, opts = {}) {
        return {
          async *[Symbol.asyncIterator]() {
            let s: Stream<unknown> = grouped;
            if (opts.shuffle === true) s = await (shuffled ??= shuffleDef.create(parse(shuffleDef, {}, 'shuffle'), { ctx: ctxFor('shuffle'), inputs: [grouped] }));
            s = await batchDef.create(parse(batchDef, defined({ batch_size: batchSize, drop_remainder: opts.drop_remainder }), 'batch'), { ctx: ctxFor('batch'), inputs: [s] });
            s = await tensorifyDef.create({}, { ctx: ctxFor('tensorify'), inputs: [s] });
            if ((opts.prefetch ?? 0) > 0) s = await prefetchDef.create(parse(prefetchDef, { n: opts.prefetch }, 'prefetch'), { ctx: ctxFor('prefetch'), inputs: [s] });
            yield* (s as Stream<TensorBatch>).open(opts.signal ?? abort.signal);
          },
        };
      },
      async X() {
        const groups = await all();
        const C = scan.N > 0 ? (grouped.meta.gridsize ?? 1) ** 2 : 1;
        const NN = scan.N * scan.N;
        const shape = [groups.length, scan.N, scan.N, C];
        warnSize('X()', shape, 1);
        const data = new Float32Array(groups.length * NN * C);
        groups.forEach((g, b) => data.set(g.amplitudes, b * NN * C));
        return tf.tensor4d(data, shape as [number, number, number, number]);
      },
      async Y() {
        const object = scan.object;
        if (object === undefined) throw new DataError('NO_OBJECT', 'the scan has no ground-truth object: Y() is not available', { file: scan.origin });
        const N = scan.N;
        const C = (grouped.meta.gridsize ?? 1) ** 2;
        const G = grouped.meta.count ?? 0;
        const shape: [number, number, number, number] = [G, N, N, C];
        warnSize('Y()', shape, 2);
        const re = new Float32Array(G * N * N * C);
        const im = new Float32Array(G * N * N * C);
        // Patches are cut at each member's true position (the reference mirrors them through the centre for gridsize > 1: a bug not copied).
        let b = 0;
        for await (const g of grouped.open(abort.signal)) {
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
      },
      async close() {
        abort.abort();
        await frames.close?.();
      },
    };
    return handle;
  } catch (e) {
    if (typeof source === 'string') await frames.close?.();
    throw e;
  }
}

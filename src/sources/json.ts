// The `json` source: a scan manifest that points at .npy files, streamed with
// stream-json so a manifest of millions of frames never sits in memory.
//
// Manifest format (paths relative to the manifest file):
//   {
//     "probe": "probe.npy",            complex or real (N, N)
//     "object": "object.npy",          optional ground truth (H, W)
//     "frames": [
//       {"x": 12.5, "y": 40.0, "file": "f0001.npy"},               one (N, N) pattern per file
//       {"x": 13.5, "y": 40.0, "stack": "patterns.npy", "index": 17} pattern 17 of an (m, N, N) stack
//     ]
//   }
// x is the column and y the row of the probe-window centre, in object pixels.
//
// create() makes one streaming pass over `frames` to collect positions and a
// compact locator per frame (file-name id + index in an Int32Array, names in a
// small string table); patterns are read lazily by the FrameStore.
import type { FileHandle } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Transform } from 'node:stream';
import { z } from 'zod';
import { DataError, FormatError, printableName, PtychoflowError } from '../errors.js';
import { dtypeInfo, locateError, sizeOf, toFloat32, type NpyHeader } from '../io/npy.js';
import { openNpy, readNpyFile } from '../io/npy-file.js';
import { depthGuard, JSON_MAX_DEPTH } from '../io/json-depth.js';
import { openRegular } from '../io/paths.js';
import { readAt } from '../io/zip.js';
import { defineSource, type Frame, type FrameStore, type ScanMeta, type StageContext } from '../pipeline/types.js';
import { checkedFrames, offeredStore, PatternChecks, type RawPattern } from './checks.js';
import { checkScan, manifestPath, reason } from './scan-checks.js';
import { patternProblem, toComplex2D } from './npz.js';

// stream-json is CommonJS without type declarations: load it through require, typed here.
type Streamer = { withParser(options: Record<string, unknown>): Transform; make(options?: Record<string, unknown>): Transform };
const require = createRequire(import.meta.url);
const Parser = require('stream-json/Parser.js') as Streamer;
const Pick = require('stream-json/filters/Pick.js') as Streamer;
const Ignore = require('stream-json/filters/Ignore.js') as Streamer;
const StreamArray = require('stream-json/streamers/StreamArray.js') as Streamer;
const StreamValues = require('stream-json/streamers/StreamValues.js') as Streamer;

/** Growable column of numbers. */
class Column<T extends Float64Array | Int32Array> {
  length = 0;
  constructor(public data: T) {}
  push(v: number): void {
    if (this.length === this.data.length) {
      const next = new (this.data.constructor as new (n: number) => T)(this.data.length * 2);
      next.set(this.data);
      this.data = next;
    }
    this.data[this.length++] = v;
  }
  values(): T {
    return this.data.subarray(0, this.length) as T;
  }
}

interface Manifest {
  xcoords: Float64Array;
  ycoords: Float64Array;
  /** Per frame: id into `names`, and the index in a stack (−1: the file holds one pattern). */
  fileId: Int32Array;
  stackIndex: Int32Array;
  names: string[];
  probe?: string;
  object?: string;
}

/** The manifest's bytes as a stream (regular files only: a FIFO would never end). */
async function manifestStream(file: string): Promise<NodeJS.ReadableStream> {
  const fh = await openRegular(file);
  return fh.createReadStream();
}

async function scanManifest(file: string, stage: string, limit: number, allow: StageContext['allow']): Promise<Manifest> {
  const label = path.basename(file);
  const xs = new Column(new Float64Array(1024)), ys = new Column(new Float64Array(1024));
  const ids = new Column(new Int32Array(1024)), idx = new Column(new Int32Array(1024));
  const names: string[] = [], nameIds = new Map<string, number>();
  const entryError = (k: number, message: string): DataError => new DataError('BAD_MANIFEST', message, { stage, file: label, key: `frames[${k}]`, hint: 'each frame is {"x", "y", "file"} or {"x", "y", "stack", "index"}' });
  let top: Record<string, unknown> = {};
  // The first bad entry; the stream is drained rather than thrown out of (pipeline would report an abort instead).
  let inner: DataError | undefined;
  try {
    await pipeline(await manifestStream(file), Parser.make(), depthGuard(JSON_MAX_DEPTH, { stage, file: label }), Pick.make({ filter: 'frames' }), StreamArray.make(), async (source: AsyncIterable<{ key: number; value: unknown }>) => {
      for await (const { key, value } of source) {
        if (xs.length >= limit || inner !== undefined) continue;
        const f = value as Record<string, unknown> | null;
        if (f === null || typeof f !== 'object') {
          inner = entryError(key, 'frame entry is not an object');
          continue;
        }
        const { x, y } = f;
        if (typeof x !== 'number' || typeof y !== 'number' || !Number.isFinite(x) || !Number.isFinite(y)) {
          inner = entryError(key, 'frame needs finite numbers x and y');
          continue;
        }
        const name = typeof f.file === 'string' ? f.file : typeof f.stack === 'string' ? f.stack : undefined;
        if (name === undefined) {
          inner = entryError(key, 'frame needs "file" or "stack"');
          continue;
        }
        let at = -1;
        if (typeof f.stack === 'string') {
          if (typeof f.index !== 'number' || !Number.isInteger(f.index) || f.index < 0 || f.index > 0x7fffffff) {
            inner = entryError(key, '"stack" needs a non-negative integer "index"');
            continue;
          }
          at = f.index;
        }
        let id = nameIds.get(name);
        if (id === undefined) {
          try {
            manifestPath(path.dirname(file), name, { id: stage, allow }, { file: label, key: `frames[${key}]` });
          } catch (e) {
            inner = e as DataError;
            continue;
          }
          id = names.length;
          names.push(name);
          nameIds.set(name, id);
        }
        xs.push(x);
        ys.push(y);
        ids.push(id);
        idx.push(at);
      }
    });
    await pipeline(await manifestStream(file), Parser.make(), depthGuard(JSON_MAX_DEPTH, { stage, file: label }), Ignore.make({ filter: 'frames' }), StreamValues.make(), async (source: AsyncIterable<{ value: unknown }>) => {
      for await (const { value } of source) if (value !== null && typeof value === 'object') top = value as Record<string, unknown>;
    });
  } catch (e) {
    if (e instanceof PtychoflowError || (e as NodeJS.ErrnoException).code === 'ENOENT') throw e;
    if (inner !== undefined) throw inner;
    throw new FormatError('BAD_JSON', `manifest is not valid JSON (${(e as Error).message})`, { stage, file: label, cause: e });
  }
  if (inner !== undefined) throw inner;
  if (typeof top.probe !== 'string') throw new DataError('MISSING_KEY', 'manifest needs "probe": the path of a (N, N) .npy probe', { stage, file: label, key: 'probe' });
  if (top.object !== undefined && typeof top.object !== 'string') throw new DataError('BAD_MANIFEST', '"object" must be a path to an .npy file', { stage, file: label, key: 'object' });
  if (xs.length === 0) throw new DataError('MISSING_KEY', 'manifest has no frames', { stage, file: label, key: 'frames', hint: 'add a "frames" array' });
  return { xcoords: xs.values(), ycoords: ys.values(), fileId: ids.values(), stackIndex: idx.values(), names, probe: top.probe, ...(typeof top.object === 'string' ? { object: top.object } : {}) };
}

interface OpenNpy {
  fh: FileHandle;
  header: NpyHeader;
}

/** Frames of a manifest: per read, the locator says which file and which pattern. */
class ManifestFrameStore implements FrameStore {
  private readonly cache = new Map<number, Promise<OpenNpy>>();
  /** Which patterns are known clean or dropped (the source's exclusions). */
  readonly checks: PatternChecks;
  private closed = false;
  constructor(
    private readonly m: Manifest,
    private readonly dir: string,
    private readonly label: string,
    readonly N: number,
    private readonly intensity: boolean,
  ) {
    this.checks = new PatternChecks(m.xcoords.length, N, { file: label, key: (i) => `frames[${i}]` }, patternProblem);
  }

  get count(): number {
    return this.m.xcoords.length;
  }

  private fail(i: number, message: string, cause?: unknown): DataError {
    const name = this.m.names[this.m.fileId[i]!]!;
    return new DataError('BAD_FRAME_FILE', `${printableName(name)}: ${message}`, { file: this.label, key: `frames[${i}]`, hint: 'paths are relative to the manifest', ...(cause === undefined ? {} : { cause }) });
  }

  /** Opens (and keeps a few open) .npy files, reading their headers. */
  private npy(id: number): Promise<OpenNpy> {
    let p = this.cache.get(id);
    if (p === undefined) {
      if (this.cache.size >= 16) {
        const [oldId, old] = this.cache.entries().next().value!;
        this.cache.delete(oldId);
        void old.then((o) => o.fh.close()).catch(() => undefined);
      }
      p = openNpy(path.resolve(this.dir, this.m.names[id]!));
      p.catch(() => undefined);
      this.cache.set(id, p);
    }
    return p;
  }

  /** Pattern i as float32 amplitudes, unchecked (the streamed path checks it under on_error). */
  async load(i: number): Promise<Float32Array> {
    if (this.closed) throw new DataError('STORE_CLOSED', 'the frame store is closed', { file: this.label });
    if (!Number.isInteger(i) || i < 0 || i >= this.count) throw new DataError('BAD_INDEX', `frame index ${i} is outside 0..${this.count - 1}`, { file: this.label });
    const id = this.m.fileId[i]!, at = this.m.stackIndex[i]!;
    let o: OpenNpy;
    try {
      o = await this.npy(id);
    } catch (e) {
      this.cache.delete(id);
      throw this.fail(i, reason(e), e);
    }
    const h = o.header, NN = this.N * this.N;
    const info = dtypeInfo(h.descr);
    if (info.complex || info.kind === 'b') throw this.fail(i, `patterns must be real, got ${h.descr}`);
    if (h.fortranOrder && h.shape.filter((d) => d > 1).length > 1) throw this.fail(i, 'Fortran-order patterns are not supported here; save with C order');
    const shape = h.shape;
    const ok = at < 0 ? sizeOf(shape) === NN && shape.filter((d) => d !== 1).every((d) => d === this.N) : shape.length === 3 && shape[1] === this.N && shape[2] === this.N;
    if (!ok) throw this.fail(i, `shape (${shape.join(', ')}) does not hold ${at < 0 ? `one ${this.N}×${this.N} pattern` : `(m, ${this.N}, ${this.N}) patterns`}`);
    if (at >= 0 && at >= shape[0]!) throw this.fail(i, `index ${at} is beyond the ${shape[0]!} patterns of the stack`);
    const frameBytes = NN * info.itemsize;
    const bytes = await readAt(o.fh, h.headerLength + Math.max(at, 0) * frameBytes, frameBytes);
    if (bytes.length !== frameBytes) throw this.fail(i, 'file is truncated');
    let a: Float32Array;
    try {
      a = toFloat32(bytes, h.descr, NN);
    } catch (e) {
      throw this.fail(i, (locateError(e, this.label) as Error).message, e);
    }
    if (this.intensity) for (let k = 0; k < a.length; k++) a[k] = Math.sqrt(a[k]!);
    return a;
  }

  /** Pattern i, checked like streamed records (see PatternChecks.checkRead). */
  async read(i: number): Promise<Float32Array> {
    const a = await this.load(i);
    this.checks.checkRead([i], [a]);
    return a;
  }

  /** Patterns in order; one whose file cannot be read comes as its error (a bad record). */
  async *sequential(signal: AbortSignal): AsyncGenerator<RawPattern> {
    for (let index = 0; index < this.count; index++) {
      signal.throwIfAborted();
      try {
        yield { index, amplitude: await this.load(index) };
      } catch (e) {
        if (!(e instanceof DataError)) throw e;
        yield { index, error: e };
      }
    }
  }

  async readMany(indices: readonly number[]): Promise<Float32Array[]> {
    const out: Float32Array[] = [];
    for (const i of indices) out.push(await this.read(i));
    return out;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const open = [...this.cache.values()];
    this.cache.clear();
    for (const p of open) await p.then((o) => o.fh.close()).catch(() => undefined);
  }
}

/** Pattern size from the first frame's file. */
async function patternSize(m: Manifest, dir: string, ctx: StageContext, label: string): Promise<number> {
  const name = m.names[m.fileId[0]!]!;
  let h: NpyHeader;
  try {
    const { fh, header } = await openNpy(path.resolve(dir, name));
    await fh.close();
    h = header;
  } catch (e) {
    throw new DataError('BAD_FRAME_FILE', `${printableName(name)}: ${reason(e)}`, { stage: ctx.id, file: label, key: 'frames[0]', hint: 'paths are relative to the manifest', cause: e });
  }
  const dims = h.shape.filter((d) => d !== 1);
  const N = m.stackIndex[0]! >= 0 ? h.shape[h.shape.length - 1] : dims[0];
  if (N === undefined) throw new DataError('BAD_FRAME_FILE', `${name}: cannot tell the pattern size from shape (${h.shape.join(', ')})`, { stage: ctx.id, file: label, key: 'frames[0]' });
  return N;
}

export default defineSource({
  inputFiles: (o) => [o.path],
  kind: 'source',
  emits: 'frame',
  type: 'json',
  description: 'Reads a scan from a JSON manifest of positions and .npy patterns (streamed; see docs/formats.md).',
  options: z
    .object({
      path: z.string().min(1).describe('The manifest .json, relative to the pipeline file.'),
      on_error: z.enum(['fail', 'skip', 'route']).default('fail').describe('What to do with a bad pattern or a missing pattern file: fail, skip it, or route it.'),
      input: z.enum(['amplitude', 'intensity']).default('amplitude').describe('What the patterns hold: amplitude, or intensity/counts (square-rooted on read).'),
      limit: z.number().int().positive().optional().describe('Read at most this many frames (the first ones).'),
    })
    .strict(),
  async create(options, { ctx }) {
    const file = path.resolve(ctx.baseDir, options.path);
    const label = path.basename(file), dir = path.dirname(file);
    let m: Manifest;
    try {
      m = await scanManifest(file, ctx.id, options.limit ?? Infinity, ctx.allow);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new DataError('FILE_NOT_FOUND', 'manifest not found', { stage: ctx.id, file, hint: 'the path is relative to the pipeline file' });
      throw e;
    }
    const load = async (key: 'probe' | 'object', name: string): Promise<ReturnType<typeof toComplex2D>> => {
      const target = manifestPath(dir, name, ctx, { file: label, key });
      try {
        return toComplex2D(await readNpyFile(target), label, key);
      } catch (e) {
        throw new DataError('BAD_FILE', `${printableName(name)}: ${reason(e)}`, { stage: ctx.id, file: label, key, cause: e });
      }
    };
    const probe = await load('probe', m.probe!);
    const object = m.object === undefined ? undefined : await load('object', m.object);
    const N = await patternSize(m, dir, ctx, label);
    if (probe.height !== N || probe.width !== N) throw new DataError('CONTRACT', `probe is ${probe.height}×${probe.width} but patterns are ${N}×${N}`, { stage: ctx.id, file: label, key: 'probe' });
    if (options.input === 'intensity') ctx.log.info(`${label}: input is intensity: patterns converted to amplitude by a square root`);
    const store = new ManifestFrameStore(m, dir, label, N, options.input === 'intensity');
    const scan: ScanMeta = { N, count: store.count, xcoords: m.xcoords, ycoords: m.ycoords, probe, ...(object === undefined ? {} : { object }), origin: file, notes: { files: m.names.length, input: options.input } };
    checkScan(scan, { stage: ctx.id, file: label, keys: { x: 'frames[].x', y: 'frames[].y', probe: 'probe' } });
    return {
      meta: { record: 'frame', scan, count: store.count },
      frames: offeredStore(store, store.checks, options.on_error, ctx, (s) => store.sequential(s)),
      open: (signal: AbortSignal): AsyncIterable<Frame> => checkedFrames(store.sequential(signal), { scan, checks: store.checks, ctx, policy: options.on_error }),
      close: () => store.close(),
    };
  },
});

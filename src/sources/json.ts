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
// create() makes one streaming pass (manifest-scan.ts) to collect positions and a
// compact locator per frame (file-name id + index in an Int32Array, names in a
// small string table); patterns are read lazily by the FrameStore.
import type { FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { DataError, printableName } from '../errors.js';
import { dtypeInfo, locateError, sizeOf, toFloat32, type NpyHeader } from '../io/npy.js';
import { openNpy, readNpyFile } from '../io/npy-file.js';
import { readAt } from '../io/zip.js';
import { defineSource, type Frame, type FrameStore, type ScanMeta, type StageContext } from '../pipeline/types.js';
import { checkedFrames, offeredStore, PatternChecks, patternProblem, type RawPattern } from './checks.js';
import { checkScan, manifestPath, reason } from './scan-checks.js';
import { scanManifest, type Manifest } from './manifest-scan.js';
import { toComplex2D } from './npz.js';
import { errorPolicy } from '../core/options.js';

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
    return new DataError('BAD_FRAME_FILE', `${printableName(name)}: ${message}`, {
      file: this.label,
      key: `frames[${i}]`,
      hint: 'paths are relative to the manifest',
      ...(cause === undefined ? {} : { cause }),
    });
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

  /** Pattern i's file, open (a failed open is not cached, so a later read retries it). */
  private async fileOf(i: number): Promise<OpenNpy> {
    const id = this.m.fileId[i]!;
    try {
      return await this.npy(id);
    } catch (e) {
      this.cache.delete(id);
      throw this.fail(i, reason(e), e);
    }
  }

  /** Byte offset and length of pattern i, after checking that the header holds real N×N patterns (one, or a stack holding index `at`). */
  private patternBytes(i: number, h: NpyHeader, at: number): { offset: number; length: number } {
    const N = this.N,
      NN = N * N,
      shape = h.shape;
    const info = dtypeInfo(h.descr);
    if (info.complex || info.kind === 'b') throw this.fail(i, `patterns must be real, got ${h.descr}`);
    if (h.fortranOrder && shape.filter((d) => d > 1).length > 1) throw this.fail(i, 'Fortran-order patterns are not supported here; save with C order');
    const ok = at < 0 ? sizeOf(shape) === NN && shape.filter((d) => d !== 1).every((d) => d === N) : shape.length === 3 && shape[1] === N && shape[2] === N;
    if (!ok) throw this.fail(i, `shape (${shape.join(', ')}) does not hold ${at < 0 ? `one ${N}×${N} pattern` : `(m, ${N}, ${N}) patterns`}`);
    if (at >= 0 && at >= shape[0]!) throw this.fail(i, `index ${at} is beyond the ${shape[0]!} patterns of the stack`);
    const length = NN * info.itemsize;
    return { offset: h.headerLength + Math.max(at, 0) * length, length };
  }

  /** Pattern i as float32 amplitudes, unchecked (the streamed path checks it under on_error). */
  async load(i: number): Promise<Float32Array> {
    if (this.closed) throw new DataError('STORE_CLOSED', 'the frame store is closed', { file: this.label });
    if (!Number.isInteger(i) || i < 0 || i >= this.count)
      throw new DataError('BAD_INDEX', `frame index ${i} is outside 0..${this.count - 1}`, { file: this.label });
    const o = await this.fileOf(i);
    const { offset, length } = this.patternBytes(i, o.header, this.m.stackIndex[i]!);
    const bytes = await readAt(o.fh, offset, length);
    if (bytes.length !== length) throw this.fail(i, 'file is truncated');
    let a: Float32Array;
    try {
      a = toFloat32(bytes, o.header.descr, this.N * this.N);
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
    throw new DataError('BAD_FRAME_FILE', `${printableName(name)}: ${reason(e)}`, {
      stage: ctx.id,
      file: label,
      key: 'frames[0]',
      hint: 'paths are relative to the manifest',
      cause: e,
    });
  }
  const dims = h.shape.filter((d) => d !== 1);
  const N = m.stackIndex[0]! >= 0 ? h.shape[h.shape.length - 1] : dims[0];
  if (N === undefined)
    throw new DataError('BAD_FRAME_FILE', `${name}: cannot tell the pattern size from shape (${h.shape.join(', ')})`, {
      stage: ctx.id,
      file: label,
      key: 'frames[0]',
    });
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
      on_error: errorPolicy('What to do with a bad pattern or a missing pattern file: fail, skip it, or route it.'),
      input: z
        .enum(['amplitude', 'intensity'])
        .default('amplitude')
        .describe('What the patterns hold: amplitude, or intensity/counts (square-rooted on read).'),
      limit: z.number().int().positive().optional().describe('Read at most this many frames (the first ones).'),
    })
    .strict(),
  async create(options, { ctx }) {
    const file = path.resolve(ctx.baseDir, options.path);
    const label = path.basename(file),
      dir = path.dirname(file);
    let m: Manifest;
    try {
      m = await scanManifest(file, ctx.id, options.limit ?? Infinity, ctx.allow);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT')
        throw new DataError('FILE_NOT_FOUND', 'manifest not found', { stage: ctx.id, file, hint: 'the path is relative to the pipeline file' });
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
    if (probe.height !== N || probe.width !== N)
      throw new DataError('CONTRACT', `probe is ${probe.height}×${probe.width} but patterns are ${N}×${N}`, { stage: ctx.id, file: label, key: 'probe' });
    if (options.input === 'intensity') ctx.log.info(`${label}: input is intensity: patterns converted to amplitude by a square root`);
    const store = new ManifestFrameStore(m, dir, label, N, options.input === 'intensity');
    const scan: ScanMeta = {
      N,
      count: store.count,
      xcoords: m.xcoords,
      ycoords: m.ycoords,
      probe,
      ...(object === undefined ? {} : { object }),
      origin: file,
      notes: { files: m.names.length, input: options.input },
    };
    checkScan(scan, { stage: ctx.id, file: label, keys: { x: 'frames[].x', y: 'frames[].y', probe: 'probe' } });
    return {
      meta: { record: 'frame', scan, count: store.count },
      frames: offeredStore(store, store.checks, options.on_error, ctx, (s) => store.sequential(s)),
      open: (signal: AbortSignal): AsyncIterable<Frame> =>
        checkedFrames(store.sequential(signal), { scan, checks: store.checks, ctx, policy: options.on_error }),
      close: () => store.close(),
    };
  },
});

// One streaming pass over a JSON scan manifest (the `json` source): collects
// the positions and a compact locator per frame, and the top-level `probe`
// and `object`. Tokens from stream-json's parser are walked here directly, so
// frames past `limit` are skipped without being assembled, and the read stops
// as soon as the limit is reached and `probe` and `object` have been seen
// (manifests that put them before `frames`, as the documented layout does).
// Before, the manifest was streamed twice (frames, then the other keys), in
// full even with --limit.
import { createRequire } from 'node:module';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Transform } from 'node:stream';
import { DataError, FormatError, PtychoflowError } from '../errors.js';
import { depthGuard, JSON_MAX_DEPTH } from '../io/json-depth.js';
import { openRegular } from '../io/paths.js';
import type { StageContext } from '../pipeline/types.js';
import { manifestPath } from './scan-checks.js';

// stream-json is CommonJS without type declarations: load it through require, typed here.
type Token = { name: string; value?: unknown };
interface Assembler {
  consume(token: Token): Assembler;
  done: boolean;
  current: unknown;
}
const require = createRequire(import.meta.url);
const Parser = require('stream-json/Parser.js') as { make(options?: Record<string, unknown>): Transform };
const AssemblerClass = require('stream-json/Assembler.js') as new () => Assembler;

/** Test instrumentation: how often, and how many bytes of, manifests were read. */
export const manifestReads = { passes: 0, bytes: 0 };

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

export interface Manifest {
  xcoords: Float64Array;
  ycoords: Float64Array;
  /** Per frame: id into `names`, and the index in a stack (−1: the file holds one pattern). */
  fileId: Int32Array;
  stackIndex: Int32Array;
  names: string[];
  probe?: string;
  object?: string;
}

const VALUE_START = new Set(['startObject', 'startArray', 'stringValue', 'numberValue', 'nullValue', 'trueValue', 'falseValue']);

/** Collects frames into columns; the first bad entry is kept as the error. */
class FrameCollector {
  readonly xs = new Column(new Float64Array(1024));
  readonly ys = new Column(new Float64Array(1024));
  readonly ids = new Column(new Int32Array(1024));
  readonly idx = new Column(new Int32Array(1024));
  readonly names: string[] = [];
  private readonly nameIds = new Map<string, number>();
  constructor(
    private readonly file: string,
    private readonly stage: string,
    private readonly allow: StageContext['allow'],
  ) {}

  private entryError(k: number, message: string): DataError {
    return new DataError('BAD_MANIFEST', message, {
      stage: this.stage,
      file: path.basename(this.file),
      key: `frames[${k}]`,
      hint: 'each frame is {"x", "y", "file"} or {"x", "y", "stack", "index"}',
    });
  }

  /** Adds frame `key`, or returns the error that refuses it. */
  add(key: number, value: unknown): DataError | undefined {
    const f = value as Record<string, unknown> | null;
    if (f === null || typeof f !== 'object') return this.entryError(key, 'frame entry is not an object');
    const { x, y } = f;
    if (typeof x !== 'number' || typeof y !== 'number' || !Number.isFinite(x) || !Number.isFinite(y))
      return this.entryError(key, 'frame needs finite numbers x and y');
    const name = typeof f.file === 'string' ? f.file : typeof f.stack === 'string' ? f.stack : undefined;
    if (name === undefined) return this.entryError(key, 'frame needs "file" or "stack"');
    let at = -1;
    if (typeof f.stack === 'string') {
      if (typeof f.index !== 'number' || !Number.isInteger(f.index) || f.index < 0 || f.index > 0x7fffffff)
        return this.entryError(key, '"stack" needs a non-negative integer "index"');
      at = f.index;
    }
    let id = this.nameIds.get(name);
    if (id === undefined) {
      try {
        manifestPath(path.dirname(this.file), name, { id: this.stage, allow: this.allow }, { file: path.basename(this.file), key: `frames[${key}]` });
      } catch (e) {
        return e as DataError;
      }
      id = this.names.length;
      this.names.push(name);
      this.nameIds.set(name, id);
    }
    this.xs.push(x);
    this.ys.push(y);
    this.ids.push(id);
    this.idx.push(at);
    return undefined;
  }
}

/** Walks the token stream: `frames` elements go to `onFrame` until it says stop; `probe`/`object` into `top`. */
class TokenWalker {
  private depth = 0;
  private key: unknown;
  private inFrames = false;
  private frame = 0;
  collecting = true;
  private asm: Assembler | undefined;
  private target: ((v: unknown) => void) | undefined;
  constructor(
    private readonly top: Record<string, unknown>,
    private readonly onFrame: (k: number, v: unknown) => boolean,
  ) {}

  /** Where a value starting at the current depth goes, if anywhere. */
  private targetFor(t: Token): ((v: unknown) => void) | undefined {
    const { depth, key } = this;
    if (depth === 1 && (key === 'probe' || key === 'object')) return (v) => (this.top[key] = v);
    if (depth === 1 && key === 'frames' && t.name === 'startArray') this.inFrames = true;
    else if (depth === 2 && this.inFrames) {
      const k = this.frame++;
      if (this.collecting) return (v) => (this.collecting = this.onFrame(k, v));
    }
    return undefined;
  }

  /** Takes one token; true when nothing is being assembled. */
  take(t: Token): boolean {
    if (t.name === 'endObject' || t.name === 'endArray') this.depth--;
    if (this.asm === undefined && VALUE_START.has(t.name)) {
      this.target = this.targetFor(t);
      if (this.target !== undefined) this.asm = new AssemblerClass();
    } else if (this.depth === 1 && t.name === 'keyValue') this.key = t.value;
    else if (this.depth === 1 && t.name === 'endArray') this.inFrames = false;
    if (this.asm !== undefined) {
      this.asm.consume(t);
      if (this.asm.done) {
        this.target!(this.asm.current);
        this.asm = this.target = undefined;
      }
    }
    if (t.name === 'startObject' || t.name === 'startArray') this.depth++;
    return this.asm === undefined;
  }
}

/** Feeds tokens to a walker; returns true when it stopped before the end (see the file comment). */
async function walk(
  tokens: AsyncIterable<Token>,
  top: Record<string, unknown>,
  onFrame: (k: number, v: unknown) => boolean,
  canStop: () => boolean,
): Promise<boolean> {
  const w = new TokenWalker(top, onFrame);
  for await (const t of tokens) {
    // Frames past the limit are not needed: stop reading once the other keys are known too.
    if (w.take(t) && !w.collecting && canStop()) return true;
  }
  return false;
}

export async function scanManifest(file: string, stage: string, limit: number, allow: StageContext['allow']): Promise<Manifest> {
  const label = path.basename(file);
  const frames = new FrameCollector(file, stage, allow);
  const top: Record<string, unknown> = {};
  let inner: DataError | undefined;
  let early = false;
  const onFrame = (k: number, v: unknown): boolean => {
    inner = frames.add(k, v);
    return inner === undefined && frames.xs.length < limit;
  };
  const fh = await openRegular(file);
  manifestReads.passes++;
  const input = fh.createReadStream();
  input.on('data', (d: string | Buffer) => (manifestReads.bytes += d.length));
  try {
    await pipeline(input, Parser.make({ streamValues: false }), depthGuard(JSON_MAX_DEPTH, { stage, file: label }), async (tokens: AsyncIterable<Token>) => {
      early = await walk(tokens, top, onFrame, () => inner !== undefined || ('probe' in top && 'object' in top));
    });
  } catch (e) {
    // Stopping early makes pipeline abort the streams still flowing: that is the intended end, not an error.
    if (early && (e as { name?: string }).name === 'AbortError') return result(frames, top, inner, stage, label);
    if (e instanceof PtychoflowError || (e as NodeJS.ErrnoException).code === 'ENOENT') throw e;
    if (inner !== undefined) throw inner;
    throw new FormatError('BAD_JSON', `manifest is not valid JSON (${(e as Error).message})`, { stage, file: label, cause: e });
  } finally {
    input.destroy();
  }
  return result(frames, top, inner, stage, label);
}

function result(frames: FrameCollector, top: Record<string, unknown>, inner: DataError | undefined, stage: string, label: string): Manifest {
  if (inner !== undefined) throw inner;
  if (typeof top.probe !== 'string')
    throw new DataError('MISSING_KEY', 'manifest needs "probe": the path of a (N, N) .npy probe', { stage, file: label, key: 'probe' });
  if (top.object !== undefined && typeof top.object !== 'string')
    throw new DataError('BAD_MANIFEST', '"object" must be a path to an .npy file', { stage, file: label, key: 'object' });
  if (frames.xs.length === 0) throw new DataError('MISSING_KEY', 'manifest has no frames', { stage, file: label, key: 'frames', hint: 'add a "frames" array' });
  const { xs, ys, ids, idx, names } = frames;
  return {
    xcoords: xs.values(),
    ycoords: ys.values(),
    fileId: ids.values(),
    stackIndex: idx.values(),
    names,
    probe: top.probe,
    ...(typeof top.object === 'string' ? { object: top.object } : {}),
  };
}

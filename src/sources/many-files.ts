// Several files as one stream of scans (issue #17): the npz and hdf5 sources'
// `paths` option. Each file is opened through the single-file source (so every
// check and layout rule applies unchanged), its positions and probe are read
// once, and it is closed again; frames are then read file by file, with at
// most `keepOpen` files open at a time whatever their number, so memory is
// flat in the number of scans (only positions and the per-frame scan number
// grow with it). Frame i of file f is global frame offset[f] + i; a file's own
// scan_index values are kept apart from every other file's (file f's scan s
// is scan base[f] + s), so `group` never mixes files and `split by: scan`
// holds out whole files. The network is trained for one instrument, so every
// file must share the first file's probe and pattern size.
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { DataError, OptionsError } from '../errors.js';
import type { Frame, FrameAccess, ScanMeta, StageContext, Stream } from '../pipeline/types.js';

/** Expands globs (`*`, `?` in the file name only) relative to `baseDir`; plain paths are kept. Sorted per pattern, no duplicates. */
export async function expandPaths(patterns: readonly string[], baseDir: string, stage: string): Promise<string[]> {
  const out: string[] = [];
  for (const p of patterns) {
    const abs = path.resolve(baseDir, p);
    const name = path.basename(abs);
    if (!/[*?]/.test(name)) {
      out.push(abs);
      continue;
    }
    const dir = path.dirname(abs);
    if (/[*?]/.test(dir))
      throw new OptionsError('BAD_OPTION', `glob '${p}': wildcards are allowed in the file name only`, {
        stage,
        key: 'paths',
        hint: 'list the directories, or one glob per directory',
      });
    const re = new RegExp(
      `^${name
        .replace(/[.+^${}()|[\]\\]/g, '\\$&')
        .replace(/\*/g, '[^/]*')
        .replace(/\?/g, '[^/]')}$`,
    );
    let names: string[];
    try {
      names = await readdir(dir);
    } catch (e) {
      throw new OptionsError('FILE_NOT_FOUND', `glob '${p}': cannot list ${dir}`, {
        stage,
        key: 'paths',
        cause: e,
        hint: 'paths are relative to the pipeline file',
      });
    }
    const hits = names.filter((n) => re.test(n)).sort();
    if (hits.length === 0)
      throw new OptionsError('FILE_NOT_FOUND', `glob '${p}' matches no file in ${dir}`, {
        stage,
        key: 'paths',
        hint: 'check the pattern; paths are relative to the pipeline file',
      });
    out.push(...hits.map((n) => path.join(dir, n)));
  }
  return [...new Set(out)];
}

/**
 * Opened single-file streams, at most `cap` at a time among those not in use;
 * a stream in use (a running pass or read) is never closed under its reader.
 */
export class StreamPool {
  private readonly open = new Map<number, { stream: Promise<Stream<Frame>>; users: number; used: number }>();
  private clock = 0;
  /** Most streams open at once so far (for tests and benches). */
  peak = 0;

  constructor(
    private readonly opener: (f: number) => Promise<Stream<Frame>>,
    private readonly cap: number,
  ) {}

  /** Opens (or reuses) file f's stream and holds it open until `release` is called. */
  async acquire(f: number): Promise<{ stream: Stream<Frame>; release: () => Promise<void> }> {
    let e = this.open.get(f);
    if (e === undefined) {
      e = { stream: this.opener(f), users: 0, used: 0 };
      this.open.set(f, e);
      this.peak = Math.max(this.peak, this.open.size);
    }
    const entry = e;
    entry.users++;
    entry.used = ++this.clock;
    let stream: Stream<Frame>;
    try {
      stream = await entry.stream;
    } catch (err) {
      entry.users--;
      // A failed open is forgotten, so a later read tries again.
      if (this.open.get(f) === entry) this.open.delete(f);
      throw err;
    }
    let released = false;
    return {
      stream,
      release: async () => {
        if (released) return;
        released = true;
        entry.users--;
        await this.trim();
      },
    };
  }

  async use<T>(f: number, fn: (s: Stream<Frame>) => Promise<T>): Promise<T> {
    const { stream, release } = await this.acquire(f);
    try {
      return await fn(stream);
    } finally {
      await release();
    }
  }

  private async trim(): Promise<void> {
    const idle = [...this.open.entries()].filter(([, e]) => e.users === 0).sort((a, b) => a[1].used - b[1].used);
    while (this.open.size > this.cap && idle.length > 0) {
      const [f, e] = idle.shift()!;
      this.open.delete(f);
      await (await e.stream).close?.();
    }
  }

  async close(): Promise<void> {
    const all = [...this.open.values()];
    this.open.clear();
    for (const e of all) await (await e.stream.catch(() => undefined))?.close?.();
  }
}

interface FileScan {
  file: string;
  offset: number;
  count: number;
  base: number;
}

/** Reads every file's positions, probe and scan numbers, one file open at a time. */
async function readParts(
  files: readonly string[],
  openOne: (file: string) => Promise<Stream<Frame>>,
  stage: string,
): Promise<{ parts: FileScan[]; first: ScanMeta; xcoords: Float64Array; ycoords: Float64Array; scanIndex: Int32Array; scans: number }> {
  const parts: FileScan[] = [];
  const xs: Float64Array[] = [],
    ys: Float64Array[] = [],
    ids: Int32Array[] = [];
  let first: ScanMeta | undefined;
  let offset = 0,
    base = 0;
  for (const file of files) {
    const s = await openOne(file);
    try {
      const scan = s.meta.scan;
      if (scan === undefined) throw new DataError('NO_SCAN_META', 'the file gave no scan', { stage, file });
      if (first === undefined) first = scan;
      else checkSameInstrument(first, scan, files[0]!, file, stage);
      const local = scan.scanIndex ?? new Int32Array(scan.count);
      let top = 0;
      const global = new Int32Array(scan.count);
      for (let i = 0; i < scan.count; i++) {
        top = Math.max(top, local[i]!);
        global[i] = base + local[i]!;
      }
      parts.push({ file, offset, count: scan.count, base });
      xs.push(scan.xcoords.subarray(0, scan.count));
      ys.push(scan.ycoords.subarray(0, scan.count));
      ids.push(global);
      offset += scan.count;
      base += top + 1;
    } finally {
      await s.close?.();
    }
  }
  if (first === undefined) throw new OptionsError('BAD_OPTION', 'paths lists no file', { stage, key: 'paths' });
  const count = offset;
  const concat = <A extends Float64Array | Int32Array>(make: (n: number) => A, arrays: A[]): A => {
    const out = make(count);
    let o = 0;
    for (const a of arrays) {
      out.set(a, o);
      o += a.length;
    }
    return out;
  };
  return {
    parts,
    first,
    xcoords: concat((n) => new Float64Array(n), xs),
    ycoords: concat((n) => new Float64Array(n), ys),
    scanIndex: concat((n) => new Int32Array(n), ids),
    scans: base,
  };
}

/** One stream over `files`, each opened by `openOne` (the single-file source). */
export async function manyFiles(
  files: readonly string[],
  openOne: (file: string) => Promise<Stream<Frame>>,
  ctx: StageContext,
  keepOpen = 2,
): Promise<Stream<Frame>> {
  const { parts, first, xcoords, ycoords, scanIndex, scans: base } = await readParts(files, openOne, ctx.id);
  const count = xcoords.length;
  const scan: ScanMeta = {
    N: first.N,
    count,
    xcoords,
    ycoords,
    probe: first.probe,
    // One scan in all: its truth; several: each file's truth is read by a single-file source.
    ...(base === 1 && first.object !== undefined ? { object: first.object } : {}),
    scanIndex,
    origin: files.join(', '),
    notes: { ...first.notes, files: files.length, scans: base },
  };
  ctx.log.info(`${files.length} files, ${base} scans, ${count} patterns of ${first.N}×${first.N}`);
  const pool = new StreamPool((f) => openOne(parts[f]!.file), keepOpen);
  const fileOf = (i: number): number => {
    let lo = 0,
      hi = parts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (parts[mid]!.offset <= i) lo = mid;
      else hi = mid - 1;
    }
    if (!(i >= 0 && i < count)) throw new DataError('BAD_INDEX', `frame ${i} is outside 0…${count - 1}`, { stage: ctx.id });
    return lo;
  };
  /** Reads grouped by file, results in the order asked. */
  const readMany = async (indices: readonly number[]): Promise<Float32Array[]> => {
    const out: Float32Array[] = new Array<Float32Array>(indices.length);
    const byFile = new Map<number, number[]>();
    indices.forEach((i, j) => {
      const f = fileOf(i);
      const js = byFile.get(f);
      if (js === undefined) byFile.set(f, [j]);
      else js.push(j);
    });
    for (const [f, js] of byFile) {
      const p = parts[f]!;
      const got = await pool.use(f, (s) => access(s, p.file, ctx.id).readMany(js.map((j) => indices[j]! - p.offset)));
      js.forEach((j, k) => (out[j] = got[k]!));
    }
    return out;
  };
  const pass = (signal: AbortSignal, borrowed: boolean): AsyncIterable<Frame> => concatenatedPass(parts, pool, scanIndex, signal, borrowed);
  return {
    meta: { record: 'frame', scan, count },
    frames: {
      count,
      N: first.N,
      read: async (i) => (await readMany([i]))[0]!,
      readMany,
      excluded: (signal) => excludedOf(parts, pool, signal),
    },
    open: (signal) => pass(signal, false),
    openBorrowed: (signal) => pass(signal, true),
    close: () => pool.close(),
  };
}

/** The files' frames one after another, with global indices and scan numbers. */
async function* concatenatedPass(
  parts: readonly FileScan[],
  pool: StreamPool,
  scanIndex: Int32Array,
  signal: AbortSignal,
  borrowed: boolean,
): AsyncGenerator<Frame> {
  for (let f = 0; f < parts.length; f++) {
    const p = parts[f]!;
    const { stream: s, release } = await pool.acquire(f);
    try {
      const frames = borrowed ? (s.openBorrowed?.(signal) ?? s.open(signal)) : s.open(signal);
      for await (const fr of frames) yield { ...fr, index: p.offset + fr.index, scanIndex: scanIndex[p.offset + fr.index]! };
    } finally {
      await release();
    }
  }
}

/** The frames every file's checked pass set aside, as global indices. */
async function excludedOf(parts: readonly FileScan[], pool: StreamPool, signal: AbortSignal): Promise<Set<number>> {
  const all = new Set<number>();
  for (let f = 0; f < parts.length; f++) {
    const p = parts[f]!;
    const ex = await pool.use(f, async (s) => (await s.frames?.excluded?.(signal)) ?? new Set<number>());
    for (const i of ex) all.add(p.offset + i);
  }
  return all;
}

/** Every file must be of the first one's instrument: same N, same probe (to 1e-3 in relative L2). */
function checkSameInstrument(a: ScanMeta, b: ScanMeta, fileA: string, fileB: string, stage: string): void {
  if (a.N !== b.N)
    throw new DataError('SHAPE_MISMATCH', `patterns are ${b.N}×${b.N} but ${path.basename(fileA)}'s are ${a.N}×${a.N}`, {
      stage,
      file: fileB,
      hint: 'one run trains one instrument: list files of one pattern size',
    });
  let d = 0,
    e = 0;
  for (let k = 0; k < a.probe.re.length; k++) {
    d += (a.probe.re[k]! - b.probe.re[k]!) ** 2 + (a.probe.im[k]! - b.probe.im[k]!) ** 2;
    e += a.probe.re[k]! ** 2 + a.probe.im[k]! ** 2;
  }
  if (a.probe.width !== b.probe.width || !(Math.sqrt(d / e) <= 1e-3)) {
    throw new DataError('PROBE_MISMATCH', `its probe differs from ${path.basename(fileA)}'s`, {
      stage,
      file: fileB,
      key: 'probeGuess',
      hint: "one run trains one instrument (one probe): give all files the same probe with the source's `probe` option, or train them in separate runs",
    });
  }
}

/** A file's scan_index as scan numbers: non-negative integers, else a DataError naming the file. */
export function scanNumbers(v: Float64Array, file: string): Int32Array {
  const out = new Int32Array(v.length);
  for (let i = 0; i < v.length; i++) {
    const k = v[i]!;
    if (!Number.isInteger(k) || k < 0 || k > 2 ** 31 - 1)
      throw new DataError('BAD_SCAN_INDEX', `scan_index[${i}] is ${k}`, {
        file,
        key: 'scan_index',
        hint: 'scan numbers are non-negative integers, one per pattern',
      });
    out[i] = k;
  }
  return out;
}

function access(s: Stream<Frame>, file: string, stage: string): FrameAccess {
  if (s.frames === undefined) throw new DataError('NO_RANDOM_ACCESS', 'the file offers no random access', { stage, file });
  return s.frames;
}

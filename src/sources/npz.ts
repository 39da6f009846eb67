// The `npz` source: a scan in the canonical NPZ (SPEC §2), legacy layouts fixed
// with a logged note. Positions, probe and object are read at create (small; the
// probe may come from another file, option `probe`);
// patterns stay on disk and are read per open, in blocks, through a FrameStore
// (npz-store.ts: positioned reads; deflated archives via a spill file). Each pattern is
// checked as it is read (NaN, Inf, negative, size) and a bad one goes through
// the stage's error policy. A full sequential pass also checks the CRC-32.
import path from 'node:path';
import { z } from 'zod';
import { DataError, OptionsError } from '../errors.js';
import { checkCanonical, type PatternLayout } from '../io/canonical.js';
import { dtypeInfo, type NpyArray, type NpyHeader } from '../io/npy.js';
import { openNpz, type NpzReader } from '../io/npz.js';
import { parseProbeSpec } from '../io/probe-file.js';
import { defineSource, type Complex2D, type ErrorPolicy, type Frame, type ScanMeta, type StageContext, type Stream } from '../pipeline/types.js';
import { checkedFrames, offeredStore } from './checks.js';
import { expandPaths, manyFiles, scanNumbers } from './many-files.js';
import { NpzFrameStore } from './npz-store.js';
import { overrideProbe } from './probe-override.js';
import { checkScanOrClose } from './scan-checks.js';
import { errorPolicy } from '../core/options.js';

/** A complex (or real) 2-D array as Complex2D (squeezing leading/trailing 1-axes). */
export function toComplex2D(a: NpyArray, file: string, key: string): Complex2D {
  const shape = a.shape.filter((d, k) => !(d === 1 && a.shape.length > 2 && (k === 0 || k === a.shape.length - 1)));
  const [height, width] = shape;
  if (shape.length !== 2 || height === undefined || width === undefined)
    throw new DataError('BAD_SHAPE', `expected a 2-D array, got (${a.shape.join(', ')})`, { file, key, hint: 'save it as an (H, W) array' });
  const n = height * width,
    complex = dtypeInfo(a.descr).complex;
  const re = new Float32Array(n),
    im = new Float32Array(n);
  for (let k = 0; k < n; k++) {
    re[k] = Number(complex ? a.data[2 * k]! : a.data[k]!);
    im[k] = complex ? Number(a.data[2 * k + 1]!) : 0;
  }
  return { height, width, re, im };
}

async function readComplex2D(npz: NpzReader, key: string, file: string): Promise<Complex2D> {
  return toComplex2D(await npz.readArray(key), file, key);
}

async function readVector(npz: NpzReader, key: string, count: number): Promise<Float64Array> {
  const a = await npz.readArray(key);
  const out = new Float64Array(count);
  for (let k = 0; k < count; k++) out[k] = Number(a.data[k]!);
  return out;
}

async function openArchive(file: string, ctx: StageContext): Promise<NpzReader> {
  try {
    return await openNpz(file);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT')
      throw new DataError('FILE_NOT_FOUND', 'file not found', { stage: ctx.id, file, hint: 'the path is relative to the pipeline file' });
    throw e;
  }
}

/** The patterns' layout by the canonical contract (its fixes logged), or CONTRACT naming the first problem and counting the rest. */
function canonicalLayout(headers: ReadonlyMap<string, NpyHeader>, label: string, ctx: StageContext): PatternLayout {
  const check = checkCanonical(headers);
  const first = check.problems[0];
  if (first !== undefined || check.layout === undefined) {
    const more =
      check.problems.length > 1
        ? ` (+${check.problems.length - 1} more: ${check.problems
            .slice(1)
            .map((p) => `[${p.key}] ${p.message}`)
            .join('; ')})`
        : '';
    throw new DataError('CONTRACT', `${first?.message ?? 'not a canonical scan'}${more}`, {
      stage: ctx.id,
      file: label,
      key: first?.key ?? 'diffraction',
      hint: first?.hint ?? 'see docs/formats.md',
    });
  }
  for (const note of check.notes) ctx.log.info(`${label}: ${note}`);
  return check.layout;
}

/** The scan's small arrays (positions, probe, object, scan index) for its first `count` patterns. */
async function readScanArrays(
  npz: NpzReader,
  headers: ReadonlyMap<string, NpyHeader>,
  count: number,
  label: string,
): Promise<Pick<ScanMeta, 'xcoords' | 'ycoords' | 'probe' | 'object'> & { scanIndex?: Float64Array }> {
  const xcoords = await readVector(npz, 'xcoords', count);
  const ycoords = await readVector(npz, 'ycoords', count);
  const probe = await readComplex2D(npz, 'probeGuess', label);
  const object = headers.has('objectGuess') ? await readComplex2D(npz, 'objectGuess', label) : undefined;
  const scanIndex = headers.has('scan_index') ? await readVector(npz, 'scan_index', count) : undefined;
  return { xcoords, ycoords, probe, ...(object === undefined ? {} : { object }), ...(scanIndex === undefined ? {} : { scanIndex }) };
}

async function openScan(
  file: string,
  ctx: StageContext,
  input: 'amplitude' | 'intensity',
  limit: number | undefined,
): Promise<{ scan: ScanMeta; store: NpzFrameStore; scanIndex?: Float64Array }> {
  const label = path.basename(file);
  const npz = await openArchive(file, ctx);
  try {
    const headers = new Map<string, NpyHeader>();
    for (const k of npz.entries()) headers.set(k, npz.header(k));
    const layout = canonicalLayout(headers, label, ctx);
    if (layout.integer && input === 'amplitude') ctx.log.info(`${label}: integer patterns taken as amplitudes; set input: intensity if they are counts`);
    if (input === 'intensity') ctx.log.info(`${label}: input is intensity: patterns converted to amplitude by a square root`);
    const count = limit === undefined ? layout.n : Math.min(limit, layout.n);
    const { scanIndex, ...arrays } = await readScanArrays(npz, headers, count, label);
    const store = new NpzFrameStore(npz, layout, count, input === 'intensity');
    const scan: ScanMeta = {
      N: layout.N,
      count,
      ...arrays,
      ...(scanIndex === undefined ? {} : { scanIndex: scanNumbers(scanIndex, label) }),
      origin: file,
      notes: { dtype: layout.descr, input, patterns_in_file: layout.n },
    };
    return { scan, store, ...(scanIndex === undefined ? {} : { scanIndex }) };
  } catch (e) {
    await npz.close();
    throw e;
  }
}

export default defineSource({
  inputFiles: (o) => [
    ...(o.path !== undefined ? [o.path] : []),
    ...(o.paths ?? []).filter((p) => !/[*?]/.test(p)),
    ...(o.probe !== undefined ? [parseProbeSpec(o.probe).file] : []),
  ],
  kind: 'source',
  emits: 'frame',
  type: 'npz',
  description: 'Reads a scan from a canonical NPZ (diffraction, xcoords, ycoords, probeGuess[, objectGuess]); patterns stay on disk.',
  options: z
    .object({
      path: z.string().min(1).optional().describe('The .npz file, relative to the pipeline file (or give `paths`).'),
      paths: z
        .array(z.string().min(1))
        .min(1)
        .optional()
        .describe(
          "Several .npz files (globs with * and ? in the file name), one instrument: each file's scans are scans of their own (group never mixes them, split by: scan holds out whole ones); at most two files are open at a time.",
        ),
      on_error: errorPolicy('What to do with a bad pattern (NaN, Inf, negative): fail, skip it, or route it to the errors output.'),
      input: z
        .enum(['amplitude', 'intensity'])
        .default('amplitude')
        .describe('What the patterns hold: amplitude, or intensity/counts (square-rooted on read).'),
      limit: z.number().int().positive().optional().describe('Read at most this many patterns (the first ones).'),
      probe: z
        .string()
        .min(1)
        .optional()
        .describe(
          "Use this probe instead of the file's probeGuess (e.g. one refined by another reconstruction): a .npy, an .npz holding probeGuess or probe, or FILE.npz:KEY; relative to the pipeline file.",
        ),
    })
    .strict(),
  async create(options, { ctx }) {
    const one = (file: string): Promise<Stream<Frame>> => openOne(options, file, ctx);
    if (options.paths !== undefined) {
      if (options.path !== undefined) throw new OptionsError('BAD_OPTION', 'give `path` or `paths`, not both', { stage: ctx.id, key: 'paths' });
      return manyFiles(await expandPaths(options.paths, ctx.baseDir, ctx.id), one, ctx);
    }
    if (options.path === undefined)
      throw new OptionsError('BAD_OPTION', 'the npz source needs `path` (one file) or `paths` (several)', { stage: ctx.id, key: 'path' });
    return one(path.resolve(ctx.baseDir, options.path));
  },
});

/** One file as a stream (the source with `path`, or each file of `paths`). */
async function openOne(
  options: { on_error: ErrorPolicy; input: 'amplitude' | 'intensity'; limit?: number | undefined; probe?: string | undefined },
  file: string,
  ctx: StageContext,
): Promise<Stream<Frame>> {
  const opened = await openScan(file, ctx, options.input, options.limit);
  const { store, scanIndex } = opened;
  const scan = await overrideProbe(opened.scan, options.probe, ctx, store, `${path.basename(file)}'s probeGuess`);
  await checkScanOrClose(scan, { stage: ctx.id, file: path.basename(file), ...(options.probe !== undefined ? { keys: { probe: 'probe' } } : {}) }, store);
  const { checks } = store;
  // Borrowed: the patterns are views over reused read blocks (see Stream.openBorrowed).
  const frames = (signal: AbortSignal, borrowed: boolean): AsyncGenerator<Frame> =>
    checkedFrames(store.sequential(signal, borrowed), { scan, checks, ctx, policy: options.on_error, scanIndex });
  return {
    meta: { record: 'frame', scan, count: scan.count },
    frames: offeredStore(store, checks, options.on_error, ctx, (s) => store.sequential(s, true)),
    open: (signal: AbortSignal): AsyncIterable<Frame> => frames(signal, false),
    openBorrowed: (signal: AbortSignal): AsyncIterable<Frame> => frames(signal, true),
    close: () => store.close(),
  };
}

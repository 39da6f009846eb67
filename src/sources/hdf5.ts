// The `hdf5` source: a scan in an HDF5 file (canonical keys at the root, a
// ptychodus product, or CXI; see io/hdf5/layouts.ts and docs/formats.md).
// Positions, probe and object are read at create; patterns stay on disk and
// are read by hyperslab, checked (NaN, Inf, negative) and put through the
// error policy. All HDF5 format code is in io/hdf5/; this file adapts it to a pipeline
// source (options, error policy, probe override, the checked pass).
import { existsSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { DataError, FormatError, OptionsError } from '../errors.js';
import { H5File } from '../io/hdf5/file.js';
import { H5FrameStore } from '../io/hdf5/frame-store.js';
import { detectLayout, openLayout, type H5Layout, type H5OpenOptions } from '../io/hdf5/layouts.js';
import { isHdf5 } from '../io/hdf5/reader.js';
import { defineSource, type ErrorPolicy, type Frame, type ScanMeta, type StageContext, type Stream } from '../pipeline/types.js';
import { expandPaths, manyFiles, scanNumbers } from './many-files.js';
import { parseProbeSpec } from '../io/probe-file.js';
import { checkedFrames, offeredStore, PatternChecks, patternProblem } from './checks.js';
import { overrideProbe } from './probe-override.js';
import { checkScanOrClose } from './scan-checks.js';
import { errorPolicy } from '../core/options.js';

interface Opened {
  scan: ScanMeta;
  store: H5FrameStore;
  checks: PatternChecks;
  scanIndex?: Float64Array;
  notes: string[];
}

async function openScan(file: string, ctx: StageContext, layoutOption: 'auto' | H5Layout, o: H5OpenOptions): Promise<Opened> {
  const label = path.basename(file);
  if (!existsSync(file)) throw new DataError('FILE_NOT_FOUND', 'file not found', { stage: ctx.id, file, hint: 'the path is relative to the pipeline file' });
  if (!isHdf5(file))
    throw new FormatError('NOT_HDF5', 'not an HDF5 file (no HDF5 signature)', {
      stage: ctx.id,
      file: label,
      hint: 'the hdf5 source reads .h5/.hdf5/.cxi files; use npz for .npz',
    });
  const h = await H5File.open(file, label, ctx.allow?.hdf5_external_links === true);
  try {
    const layout = layoutOption === 'auto' ? detectLayout(h.structure) : layoutOption;
    if (layout === undefined) {
      const top = [...Object.keys(h.structure.datasets), ...h.structure.groups].filter((k) => !k.includes('/'));
      throw new DataError('UNKNOWN_LAYOUT', `found none of the layouts the hdf5 source reads (top level: ${top.join(', ')})`, {
        stage: ctx.id,
        file: label,
        hint: 'expected diffraction at the root (canonical), raw_data/diffraction (ptychodus) or entry_1 (CXI); see docs/formats.md',
      });
    }
    const { scan: opened, patterns: p, notes, scanIndex } = await openLayout(h, file, layout, o);
    // Frames carry their scan: a file with several scan_index values is several scans.
    const scan = scanIndex === undefined ? opened : { ...opened, scanIndex: scanNumbers(scanIndex, label) };
    const checks = new PatternChecks(p.count, p.N, { file: label, key: p.key }, patternProblem);
    const store = new H5FrameStore(h, p.key, p.count, p.N, p.intensity, p.masked, (i, out) => checks.checkRead(i, out));
    return { scan, store, checks, notes, ...(scanIndex === undefined ? {} : { scanIndex }) };
  } catch (e) {
    // The errors name file and key; the engine adds the stage.
    await h.close();
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
  type: 'hdf5',
  description: 'Reads a scan from an HDF5 file: canonical keys at the root, a ptychodus product (/raw_data) or CXI (entry_1); patterns stay on disk.',
  options: z
    .object({
      path: z.string().min(1).optional().describe('The .h5/.hdf5/.cxi file, relative to the pipeline file (or give `paths`).'),
      paths: z
        .array(z.string().min(1))
        .min(1)
        .optional()
        .describe(
          "Several files (globs with * and ? in the file name), one instrument: each file's scans are scans of their own (group never mixes them, split by: scan holds out whole ones); at most two files are open at a time.",
        ),
      layout: z
        .enum(['auto', 'canonical', 'ptychodus', 'cxi'])
        .default('auto')
        .describe('Which layout the file holds (auto: entry_1 → cxi, raw_data/diffraction → ptychodus, diffraction → canonical).'),
      on_error: errorPolicy('What to do with a bad pattern (NaN, Inf, negative): fail, skip it, or route it to the errors output.'),
      input: z
        .enum(['amplitude', 'intensity'])
        .optional()
        .describe('What the patterns hold (default: amplitude, but intensity for CXI, whose patterns are counts); intensities are square-rooted on read.'),
      limit: z.number().int().positive().optional().describe('Read at most this many patterns (the first ones).'),
      probe: z.string().min(1).optional().describe('Use this probe (a .npy, an .npz holding probeGuess or probe, or FILE.npz:KEY); required for CXI.'),
      pixel_size_m: z
        .number()
        .positive()
        .optional()
        .describe('CXI: the object pixel size in metres (default: wavelength · distance / (N · detector pixel), far field).'),
      position_sign: z
        .union([z.literal(1), z.literal(-1)])
        .default(-1)
        .describe('CXI: positions = sign · translation / pixel size (−1: the beam moves opposite to the sample).'),
      apply_mask: z.boolean().default(true).describe("CXI: set the pixels the detector's mask marks to 0."),
    })
    .strict(),
  async create(options, { ctx }) {
    const one = (file: string): Promise<Stream<Frame>> => openOne(options, file, ctx);
    if (options.paths !== undefined) {
      if (options.path !== undefined) throw new OptionsError('BAD_OPTION', 'give `path` or `paths`, not both', { stage: ctx.id, key: 'paths' });
      return manyFiles(await expandPaths(options.paths, ctx.baseDir, ctx.id), one, ctx);
    }
    if (options.path === undefined)
      throw new OptionsError('BAD_OPTION', 'the hdf5 source needs `path` (one file) or `paths` (several)', { stage: ctx.id, key: 'path' });
    return one(path.resolve(ctx.baseDir, options.path));
  },
});

type H5Options = {
  layout: 'auto' | H5Layout;
  on_error: ErrorPolicy;
  input?: 'amplitude' | 'intensity' | undefined;
  limit?: number | undefined;
  probe?: string | undefined;
  pixel_size_m?: number | undefined;
  position_sign: 1 | -1;
  apply_mask: boolean;
};

/** One file as a stream (the source with `path`, or each file of `paths`). */
async function openOne(options: H5Options, file: string, ctx: StageContext): Promise<Stream<Frame>> {
  const { layout, probe: probeOption, on_error: policy, ...o } = options;
  const opened = await openScan(file, ctx, layout, { ...o, hasProbeOption: probeOption !== undefined });
  const { store, checks, scanIndex } = opened;
  const label = path.basename(file);
  for (const note of opened.notes) ctx.log.info(`${label}: ${note}`);
  const scan = await overrideProbe(opened.scan, probeOption, ctx, store);
  const cxi = scan.notes?.layout === 'cxi',
    ptychodus = scan.notes?.layout === 'ptychodus';
  const keys = cxi
    ? { x: 'entry_1/sample_1/geometry_1/translation', y: 'entry_1/sample_1/geometry_1/translation', probe: 'probe' }
    : ptychodus
      ? { x: 'raw_data/xcoords', y: 'raw_data/ycoords' }
      : {};
  await checkScanOrClose(scan, { stage: ctx.id, file: label, keys: probeOption !== undefined ? { ...keys, probe: 'probe' } : keys }, store);
  const frames = (signal: AbortSignal): AsyncGenerator<Frame> => checkedFrames(store.sequential(signal), { scan, checks, ctx, policy, scanIndex });
  return {
    meta: { record: 'frame', scan, count: scan.count },
    frames: offeredStore(store, checks, policy, ctx, (s) => store.sequential(s)),
    open: (signal: AbortSignal): AsyncIterable<Frame> => frames(signal),
    close: () => store.close(),
  };
}

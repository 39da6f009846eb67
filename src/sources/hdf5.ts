// The `hdf5` source: a scan in an HDF5 file (canonical keys at the root, a
// ptychodus product, or CXI; see io/hdf5/layouts.ts and docs/formats.md).
// Positions, probe and object are read at create; patterns stay on disk and
// are read by hyperslab, checked (NaN, Inf, negative) and put through the
// error policy. All HDF5 format code is in io/hdf5/; this file adapts it to a pipeline
// source (options, error policy, probe override, the checked pass).
import { existsSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { DataError, FormatError } from '../errors.js';
import { H5File } from '../io/hdf5/file.js';
import { H5FrameStore } from '../io/hdf5/frame-store.js';
import { detectLayout, openLayout, type H5Layout, type H5OpenOptions } from '../io/hdf5/layouts.js';
import { isHdf5 } from '../io/hdf5/reader.js';
import { defineSource, type Frame, type ScanMeta, type StageContext } from '../pipeline/types.js';
import { parseProbeSpec } from '../io/probe-file.js';
import { checkedFrames, offeredStore, PatternChecks } from './checks.js';
import { patternProblem } from './npz.js';
import { overrideProbe } from './probe-override.js';
import { checkScanOrClose } from './scan-checks.js';

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
  if (!isHdf5(file)) throw new FormatError('NOT_HDF5', 'not an HDF5 file (no HDF5 signature)', { stage: ctx.id, file: label, hint: 'the hdf5 source reads .h5/.hdf5/.cxi files; use npz for .npz' });
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
    const { scan, patterns: p, notes, scanIndex } = await openLayout(h, file, layout, o);
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
  inputFiles: (o) => [o.path, ...(o.probe !== undefined ? [parseProbeSpec(o.probe).file] : [])],
  kind: 'source',
  emits: 'frame',
  type: 'hdf5',
  description: 'Reads a scan from an HDF5 file: canonical keys at the root, a ptychodus product (/raw_data) or CXI (entry_1); patterns stay on disk.',
  options: z
    .object({
      path: z.string().min(1).describe('The .h5/.hdf5/.cxi file, relative to the pipeline file.'),
      layout: z.enum(['auto', 'canonical', 'ptychodus', 'cxi']).default('auto').describe('Which layout the file holds (auto: entry_1 → cxi, raw_data/diffraction → ptychodus, diffraction → canonical).'),
      on_error: z.enum(['fail', 'skip', 'route']).default('fail').describe('What to do with a bad pattern (NaN, Inf, negative): fail, skip it, or route it to the errors output.'),
      input: z.enum(['amplitude', 'intensity']).optional().describe('What the patterns hold (default: amplitude, but intensity for CXI, whose patterns are counts); intensities are square-rooted on read.'),
      limit: z.number().int().positive().optional().describe('Read at most this many patterns (the first ones).'),
      probe: z.string().min(1).optional().describe('Use this probe (a .npy, an .npz holding probeGuess or probe, or FILE.npz:KEY); required for CXI.'),
      pixel_size_m: z.number().positive().optional().describe('CXI: the object pixel size in metres (default: wavelength · distance / (N · detector pixel), far field).'),
      position_sign: z.union([z.literal(1), z.literal(-1)]).default(-1).describe('CXI: positions = sign · translation / pixel size (−1: the beam moves opposite to the sample).'),
      apply_mask: z.boolean().default(true).describe("CXI: set the pixels the detector's mask marks to 0."),
    })
    .strict(),
  async create(options, { ctx }) {
    const file = path.resolve(ctx.baseDir, options.path);
    const { layout, probe: probeOption, ...o } = options;
    const opened = await openScan(file, ctx, layout, { ...o, hasProbeOption: probeOption !== undefined });
    const { store, checks, scanIndex } = opened;
    const label = path.basename(file);
    for (const note of opened.notes) ctx.log.info(`${label}: ${note}`);
    const scan = await overrideProbe(opened.scan, probeOption, ctx, store);
    const cxi = scan.notes?.layout === 'cxi', ptychodus = scan.notes?.layout === 'ptychodus';
    const keys = cxi ? { x: 'entry_1/sample_1/geometry_1/translation', y: 'entry_1/sample_1/geometry_1/translation', probe: 'probe' } : ptychodus ? { x: 'raw_data/xcoords', y: 'raw_data/ycoords' } : {};
    await checkScanOrClose(scan, { stage: ctx.id, file: label, keys: options.probe !== undefined ? { ...keys, probe: 'probe' } : keys }, store);
    const frames = (signal: AbortSignal): AsyncGenerator<Frame> => checkedFrames(store.sequential(signal), { scan, checks, ctx, policy: options.on_error, scanIndex });
    return {
      meta: { record: 'frame', scan, count: scan.count },
      frames: offeredStore(store, checks, options.on_error, ctx, (s) => store.sequential(s)),
      open: (signal: AbortSignal): AsyncIterable<Frame> => frames(signal),
      close: () => store.close(),
    };
  },
});

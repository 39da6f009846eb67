// The `write-npz` sink: writes a frame stream as a canonical NPZ (SPEC §2) that
// numpy and our npz source read back, or a reconstruction record (infer,
// refine, epie) as the NPZ those write, with its coverage. Stored archives: patterns are appended to
// the `diffraction` entry as they arrive (NpzStreamWriter), its shape taken from
// the stream's declared count and shrunk in place if fewer records came (bad
// records skipped upstream). When the count is unknown, or the archive is
// deflated (a deflated header cannot be rewritten), patterns go to a spill file
// first. Positions are kept (small) and written after the patterns.
import { open, stat, type FileHandle } from 'node:fs/promises';
import { z } from 'zod';
import { canvasOf, writeReconstructionNpz } from './shared/reconstruction.js';
import { outPath, readReconstruction } from './shared/util.js';
import { DataError, OptionsError } from '../errors.js';
import { NpzStreamWriter } from '../io/npz-writer.js';
import { SpillDir } from '../io/spill.js';
import { readAt } from '../io/zip.js';
import { defineSink, type Complex2D, type Frame, type Json, type ScanMeta, type StageContext, type Stream } from '../pipeline/types.js';

const COPY_BYTES = 4 << 20;

function interleave(c: Complex2D): Float32Array {
  const out = new Float32Array(2 * c.re.length);
  for (let k = 0; k < c.re.length; k++) {
    out[2 * k] = c.re[k]!;
    out[2 * k + 1] = c.im[k]!;
  }
  return out;
}

/** Grows a Float64Array list as positions arrive (amortised doubling). */
class Column {
  data = new Float64Array(1024);
  length = 0;
  push(v: number): void {
    if (this.length === this.data.length) {
      const next = new Float64Array(this.data.length * 2);
      next.set(this.data);
      this.data = next;
    }
    this.data[this.length++] = v;
  }
  values(): Float64Array {
    return this.data.subarray(0, this.length);
  }
}

/** The scan of a frame stream, checked. */
function frameScan(input: Stream<unknown>, ctx: StageContext): ScanMeta {
  if (input.meta.record !== 'frame')
    throw new OptionsError('BAD_INPUT', `write-npz writes frame streams or a reconstruction, got '${input.meta.record}' records`, {
      stage: ctx.id,
      hint: 'connect it to a source or a frame transform (before group/batch), or to infer, refine or epie',
    });
  const scan = input.meta.scan;
  if (scan === undefined) throw new OptionsError('NO_SCAN', 'the input stream carries no scan metadata (probe, N)', { stage: ctx.id });
  return scan;
}

/** A reconstruction record as the NPZ infer writes, plus its coverage (`weights`). */
async function writeRecord(input: Stream<unknown>, ctx: StageContext, options: { path: string; compress: boolean }): Promise<Json> {
  const r = await readReconstruction(input, ctx, 'its input');
  const target = outPath(ctx, options.path);
  const weights = { shape: [r.object.height, r.object.width], data: r.weights, descr: '|u1' };
  await writeReconstructionNpz(target, canvasOf(r), r.probe, { weights }, options.compress);
  const { size } = await stat(target);
  ctx.log.info(`wrote the ${r.object.height}×${r.object.width} reconstruction to ${target}`, { bytes: size });
  return { path: target, arrays: ['object', 'amplitude', 'phase', 'probe', 'origin', 'weights'], bytes: size };
}

interface Columns {
  xs: Column;
  ys: Column;
  ids: Column;
}

/** Streams the patterns into `diffraction` (directly, or through a spill file when the count is unknown or the archive deflated). */
async function writePatterns(
  input: Stream<unknown>,
  ctx: StageContext,
  scan: ScanMeta,
  writer: NpzStreamWriter,
  target: string,
  compress: boolean,
  spillDir: SpillDir,
): Promise<Columns> {
  const N = scan.N,
    frameValues = N * N;
  const declared = input.meta.count;
  const cols: Columns = { xs: new Column(), ys: new Column(), ids: new Column() };
  const where = { stage: ctx.id, file: target, key: 'diffraction' };
  let spill: FileHandle | undefined;
  let spillPos = 0;
  try {
    const direct = declared !== undefined && !compress;
    if (direct) await writer.beginArray('diffraction', '<f4', [declared, N, N]);
    else spill = await open(await spillDir.file('frames.f4'), 'w+');
    for await (const f of input.open(ctx.signal) as AsyncIterable<Frame>) {
      ctx.signal.throwIfAborted();
      if (f.amplitude.length !== frameValues)
        throw new DataError('BAD_PATTERN', `frame ${f.index} has ${f.amplitude.length} values, expected ${N}×${N}`, where);
      if (declared !== undefined && cols.xs.length >= declared)
        throw new DataError('COUNT_MISMATCH', `the stream yields more than the ${declared} frames it declared`, where);
      if (spill === undefined) await writer.write(f.amplitude);
      else {
        const bytes = new Uint8Array(f.amplitude.buffer, f.amplitude.byteOffset, f.amplitude.byteLength);
        await spill.write(bytes, 0, bytes.length, spillPos);
        spillPos += bytes.length;
      }
      cols.xs.push(f.x);
      cols.ys.push(f.y);
      cols.ids.push(f.scanIndex ?? 0);
    }
    const n = cols.xs.length;
    // numpy and our reader would take a zero-pattern scan apart anyway; refuse it here rather than report success.
    if (n === 0)
      throw new DataError('NO_FRAMES', 'the stream yielded no frames: nothing to write', {
        ...where,
        hint: 'every pattern was dropped upstream (on_error: skip?); check the source data',
      });
    if (direct && n !== declared) {
      ctx.log.info(`the stream declared ${declared} frames and yielded ${n} (records set aside upstream): diffraction reshaped to (${n}, ${N}, ${N})`);
      await writer.shrinkOpenArray([n, N, N]);
    }
    if (spill !== undefined) {
      await writer.beginArray('diffraction', '<f4', [n, N, N]);
      for (let pos = 0; pos < spillPos; pos += COPY_BYTES) await writer.writeBytes(await readAt(spill, pos, Math.min(COPY_BYTES, spillPos - pos)));
    }
    await writer.endArray();
    return cols;
  } finally {
    await spill?.close();
  }
}

/** The arrays after the patterns: positions, probe, object (when known) and scan index; returns every name written. */
async function writeScanArrays(writer: NpzStreamWriter, scan: ScanMeta, cols: Columns): Promise<string[]> {
  const n = cols.xs.length;
  const arrays = ['diffraction'];
  const put = async (name: string, descr: string, shape: number[], data: Float64Array | Float32Array | BigInt64Array): Promise<void> => {
    await writer.beginArray(name, descr, shape);
    await writer.write(data);
    await writer.endArray();
    arrays.push(name);
  };
  await put('xcoords', '<f8', [n], cols.xs.values());
  await put('ycoords', '<f8', [n], cols.ys.values());
  await put('probeGuess', '<c8', [scan.probe.height, scan.probe.width], interleave(scan.probe));
  if (scan.object !== undefined) await put('objectGuess', '<c8', [scan.object.height, scan.object.width], interleave(scan.object));
  await put(
    'scan_index',
    '<i8',
    [n],
    BigInt64Array.from(cols.ids.values(), (v) => BigInt(Math.trunc(v))),
  );
  return arrays;
}

export default defineSink({
  kind: 'sink',
  accepts: [['frame', 'reconstruction']],
  type: 'write-npz',
  description:
    'Writes a frame stream as a canonical NPZ (diffraction, xcoords, ycoords, probeGuess, objectGuess, scan_index), or a reconstruction record (inputs: [infer]) as object, amplitude, phase, probe, origin, weights.',
  options: z
    .object({
      path: z.string().min(1).default('scan.npz').describe('Output .npz, relative to the run output directory.'),
      compress: z.boolean().default(false).describe('Deflate the entries (numpy savez_compressed) instead of storing them.'),
    })
    .strict(),
  async create(options, { ctx, inputs }) {
    const input = inputs[0];
    if (input === undefined) throw new OptionsError('NO_INPUT', 'write-npz needs one input stream', { stage: ctx.id });
    if (input.meta.record === 'reconstruction') return writeRecord(input, ctx, options);
    const scan = frameScan(input, ctx);
    const target = outPath(ctx, options.path);
    const writer = await NpzStreamWriter.create(target, { compress: options.compress });
    const spillDir = new SpillDir();
    try {
      const cols = await writePatterns(input, ctx, scan, writer, target, options.compress, spillDir);
      const arrays = await writeScanArrays(writer, scan, cols);
      await writer.close();
      const { size } = await stat(target);
      ctx.log.info(`wrote ${cols.xs.length} frames to ${target}`, { bytes: size });
      return { path: target, arrays, bytes: size };
    } catch (e) {
      await writer.abort();
      throw e;
    } finally {
      await spillDir.remove();
    }
  },
});

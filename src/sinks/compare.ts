// The `compare` sink: one table of the scores that several `evaluate` sinks
// wrote (their metrics JSON), and optionally the summaries engines wrote
// (their history JSON, for passes and time), so a pipeline that runs
// different reconstructions of one scan side by side ends with one answer.
// Writes the table as JSON and Markdown; reads only files, never records.
import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { DataError } from '../errors.js';
import { ANY_RECORD, defineSink, type Json } from '../pipeline/types.js';
import { writeFileAtomic } from '../util/atomic.js';
import { timeToSsim, type ScoredPass } from './shared/pass-score.js';
import { outPath } from './shared/util.js';

const entry = z
  .object({
    metrics: z.string().describe('metrics JSON an evaluate sink wrote, relative to the output directory'),
    history: z
      .string()
      .optional()
      .describe(
        "per-pass history JSON of an engine (refine, epie, train's), relative to the output directory: adds passes and seconds, and the time to SSIM 0.95/0.99 when the engine scored its passes (score_every)",
      ),
  })
  .strict();

interface Row {
  method: string;
  amplitude_ssim: number | null;
  phase_ssim: number | null;
  amplitude_psnr: number | null;
  phase_psnr: number | null;
  frc_half: number | null;
  passes: number | null;
  seconds: number | null;
  /** From a history scored per pass (score_every): engine seconds to each SSIM target, amplitude and phase. */
  time_to_ssim: Json | null;
}

type Reached = Record<'amplitude' | 'phase', Record<string, { seconds: number } | null>>;

/** "12.3 / 40.1": seconds to the amplitude and phase target, – where never reached or not scored. */
function reachedCell(t: Json | null, target: number): string {
  if (t === null) return '–';
  const r = t as unknown as Reached,
    s = (v: { seconds: number } | null | undefined): string => (v == null ? '–' : v.seconds.toFixed(1));
  return `${s(r.amplitude[String(target)])} / ${s(r.phase[String(target)])}`;
}

async function readJson(file: string, stage: string, key: string): Promise<unknown> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as unknown;
  } catch (e) {
    const missing = (e as NodeJS.ErrnoException).code === 'ENOENT';
    throw new DataError(missing ? 'FILE_NOT_FOUND' : 'BAD_JSON', missing ? 'file not found' : `not JSON: ${(e as Error).message}`, {
      stage,
      file,
      key,
      hint: 'run compare after the sinks that write it (after: [...])',
    });
  }
}

const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);
const cell = (v: number | null, digits: number): string => (v === null ? '–' : v.toFixed(digits));

export default defineSink({
  kind: 'sink',
  type: 'compare',
  description: 'Tabulates the scores of several evaluate sinks (and engine histories) as JSON and Markdown.',
  arity: { min: 0, max: 1 },
  // Its input only places it in the run (it reads files, never records).
  accepts: [ANY_RECORD],
  options: z
    .object({
      methods: z.record(z.string(), entry).describe('method name → its metrics (and optional history) file, in table order'),
      json: z.string().default('comparison.json').describe('table as JSON, relative to the output directory'),
      markdown: z.string().default('comparison.md').describe('table as Markdown, relative to the output directory'),
    })
    .strict(),
  async create(o, { ctx }): Promise<Json> {
    const rows: Row[] = [];
    for (const [method, e] of Object.entries(o.methods)) {
      const m = (await readJson(outPath(ctx, e.metrics), ctx.id, `methods.${method}.metrics`)) as {
        amplitude?: { ssim?: unknown; psnr?: unknown };
        phase?: { ssim?: unknown; psnr?: unknown };
        frc?: { frc_half?: unknown };
      };
      let passes: number | null = null,
        seconds: number | null = null,
        reached: Json | null = null;
      if (e.history !== undefined) {
        const h = (await readJson(outPath(ctx, e.history), ctx.id, `methods.${method}.history`)) as { history?: unknown } | unknown[];
        const list = (Array.isArray(h) ? h : Array.isArray(h.history) ? (h as { history: unknown[] }).history : []) as {
          epoch?: unknown;
          seconds?: unknown;
          amplitude_ssim?: unknown;
          phase_ssim?: unknown;
        }[];
        passes = list.length;
        seconds = list.reduce((s, r) => s + (num(r.seconds) ?? 0), 0);
        const scored: ScoredPass[] = list.map((r, k) => {
          const a = num(r.amplitude_ssim),
            p = num(r.phase_ssim);
          return {
            epoch: num(r.epoch) ?? k + 1,
            seconds: num(r.seconds) ?? 0,
            ...(a === null ? {} : { amplitude_ssim: a }),
            ...(p === null ? {} : { phase_ssim: p }),
          };
        });
        if (scored.some((r) => r.amplitude_ssim !== undefined || r.phase_ssim !== undefined)) reached = timeToSsim(scored);
      }
      rows.push({
        method,
        amplitude_ssim: num(m.amplitude?.ssim),
        phase_ssim: num(m.phase?.ssim),
        amplitude_psnr: num(m.amplitude?.psnr),
        phase_psnr: num(m.phase?.psnr),
        frc_half: num(m.frc?.frc_half),
        passes,
        seconds: seconds === null ? null : +seconds.toFixed(2),
        time_to_ssim: reached,
      });
    }
    const lines = [
      '| method | amplitude SSIM | phase SSIM | amplitude PSNR (dB) | phase PSNR (dB) | FRC 0.5 (px) | passes | seconds | s to SSIM 0.95 (amp / phase) | s to SSIM 0.99 (amp / phase) |',
      '|---|---|---|---|---|---|---|---|---|---|',
      ...rows.map(
        (r) =>
          `| ${r.method} | ${cell(r.amplitude_ssim, 4)} | ${cell(r.phase_ssim, 4)} | ${cell(r.amplitude_psnr, 2)} | ${cell(r.phase_psnr, 2)} | ${r.frc_half === null ? '< 2' : r.frc_half.toFixed(1)} | ${r.passes ?? '–'} | ${cell(r.seconds, 1)} | ${reachedCell(r.time_to_ssim, 0.95)} | ${reachedCell(r.time_to_ssim, 0.99)} |`,
      ),
    ];
    const files = { json: outPath(ctx, o.json), markdown: outPath(ctx, o.markdown) };
    await writeFileAtomic(files.json, JSON.stringify(rows, null, 2) + '\n');
    await writeFileAtomic(files.markdown, lines.join('\n') + '\n');
    ctx.log.info(`comparison of ${rows.length} methods written to ${files.markdown}`);
    return { ...files, rows: rows as unknown as Json };
  },
});

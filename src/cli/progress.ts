// The one progress display of a run: a single line, redrawn on a TTY, for
// the stage that reported last: the sink's place in the run, its epoch or
// pass, a bar over the current pass, its fields with units, and the ETA of
// the whole run (run-clock.ts). Without a TTY (a log file) the same line is
// printed every `intervalMs`. A pass of a multi-pass stage ends without a
// line of its own: train logs one line per epoch itself, refine and epie one
// at the end. A single-pass task (simulate, infer's stitching) leaves its
// final line.
import type { ProgressEvent } from '../pipeline/types.js';
import { duration, rate, sig } from '../util/format.js';
import type { RunClock } from './run-clock.js';

export interface ProgressRenderer {
  (event: ProgressEvent): void;
  /** The runner's sink hook: keeps the run clock's sinks current. */
  sink: (id: string, phase: 'start' | 'end') => void;
  /** Clears the live line (before other output and at the end). */
  clear(): void;
}

function field(key: string, v: number | string): string {
  if (typeof v === 'string') return `${key} ${v}`;
  if (key.endsWith('_per_s')) return `${Math.round(v)} ${key.slice(0, -'_per_s'.length)}/s`;
  if (key === 'lr' || key === 'step') return `${key} ${rate(v)}`;
  return `${key} ${sig(v)}`;
}

function bar(frac: number, width: number): string {
  const filled = Math.round(Math.min(Math.max(frac, 0), 1) * width);
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}]`;
}

/** The display line of one event; `clock` adds the sink's place and the run's ETA. */
export function formatProgress(e: ProgressEvent, clock?: RunClock, width = 20): string {
  const parts: string[] = [];
  const at = clock?.position(e.stage);
  parts.push(at !== undefined && at.of > 1 ? `${e.stage} (${at.index}/${at.of})` : e.stage);
  const unit = e.unit !== undefined && e.unit !== '' ? ` ${e.unit.trim()}` : '';
  const head = e.pass !== undefined ? `${e.label} ${e.pass.index}/${e.pass.of}` : e.label;
  if (e.total !== undefined && e.total > 0) parts.push(`${head} ${bar(e.done / e.total, width)} ${e.done}/${e.total}${unit}`);
  else parts.push(`${head} ${e.done}${unit}`);
  const info = Object.entries(e.info ?? {}).map(([k, v]) => field(k, v));
  const eta = clock?.eta();
  if (eta !== undefined) info.push(eta.complete ? `run ${Math.floor(eta.fraction * 100)}% ETA ${duration(eta.seconds)}` : `run ETA ≥${duration(eta.seconds)}`);
  return [parts.join(' '), ...info].join(' · ');
}

export function createProgressRenderer(
  stream: NodeJS.WriteStream,
  opts: { tty?: boolean; intervalMs?: number; clock?: RunClock; quiet?: boolean } = {},
): ProgressRenderer {
  const tty = opts.tty ?? stream.isTTY;
  const interval = opts.intervalMs ?? 10_000;
  const clock = opts.clock;
  let live = false;
  let lastLine = 0;
  const render = ((e: ProgressEvent) => {
    clock?.observe(e);
    if (opts.quiet === true) return;
    const now = Date.now();
    const line = formatProgress(e, clock);
    // A single-pass task's end stays on record; a pass of a multi-pass stage does not.
    const keep = e.finished === true && e.pass === undefined;
    if (tty) {
      const cols = stream.columns > 0 ? stream.columns : 100;
      stream.write(`\r\u001b[2K${line.slice(0, cols - 1)}${keep ? '\n' : ''}`);
      live = !keep;
    } else if (keep || now - lastLine >= interval) {
      lastLine = now;
      stream.write(line + '\n');
    }
  }) as ProgressRenderer;
  render.sink = (id, phase) => (phase === 'start' ? clock?.start(id) : clock?.end(id));
  render.clear = () => {
    if (tty && live) {
      stream.write('\r\u001b[2K');
      live = false;
    }
  };
  return render;
}

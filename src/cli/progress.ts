// Renders progress events: one redrawn line per stage on a TTY (bar, counts,
// rate, ETA and the stage's own fields), periodic plain lines otherwise.
import type { ProgressEvent } from '../pipeline/types.js';

interface Task {
  started: number;
  lastLine: number;
}

export interface ProgressRenderer {
  (event: ProgressEvent): void;
  /** Clears the live line (before other output and at the end). */
  clear(): void;
}

function fmtDuration(s: number): string {
  if (!Number.isFinite(s) || s < 0) return '?';
  if (s < 60) return `${Math.round(s)}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(Math.round(s % 60)).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

function fmtValue(v: number | string): string {
  if (typeof v === 'string') return v;
  if (v !== 0 && (Math.abs(v) < 1e-3 || Math.abs(v) >= 1e5)) return v.toExponential(3);
  return Number.isInteger(v) ? String(v) : v.toPrecision(4);
}

export function formatProgress(e: ProgressEvent, elapsedS: number, width = 24): string {
  const info = Object.entries(e.info ?? {}).map(([k, v]) => `${k}=${fmtValue(v)}`).join(' ');
  const unit = e.unit !== undefined && e.unit !== '' ? ` ${e.unit}` : '';
  const rate = elapsedS > 0 ? e.done / elapsedS : 0;
  if (e.total !== undefined && e.total > 0) {
    const frac = Math.min(1, e.done / e.total);
    const filled = Math.round(frac * width);
    const eta = rate > 0 ? (e.total - e.done) / rate : NaN;
    return `${e.stage} ${e.label} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${e.done}/${e.total}${unit} ${(frac * 100).toFixed(0)}% ETA ${e.finished === true ? '0s' : fmtDuration(eta)} ${info}`.trimEnd();
  }
  return `${e.stage} ${e.label} ${e.done}${unit} (${rate.toFixed(1)}/s) ${info}`.trimEnd();
}

export function createProgressRenderer(stream: NodeJS.WriteStream, opts: { tty?: boolean; intervalMs?: number } = {}): ProgressRenderer {
  const tty = opts.tty ?? stream.isTTY;
  const interval = opts.intervalMs ?? 10_000;
  const tasks = new Map<string, Task>();
  let live = false;
  const render = ((e: ProgressEvent) => {
    const key = `${e.stage}\u0000${e.label}`;
    const now = Date.now();
    let task = tasks.get(key);
    if (task === undefined) {
      task = { started: now, lastLine: 0 };
      tasks.set(key, task);
    }
    const line = formatProgress(e, (now - task.started) / 1000);
    if (tty) {
      const cols = stream.columns > 0 ? stream.columns : 100;
      stream.write(`\r\u001b[2K${line.slice(0, cols - 1)}`);
      live = true;
      if (e.finished === true) {
        stream.write('\n');
        live = false;
        tasks.delete(key);
      }
    } else if (e.finished === true || now - task.lastLine >= interval) {
      task.lastLine = now;
      stream.write(line + '\n');
      if (e.finished === true) tasks.delete(key);
    }
  }) as ProgressRenderer;
  render.clear = () => {
    if (tty && live) {
      stream.write('\r\u001b[2K');
      live = false;
    }
  };
  return render;
}

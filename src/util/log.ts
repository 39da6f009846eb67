// A small structured logger. Library code logs through the Logger it is given;
// only src/cli decides where lines go (stderr) and at what level.
import { sig } from './format.js';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';

const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 };

export interface Logger {
  debug(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
  /** A logger whose lines are prefixed with `[name]`. */
  child(name: string): Logger;
}

export type LogSink = (level: Exclude<LogLevel, 'silent'>, scope: string, message: string, fields?: Record<string, unknown>) => void;

export function createLogger(level: LogLevel, sink: LogSink, scope = ''): Logger {
  const min = ORDER[level];
  const emit = (l: Exclude<LogLevel, 'silent'>) => (message: string, fields?: Record<string, unknown>) => {
    if (ORDER[l] >= min) sink(l, scope, message, fields);
  };
  return {
    debug: emit('debug'),
    info: emit('info'),
    warn: emit('warn'),
    error: emit('error'),
    child: (name: string) => createLogger(level, sink, scope === '' ? name : `${scope}/${name}`),
  };
}

/** A logger that drops everything (tests, library defaults). */
export const silentLogger: Logger = createLogger('silent', () => undefined);

/** Formats `key=value` pairs for a log line. */
export function formatFields(fields: Record<string, unknown> | undefined): string {
  if (fields === undefined) return '';
  // Numbers at four significant digits: a log line is read, the exact values are in summary.json.
  const parts = Object.entries(fields).map(([k, v]) => `${k}=${typeof v === 'string' ? v : typeof v === 'number' ? sig(v) : JSON.stringify(v)}`);
  return parts.length > 0 ? ' ' + parts.join(' ') : '';
}

// Numbers and durations for people: what log lines and the progress display
// print. Four significant digits; an exponent once a value is below 0.01 or
// from 1e5 on, where fixed notation would hide its digits among zeros.

/** `v` at `digits` significant digits: 0.1235, 12.35, 1.235e-3. */
export function sig(v: number, digits = 4): string {
  if (!Number.isFinite(v)) return String(v);
  // Counts (bytes, patterns) stay exact.
  if (Number.isInteger(v) && Math.abs(v) < 1e15) return String(v);
  if (v !== 0 && (Math.abs(v) < 1e-2 || Math.abs(v) >= 1e5)) return v.toExponential(digits - 1);
  return String(Number(v.toPrecision(digits)));
}

/** A learning rate or step: two significant digits (1.0e-3, 0.050). */
export function rate(v: number): string {
  return v !== 0 && Math.abs(v) < 1e-2 ? v.toExponential(1) : v.toPrecision(2);
}

/** Seconds as 4.2 s, 1m05s or 2h03m. */
export function duration(s: number): string {
  if (!Number.isFinite(s) || s < 0) return '?';
  if (s < 10) return `${s.toFixed(1)} s`;
  if (s < 60) return `${Math.round(s)} s`;
  const r = Math.round(s);
  if (r < 3600) return `${Math.floor(r / 60)}m${String(r % 60).padStart(2, '0')}s`;
  return `${Math.floor(r / 3600)}h${String(Math.floor((r % 3600) / 60)).padStart(2, '0')}m`;
}

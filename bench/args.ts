// Command-line pieces every bench shares.

/** The value after `--name` in args, else the fallback (as a string). */
export function arg(args: readonly string[], name: string, fallback: string | number): string {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] !== undefined ? args[i + 1]! : String(fallback);
}

/** The pair after `--name` as "a,b" (for example --amp-min 0.3,0.5), else undefined. */
export function pairArg(args: readonly string[], name: string): [number, number] | undefined {
  const v = arg(args, name, '');
  return v === '' ? undefined : (v.split(',').map(Number) as [number, number]);
}

/** Prints one result record a line: JSON with --json, else key=value pairs. */
export function recordPrinter(json: boolean): (rec: Record<string, unknown>) => void {
  return (rec) =>
    void process.stdout.write(
      json
        ? JSON.stringify(rec) + '\n'
        : `${Object.entries(rec)
            .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
            .join('  ')}\n`,
    );
}

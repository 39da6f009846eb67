// The package's own name and version, read from its package.json (two levels
// up from both src/util/ and dist/util/), for --version and run records.
import { readFileSync } from 'node:fs';

let cached: string | undefined;

/** ptychoflow's version, e.g. "0.1.0". */
export function ptychoflowVersion(): string {
  cached ??= (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
  return cached;
}

// Option schemas several stages declare alike, written once so their range,
// default and values cannot drift apart between stages.
import { z } from 'zod';
import type { ErrorPolicy } from './component.js';

/** A seed: what the RNG takes (an unsigned 32-bit integer). */
export function seedNumber() {
  return z
    .number()
    .int()
    .min(0)
    .max(2 ** 32 - 1);
}

/** A stage's `seed` option, unset meaning the pipeline seed; `what` starts its description. */
export function stageSeed(what = 'Seed') {
  return seedNumber().optional().describe(`${what} (default: the pipeline seed).`);
}

const POLICIES = ['fail', 'skip', 'route'] as const satisfies readonly ErrorPolicy[];

/** A stage's `on_error` option (default fail), described by what counts as bad for it. */
export function errorPolicy(description: string) {
  return z.enum(POLICIES).default('fail').describe(description);
}

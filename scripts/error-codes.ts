// Writes docs/ERRORS.md (`npm run docs`): every code of the ErrorCode union
// with the error classes that carry it and the modules that raise it, found
// by reading src/. test/errors.test.ts keeps the file and the union in step.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { ERROR_CODES } from '../src/errors.js';

const src = path.resolve(import.meta.dirname, '../src');
const files = (readdirSync(src, { recursive: true }) as string[]).filter((f) => /\.(ts|mjs)$/.test(f)).sort();
const texts = files.map((f) => ({ file: f, text: readFileSync(path.join(src, f), 'utf8') }));

const lines = [
  '# Error codes',
  '',
  'Every error ptychoflow raises is a `PtychoflowError` subclass with a `code` from one',
  'union, `ErrorCode` (exported, with the list `ERROR_CODES`, from the package). The class',
  'sets the exit status of the CLI: `DataError`, `FormatError`, `OptionsError` and',
  '`PipelineFileError` exit 2 (bad input: fix the file or the option the message names),',
  'the others 1 (a failure while running). Messages name the file, key or pipeline line',
  "and say what to do. A plugin raises codes of its own with `pluginCode('MY_CODE')`",
  '(exported too), which keeps a typo in a built-in code a compile error.',
  'Regenerate this file with `npm run docs`.',
  '',
  '| code | raised as | where (src/) |',
  '|---|---|---|',
];
for (const code of ERROR_CODES) {
  const classes = new Set<string>();
  const where: string[] = [];
  for (const { file, text } of texts) {
    if (!text.includes(`'${code}'`)) continue;
    // errors.ts holds the union itself: only a class there that fixes its code counts.
    if (file === 'errors.ts') {
      // The class whose body holds super('CODE'): the last `class` before it.
      const at = text.indexOf(`super('${code}'`);
      const owner = at < 0 ? undefined : [...text.slice(0, at).matchAll(/class (\w+) extends/g)].pop();
      if (owner !== undefined) classes.add(owner[1]!);
      continue;
    }
    where.push(file.replace(/\.ts$/, ''));
    const direct = [...text.matchAll(new RegExp(`new (\\w+)\\(\\s*(?:[^'\\n]*\\? [^'\\n]*: )?'${code}'`, 'g'))].map((m) => m[1]!);
    // Raised through a local helper (`bad(code, …)`), or a class that fixes its code: the classes built from a code there.
    const helpers = direct.length > 0 ? [] : [...text.matchAll(/new (\w+Error)\((?:code|own\[1\]|'[A-Z_]+' as|super)/g)].map((m) => m[1]!);
    for (const c of [...direct, ...helpers]) classes.add(c);
  }
  lines.push(`| \`${code}\` | ${[...classes].sort().join(', ') || '–'} | ${where.join(', ') || '–'} |`);
}
process.stdout.write(lines.join('\n') + '\n');

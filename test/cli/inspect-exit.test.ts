// `inspect` exit codes: 2 when the contract check lists problems (it said ok
// and exited 0 before), 2 with a one-line typed message for a missing file or
// a directory (an "internal error" with a stack before), 0 for a good file.
import path from 'node:path';
import test from 'ava';
import { main, type CliIO } from '../../src/cli/main.js';

const FIX = path.resolve(import.meta.dirname, '../fixtures/npz');

async function run(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '',
    err = '';
  const io = { stdout: { write: (s: string) => ((out += s), true) }, stderr: { write: (s: string) => ((err += s), true) } } as unknown as CliIO;
  const code = await main(args, io);
  return { code, out, err };
}

test('inspect exits 2 on contract problems, 2 on a missing file or a directory, 0 on a good file', async (t) => {
  t.is((await run(['inspect', path.join(FIX, 'canonical_stored.npz')])).code, 0);
  const bad = await run(['inspect', path.join(FIX, 'bad_coords_length.npz')]);
  t.is(bad.code, 2, bad.out);
  t.regex(bad.out, /problem/);
  for (const target of [path.join(FIX, 'missing.npz'), FIX]) {
    const r = await run(['inspect', target]);
    t.is(r.code, 2, r.err);
    t.notRegex(r.err, /internal error|\n\s+at /);
  }
});

// Hostile scans at the source, each from a small reproducer of an issue-19
// defect: manifest paths that leave the manifest's directory, FIFOs, deep
// nesting, and bad geometry or probes are refused with typed errors naming
// the file and key, before any stage sees them.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import test, { type ExecutionContext } from 'ava';
import { encodeNpy } from '../../src/io/npy.js';
import { writeNpz } from '../../src/io/npz-writer.js';
import jsonSource from '../../src/sources/json.js';
import npzSource from '../../src/sources/npz.js';
import { createStage, testContext } from '../../src/testing/index.js';

const N = 8;

async function tempDir(t: ExecutionContext): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'pf-hsrc-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await mkdir(path.join(dir, 'data'));
  await writeFile(path.join(dir, 'data', 'f0.npy'), encodeNpy({ shape: [N, N], data: new Float32Array(N * N).fill(1) }));
  await writeFile(path.join(dir, 'data', 'probe.npy'), encodeNpy({ shape: [N, N], data: new Float32Array(N * N).fill(1) }));
  return dir;
}

async function manifest(t: ExecutionContext, dir: string, doc: unknown, allow?: { paths_outside: boolean }): Promise<unknown> {
  await writeFile(path.join(dir, 'data', 'scan.json'), typeof doc === 'string' ? doc : JSON.stringify(doc));
  const ctx = testContext({
    id: 'scan',
    baseDir: dir,
    ...(allow === undefined ? {} : { allow: { hdf5_external_links: false, plugins_outside: false, ...allow } }),
  });
  const s = await createStage(jsonSource, { path: 'data/scan.json' }, [], ctx);
  t.teardown(async () => s.close?.());
  return s;
}

const frame = { x: 10, y: 10, file: 'f0.npy' };

test('manifest paths that leave the manifest directory are refused (frames, probe, object), unless allowed', async (t) => {
  const dir = await tempDir(t);
  for (const [doc, key] of [
    [{ probe: 'probe.npy', frames: [frame, { x: 1, y: 1, file: '../outside.npy' }] }, 'frames[1]'],
    [{ probe: 'probe.npy', frames: [{ x: 1, y: 1, stack: '/etc/passwd', index: 0 }] }, 'frames[0]'],
    [{ probe: '/etc/passwd', frames: [frame] }, 'probe'],
    [{ probe: 'probe.npy', object: '../../x.npy', frames: [frame] }, 'object'],
  ] as const) {
    const e = await t.throwsAsync(manifest(t, dir, doc));
    t.is((e as { code?: string }).code, 'PATH_OUTSIDE', key);
    t.is((e as { key?: string }).key, key);
  }
  // allow.paths_outside: the path is followed (here to a real file one level up).
  await writeFile(path.join(dir, 'probe-up.npy'), encodeNpy({ shape: [N, N], data: new Float32Array(N * N).fill(1) }));
  await t.notThrowsAsync(manifest(t, dir, { probe: '../probe-up.npy', frames: [frame] }, { paths_outside: true }));
});

test('a FIFO as manifest or as a frame file is refused without blocking', async (t) => {
  const dir = await tempDir(t);
  const fifo = path.join(dir, 'data', 'fifo.npy');
  try {
    execFileSync('mkfifo', [fifo]);
  } catch {
    t.log('mkfifo is not available here: skipped');
    t.pass();
    return;
  }
  t.true(existsSync(fifo));
  await t.throwsAsync(manifest(t, dir, { probe: 'probe.npy', frames: [{ x: 1, y: 1, file: 'fifo.npy' }] }), { code: 'BAD_FRAME_FILE', message: /FIFO/ });
  await t.throwsAsync(manifest(t, dir, { probe: 'fifo.npy', frames: [frame] }), { message: /FIFO/ });
  const mf = path.join(dir, 'data', 'm.json');
  execFileSync('mkfifo', [mf]);
  await t.throwsAsync(createStage(jsonSource, { path: 'data/m.json' }, [], testContext({ id: 'scan', baseDir: dir })), { code: 'NOT_A_FILE' });
});

test('a manifest nested 100 000 levels deep in an unused key is refused quickly', async (t) => {
  const dir = await tempDir(t);
  const deep = '['.repeat(100_000) + ']'.repeat(100_000);
  const t0 = performance.now();
  await t.throwsAsync(manifest(t, dir, `{"junk": ${deep}, "probe": "probe.npy", "frames": [${JSON.stringify(frame)}]}`), {
    code: 'JSON_TOO_DEEP',
    message: /scan\.json/,
  });
  t.true(performance.now() - t0 < 5000);
});

test('file names are not printed twice, and newlines in names are escaped', async (t) => {
  const dir = await tempDir(t);
  const e = await t.throwsAsync(manifest(t, dir, { probe: 'probe.npy', frames: [{ x: 1, y: 1, file: 'no\nsuch.npy' }] }));
  t.notRegex(e.message, /\n/);
  const e2 = await t.throwsAsync(manifest(t, dir, { probe: 'probe.npy', frames: [{ x: 1, y: 1, file: 'missing.npy' }] }));
  t.is(e2.message.split('missing.npy').length, 2, e2.message);
});

async function npzScan(dir: string, o: { x?: number[]; probe?: Float32Array; n?: number; N?: number } = {}): Promise<string> {
  const n = o.n ?? 2,
    M = o.N ?? N;
  const file = path.join(dir, `scan-${Math.random().toString(36).slice(2)}.npz`);
  const probe = o.probe ?? new Float32Array(2 * M * M).fill(1);
  await writeNpz(file, {
    diffraction: { shape: [n, M, M], data: new Float32Array(n * M * M).fill(1) },
    xcoords: { shape: [n], data: Float64Array.from(o.x ?? Array.from({ length: n }, (_, i) => 10 + i)) },
    ycoords: { shape: [n], data: new Float64Array(n).fill(10) },
    probeGuess: { shape: [M, M], data: probe, descr: '<c8' },
  });
  return file;
}

test('bad geometry and probes are refused at the source, naming the file and key', async (t) => {
  const dir = await tempDir(t);
  const open = (file: string): Promise<unknown> => createStage(npzSource, { path: file }, [], testContext({ id: 'scan', baseDir: dir }));
  const cases: [Promise<string>, string, string][] = [
    [npzScan(dir, { x: [NaN, 1] }), 'BAD_POSITION', 'xcoords'],
    [npzScan(dir, { x: [Infinity, 1] }), 'BAD_POSITION', 'xcoords'],
    [npzScan(dir, { x: [1e12, 1] }), 'BAD_POSITION', 'xcoords'],
    [npzScan(dir, { probe: new Float32Array(2 * N * N) }), 'BAD_PROBE', 'probeGuess'],
    [npzScan(dir, { probe: new Float32Array(2 * N * N).fill(NaN) }), 'BAD_PROBE', 'probeGuess'],
    [npzScan(dir, { N: 1 }), 'BAD_GEOMETRY', 'diffraction'],
  ];
  for (const [file, code, key] of cases) {
    const f = await file;
    const e = await t.throwsAsync(open(f));
    t.is((e as { code?: string }).code, code, `${code} ${key}`);
    t.is((e as { key?: string }).key, key);
    t.regex(e.message, new RegExp(path.basename(f)));
  }
});

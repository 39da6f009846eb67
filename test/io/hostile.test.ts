// Hostile NPZ/NPY files, each a small reproducer of a defect found by the
// hardening campaign (issue 19): every one gets a typed error (or a correct
// read), never a process abort, a hang, or memory in proportion to what the
// file claims rather than what it holds.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { inspectFile } from '../../src/io/inspect.js';
import { encodeNpyHeader, parseNpyHeader } from '../../src/io/npy.js';
import { openNpz, readNpyFile } from '../../src/io/npz.js';
import { buildZip, npyBytes } from '../fuzz/zip-builder.js';

async function tempDir(t: { teardown(fn: () => Promise<void>): void }): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'pf-hostile-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

async function put(dir: string, name: string, bytes: Uint8Array): Promise<string> {
  const file = path.join(dir, name);
  await writeFile(file, bytes);
  return file;
}

const small = npyBytes([4], Float32Array.of(1, 2, 3, 4));

test('a stored entry declaring a size in (2^31, 2^32) is a typed error, not a process abort', async (t) => {
  const dir = await tempDir(t);
  const file = await put(dir, 'abort.npz', buildZip([{ name: 'a.npy', data: small, size: 3_000_000_000 }]));
  const e = await t.throwsAsync(openNpz(file));
  t.is((e as { code?: string }).code, 'BAD_ZIP');
  t.regex(e.message, /abort\.npz \[a\.npy\]/);
  // Both sizes lying the same way: the entry then lies beyond the end of the file.
  const both = await put(dir, 'both.npz', buildZip([{ name: 'a.npy', data: small, size: 3_000_000_000, compressedSize: 3_000_000_000 }]));
  await t.throwsAsync(openNpz(both), { code: 'TRUNCATED_ZIP' });
});

test('a deflated entry claiming more than deflate can expand, or a zip64 size ≥ 4 GiB, is refused naming the file', async (t) => {
  const dir = await tempDir(t);
  const ratio = await put(dir, 'ratio.npz', buildZip([{ name: 'a.npy', data: small, deflate: true, size: 3_000_000_000 }]));
  await t.throwsAsync(openNpz(ratio), { code: 'BAD_ZIP', message: /ratio\.npz/ });
  const z64 = await put(dir, 'z64.npz', buildZip([{ name: 'a.npy', data: small, deflate: true, size: 5 * 2 ** 30 }]));
  await t.throwsAsync(openNpz(z64), { code: 'BAD_ZIP', message: /z64\.npz/ });
});

test('an NPY header claiming a 4 GiB header length is refused from a bounded prefix (no memory blow-up)', async (t) => {
  const dir = await tempDir(t);
  const head = encodeNpyHeader({ descr: '<f4', shape: [4], version: 2 });
  new DataView(head.buffer).setUint32(8, 0xfffffff0, true);
  const data = new Uint8Array(4 << 20);
  data.set(head);
  const file = await put(dir, 'hdr.npz', buildZip([{ name: 'a.npy', data, deflate: true }]));
  const rss0 = process.memoryUsage().rss;
  const npz = await openNpz(file);
  try {
    const e = t.throws(() => npz.header('a'));
    t.is((e as { code?: string }).code, 'HEADER_TOO_LARGE');
    t.regex(e.message, /hdr\.npz \[a\]/);
  } finally {
    await npz.close();
  }
  t.true(process.memoryUsage().rss - rss0 < 64 << 20, 'header parsing took no memory in proportion to the claim');
  // The same on a bare header: numpy's 10000-byte limit.
  const big = new Uint8Array(10 + 10001 + 1);
  big.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]);
  new DataView(big.buffer).setUint16(8, 10001, true);
  t.throws(() => parseNpyHeader(big), { code: 'HEADER_TOO_LARGE' });
});

test('inflation stops as soon as it passes the declared size (an understated directory)', async (t) => {
  const dir = await tempDir(t);
  // A header for 4 floats followed by 8 MiB of zeros, declared as just the header and 4 floats.
  const data = new Uint8Array(8 << 20);
  data.set(small);
  const file = await put(dir, 'under.npz', buildZip([{ name: 'a.npy', data, deflate: true, size: small.length }]));
  const tmp = path.join(dir, 'spill');
  execFileSync('mkdir', [tmp]);
  const npz = await openNpz(file, { tmpDir: tmp });
  try {
    await t.throwsAsync(npz.readArray('a'), { code: 'CORRUPT_ENTRY', message: /more than the \d+ bytes/ });
  } finally {
    await npz.close();
  }
  t.deepEqual(await readdir(tmp), [], 'the spill directory is gone');
});

test('an entry shorter than its header declares is an error at open, even when its CRC matches', async (t) => {
  const dir = await tempDir(t);
  const head = encodeNpyHeader({ descr: '<f8', shape: [1000] });
  const data = new Uint8Array(head.length + 16);
  data.set(head);
  const file = await put(dir, 'short.npz', buildZip([{ name: 'diffraction.npy', data }]));
  const npz = await openNpz(file);
  try {
    t.throws(() => npz.header('diffraction'), { code: 'TRUNCATED', message: /declares 8000 bytes, 16 follow/ });
  } finally {
    await npz.close();
  }
  await t.throwsAsync(inspectFile(file), { code: 'TRUNCATED' });
  // The same for a bare .npy, before the whole file is read.
  const npy = await put(dir, 'short.npy', data);
  await t.throwsAsync(readNpyFile(npy), { code: 'TRUNCATED', message: /short\.npy/ });
});

test('duplicate entry names are refused rather than the last silently winning', async (t) => {
  const dir = await tempDir(t);
  const file = await put(
    dir,
    'dup.npz',
    buildZip([
      { name: 'a.npy', data: small },
      { name: 'a.npy', data: small },
    ]),
  );
  await t.throwsAsync(openNpz(file), { code: 'DUPLICATE_ENTRY', message: /dup\.npz \[a\.npy\]/ });
});

test('a directory count beyond what its bytes can hold is refused at once', async (t) => {
  const dir = await tempDir(t);
  const file = await put(dir, 'count.npz', buildZip([{ name: 'a.npy', data: small }], { count: 65535 }));
  await t.throwsAsync(openNpz(file), { code: 'BAD_ZIP' });
});

test('a FIFO or a directory given as an .npz or .npy is refused without blocking', async (t) => {
  const dir = await tempDir(t);
  const fifo = path.join(dir, 'pipe.npz');
  try {
    execFileSync('mkfifo', [fifo]);
  } catch {
    t.log('mkfifo is not available here: FIFO case skipped');
  }
  if (existsSync(fifo)) {
    await t.throwsAsync(openNpz(fifo), { code: 'NOT_A_FILE', message: /FIFO/ });
    await t.throwsAsync(readNpyFile(fifo), { code: 'NOT_A_FILE' });
  }
  await t.throwsAsync(openNpz(dir), { code: 'NOT_A_FILE', message: /directory/ });
});

test('inspect of a missing file or a directory is a typed error, not an internal error', async (t) => {
  const dir = await tempDir(t);
  await t.throwsAsync(inspectFile(path.join(dir, 'nope.npz')), { code: 'FILE_NOT_FOUND' });
  await t.throwsAsync(inspectFile(dir), { code: 'NOT_A_FILE' });
});

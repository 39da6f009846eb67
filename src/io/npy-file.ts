// .npy files on disk, read defensively: only regular files, the header from a
// bounded prefix (numpy's own header limit), and the size the header declares
// checked against the file before anything of that size is allocated.
import type { FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { checkDataFits, decodeNpy, locateError, NPY_PREFIX_MAX, parseNpyHeader, type NpyArray, type NpyHeader } from './npy.js';
import { openRegular } from './paths.js';
import { readAt } from './zip.js';

/** The header of the .npy open as `fh` (`fileSize` bytes), checked to fit its data in the file. */
export async function readNpyHeader(fh: FileHandle, fileSize: number): Promise<NpyHeader> {
  const h = parseNpyHeader(await readAt(fh, 0, Math.min(fileSize, NPY_PREFIX_MAX)));
  checkDataFits(h, fileSize);
  return h;
}

/** Opens a .npy (regular files only) and reads its header; the caller closes `fh`. */
export async function openNpy(file: string): Promise<{ fh: FileHandle; header: NpyHeader; size: number }> {
  const fh = await openRegular(file);
  try {
    const { size } = await fh.stat();
    return { fh, header: await readNpyHeader(fh, size), size };
  } catch (e) {
    await fh.close();
    throw locateError(e, path.basename(file));
  }
}

/** Reads a whole .npy file. */
export async function readNpyFile(file: string): Promise<NpyArray> {
  const { fh, size } = await openNpy(file);
  try {
    return decodeNpy(await readAt(fh, 0, size));
  } catch (e) {
    throw locateError(e, path.basename(file));
  } finally {
    await fh.close();
  }
}

import { randomBytes } from 'node:crypto';
import { link, open, rename, unlink } from 'node:fs/promises';
import { dirname, basename, join } from 'node:path';

/** The temporary `writeFileAtomic` writes beside NAME: `.NAME.<12 hex>.tmp`. Left by a kill, it never replaced NAME. */
export const ATOMIC_TEMP = /^\.(.+)\.[0-9a-f]{12}\.tmp$/;

/** A temporary name beside `path` (`.NAME.<12 hex>.tmp`, which `check` recognises as a leftover). */
function temporaryBeside(path: string): string {
  return join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
}

/** Writes `data` to a new file `path` with exactly `mode` (whatever the umask) and fsyncs it. */
async function writeSynced(path: string, data: string | Buffer, mode: number): Promise<void> {
  const handle = await open(path, 'wx', mode);
  try {
    await handle.chmod(mode); // the mode asked for, whatever the umask (workspaces run under 077)
    await handle.writeFile(data);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Makes a rename or link into `dir` durable: the new directory entry reaches the disk only with the
 * directory's own fsync (a power loss after rename() alone can bring back the old file). Some platforms
 * and file systems refuse to fsync a directory; the data itself was already synced, so that is ignored.
 */
export async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r').catch(() => undefined);
  if (!handle) return;
  try {
    await handle.sync();
  } catch {
    // EINVAL / EISDIR / EPERM on file systems without directory fsync: nothing more can be done.
  } finally {
    await handle.close();
  }
}

/**
 * Writes a file so it appears whole or not at all: write beside it, fsync, rename over, fsync the directory.
 * `syncParent: false` leaves the directory's fsync to a caller that writes many files there and syncs each
 * directory once before it relies on them (finishCommit, before the journal goes).
 */
export async function writeFileAtomic(path: string, data: string | Buffer, mode = 0o644, syncParent = true): Promise<void> {
  const temporary = temporaryBeside(path);
  await writeSynced(temporary, data, mode);
  try {
    await rename(temporary, path);
  } catch (error) {
    await unlink(temporary).catch(() => undefined);
    throw error;
  }
  if (syncParent) await syncDirectory(dirname(path));
}

/**
 * Writes a new file whole, and never over one that exists: write beside it, fsync, then link() into place,
 * which fails with EEXIST when `path` appeared meanwhile (a second run with the same --out, or anyone else).
 * The error is the link's, code EEXIST; the caller words it.
 */
export async function writeFileExclusive(path: string, data: string | Buffer, mode = 0o644, syncParent = true): Promise<void> {
  const temporary = temporaryBeside(path);
  await writeSynced(temporary, data, mode);
  try {
    await link(temporary, path);
  } finally {
    await unlink(temporary).catch(() => undefined);
  }
  if (syncParent) await syncDirectory(dirname(path));
}

import { randomBytes } from 'node:crypto';
import { open, rename, unlink } from 'node:fs/promises';
import { dirname, basename, join } from 'node:path';

/** The temporary `writeFileAtomic` writes beside NAME: `.NAME.<12 hex>.tmp`. Left by a kill, it never replaced NAME. */
export const ATOMIC_TEMP = /^\.(.+)\.[0-9a-f]{12}\.tmp$/;

/** Writes a file so it appears whole or not at all: write beside it, fsync, rename over. */
export async function writeFileAtomic(path: string, data: string | Buffer, mode = 0o644): Promise<void> {
  const temporary = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  const handle = await open(temporary, 'wx', mode);
  try {
    await handle.chmod(mode); // the mode asked for, whatever the umask (workspaces run under 077)
    await handle.writeFile(data);
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await rename(temporary, path);
  } catch (error) {
    await unlink(temporary).catch(() => undefined);
    throw error;
  }
}

import { constants } from 'node:fs';
import { access, lstat, realpath } from 'node:fs/promises';
import { basename, dirname, join, resolve, sep } from 'node:path';
import { UsageError } from '../../errors.js';

const code = (error: unknown): string | undefined => (error as NodeJS.ErrnoException).code;

/** The real path of `dir` (symlinks resolved); refuses a missing or unusable directory with a one-line error. */
async function realDirectory(dir: string, option: string, file: string): Promise<string> {
  try {
    const real = await realpath(dir);
    await access(real, constants.W_OK);
    return real;
  } catch (error) {
    if (code(error) === 'ENOENT') throw new UsageError(`${option} ${file}: the directory ${dir} does not exist; create it first or choose another ${option}`);
    if (code(error) === 'ENOTDIR') throw new UsageError(`${option} ${file}: ${dir} is not a directory; choose another ${option}`);
    if (code(error) === 'EACCES') throw new UsageError(`${option} ${file}: the directory ${dir} is not writable by this user; choose another ${option}`);
    throw error;
  }
}

/**
 * Checks where a command will write its result, before the token is touched: the parent directory exists
 * and is writable, nothing is there yet, and the file is outside the CA directory (symlinks of the parent
 * resolved) — a certificate written over intermediate/crl/intermediate.crl.pem or the lock file would break
 * every later run. Returns the path to write, with the parent's symlinks resolved. Call it again under the
 * CA lock: a run that waited for the lock may find the file written meanwhile.
 */
export async function requireWritableOutput(path: string, caDir: string, option = '--out'): Promise<string> {
  const wanted = resolve(path);
  const parent = await realDirectory(dirname(wanted), option, path);
  const target = join(parent, basename(wanted));
  const ca = await realpath(caDir).catch(() => resolve(caDir));
  if (target === ca || target.startsWith(ca + sep)) {
    throw new UsageError(`${option} ${path} is inside the CA directory ${caDir}, where it would replace or shadow the CA's own files; write it outside ${caDir}`);
  }
  const existing = await lstat(target).catch((error: unknown) => {
    if (code(error) === 'ENOENT') return undefined;
    throw error;
  });
  if (existing) throw new UsageError(`${option} ${path} already exists; an existing file is never overwritten — remove it or choose another ${option}`);
  return target;
}

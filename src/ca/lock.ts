import { randomBytes } from 'node:crypto';
import { unlinkSync } from 'node:fs';
import { link, readFile, stat, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CaError } from '../errors.js';

const LOCK_FILE = '.hsm-openssl-ca.lock';

/** Whether a process with this pid exists (EPERM: it does, under another user). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Creates the lock with its owner's pid already inside: written beside it, then hard-linked into place,
 * which fails atomically when the lock exists. A waiter therefore never reads a lock without an owner
 * (an empty lock read as stale let two signings run at once).
 */
async function tryAcquire(path: string): Promise<boolean> {
  const temporary = `${path}.${process.pid}.${randomBytes(4).toString('hex')}`;
  await writeFile(temporary, `${process.pid}\n`, { mode: 0o600 });
  try {
    await link(temporary, path);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    return false;
  } finally {
    await unlink(temporary).catch(() => undefined);
  }
}

/**
 * Removes a lock whose owner is gone (killed with SIGKILL, power loss); a live owner's lock is kept.
 * The inode is checked again just before removal, so a lock that another run took over meanwhile stays.
 */
async function removeIfStale(path: string): Promise<void> {
  const before = await stat(path).catch(() => undefined);
  if (!before) return;
  const owner = Number.parseInt(await readFile(path, 'utf8').catch(() => ''), 10);
  if (Number.isInteger(owner) && owner > 0 && processAlive(owner)) return;
  const now = await stat(path).catch(() => undefined);
  if (now?.ino === before.ino) await unlink(path).catch(() => undefined);
}

/**
 * Runs `work` holding the CA directory's lock: `openssl ca` takes none, and 20 parallel signings measured
 * here lost index lines and reused serials. A second run waits up to `timeoutMs`, saying so once.
 */
export async function withCaLock<T>(dir: string, work: () => Promise<T>, options: { timeoutMs?: number; onWait?: (message: string) => void } = {}): Promise<T> {
  const path = join(dir, LOCK_FILE);
  const deadline = Date.now() + (options.timeoutMs ?? 120_000);
  let told = false;
  while (!(await tryAcquire(path))) {
    await removeIfStale(path);
    if (await tryAcquire(path)) break;
    if (Date.now() > deadline) {
      throw new CaError(`the CA directory ${dir} is locked by another hsm-openssl-ca run (${path}); wait for it to finish, or remove the file if no run is active`);
    }
    if (!told) options.onWait?.(`waiting for another hsm-openssl-ca run to release ${path}…`);
    told = true;
    await new Promise((resolve) => setTimeout(resolve, 50 + Math.random() * 100));
  }
  // On SIGINT/SIGTERM cli.ts exits the process, which skips `finally`: release the lock on exit too.
  const releaseOnExit = (): void => {
    try {
      unlinkSync(path);
    } catch {
      // already released
    }
  };
  process.once('exit', releaseOnExit);
  try {
    return await work();
  } finally {
    process.off('exit', releaseOnExit);
    await unlink(path).catch(() => undefined);
  }
}

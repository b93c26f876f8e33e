import { open, readFile, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { CaError } from '../errors.js';

const LOCK_FILE = '.hsm-openssl-ca.lock';

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function tryAcquire(path: string): Promise<boolean> {
  try {
    const handle = await open(path, 'wx', 0o600);
    await handle.writeFile(`${process.pid}\n`);
    await handle.close();
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    return false;
  }
}

/** Removes a lock whose owner is gone (killed with SIGKILL, power loss); a live owner's lock is kept. */
async function removeIfStale(path: string): Promise<void> {
  const owner = Number.parseInt(await readFile(path, 'utf8').catch(() => ''), 10);
  if (Number.isInteger(owner) && owner > 0 && processAlive(owner)) return;
  await unlink(path).catch(() => undefined);
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
  try {
    return await work();
  } finally {
    await unlink(path).catch(() => undefined);
  }
}

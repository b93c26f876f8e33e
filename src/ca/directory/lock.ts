import { randomBytes } from 'node:crypto';
import { readFileSync, unlinkSync } from 'node:fs';
import { link, readFile, stat, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CaError } from '../../errors.js';

/** The lock's name in the CA directory; `check` reads it too. */
export const LOCK_FILE = '.hsm-openssl-ca.lock';
/** Written for a boot id or start time this system does not offer. */
const UNKNOWN = '-';

/** Whether a process with this pid exists (EPERM: it does, under another user). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** This boot's id (Linux); undefined where the kernel does not offer one. */
function bootId(): string | undefined {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim() || undefined;
  } catch {
    return undefined;
  }
}

/**
 * When the process started, in clock ticks since boot: field 22 of /proc/PID/stat, counted after the
 * command name's closing parenthesis (the name may hold spaces and parentheses). Undefined when unreadable.
 */
export function processStartTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

/** What a lock file says about its owner: "PID BOOT_ID START_TIME" (older versions wrote the pid alone). */
export interface LockOwner {
  /** Whether that owner cannot be running any more, and why, for `check`. */
  readonly stale: boolean;
  readonly why: string;
}

/**
 * Decides whether a lock's owner is gone — the one place that does, for `withCaLock` and `check`. A pid
 * alone is not enough: after a power loss the pid may belong to an unrelated process, so the owner is also
 * named by the boot it ran in and its start time. An older pid-only lock is judged by its pid, as before.
 */
export function lockOwner(text: string): LockOwner {
  const [pidText, ...identity] = text.trim().split(/\s+/);
  const [boot, start] = identity.map((field) => (field === UNKNOWN ? undefined : field));
  const pid = Number(pidText);
  if (!Number.isSafeInteger(pid) || pid <= 0) return { stale: true, why: 'its owner is not recorded in it' };
  const current = bootId();
  if (boot && current && boot !== current) return { stale: true, why: `its owner (pid ${pid}) ran before the last reboot` };
  if (!processAlive(pid)) return { stale: true, why: `its owner (pid ${pid}) is no longer running` };
  const started = start ? processStartTime(pid) : undefined;
  if (started && started !== start) return { stale: true, why: `its owner (pid ${pid}) is gone; that pid now belongs to another process` };
  return { stale: false, why: `a run (pid ${pid}) holds the lock` };
}

/** The lock's content for this process. */
function ownerLine(): string {
  return [process.pid, bootId() ?? UNKNOWN, processStartTime(process.pid) ?? UNKNOWN].join(' ') + '\n';
}

/**
 * Creates the lock with its owner already named inside: written beside it, then hard-linked into place,
 * which fails atomically when the lock exists. A waiter therefore never reads a lock without an owner
 * (an empty lock read as stale let two signings run at once).
 */
async function tryAcquire(path: string): Promise<boolean> {
  const temporary = `${path}.${process.pid}.${randomBytes(4).toString('hex')}`;
  await writeFile(temporary, ownerLine(), { mode: 0o600 });
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
 * Removes a lock whose owner is gone (killed with SIGKILL, power loss, reboot); a live owner's lock is kept.
 * The inode is checked again just before removal, so a lock that another run took over meanwhile stays.
 */
async function removeIfStale(path: string): Promise<void> {
  const before = await stat(path).catch(() => undefined);
  if (!before) return;
  if (!lockOwner(await readFile(path, 'utf8').catch(() => '')).stale) return;
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

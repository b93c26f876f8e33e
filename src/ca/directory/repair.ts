import { readdir, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { CaError, printable } from '../../errors.js';
import { ATOMIC_TEMP } from '../../fs-atomic.js';
import { finishCommit, readPending } from './journal.js';
import { withCaLock } from './lock.js';

/**
 * Directories only a journalled commit writes into, one file per certificate: a temporary there can only be
 * left by a commit killed while being applied, and the journal it leaves makes the next run finish the
 * commit and walk everything. An ordinary change skips them, so it costs nothing per certificate issued.
 */
export const COMMIT_ONLY_DIRECTORIES: readonly string[] = ['newcerts', 'csr'];

/**
 * Removes the temporaries of writes a kill interrupted: a write is renamed into place only when complete,
 * so such a file never replaced anything. Callers hold the lock, so no write of a live run is among them.
 * `skip`: directory names not to enter (see COMMIT_ONLY_DIRECTORIES; `check` still reports what is there).
 */
export async function removeInterruptedWrites(dir: string, skip: readonly string[] = []): Promise<string[]> {
  const removed: string[] = [];
  const walk = async (current: string): Promise<void> => {
    for (const entry of await readdir(current, { withFileTypes: true })) {
      const path = join(current, entry.name);
      if (entry.isDirectory()) {
        if (!skip.includes(entry.name)) await walk(path);
      } else if (entry.isFile() && ATOMIC_TEMP.test(entry.name)) {
        await unlink(path);
        removed.push(path);
      }
    }
  };
  await walk(dir);
  return removed;
}

/**
 * `check --repair`: finishes an interrupted commit from its journal (no token needed: everything was signed
 * and verified before the journal was written) and removes what interrupted writes left. A key generation
 * cut short needs the token and its PIN, so its own command finishes it.
 */
export async function repairCaDirectory(dir: string, lock: { timeoutMs?: number; onWait?: (message: string) => void } = {}): Promise<string[]> {
  return withCaLock(dir, async () => {
    const done: string[] = [];
    const pending = await readPending(dir);
    if (pending?.phase === 'generating-key') {
      throw new CaError(`an interrupted \`${pending.command}\` left key pair '${printable(pending.key.label)}' (id ${pending.key.idHex}) on token '${printable(pending.key.tokenLabel)}'; that needs the token: run \`hsm-openssl-ca ${pending.command} --dir ${printable(dir)}\`, which removes it and starts over`);
    }
    if (pending) {
      const notes = await finishCommit(dir, pending);
      done.push(`finished the interrupted \`${pending.command}\`: ${pending.summary}${notes.length ? ` (${notes.join('; ')})` : ''}`);
    }
    for (const path of await removeInterruptedWrites(dir)) done.push(`removed ${path}, left by an interrupted write`);
    return done;
  }, lock);
}

/**
 * The CA lock after a reboot: a lock names its owner by pid, boot id and the process's start time, so a lock
 * whose pid now belongs to another process (pid reuse after a power loss) is taken over, while the lock of a
 * live run is respected. Lock files written by older versions (a pid alone) are still judged by their pid.
 */
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LOCK_FILE, lockOwner, processStartTime, withCaLock } from '../../../src/ca/directory/lock.js';

const BOOT_ID = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
const OTHER_BOOT_ID = BOOT_ID.replace(/^./, (c) => (c === '0' ? '1' : '0'));
const MY_START = processStartTime(process.pid)!;
/** Above any pid_max Linux allows, so no process has it. */
const NO_SUCH_PID = 2_147_483_646;

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hsm-openssl-ca-lock-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Whether withCaLock gets the lock while `content` is in the lock file (it waits at most 400 ms). */
async function takesOver(content: string): Promise<boolean> {
  await writeFile(join(dir, LOCK_FILE), content);
  return withCaLock(dir, async () => true, { timeoutMs: 400 }).catch((error: Error) => {
    expect(error.message).toContain('is locked by another hsm-openssl-ca run');
    return false;
  });
}

describe('withCaLock and a lock left by another run', () => {
  it('writes its owner as pid, boot id and start time', async () => {
    const written = await withCaLock(dir, () => readFile(join(dir, LOCK_FILE), 'utf8'));
    expect(written).toBe(`${process.pid} ${BOOT_ID} ${MY_START}\n`);
    expect(MY_START).toMatch(/^\d+$/);
  });

  it('respects the lock of a live run: same pid, boot id and start time', async () => {
    expect(await takesOver(`${process.pid} ${BOOT_ID} ${MY_START}\n`)).toBe(false);
  });

  it('takes over a lock naming a live pid from another boot (the pid was reused after a power loss)', async () => {
    expect(await takesOver(`${process.pid} ${OTHER_BOOT_ID} ${MY_START}\n`)).toBe(true);
    expect(await takesOver(`1 ${OTHER_BOOT_ID} 1\n`)).toBe(true);
  });

  it('takes over a lock naming a live pid with another start time (the pid belongs to another process now)', async () => {
    expect(await takesOver(`${process.pid} ${BOOT_ID} ${Number(MY_START) + 1}\n`)).toBe(true);
    expect(await takesOver(`1 ${BOOT_ID} ${Number(processStartTime(1)) + 7}\n`)).toBe(true);
  });

  it('takes over a lock whose pid is gone', async () => {
    expect(await takesOver(`${NO_SUCH_PID} ${BOOT_ID} ${MY_START}\n`)).toBe(true);
  });

  it('judges an older pid-only lock by its pid: a live pid is respected, a gone one taken over', async () => {
    expect(await takesOver(`${process.pid}\n`)).toBe(false);
    expect(await takesOver(`${NO_SUCH_PID}\n`)).toBe(true);
    expect(await takesOver('')).toBe(true);
  });
});

describe('lockOwner', () => {
  it('says why a lock is stale, for check', () => {
    expect(lockOwner(`1 ${OTHER_BOOT_ID} 1`)).toEqual({ stale: true, why: 'its owner (pid 1) ran before the last reboot' });
    expect(lockOwner(`${process.pid} ${BOOT_ID} 1`)).toEqual({ stale: true, why: `its owner (pid ${process.pid}) is gone; that pid now belongs to another process` });
    expect(lockOwner(`${NO_SUCH_PID}`)).toEqual({ stale: true, why: `its owner (pid ${NO_SUCH_PID}) is no longer running` });
    expect(lockOwner(`${process.pid} - -`)).toEqual({ stale: false, why: `a run (pid ${process.pid}) holds the lock` });
  });
});

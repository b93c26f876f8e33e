/**
 * Durability of writes into the CA directory, seen in the system calls (strace): a rename (writeFileAtomic) or
 * link (writeFileExclusive) into place is followed by an fsync of the directory, without which a power loss
 * can undo the new directory entry although the file's data was synced.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { exec } from './helpers.js';
import { STRACE } from './kill-points/strace.js';

const FS_ATOMIC = fileURLToPath(new URL('../../dist/fs-atomic.js', import.meta.url));

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hsm-ca-fsync-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

/** The system calls of one write, as strace -f prints them. */
async function traced(call: 'writeFileAtomic' | 'writeFileExclusive', target: string): Promise<string[]> {
  const log = join(dir, `${call}.strace`);
  const script = `import { ${call} } from ${JSON.stringify(FS_ATOMIC)}; await ${call}(${JSON.stringify(target)}, 'data\\n', 0o600);`;
  const result = await exec(STRACE, ['-f', '-qq', '-e', 'trace=openat,rename,renameat,renameat2,link,linkat,fsync', '-o', log, process.execPath, '--input-type=module', '-e', script], {
    env: { ...process.env, UV_THREADPOOL_SIZE: '1' }, // one thread for file I/O: no interleaved strace lines
  });
  expect(result.code).toBe(0);
  return (await readFile(log, 'utf8')).split('\n');
}

/** Whether, after the line matching `placed`, the directory is opened and that descriptor fsynced successfully. */
function directorySyncedAfter(lines: string[], placed: RegExp): boolean {
  const at = lines.findIndex((line) => placed.test(line));
  if (at < 0) return false;
  const opened = lines.slice(at + 1).map((line) => new RegExp(`openat\\(AT_FDCWD, "${dir}", O_RDONLY[^)]*\\) = (\\d+)`).exec(line)).find(Boolean);
  if (!opened) return false;
  const fd = opened[1];
  return lines.slice(at + 1).some((line) => new RegExp(`fsync\\(${fd}\\)\\s+= 0`).test(line));
}

// The matrix's chroot cells have no strace (the host and CI do): there this file says so and skips.
const haveStrace = existsSync(STRACE);
if (!haveStrace) console.log(`directory-fsync check skipped: ${STRACE} is not installed (apt-get install strace)`);

(haveStrace ? describe : describe.skip)('writes into a directory', () => {
  it('writeFileAtomic fsyncs the directory after the rename into place', async () => {
    const target = join(dir, 'index.txt');
    const lines = await traced('writeFileAtomic', target);
    expect(directorySyncedAfter(lines, new RegExp(`rename(at2?)?\\(.*"${target}"`))).toBe(true);
  });

  it('writeFileExclusive fsyncs the directory after the link into place', async () => {
    const target = join(dir, 'www.crt');
    const lines = await traced('writeFileExclusive', target);
    expect(directorySyncedAfter(lines, new RegExp(`link(at)?\\(.*"${target}"`))).toBe(true);
  });
});

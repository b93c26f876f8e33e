import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeFileExclusive } from '../../src/fs-atomic.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hsm-openssl-ca-fs-'));
});
afterEach(() => rm(dir, { recursive: true, force: true }));

describe('writeFileExclusive', () => {
  it('writes a new file whole, with the mode asked for, and leaves no temporary behind', async () => {
    const path = join(dir, 'www.crt');
    await writeFileExclusive(path, 'certificate\n', 0o640);
    expect(await readFile(path, 'utf8')).toBe('certificate\n');
    expect((await stat(path)).mode & 0o777).toBe(0o640);
    expect(await readdir(dir)).toEqual(['www.crt']);
  });

  it('never replaces a file that exists (one written meanwhile by another run): EEXIST, the file untouched', async () => {
    const path = join(dir, 'www.crt');
    await writeFile(path, 'the first run\n');
    await expect(writeFileExclusive(path, 'the second run\n')).rejects.toMatchObject({ code: 'EEXIST' });
    expect(await readFile(path, 'utf8')).toBe('the first run\n');
    expect(await readdir(dir)).toEqual(['www.crt']);
  });
});

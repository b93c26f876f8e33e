import { describe, expect, it } from '@jest/globals';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { COMMIT_ONLY_DIRECTORIES, removeInterruptedWrites } from '../../../src/ca/directory/repair.js';

describe('removeInterruptedWrites', () => {
  it('an ordinary change leaves newcerts/ and csr/ unread (only a killed commit writes there); finishing or repairing walks them', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'repair-'));
    try {
      await mkdir(join(dir, 'intermediate', 'newcerts'), { recursive: true });
      await mkdir(join(dir, 'intermediate', 'csr'));
      const top = join(dir, '.hsm-openssl-ca.json.0123456789ab.tmp');
      const cert = join(dir, 'intermediate', 'newcerts', '.AB.pem.0123456789ab.tmp');
      const csr = join(dir, 'intermediate', 'csr', '.AB.csr.0123456789ab.tmp');
      const kept = join(dir, 'intermediate', 'index.txt');
      for (const file of [top, cert, csr, kept]) await writeFile(file, 'x');
      expect(await removeInterruptedWrites(dir, COMMIT_ONLY_DIRECTORIES)).toEqual([top]);
      expect(await readdir(join(dir, 'intermediate', 'newcerts'))).toEqual(['.AB.pem.0123456789ab.tmp']);
      expect((await removeInterruptedWrites(dir)).sort()).toEqual([csr, cert].sort());
      expect(await readdir(join(dir, 'intermediate'))).toEqual(expect.arrayContaining(['index.txt']));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

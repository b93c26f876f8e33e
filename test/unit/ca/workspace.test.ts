/** The staged database is private to this user (0600), crlnumber included, whatever the CA directory's modes. */
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { chmod, mkdtemp, rm, stat, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stageDatabase } from '../../../src/ca/directory/workspace.js';

let caDir: string;
let workspace: string;
beforeEach(async () => {
  caDir = await mkdtemp(join(tmpdir(), 'hsm-openssl-ca-db-'));
  workspace = await mkdtemp(join(tmpdir(), 'hsm-openssl-ca-ws-'));
  for (const [file, text] of [['index.txt', ''], ['index.txt.attr', 'unique_subject = no\n'], ['crlnumber', '1000\n']]) {
    await writeFile(join(caDir, file!), text!);
    await chmod(join(caDir, file!), 0o644); // as `init` leaves them
  }
});
afterEach(async () => {
  await rm(caDir, { recursive: true, force: true });
  await rm(workspace, { recursive: true, force: true });
});

const modeOf = async (path: string): Promise<number> => (await stat(path)).mode & 0o777;

describe('stageDatabase', () => {
  it('stages every database file 0600, crlnumber included', async () => {
    const staging = await stageDatabase(caDir, workspace);
    for (const file of ['index.txt', 'index.txt.attr', 'crlnumber']) expect([file, await modeOf(join(staging, file))]).toEqual([file, 0o600]);
  });

  it('refuses an index.txt whose last line has no line end (openssl ca would drop it), and takes an empty or terminated one', async () => {
    const line = 'V\t271207144453Z\t\t0A\tunknown\t/CN=a.example.test';
    await writeFile(join(caDir, 'index.txt'), line);
    await expect(stageDatabase(caDir, workspace)).rejects.toThrow(/index\.txt does not end with a line break, and openssl ca would drop its last record; nothing was changed/);
    await writeFile(join(caDir, 'index.txt'), `${line}\n`);
    await expect(stageDatabase(caDir, workspace)).resolves.toBe(join(workspace, 'database'));
  });

  it('creates a missing crlnumber 0600 too', async () => {
    await unlink(join(caDir, 'crlnumber'));
    const staging = await stageDatabase(caDir, workspace);
    expect(await modeOf(join(staging, 'crlnumber'))).toBe(0o600);
  });
});

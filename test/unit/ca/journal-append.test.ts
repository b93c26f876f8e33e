import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { prepareAudit } from '../../../src/ca/audit/log.js';
import { appendPoint, finishCommit, storeWrites, type PendingCommit, type PlannedWrite } from '../../../src/ca/directory/journal.js';
import { databaseWrites } from '../../../src/ca/directory/workspace.js';

/** index.txt lines as openssl ca writes them; enough of them that the compared tail is not the whole file. */
const line = (n: number): string => `V\t271207144453Z\t\t${n.toString(16).toUpperCase().padStart(40, '0')}\tunknown\t/CN=host${n}.example.test\n`;
const lines = (from: number, to: number): string => Array.from({ length: to - from }, (_, i) => line(from + i)).join('');

describe('an index.txt change journalled as an append', () => {
  let dir: string;
  let index: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'journal-append-'));
    index = join(dir, 'index.txt');
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const before = lines(0, 200);
  const added = lines(200, 202);

  async function commitOf(writes: PlannedWrite[]): Promise<PendingCommit> {
    return { phase: 'committing', command: 'server', summary: 's', requestKey: 'k', writes: storeWrites(writes), audit: await prepareAudit(dir, []), result: {} };
  }
  const appendWrite = (): PlannedWrite => ({ path: index, data: Buffer.from(added), append: appendPoint(Buffer.from(before)) });

  it('is what databaseWrites plans for a signing: only the new lines are journalled', async () => {
    const staging = join(dir, 'staging');
    const caDir = join(dir, 'ca');
    for (const [d, text] of [[staging, before + added], [caDir, before]] as const) {
      mkdirSync(join(d, 'newcerts'), { recursive: true });
      for (const file of ['crlnumber', 'index.txt.attr']) writeFileSync(join(d, file), 'same\n');
      writeFileSync(join(d, 'index.txt'), text);
    }
    const [write] = await databaseWrites(staging, caDir);
    expect(Buffer.from(write!.data).toString()).toBe(added);
    expect(write!.append).toEqual(appendPoint(Buffer.from(before)));
    writeFileSync(join(staging, 'index.txt'), before.replace('host1.', 'hostX.') + added);
    const [rewrite] = await databaseWrites(staging, caDir);
    expect(rewrite!.append).toBeUndefined();
  });

  it('lands the new lines after the old ones, and a second run changes nothing', async () => {
    writeFileSync(index, before);
    const commit = await commitOf([appendWrite()]);
    await finishCommit(dir, commit);
    expect(readFileSync(index, 'utf8')).toBe(before + added);
    await finishCommit(dir, commit);
    expect(readFileSync(index, 'utf8')).toBe(before + added);
  });

  it('finishes a write killed half-way, or one followed by stray bytes, to exactly the planned content', async () => {
    for (const partial of [before + added.slice(0, 30), before + added + 'garbage']) {
      writeFileSync(index, partial);
      await finishCommit(dir, await commitOf([appendWrite()]));
      expect(readFileSync(index, 'utf8')).toBe(before + added);
    }
  });

  it('refuses to append to a file whose content before the append point changed, and leaves it as it was', async () => {
    for (const edited of [before.replace('host199.', 'hostXYZ.'), before.slice(0, -10)]) {
      writeFileSync(index, edited);
      await expect(finishCommit(dir, await commitOf([appendWrite()]))).rejects.toThrow(/does not begin with the content this change was planned on .* check --repair/);
      expect(readFileSync(index, 'utf8')).toBe(edited);
    }
  });
});

import { describe, it, expect, beforeEach, afterEach } from '@jest/globals';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile, appendFile } from 'node:fs/promises';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { appendAudit } from '../../../src/ca/audit/head.js';
import { AUDIT_FILE, type AuditEvent } from '../../../src/ca/audit/record.js';
import { verifyAudit, type AuditProblem } from '../../../src/ca/audit/verify.js';
import { CaError } from '../../../src/errors.js';

const ZEROS = '0'.repeat(64);
const START = Date.parse('2024-05-01T12:00:00.000Z');

let dir: string;
let logPath: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'audit-test-'));
  logPath = join(dir, AUDIT_FILE);
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

function sha256(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

/** Minute `n` after START, so every record has a distinct, increasing time. */
function minute(n: number): Date {
  return new Date(START + n * 60_000);
}

function issued(n: number): AuditEvent {
  return { action: 'certificate-issued', command: 'server', serial: `1A2B${n}`, subject: `O=Acme, CN=host${n}.example.com`, sans: [`DNS:host${n}.example.com`] };
}

async function appendMany(count: number, from = 1): Promise<void> {
  for (let n = from; n < from + count; n++) await appendAudit(dir, issued(n), minute(n));
}

/** The log's lines without newlines; fails the test if the file does not end with one. */
async function readLines(): Promise<string[]> {
  const content = await readFile(logPath, 'utf8');
  expect(content.endsWith('\n')).toBe(true);
  return content.slice(0, -1).split('\n');
}

/** The chain's own problems, without those of the head (line 0), which other tests cover. */
function chainOnly(problems: readonly AuditProblem[]): AuditProblem[] {
  return problems.filter((p) => p.line > 0);
}

async function writeLines(lines: string[]): Promise<void> {
  await writeFile(logPath, lines.map((line) => `${line}\n`).join(''));
}

describe('appendAudit', () => {
  it('starts the chain with 64 zeros and records seq, time and user', async () => {
    const record = await appendAudit(dir, { action: 'init', command: 'init' }, minute(0));
    expect(record.seq).toBe(1);
    expect(record.prev).toBe(ZEROS);
    expect(record.time).toBe('2024-05-01T12:00:00.000Z');
    expect(record.user).toBe(userInfo().username);
    expect(JSON.parse((await readLines())[0]!)).toEqual(record);
  });

  it('chains every record to the exact bytes of the line before it', async () => {
    await appendMany(5);
    const lines = await readLines();
    expect(lines).toHaveLength(5);
    lines.forEach((line, index) => {
      const record = JSON.parse(line);
      expect(record.seq).toBe(index + 1);
      expect(record.prev).toBe(index === 0 ? ZEROS : sha256(lines[index - 1]!));
    });
  });

  it('leaves the file ending with a newline after each append', async () => {
    for (let n = 1; n <= 3; n++) {
      await appendAudit(dir, issued(n), minute(n));
      expect(await readLines()).toHaveLength(n);
    }
  });

  it('creates the log with mode 0644 even under a strict umask', async () => {
    const previous = process.umask(0o077);
    try {
      await appendAudit(dir, { action: 'init', command: 'init' }, minute(0));
    } finally {
      process.umask(previous);
    }
    expect((await stat(logPath)).mode & 0o777).toBe(0o644);
  });

  it('writes fields in a stable order and leaves out the optional ones not given', async () => {
    await appendAudit(dir, { action: 'init', command: 'init' }, minute(0));
    await appendAudit(
      dir,
      { detail: 'd', keyUri: 'pkcs11:object=root', certificateSha256: 'ab'.repeat(32), sans: ['DNS:a'], subject: 'CN=a', serial: '0F', command: 'root', action: 'key-generated' },
      minute(1),
    );
    const [minimal, full] = (await readLines()).map((line) => Object.keys(JSON.parse(line)));
    expect(minimal).toEqual(['seq', 'time', 'user', 'action', 'command', 'prev']);
    expect(full).toEqual(['seq', 'time', 'user', 'action', 'command', 'serial', 'subject', 'sans', 'certificateSha256', 'keyUri', 'detail', 'prev']);
  });

  it('never writes a field the event type does not declare, such as a PIN', async () => {
    const event = { action: 'key-generated', command: 'root', pin: '123456' } as AuditEvent;
    const record = await appendAudit(dir, event, minute(0));
    expect(record).not.toHaveProperty('pin');
    expect(await readFile(logPath, 'utf8')).not.toContain('123456');
  });

  it('round-trips a subject with a newline and quotes on a single line', async () => {
    const subject = 'O="Acme, Inc.", CN=evil\n{"seq":99}\\';
    const record = await appendAudit(dir, { action: 'certificate-issued', command: 'server', subject }, minute(0));
    await appendMany(1, 1);
    const lines = await readLines();
    expect(lines).toHaveLength(2);
    expect(JSON.parse(lines[0]!).subject).toBe(subject);
    expect(record.subject).toBe(subject);
    expect(await verifyAudit(dir)).toMatchObject({ records: 2, problems: [], lastHash: sha256(lines[1]!) });
  });

  it('refuses to append after an incomplete last line, and changes nothing', async () => {
    await appendMany(3);
    const content = await readFile(logPath, 'utf8');
    const truncated = content.slice(0, content.length - 20);
    await writeFile(logPath, truncated);
    await expect(appendAudit(dir, issued(4), minute(4))).rejects.toThrow(CaError);
    await expect(appendAudit(dir, issued(4), minute(4))).rejects.toThrow(/incomplete.*hsm-openssl-ca audit verify/);
    expect(await readFile(logPath, 'utf8')).toBe(truncated);
  });

  it('refuses to append after a complete last line that is not a record', async () => {
    await appendMany(2);
    await appendFile(logPath, 'garbage\n');
    await expect(appendAudit(dir, issued(3), minute(3))).rejects.toThrow(/broken.*hsm-openssl-ca audit verify/);
  });

  // The last line is found by reading the file backwards in 64 KiB chunks; a longer line spans several.
  it('chains onto a last line longer than one read chunk', async () => {
    await appendMany(1);
    await appendAudit(dir, { action: 'revoked', command: 'revoke', detail: 'x'.repeat(150_000) }, minute(2));
    const record = await appendAudit(dir, issued(3), minute(3));
    const lines = await readLines();
    expect(record).toMatchObject({ seq: 3, prev: sha256(lines[1]!) });
    expect((await verifyAudit(dir)).problems).toEqual([]);
  });

  it('refuses an action outside the list', async () => {
    await expect(appendAudit(dir, { action: 'deleted', command: 'x' } as unknown as AuditEvent)).rejects.toThrow(CaError);
  });
});

describe('verifyAudit', () => {
  it('finds a missing log intact with 0 records', async () => {
    expect(await verifyAudit(dir)).toMatchObject({ records: 0, problems: [], warnings: [], lastHash: ZEROS });
  });

  it('finds a chain of 5 appends intact and returns the last line hash', async () => {
    await appendMany(5);
    const lines = await readLines();
    expect(await verifyAudit(dir)).toMatchObject({ records: 5, problems: [], warnings: [], lastHash: sha256(lines[4]!) });
  });

  it('keeps chaining when appending after a verify', async () => {
    await appendMany(3);
    const before = await verifyAudit(dir);
    const record = await appendAudit(dir, issued(4), minute(4));
    expect(record.seq).toBe(4);
    expect(record.prev).toBe(before.lastHash);
    await appendMany(1, 5);
    expect(await verifyAudit(dir)).toMatchObject({ records: 5, problems: [] });
  });

  // Line 3 itself stays a well-formed record whose seq and prev are right (prev covers line 2, untouched),
  // so the edit shows where line 3's hash is used: in line 4's prev.
  it('reports an edited field in line 3 at line 4', async () => {
    await appendMany(5);
    const lines = await readLines();
    lines[2] = lines[2]!.replace('"command":"server"', '"command":"client"');
    await writeLines(lines);
    const { problems } = await verifyAudit(dir);
    expect(problems).toEqual([{ line: 4, problem: expect.stringMatching(/hash of line 3: line 3 was changed/) }]);
  });

  it('reports a removed line 2 at the line that now follows line 1', async () => {
    await appendMany(5);
    const lines = await readLines();
    lines.splice(1, 1);
    await writeLines(lines);
    const { records, problems } = await verifyAudit(dir);
    expect(records).toBe(4);
    expect(chainOnly(problems)).toEqual([
      { line: 2, problem: 'seq 3 follows 1: 1 record(s) missing' },
      { line: 2, problem: expect.stringMatching(/^prev does not match the hash of line 1/) },
    ]);
  });

  it('reports a removed first line', async () => {
    await appendMany(3);
    await writeLines((await readLines()).slice(1));
    const problems = chainOnly((await verifyAudit(dir)).problems);
    expect(problems.map((p) => p.line)).toEqual([1, 1]);
    expect(problems[1]!.problem).toMatch(/64 zeros/);
  });

  it('reports lines 2 and 3 swapped', async () => {
    await appendMany(5);
    const lines = await readLines();
    [lines[1], lines[2]] = [lines[2]!, lines[1]!];
    await writeLines(lines);
    const { problems } = await verifyAudit(dir);
    expect(problems).toEqual(
      expect.arrayContaining([
        { line: 2, problem: 'seq 3 follows 1: 1 record(s) missing' },
        { line: 3, problem: 'seq 2 follows 3: records repeated or out of order' },
        { line: 4, problem: expect.stringMatching(/^prev does not match the hash of line 3/) },
      ]),
    );
  });

  it('reports a file truncated mid-line as an incomplete last line', async () => {
    await appendMany(3);
    const content = await readFile(logPath, 'utf8');
    await writeFile(logPath, content.slice(0, content.length - 20));
    const lines = content.split('\n');
    const verified = await verifyAudit(dir);
    expect({ ...verified, problems: chainOnly(verified.problems) }).toMatchObject({ records: 2, problems: [{ line: 3, problem: 'incomplete last line (interrupted write?)' }], lastHash: sha256(lines[1]!) });
  });

  it('reports a line that is not JSON without blaming the seq of the lines after it', async () => {
    await appendMany(4);
    const lines = await readLines();
    lines[1] = '{not json';
    await writeLines(lines);
    const { problems } = await verifyAudit(dir);
    expect(problems).toEqual([
      { line: 2, problem: expect.stringMatching(/^not valid JSON/) },
      { line: 3, problem: expect.stringMatching(/^prev does not match the hash of line 2/) },
    ]);
  });

  // Issue 7: a clock that stepped back once must not stop every later change, revocation included.
  it('orders by seq: a time earlier than the record before it is a warning, never a problem', async () => {
    await appendAudit(dir, issued(1), minute(10));
    await appendAudit(dir, issued(2), minute(5));
    await appendAudit(dir, issued(3), minute(6));
    const { problems, warnings } = await verifyAudit(dir);
    expect(problems).toEqual([]);
    expect(warnings).toEqual([{ line: 2, problem: expect.stringMatching(/^time 2024-05-01T12:05:00.000Z is earlier than line 1's .*clock stepped back/) }]);
  });

  it('reports a field no record may carry', async () => {
    await appendMany(2);
    const lines = await readLines();
    lines[1] = lines[1]!.replace('{', '{"pin":"123456",');
    await writeLines(lines);
    expect((await verifyAudit(dir)).problems).toEqual([
      { line: 2, problem: 'unexpected field "pin"' },
      { line: 2, problem: expect.stringMatching(/not the line audit.head anchors/) },
    ]);
  });

  // Issue 7: audit.head anchors the newest line, so cutting lines off the end, emptying or deleting the log is seen.
  it('sees a removed last line against audit.head, and its lastHash changes', async () => {
    await appendMany(4);
    const recorded = (await verifyAudit(dir)).lastHash;
    await writeLines((await readLines()).slice(0, 3));
    const after = await verifyAudit(dir);
    expect(after.problems).toEqual([{ line: 0, problem: expect.stringMatching(/audit.head says the log ends at record 4, but it has 3: the newest 1 record/) }]);
    expect(after.lastHash).not.toBe(recorded);
  });

  it('sees a deleted or emptied log against audit.head', async () => {
    await appendMany(2);
    await writeFile(logPath, '');
    expect((await verifyAudit(dir)).problems).toEqual([{ line: 0, problem: expect.stringMatching(/but it has 0: .*deleted or emptied/) }]);
    await rm(logPath);
    expect((await verifyAudit(dir)).problems).toEqual([{ line: 0, problem: expect.stringMatching(/but it has 0: .*deleted or emptied/) }]);
  });

  it('sees a replaced last line and a line appended behind the head', async () => {
    await appendMany(3);
    const lines = await readLines();
    await writeLines([...lines.slice(0, 2), lines[2]!.replace('host3', 'hostX')]);
    expect((await verifyAudit(dir)).problems).toEqual([{ line: 3, problem: expect.stringMatching(/not the line audit.head anchors/) }]);
    await writeLines(lines);
    await appendFile(logPath, `${JSON.stringify({ ...JSON.parse(lines[2]!), seq: 4, prev: sha256(lines[2]!) })}\n`);
    expect((await verifyAudit(dir)).problems).toEqual([{ line: 4, problem: expect.stringMatching(/appended after the newest committed record/) }]);
  });

  it('only warns about a log without audit.head (made before it existed)', async () => {
    await appendMany(2);
    await rm(join(dir, 'audit.head'));
    const { problems, warnings } = await verifyAudit(dir);
    expect(problems).toEqual([]);
    expect(warnings).toEqual([{ line: 0, problem: expect.stringMatching(/audit.head is missing/) }]);
  });
  it('reads a log larger than its 1 MiB chunk, lines running across chunks, and places an edit by line', async () => {
    // Five records of about 300 KB: line 4 spans the first chunk's end, line 5 the start of the second.
    const long = (n: number): AuditEvent => ({ ...issued(n), detail: 'x'.repeat(300_000) });
    for (let n = 1; n <= 5; n++) await appendAudit(dir, long(n), minute(n));
    const lines = await readLines();
    expect((await stat(logPath)).size).toBeGreaterThan(1 << 20);
    const intact = await verifyAudit(dir);
    expect(intact).toMatchObject({ records: 5, problems: [], lastHash: sha256(lines[4]!) });
    expect([...intact.recorded.issued]).toEqual([1, 2, 3, 4, 5].map((n) => BigInt(`0x1A2B${n}`)));
    lines[3] = lines[3]!.replace('xxxx', 'xyxx');
    await writeLines(lines);
    expect(chainOnly((await verifyAudit(dir)).problems)).toEqual([{ line: 5, problem: expect.stringMatching(/hash of line 4: line 4 was changed/) }]);
  });

  it('keeps what the records say was issued and revoked, and whether the CA was initialised', async () => {
    await appendAudit(dir, { action: 'init', command: 'init' }, minute(0));
    await appendMany(2);
    await appendAudit(dir, { action: 'revoked', command: 'revoke', serial: '1A2B2' }, minute(3));
    await appendAudit(dir, { action: 'crl-published', command: 'crl', serial: '1A2B9' }, minute(4));
    const { recorded } = await verifyAudit(dir);
    expect(recorded).toEqual({ init: true, issued: new Set([0x1a2b1n, 0x1a2b2n]), revoked: new Set([0x1a2b2n]) });
    await rm(logPath);
    await rm(join(dir, 'audit.head'));
    expect((await verifyAudit(dir)).recorded).toEqual({ init: false, issued: new Set(), revoked: new Set() });
  });

  it('says it cannot read a log that is not a file', async () => {
    await mkdir(logPath);
    await expect(verifyAudit(dir)).rejects.toThrow(new CaError(`cannot read the audit log ${logPath}: EISDIR: illegal operation on a directory, read`));
  });
});

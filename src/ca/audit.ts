import { createHash } from 'node:crypto';
import { open, readFile, type FileHandle } from 'node:fs/promises';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { CaError, printable } from '../errors.js';

/**
 * The CA's audit log: `DIR/audit.log`, one JSON object per line, each recording one change to the CA.
 *
 * Every record carries `prev`, the SHA-256 of the previous line's exact bytes, so editing, removing or
 * reordering any line breaks the chain at the line after it. What the chain cannot show from the file alone:
 * - removing (or editing) the LAST line: nothing after it vouches for it. `verifyAudit` therefore returns
 *   `lastHash`; recorded elsewhere (printed into a ticket, a second machine, paper), it anchors the end.
 * - a rewrite of the whole file: the hashes are unkeyed, so whoever can write the file can recompute every
 *   `prev`. Again only a `lastHash` kept elsewhere exposes that.
 * Secrets never go in: records are built field by field from `AuditEvent`, which has no place for a PIN.
 */

export const AUDIT_FILE = 'audit.log';

export type AuditAction = 'init' | 'key-generated' | 'certificate-issued' | 'revoked' | 'crl-published';

const AUDIT_ACTIONS: readonly AuditAction[] = ['init', 'key-generated', 'certificate-issued', 'revoked', 'crl-published'];

/** What callers pass: one change to the CA. */
export interface AuditEvent {
  readonly action: AuditAction;
  /** The command that made the change, e.g. 'server', 'revoke --root'. */
  readonly command: string;
  /** Upper-case hex. */
  readonly serial?: string;
  /** e.g. 'C=US, O=Acme, CN=www.example.com'. */
  readonly subject?: string;
  /** 'DNS:x', 'IP:y'. */
  readonly sans?: readonly string[];
  /** Hex SHA-256 of the certificate DER. */
  readonly certificateSha256?: string;
  /** PKCS#11 URI of a generated key. */
  readonly keyUri?: string;
  /** Free text, e.g. a revocation reason or a CRL number. */
  readonly detail?: string;
}

/** One line of the log as written. */
export interface AuditRecord extends AuditEvent {
  /** 1, 2, 3… */
  readonly seq: number;
  /** ISO 8601 UTC. */
  readonly time: string;
  readonly user: string;
  /** Hex SHA-256 of the previous line's exact bytes (without its newline); 64 zeros for the first line. */
  readonly prev: string;
}

export interface AuditProblem {
  readonly line: number;
  readonly problem: string;
}

const GENESIS_HASH = '0'.repeat(64);
const NEWLINE = 0x0a;
const TAIL_CHUNK = 64 * 1024;

const OPTIONAL_STRING_FIELDS = ['serial', 'subject', 'certificateSha256', 'keyUri', 'detail'] as const;
const KNOWN_FIELDS = new Set(['seq', 'time', 'user', 'action', 'command', ...OPTIONAL_STRING_FIELDS, 'sans', 'prev']);

function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

function auditPath(dir: string): string {
  return join(dir, AUDIT_FILE);
}

/** The login name; `userInfo()` throws for a uid without a passwd entry (common in containers). */
function currentUser(): string {
  try {
    const name = userInfo().username;
    if (name) return name;
  } catch {
    // fall through to the environment
  }
  if (process.env.USER) return process.env.USER;
  return process.getuid ? `uid:${process.getuid()}` : 'unknown';
}

/** Builds the record field by field: a stable order in the JSON, and no field an event did not declare. */
function buildRecord(event: AuditEvent, seq: number, time: string, prev: string): AuditRecord {
  const optional: { -readonly [K in keyof AuditEvent]?: AuditEvent[K] } = {};
  if (event.serial !== undefined) optional.serial = event.serial;
  if (event.subject !== undefined) optional.subject = event.subject;
  if (event.sans !== undefined) optional.sans = [...event.sans];
  if (event.certificateSha256 !== undefined) optional.certificateSha256 = event.certificateSha256;
  if (event.keyUri !== undefined) optional.keyUri = event.keyUri;
  if (event.detail !== undefined) optional.detail = event.detail;
  return { seq, time, user: currentUser(), action: event.action, command: event.command, ...optional, prev };
}

type ParsedLine = { readonly record: AuditRecord } | { readonly problem: string };

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/** Parses one line's bytes and checks the record's shape (not its place in the chain). */
function parseLine(bytes: Uint8Array): ParsedLine {
  let value: unknown;
  try {
    value = JSON.parse(strictUtf8.decode(bytes));
  } catch (error) {
    return { problem: error instanceof SyntaxError ? `not valid JSON (${error.message})` : 'not valid UTF-8' };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return { problem: 'not a JSON object' };
  const fields = value as Record<string, unknown>;
  const shapeProblem = recordShapeProblem(fields);
  return shapeProblem ? { problem: shapeProblem } : { record: fields as unknown as AuditRecord };
}

function recordShapeProblem(fields: Record<string, unknown>): string | undefined {
  const unknown = Object.keys(fields).filter((key) => !KNOWN_FIELDS.has(key));
  if (unknown.length > 0) return `unexpected field ${unknown.map((key) => JSON.stringify(key)).join(', ')}`;
  if (!Number.isSafeInteger(fields.seq) || (fields.seq as number) < 1) return 'seq is not a positive integer';
  if (typeof fields.time !== 'string' || !isIsoUtc(fields.time)) return 'time is not an ISO 8601 UTC timestamp';
  if (typeof fields.user !== 'string') return 'user is missing';
  if (!AUDIT_ACTIONS.includes(fields.action as AuditAction)) return `action ${JSON.stringify(fields.action)} is not one of ${AUDIT_ACTIONS.join(', ')}`;
  if (typeof fields.command !== 'string') return 'command is missing';
  for (const name of OPTIONAL_STRING_FIELDS) {
    if (fields[name] !== undefined && typeof fields[name] !== 'string') return `${name} is not a string`;
  }
  if (fields.sans !== undefined && !(Array.isArray(fields.sans) && fields.sans.every((san) => typeof san === 'string'))) return 'sans is not a list of strings';
  if (typeof fields.prev !== 'string' || !/^[0-9a-f]{64}$/.test(fields.prev)) return 'prev is not a hex SHA-256';
  return undefined;
}

/** Exactly what `Date.toISOString` writes, so a hand-edited time in another format stands out. */
function isIsoUtc(time: string): boolean {
  const parsed = new Date(time);
  return !Number.isNaN(parsed.getTime()) && parsed.toISOString() === time;
}

function isMissing(error: unknown): boolean {
  return (error as NodeJS.ErrnoException).code === 'ENOENT';
}

/** The last line's bytes (without its newline), and whether that newline is there; undefined for an empty file. */
async function readLastLine(handle: FileHandle): Promise<{ bytes: Buffer; complete: boolean } | undefined> {
  const { size } = await handle.stat();
  if (size === 0) return undefined;
  let tail = Buffer.alloc(0);
  let position = size;
  for (;;) {
    const length = Math.min(TAIL_CHUNK, position);
    position -= length;
    const chunk = Buffer.alloc(length);
    await handle.read(chunk, 0, length, position);
    tail = Buffer.concat([chunk, tail]);
    const complete = tail[tail.length - 1] === NEWLINE;
    const body = complete ? tail.subarray(0, -1) : tail;
    const start = body.lastIndexOf(NEWLINE);
    if (start >= 0) return { bytes: body.subarray(start + 1), complete };
    if (position === 0) return { bytes: body, complete };
  }
}

/** The seq and hash to chain onto; refuses a log whose end is cut short or not a record. */
async function chainHead(dir: string): Promise<{ seq: number; hash: string }> {
  const path = auditPath(dir);
  let handle: FileHandle;
  try {
    handle = await open(path, 'r');
  } catch (error) {
    if (isMissing(error)) return { seq: 0, hash: GENESIS_HASH };
    throw new CaError(`cannot read the audit log ${printable(path)}: ${(error as Error).message}`);
  }
  try {
    const last = await readLastLine(handle);
    if (!last) return { seq: 0, hash: GENESIS_HASH };
    const verify = `run \`hsm-openssl-ca audit verify --dir ${printable(dir)}\` and repair the log first`;
    if (!last.complete) throw new CaError(`the last line of the audit log ${printable(path)} is incomplete (interrupted write?); nothing was recorded — ${verify}`);
    const parsed = parseLine(last.bytes);
    if ('problem' in parsed) throw new CaError(`the last line of the audit log ${printable(path)} is broken (${printable(parsed.problem)}); nothing was recorded — ${verify}`);
    return { seq: parsed.record.seq, hash: sha256Hex(last.bytes) };
  } finally {
    await handle.close();
  }
}

/** Opens the log for appending; a log created here gets mode 0644 whatever the umask, and a durable name. */
async function openForAppend(dir: string): Promise<FileHandle> {
  const path = auditPath(dir);
  let created: FileHandle;
  try {
    created = await open(path, 'ax', 0o644);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return open(path, 'a');
    throw new CaError(`cannot create the audit log ${printable(path)}: ${(error as Error).message}`);
  }
  try {
    await created.chmod(0o644);
    await syncDirectory(dir);
    return created;
  } catch (error) {
    await created.close();
    throw error;
  }
}

/** fsyncs a directory so a new file's entry survives a crash; not every platform allows it, which is harmless. */
async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r').catch(() => undefined);
  if (!handle) return;
  try {
    await handle.sync().catch(() => undefined);
  } finally {
    await handle.close();
  }
}

/**
 * Appends one record: reads the last line to chain to it, writes the new line with O_APPEND and fsyncs.
 * Callers hold the CA lock, so nothing else appends between the read and the write. Only the last line is
 * checked here (cheap on every change); `verifyAudit` checks the whole chain.
 */
export async function appendAudit(dir: string, event: AuditEvent, now: Date = new Date()): Promise<AuditRecord> {
  if (!AUDIT_ACTIONS.includes(event.action)) throw new CaError(`unknown audit action ${JSON.stringify(event.action)}`);
  const head = await chainHead(dir);
  const record = buildRecord(event, head.seq + 1, now.toISOString(), head.hash);
  const line = Buffer.from(`${JSON.stringify(record)}\n`, 'utf8');
  const handle = await openForAppend(dir);
  try {
    // One write of the whole line: a crash leaves at most one incomplete last line, which verifyAudit reports.
    const { bytesWritten } = await handle.write(line, 0, line.length);
    if (bytesWritten !== line.length) {
      throw new CaError(`only ${bytesWritten} of ${line.length} bytes reached the audit log ${printable(auditPath(dir))} (disk full?); run \`hsm-openssl-ca audit verify --dir ${printable(dir)}\``);
    }
    await handle.sync();
  } finally {
    await handle.close();
  }
  return record;
}

/** Splits the log into lines (without newlines) and the bytes after the last newline, if any. */
function splitLines(content: Buffer): { lines: Buffer[]; incomplete: Buffer | undefined } {
  const lines: Buffer[] = [];
  let start = 0;
  for (let end = content.indexOf(NEWLINE); end >= 0; end = content.indexOf(NEWLINE, start)) {
    lines.push(content.subarray(start, end));
    start = end + 1;
  }
  return { lines, incomplete: start < content.length ? content.subarray(start) : undefined };
}

function seqProblem(seq: number, expected: number, previousSeq: number | undefined): string | undefined {
  if (seq === expected) return undefined;
  if (previousSeq === undefined) return `seq is ${seq}, expected ${expected}: the log does not start at its first record`;
  if (seq > expected) return `seq ${seq} follows ${previousSeq}: ${seq - expected} record(s) missing`;
  return `seq ${seq} follows ${previousSeq}: records repeated or out of order`;
}

function prevProblem(prev: string, lineNumber: number, expected: string): string | undefined {
  if (prev === expected) return undefined;
  if (lineNumber === 1) return 'prev should be 64 zeros on the first line: lines before it were removed';
  return `prev does not match the hash of line ${lineNumber - 1}: line ${lineNumber - 1} was changed, or lines were removed or reordered here`;
}

/**
 * Checks the whole chain: every line parses, seq is 1..n without gaps, each prev matches the previous line's
 * hash, times do not go backwards. Returns the problems found (empty = intact), the record count (complete
 * lines) and `lastHash`, the hash the next record will chain to: keep it elsewhere to detect a removed or
 * edited last line, which the file alone cannot show. A missing log is intact with 0 records.
 */
export async function verifyAudit(dir: string): Promise<{ records: number; problems: AuditProblem[]; lastHash: string }> {
  const path = auditPath(dir);
  let content: Buffer;
  try {
    content = await readFile(path);
  } catch (error) {
    if (isMissing(error)) return { records: 0, problems: [], lastHash: GENESIS_HASH };
    throw new CaError(`cannot read the audit log ${printable(path)}: ${(error as Error).message}`);
  }
  const { lines, incomplete } = splitLines(content);
  const problems: AuditProblem[] = [];
  let previousHash = GENESIS_HASH;
  // The last line that parsed: a broken line in between does not make every later seq look wrong.
  let lastGood: { line: number; seq: number; time: string } | undefined;
  lines.forEach((bytes, index) => {
    const lineNumber = index + 1;
    const report = (problem: string | undefined): void => {
      if (problem) problems.push({ line: lineNumber, problem });
    };
    const parsed = parseLine(bytes);
    if ('problem' in parsed) {
      report(parsed.problem);
    } else {
      const { seq, time, prev } = parsed.record;
      report(seqProblem(seq, lastGood ? lastGood.seq + (lineNumber - lastGood.line) : lineNumber, lastGood?.seq));
      report(prevProblem(prev, lineNumber, previousHash));
      if (lastGood && Date.parse(time) < Date.parse(lastGood.time)) report(`time ${time} is earlier than line ${lastGood.line}'s ${lastGood.time}`);
      lastGood = { line: lineNumber, seq, time };
    }
    previousHash = sha256Hex(bytes);
  });
  if (incomplete) problems.push({ line: lines.length + 1, problem: 'incomplete last line (interrupted write?)' });
  return { records: lines.length, problems, lastHash: previousHash };
}

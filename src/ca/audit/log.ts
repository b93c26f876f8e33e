import { open, type FileHandle } from 'node:fs/promises';
import { CaError, printable } from '../../errors.js';
import { syncDirectory } from '../../fs-atomic.js';
import { AUDIT_ACTIONS, auditPath, buildRecord, GENESIS_HASH, isMissing, NEWLINE, parseLine, sha256Hex, type AuditEvent } from './record.js';

const TAIL_CHUNK = 64 * 1024;

/** Where the log ends: the newest record's seq and the hash of its line (seq 0 and 64 zeros for an empty log). */
export interface AuditHead {
  readonly seq: number;
  readonly hash: string;
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
export async function chainHead(dir: string): Promise<AuditHead> {
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
export async function openForAppend(dir: string): Promise<FileHandle> {
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

/** Records to append, made in advance: their exact lines, chained onto `base`, and the head they leave. */
export interface PreparedAudit {
  readonly base: AuditHead;
  readonly lines: readonly string[];
  readonly head: AuditHead;
}

/**
 * Builds the lines for `events`, chained onto the log's current last line. They are made before the commit
 * and kept in its journal, so finishing an interrupted commit appends exactly these bytes, never new ones.
 */
export async function prepareAudit(dir: string, events: readonly AuditEvent[], now: Date = new Date()): Promise<PreparedAudit> {
  const base = await chainHead(dir);
  const lines: string[] = [];
  let head = base;
  for (const event of events) {
    if (!AUDIT_ACTIONS.includes(event.action)) throw new CaError(`unknown audit action ${JSON.stringify(event.action)}`);
    const line = JSON.stringify(buildRecord(event, head.seq + 1, now.toISOString(), head.hash));
    lines.push(line);
    head = { seq: head.seq + 1, hash: sha256Hex(Buffer.from(line, 'utf8')) };
  }
  return { base, lines, head };
}

/** How many of the prepared lines the log already ends with (an interrupted commit may have appended some). */
function linesAlreadyAppended(current: AuditHead, prepared: PreparedAudit): number {
  if (current.seq === prepared.base.seq && current.hash === prepared.base.hash) return 0;
  const done = current.seq - prepared.base.seq;
  const line = prepared.lines[done - 1];
  if (line !== undefined && sha256Hex(Buffer.from(line, 'utf8')) === current.hash) return done;
  return -1;
}

/**
 * Appends the prepared lines the log does not end with yet, each with one write and an fsync. Callers hold
 * the CA lock, so nothing else appends meanwhile; a log that ends elsewhere was changed by someone else.
 */
export async function appendPrepared(dir: string, prepared: PreparedAudit): Promise<void> {
  const done = linesAlreadyAppended(await chainHead(dir), prepared);
  if (done < 0) {
    throw new CaError(`the audit log ${printable(auditPath(dir))} no longer ends with record ${prepared.base.seq}, which this change was chained onto; nothing more was recorded — run \`hsm-openssl-ca audit verify --dir ${printable(dir)}\``);
  }
  if (done === prepared.lines.length) return;
  const handle = await openForAppend(dir);
  try {
    for (const text of prepared.lines.slice(done)) {
      const line = Buffer.from(`${text}\n`, 'utf8');
      // One write of the whole line: a crash leaves at most one incomplete last line, which verifyAudit reports.
      const { bytesWritten } = await handle.write(line, 0, line.length);
      if (bytesWritten !== line.length) {
        throw new CaError(`only ${bytesWritten} of ${line.length} bytes reached the audit log ${printable(auditPath(dir))} (disk full?); run \`hsm-openssl-ca audit verify --dir ${printable(dir)}\``);
      }
      await handle.sync();
    }
  } finally {
    await handle.close();
  }
}

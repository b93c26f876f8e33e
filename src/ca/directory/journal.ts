import { createHash } from 'node:crypto';
import { open, readFile, unlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { CaError, printable } from '../../errors.js';
import { syncDirectory, writeFileAtomic, writeFileExclusive } from '../../fs-atomic.js';
import { auditHeadPath, auditHeadText } from '../audit/head.js';
import { appendPrepared, type PreparedAudit } from '../audit/log.js';
import { isMissing } from '../audit/record.js';

/**
 * The crash journal, `DIR/.hsm-openssl-ca.pending.json`: a change is first written here whole — every file
 * it writes, with its bytes, and its audit lines — and only then applied. A run killed at any point leaves
 * either no journal (nothing happened, or all of it), or a journal that `check` names and that
 * `check --repair` (or the next run of the command) finishes, byte for byte as the first run would have.
 *
 * A key generation is journalled before it starts: killed after the token made the key pair and before a
 * certificate exists, the next run of the same command removes that pair and starts over.
 */
export const JOURNAL_FILE = '.hsm-openssl-ca.pending.json';

/**
 * Where an append lands: after the first `after` bytes of the file, whose last APPEND_TAIL bytes hash to
 * `tailSha256` — enough to know the file is still the one the change was planned on, without reading it all.
 */
export interface AppendPoint {
  readonly after: number;
  readonly tailSha256: string;
}

/**
 * One file a change writes. `exclusive`: never over a file that is already there (a user's --out). `append`:
 * `data` is added at the end instead of replacing the file — index.txt after a signing is the old one plus
 * its new lines, and journalling and rewriting 10 MB for one line made each signing O(n) at 100,000.
 */
export interface PlannedWrite {
  readonly path: string;
  readonly data: string | Buffer;
  readonly mode?: number;
  readonly exclusive?: boolean;
  readonly append?: AppendPoint;
}

interface StoredWrite {
  readonly path: string;
  readonly base64: string;
  readonly mode: number;
  readonly exclusive: boolean;
  readonly append?: AppendPoint;
}

const APPEND_TAIL = 4096;
const sha256 = (data: Buffer): string => createHash('sha256').update(data).digest('hex');

/** The append point at the end of a file's current content. */
export function appendPoint(current: Buffer): AppendPoint {
  return { after: current.length, tailSha256: sha256(current.subarray(Math.max(0, current.length - APPEND_TAIL))) };
}

export interface PendingCommit {
  readonly phase: 'committing';
  readonly command: string;
  /** What the change is, for people: 'server certificate 0A1B… for CN=www.example.com'. */
  readonly summary: string;
  /** Identifies the request, so its rerun gets this result instead of a second certificate. */
  readonly requestKey: string;
  readonly writes: readonly StoredWrite[];
  readonly audit: PreparedAudit;
  /** The command's result, tagged JSON (see encodeResult). */
  readonly result: unknown;
}

export interface KeyInGeneration {
  readonly role: 'root' | 'intermediate';
  readonly tokenLabel: string;
  readonly label: string;
  readonly idHex: string;
}

export interface PendingKeyGeneration {
  readonly phase: 'generating-key';
  readonly command: 'root' | 'intermediate';
  readonly key: KeyInGeneration;
}

export type Pending = PendingCommit | PendingKeyGeneration;

export function journalPath(dir: string): string {
  return join(dir, JOURNAL_FILE);
}

/** The journal, if a change was interrupted. */
export async function readPending(dir: string): Promise<Pending | undefined> {
  let text: string;
  try {
    text = await readFile(journalPath(dir), 'utf8');
  } catch (error) {
    if (isMissing(error)) return undefined;
    throw new CaError(`cannot read the journal of an interrupted change ${printable(journalPath(dir))}: ${(error as Error).message}`);
  }
  try {
    const pending = JSON.parse(text) as Pending;
    if (pending.phase === 'committing' || pending.phase === 'generating-key') return pending;
  } catch {
    // reported below
  }
  throw new CaError(`the journal of an interrupted change ${printable(journalPath(dir))} is unreadable; it is written whole before anything else, so nothing of that change was applied — move it away and run \`hsm-openssl-ca check --dir ${printable(dir)}\``);
}

export async function writePending(dir: string, pending: Pending): Promise<void> {
  await writeFileAtomic(journalPath(dir), `${JSON.stringify(pending)}\n`, 0o600);
}

export async function removePending(dir: string): Promise<void> {
  await unlink(journalPath(dir)).catch((error: unknown) => {
    if (!isMissing(error)) throw error;
  });
  await syncDirectory(dir);
}

export function storeWrites(writes: readonly PlannedWrite[]): StoredWrite[] {
  return writes.map((w) => ({ path: w.path, base64: Buffer.from(w.data).toString('base64'), mode: w.mode ?? 0o644, exclusive: w.exclusive ?? false, ...(w.append ? { append: w.append } : {}) }));
}

/** Dates and bigints survive the journal: JSON alone would turn them into strings or throw. */
export function encodeResult(result: unknown): unknown {
  return JSON.parse(JSON.stringify(result, function (this: Record<string, unknown>, key, value: unknown) {
    const raw = this[key];
    if (raw instanceof Date) return { $date: raw.toISOString() };
    if (typeof raw === 'bigint') return { $bigint: raw.toString() };
    return value;
  }));
}

export function decodeResult<T>(encoded: unknown): T {
  return JSON.parse(JSON.stringify(encoded), (_key, value: unknown) => {
    if (value && typeof value === 'object' && '$date' in value) return new Date((value as { $date: string }).$date);
    if (value && typeof value === 'object' && '$bigint' in value) return BigInt((value as { $bigint: string }).$bigint);
    return value;
  }) as T;
}

/**
 * Applies one write unless the file already holds exactly these bytes (a rerun after a kill skips what was
 * done). The file is fsynced; its directory is not (see finishCommit).
 */
async function applyWrite(write: StoredWrite): Promise<string | undefined> {
  const data = Buffer.from(write.base64, 'base64');
  if (write.append) {
    await applyAppend(write.path, data, write.append);
    return undefined;
  }
  const current = await readFile(write.path).catch((error: unknown) => {
    if (isMissing(error)) return undefined;
    throw error;
  });
  if (current?.equals(data)) return undefined;
  if (!write.exclusive) {
    await writeFileAtomic(write.path, data, write.mode, false);
    return undefined;
  }
  if (current !== undefined) return `${write.path} appeared meanwhile and was left alone`;
  // A delivery that cannot be made (its directory was removed meanwhile) must not block the commit forever.
  const failed = await writeFileExclusive(write.path, data, write.mode, false).then(
    () => undefined,
    (error: NodeJS.ErrnoException) => error.code ?? error.message,
  );
  if (failed === undefined) return undefined;
  return failed === 'EEXIST' ? `${write.path} appeared meanwhile and was left alone` : `${write.path} could not be written (${failed})`;
}

/**
 * Writes `data` at the append point and cuts the file there, unless it already ends so (a rerun after a kill,
 * even one in the middle of this write, lands the same bytes in the same place). Refused when the bytes before
 * the point are not the ones the change was planned on: the file was edited outside the lock meanwhile.
 */
async function applyAppend(path: string, data: Buffer, point: AppendPoint): Promise<void> {
  const file = await open(path, 'r+');
  try {
    const { size } = await file.stat();
    const tailStart = Math.max(0, point.after - APPEND_TAIL);
    const seen = Buffer.alloc(Math.max(0, Math.min(size, point.after + data.length) - tailStart));
    await file.read(seen, 0, seen.length, tailStart);
    if (size < point.after || sha256(seen.subarray(0, point.after - tailStart)) !== point.tailSha256) {
      throw new CaError(`${printable(path)} does not begin with the content this change was planned on (edited meanwhile?), so the change was left unfinished in its journal — restore the file from your backup, then finish the change with \`hsm-openssl-ca check --repair\``);
    }
    if (size === point.after + data.length && seen.subarray(point.after - tailStart).equals(data)) return;
    await file.write(data, 0, data.length, point.after);
    await file.truncate(point.after + data.length);
    await file.sync();
  } finally {
    await file.close();
  }
}

/**
 * Finishes a journalled commit: every write, then the audit lines, then audit.head, then the journal goes.
 * Each step is idempotent, so a commit killed anywhere — even while being finished — finishes the same way.
 * Returns what could not be delivered (an --out file that appeared meanwhile).
 */
export async function finishCommit(dir: string, pending: PendingCommit): Promise<string[]> {
  const notes: string[] = [];
  for (const write of pending.writes) {
    const note = await applyWrite(write);
    if (note) notes.push(note);
  }
  // Each directory once, not once per file (a batch writes hundreds into newcerts/): before the audit lines
  // and the journal's removal, so nothing recorded as done can be lost with its directory entry.
  for (const parent of new Set(pending.writes.map((write) => dirname(write.path)))) await syncDirectory(parent);
  await appendPrepared(dir, pending.audit);
  await writeFileAtomic(auditHeadPath(dir), auditHeadText(pending.audit.head));
  await removePending(dir);
  return notes;
}

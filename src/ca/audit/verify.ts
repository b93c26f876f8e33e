import { closeSync, openSync, readSync } from 'node:fs';
import { CaError, printable } from '../../errors.js';
import { serialValue } from '../signing/serial.js';
import { readAuditHead } from './head.js';
import type { PreparedAudit } from './log.js';
import { auditPath, GENESIS_HASH, isMissing, NEWLINE, parseLine, sha256Hex, type AuditRecord } from './record.js';

/** A problem with one line of the log; line 0 is about the log as a whole (its head, its absence). */
export interface AuditProblem {
  readonly line: number;
  readonly problem: string;
}

/**
 * What the log records, as far as comparing it with the databases needs (crosscheck.ts): kept instead of the
 * parsed records, so verifying a log of 100,000 records holds three small sets, not 100,000 objects.
 */
export interface AuditRecorded {
  readonly init: boolean;
  /** Serials with a `certificate-issued` record. */
  readonly issued: ReadonlySet<bigint>;
  /** Serials with a `revoked` record. */
  readonly revoked: ReadonlySet<bigint>;
}

export interface AuditVerification {
  /** Complete lines. */
  readonly records: number;
  /** What the records that parsed say was issued and revoked. */
  readonly recorded: AuditRecorded;
  /** Empty when the log is intact and ends where audit.head says. */
  readonly problems: readonly AuditProblem[];
  /** Worth knowing, never a reason to refuse a change: the wall clock stepped back, the head is not anchored yet. */
  readonly warnings: readonly AuditProblem[];
  readonly lastHash: string;
}

const CHUNK_BYTES = 1 << 20;

/**
 * Calls `line` with each complete line of the file (without its newline), reading a chunk at a time so a log
 * of 100,000 records is never held whole; returns the bytes after the last newline, if any. A missing file
 * has no lines.
 */
function forEachLine(path: string, line: (bytes: Buffer) => void): Buffer | undefined {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (error) {
    if (isMissing(error)) return undefined;
    throw new CaError(`cannot read the audit log ${printable(path)}: ${(error as Error).message}`);
  }
  // The start of a line that runs across chunks, in pieces: joined once, when its newline comes.
  let pieces: Buffer[] = [];
  try {
    for (;;) {
      const chunk = Buffer.allocUnsafe(CHUNK_BYTES);
      const read = readSync(fd, chunk, 0, CHUNK_BYTES, null);
      if (read === 0) break;
      const data = chunk.subarray(0, read);
      let start = 0;
      for (let end = data.indexOf(NEWLINE); end >= 0; end = data.indexOf(NEWLINE, start)) {
        const piece = data.subarray(start, end);
        line(pieces.length > 0 ? Buffer.concat([...pieces, piece]) : piece);
        pieces = [];
        start = end + 1;
      }
      if (start < read) pieces.push(data.subarray(start));
    }
  } catch (error) {
    throw new CaError(`cannot read the audit log ${printable(path)}: ${(error as Error).message}`);
  } finally {
    closeSync(fd);
  }
  return pieces.length > 0 ? Buffer.concat(pieces) : undefined;
}

function note(recorded: { init: boolean; issued: Set<bigint>; revoked: Set<bigint> }, record: AuditRecord): void {
  if (record.action === 'init') recorded.init = true;
  const serial = record.serial !== undefined && /^[0-9A-Fa-f]+$/.test(record.serial) ? serialValue(record.serial) : undefined;
  if (serial === undefined) return;
  if (record.action === 'certificate-issued') recorded.issued.add(serial);
  else if (record.action === 'revoked') recorded.revoked.add(serial);
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

type Head = Awaited<ReturnType<typeof readAuditHead>>;

/** What the walk over the lines keeps for the head's check: the hash of the line the head names, the lines after it. */
interface HeadEvidence {
  lines: number;
  anchoredHash: string | undefined;
  after: Buffer[];
}

/**
 * Where the log must end: audit.head names the newest committed line. Lines after it are allowed only as the
 * prepared lines of an interrupted commit (`pending`), which finishing it anchors.
 */
function headProblems(head: Head, seen: HeadEvidence, pending: PreparedAudit | undefined): { problems: AuditProblem[]; warnings: AuditProblem[] } {
  if (head === undefined) {
    const warning = { line: 0, problem: 'audit.head is missing, so removing the newest lines would go unnoticed (a CA made before audit.head existed, or the file was deleted); the next change writes it' };
    return { problems: [], warnings: seen.lines > 0 ? [warning] : [] };
  }
  if ('unreadable' in head) return { problems: [{ line: 0, problem: `audit.head is unreadable (${printable(head.unreadable)}): restore it from your backup` }], warnings: [] };
  if (seen.lines < head.seq) {
    const cut = head.seq - seen.lines;
    return { problems: [{ line: 0, problem: `audit.head says the log ends at record ${head.seq}, but it has ${seen.lines}: the newest ${cut} record(s) were removed${seen.lines === 0 ? ' (the log was deleted or emptied)' : ''} — restore audit.log from your backup` }], warnings: [] };
  }
  const problems: AuditProblem[] = [];
  const anchored = head.seq === 0 ? GENESIS_HASH : seen.anchoredHash;
  if (anchored !== head.hash) problems.push({ line: head.seq, problem: `this is not the line audit.head anchors (record ${head.seq}): the log was rewritten or this line changed — restore audit.log from your backup` });
  const prepared = new Set(pending?.lines ?? []);
  seen.after.forEach((bytes, i) => {
    if (!prepared.has(bytes.toString('utf8'))) problems.push({ line: head.seq + i + 1, problem: `appended after the newest committed record (audit.head says ${head.seq}), not by a hsm-openssl-ca change` });
  });
  return { problems, warnings: [] };
}

/**
 * Checks the whole log: every line parses, seq is 1..n without gaps, each prev matches the previous line's
 * hash, and the log ends where audit.head says. The order is the seq's: a wall clock that stepped back is a
 * warning, never a problem (it must not stop a revocation). `lastHash` is the hash the next record will
 * chain to; kept elsewhere too, it exposes a rewrite of log and head together. A missing log is intact with
 * 0 records unless audit.head says otherwise.
 */
export async function verifyAudit(dir: string, options: { pending?: PreparedAudit } = {}): Promise<AuditVerification> {
  const head = await readAuditHead(dir);
  const headSeq = head !== undefined && !('unreadable' in head) ? head.seq : undefined;
  const problems: AuditProblem[] = [];
  const warnings: AuditProblem[] = [];
  const recorded = { init: false, issued: new Set<bigint>(), revoked: new Set<bigint>() };
  const seen: HeadEvidence = { lines: 0, anchoredHash: undefined, after: [] };
  let previousHash = GENESIS_HASH;
  // The last line that parsed: a broken line in between does not make every later seq look wrong.
  let lastGood: { line: number; seq: number; time: string } | undefined;
  const incomplete = forEachLine(auditPath(dir), (bytes) => {
    const lineNumber = ++seen.lines;
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
      if (lastGood && Date.parse(time) < Date.parse(lastGood.time)) {
        warnings.push({ line: lineNumber, problem: `time ${time} is earlier than line ${lastGood.line}'s ${lastGood.time}: the clock stepped back (records are ordered by seq)` });
      }
      note(recorded, parsed.record);
      lastGood = { line: lineNumber, seq, time };
    }
    previousHash = sha256Hex(bytes);
    if (lineNumber === headSeq) seen.anchoredHash = previousHash;
    // A copy, so that the 1 MiB chunk `bytes` lies in is not kept alive for it.
    if (headSeq !== undefined && lineNumber > headSeq) seen.after.push(Buffer.from(bytes));
  });
  if (incomplete) problems.push({ line: seen.lines + 1, problem: 'incomplete last line (interrupted write?)' });
  const ends = headProblems(head, seen, options.pending);
  return { records: seen.lines, recorded, problems: [...problems, ...ends.problems], warnings: [...ends.warnings, ...warnings], lastHash: previousHash };
}

import { readFile } from 'node:fs/promises';
import { CaError, printable } from '../../errors.js';
import { readAuditHead } from './head.js';
import type { PreparedAudit } from './log.js';
import { auditPath, GENESIS_HASH, isMissing, NEWLINE, parseLine, sha256Hex, type AuditRecord } from './record.js';

/** A problem with one line of the log; line 0 is about the log as a whole (its head, its absence). */
export interface AuditProblem {
  readonly line: number;
  readonly problem: string;
}

export interface AuditVerification {
  /** Complete lines. */
  readonly records: number;
  /** The records that parsed, in file order. */
  readonly entries: readonly AuditRecord[];
  /** Empty when the log is intact and ends where audit.head says. */
  readonly problems: readonly AuditProblem[];
  /** Worth knowing, never a reason to refuse a change: the wall clock stepped back, the head is not anchored yet. */
  readonly warnings: readonly AuditProblem[];
  readonly lastHash: string;
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
 * Where the log must end: audit.head names the newest committed line. Lines after it are allowed only as the
 * prepared lines of an interrupted commit (`pending`), which finishing it anchors.
 */
async function headProblems(dir: string, lines: readonly Buffer[], pending: PreparedAudit | undefined): Promise<{ problems: AuditProblem[]; warnings: AuditProblem[] }> {
  const head = await readAuditHead(dir);
  if (head === undefined) {
    const warning = { line: 0, problem: 'audit.head is missing, so removing the newest lines would go unnoticed (a CA made before audit.head existed, or the file was deleted); the next change writes it' };
    return { problems: [], warnings: lines.length > 0 ? [warning] : [] };
  }
  if ('unreadable' in head) return { problems: [{ line: 0, problem: `audit.head is unreadable (${printable(head.unreadable)}): restore it from your backup` }], warnings: [] };
  if (lines.length < head.seq) {
    const cut = head.seq - lines.length;
    return { problems: [{ line: 0, problem: `audit.head says the log ends at record ${head.seq}, but it has ${lines.length}: the newest ${cut} record(s) were removed${lines.length === 0 ? ' (the log was deleted or emptied)' : ''} — restore audit.log from your backup` }], warnings: [] };
  }
  const problems: AuditProblem[] = [];
  const anchored = head.seq === 0 ? GENESIS_HASH : sha256Hex(lines[head.seq - 1]!);
  if (anchored !== head.hash) problems.push({ line: head.seq, problem: `this is not the line audit.head anchors (record ${head.seq}): the log was rewritten or this line changed — restore audit.log from your backup` });
  const prepared = new Set(pending?.lines ?? []);
  lines.slice(head.seq).forEach((bytes, i) => {
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
  const path = auditPath(dir);
  let content: Buffer;
  try {
    content = await readFile(path);
  } catch (error) {
    if (!isMissing(error)) throw new CaError(`cannot read the audit log ${printable(path)}: ${(error as Error).message}`);
    content = Buffer.alloc(0);
  }
  const { lines, incomplete } = splitLines(content);
  const problems: AuditProblem[] = [];
  const warnings: AuditProblem[] = [];
  const entries: AuditRecord[] = [];
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
      if (lastGood && Date.parse(time) < Date.parse(lastGood.time)) {
        warnings.push({ line: lineNumber, problem: `time ${time} is earlier than line ${lastGood.line}'s ${lastGood.time}: the clock stepped back (records are ordered by seq)` });
      }
      entries.push(parsed.record);
      lastGood = { line: lineNumber, seq, time };
    }
    previousHash = sha256Hex(bytes);
  });
  if (incomplete) problems.push({ line: lines.length + 1, problem: 'incomplete last line (interrupted write?)' });
  const head = await headProblems(dir, lines, options.pending);
  return { records: lines.length, entries, problems: [...problems, ...head.problems], warnings: [...head.warnings, ...warnings], lastHash: previousHash };
}

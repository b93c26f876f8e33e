import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../../fs-atomic.js';
import { appendPrepared, prepareAudit, type AuditHead } from './log.js';
import { isMissing, type AuditEvent, type AuditRecord } from './record.js';

/**
 * `DIR/audit.head`: the seq and hash of the log's newest line, rewritten by every change in the same
 * journalled commit that appends its records. The chain alone cannot show that its last lines were cut
 * off, or that the whole file was deleted; against the head both stand out.
 */
export const AUDIT_HEAD_FILE = 'audit.head';

export function auditHeadPath(dir: string): string {
  return join(dir, AUDIT_HEAD_FILE);
}

export function auditHeadText(head: AuditHead): string {
  return `${JSON.stringify({ seq: head.seq, hash: head.hash })}\n`;
}

/** The recorded head; undefined when there is none (a CA made before heads existed), a string when it is unreadable. */
export async function readAuditHead(dir: string): Promise<AuditHead | undefined | { readonly unreadable: string }> {
  let text: string;
  try {
    text = await readFile(auditHeadPath(dir), 'utf8');
  } catch (error) {
    if (isMissing(error)) return undefined;
    return { unreadable: (error as Error).message };
  }
  try {
    const value = JSON.parse(text) as Record<string, unknown>;
    if (Number.isSafeInteger(value.seq) && (value.seq as number) >= 0 && typeof value.hash === 'string' && /^[0-9a-f]{64}$/.test(value.hash)) {
      return { seq: value.seq as number, hash: value.hash };
    }
  } catch {
    // reported below
  }
  return { unreadable: 'not {"seq": N, "hash": "<64 hex>"}' };
}

/**
 * Appends one record and moves the head, for the one change that needs no journal: `init`, which creates
 * the log (journalled changes append through their commit).
 */
export async function appendAudit(dir: string, event: AuditEvent, now: Date = new Date()): Promise<AuditRecord> {
  const prepared = await prepareAudit(dir, [event], now);
  await appendPrepared(dir, prepared);
  await writeFileAtomic(auditHeadPath(dir), auditHeadText(prepared.head));
  return JSON.parse(prepared.lines[0]!) as AuditRecord;
}

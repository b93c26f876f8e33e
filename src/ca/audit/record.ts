import { createHash } from 'node:crypto';
import { userInfo } from 'node:os';
import { join } from 'node:path';

/**
 * The CA's audit log: `DIR/audit.log`, one JSON object per line, each recording one change to the CA.
 *
 * Every record carries `prev`, the SHA-256 of the previous line's exact bytes, so editing, removing or
 * reordering any line breaks the chain at the line after it. What the chain cannot show from the file alone:
 * - removing (or editing) the LAST lines: nothing after them vouches for them. Every change therefore
 *   also writes `audit.head` (see head.ts), the seq and hash of the newest line, in the same journalled
 *   commit; `verifyAudit` compares the two, and prints `lastHash` to record elsewhere as well.
 * - a rewrite of the whole file: the hashes are unkeyed, so whoever can write the file can recompute every
 *   `prev`. Again only a `lastHash` kept elsewhere exposes that.
 * Secrets never go in: records are built field by field from `AuditEvent`, which has no place for a PIN.
 */

export const AUDIT_FILE = 'audit.log';

export type AuditAction = 'init' | 'key-generated' | 'certificate-issued' | 'revoked' | 'crl-published';

export const AUDIT_ACTIONS: readonly AuditAction[] = ['init', 'key-generated', 'certificate-issued', 'revoked', 'crl-published'];

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

export const GENESIS_HASH = '0'.repeat(64);
export const NEWLINE = 0x0a;

const OPTIONAL_STRING_FIELDS = ['serial', 'subject', 'certificateSha256', 'keyUri', 'detail'] as const;
const KNOWN_FIELDS = new Set(['seq', 'time', 'user', 'action', 'command', ...OPTIONAL_STRING_FIELDS, 'sans', 'prev']);

export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
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
export function buildRecord(event: AuditEvent, seq: number, time: string, prev: string): AuditRecord {
  const optional: { -readonly [K in keyof AuditEvent]?: AuditEvent[K] } = {};
  if (event.serial !== undefined) optional.serial = event.serial;
  if (event.subject !== undefined) optional.subject = event.subject;
  if (event.sans !== undefined) optional.sans = [...event.sans];
  if (event.certificateSha256 !== undefined) optional.certificateSha256 = event.certificateSha256;
  if (event.keyUri !== undefined) optional.keyUri = event.keyUri;
  if (event.detail !== undefined) optional.detail = event.detail;
  return { seq, time, user: currentUser(), action: event.action, command: event.command, ...optional, prev };
}

export type ParsedLine = { readonly record: AuditRecord } | { readonly problem: string };

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/** Parses one line's bytes and checks the record's shape (not its place in the chain). */
export function parseLine(bytes: Uint8Array): ParsedLine {
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


export function auditPath(dir: string): string {
  return join(dir, AUDIT_FILE);
}

export function isMissing(error: unknown): boolean {
  return (error as NodeJS.ErrnoException).code === 'ENOENT';
}

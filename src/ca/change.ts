import { createHash } from 'node:crypto';
import { CaError } from '../errors.js';
import type { DecodedCertificate } from '../x509/decode.js';
import { appendAudit, verifyAudit, type AuditEvent } from './audit.js';
import { withCaLock } from './lock.js';

/** What a change to the CA directory produced, and the audit records that describe it. */
export interface Change<T> {
  readonly result: T;
  readonly audit: readonly AuditEvent[];
}

/**
 * Runs one change to the CA directory: under its lock, only when the audit log is intact (a change must
 * never be chained onto a damaged log), and with the change's records appended once it is committed.
 */
export async function withCaChange<T>(dir: string, work: () => Promise<Change<T>>, lock: { timeoutMs?: number; onWait?: (message: string) => void } = {}): Promise<T> {
  return withCaLock(dir, async () => {
    const { problems } = await verifyAudit(dir);
    if (problems.length > 0) {
      const first = problems[0]!;
      throw new CaError(`audit.log is damaged (line ${first.line}: ${first.problem}); nothing was changed — investigate with \`hsm-openssl-ca audit verify --dir ${dir}\` and restore the log from a backup`);
    }
    const { result, audit } = await work();
    for (const event of audit) await appendAudit(dir, event);
    return result;
  }, lock);
}

/** The audit fields of an issued certificate. */
export function certificateAudit(cert: DecodedCertificate, subject: string, sans: readonly string[] = []): Pick<AuditEvent, 'serial' | 'subject' | 'sans' | 'certificateSha256'> {
  return { serial: cert.serialHex, subject, sans, certificateSha256: createHash('sha256').update(cert.der).digest('hex') };
}

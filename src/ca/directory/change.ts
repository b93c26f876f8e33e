import { createHash } from 'node:crypto';
import { CaError, printable } from '../../errors.js';
import type { DecodedCertificate } from '../../x509/decode.js';
import { auditDisagreements } from '../audit/crosscheck.js';
import { prepareAudit } from '../audit/log.js';
import type { AuditEvent } from '../audit/record.js';
import { verifyAudit } from '../audit/verify.js';
import { recordVerified, unchangedSinceVerified } from '../audit/verified.js';
import { decodeResult, encodeResult, finishCommit, readPending, removePending, storeWrites, writePending, type KeyInGeneration, type PendingCommit, type PlannedWrite } from './journal.js';
import { withCaLock } from './lock.js';
import { COMMIT_ONLY_DIRECTORIES, removeInterruptedWrites } from './repair.js';

/** What a change to the CA directory produced: its result, the files it writes and the records describing it. */
export interface CommitPlan<T> {
  readonly result: T;
  readonly summary: string;
  readonly writes: readonly PlannedWrite[];
  readonly audit: readonly AuditEvent[];
}

export interface ChangeOptions {
  /** The command, as the journal and its messages name it: 'server', 'revoke --root'… */
  readonly command: string;
  /** Identifies this request: a rerun after a kill gets the interrupted run's result, not a second certificate. */
  readonly requestKey: string;
  readonly timeoutMs?: number;
  readonly onWait?: (message: string) => void;
  readonly say: (line: string) => void;
}

/** What `work` gets: a key pair an interrupted run of this command left on the token, and where to journal a new one. */
export interface ChangeContext {
  readonly leftoverKey: KeyInGeneration | undefined;
  readonly keyGenerationStarts: (key: KeyInGeneration) => Promise<void>;
}

/** Hashes the parts of a request into its key. */
export function requestKey(...parts: readonly (string | Buffer | number | boolean | undefined)[]): string {
  const hash = createHash('sha256');
  for (const part of parts) hash.update(`${part === undefined ? '' : Buffer.isBuffer(part) ? part.toString('base64') : String(part)}\0`);
  return hash.digest('hex');
}

/** Finishes an interrupted commit (the caller holds the lock); its result when it was this very request. */
async function finishInterrupted<T>(dir: string, options: ChangeOptions): Promise<{ resumed: T } | undefined> {
  const pending = await readPending(dir);
  if (pending?.phase !== 'committing') return undefined;
  const notes = await finishCommit(dir, pending);
  await removeInterruptedWrites(dir);
  options.say(`finished an interrupted \`${pending.command}\`: ${printable(pending.summary)}${notes.length ? ` (${notes.map(printable).join('; ')})` : ''}`);
  return pending.requestKey === options.requestKey ? { resumed: decodeResult<T>(pending.result) } : undefined;
}

/**
 * Run first by every changing command, before its own checks: an interrupted commit is finished, and when it
 * was the same request its result is the answer (the certificate is delivered, no second one is signed).
 */
export async function resumeInterrupted<T>(dir: string, options: ChangeOptions): Promise<T | undefined> {
  if ((await readPending(dir))?.phase !== 'committing') return undefined;
  const finished = await withCaLock(dir, () => finishInterrupted<T>(dir, options), options);
  return finished?.resumed;
}

/** A key pair left on the token by an interrupted key generation, for that same command to remove; refused for others. */
async function leftoverKeyFor(dir: string, command: string): Promise<KeyInGeneration | undefined> {
  const pending = await readPending(dir);
  if (pending?.phase !== 'generating-key') return undefined;
  if (pending.command === command) return pending.key;
  throw new CaError(`an interrupted \`${pending.command}\` left key pair '${printable(pending.key.label)}' (id ${pending.key.idHex}) on token '${printable(pending.key.tokenLabel)}' without a certificate; run \`hsm-openssl-ca ${pending.command} --dir ${printable(dir)}\` first — it removes that pair and starts over`);
}

/**
 * A change is never chained onto a log that is damaged, cut short, or disagrees with the databases. The full
 * verification reads the whole log and both databases; it is skipped when none of them was touched since
 * the last change committed (see verified.ts), which keeps a signing at 100,000 certificates O(1) here.
 */
async function requireIntactAudit(dir: string): Promise<void> {
  if (await unchangedSinceVerified(dir)) return;
  const { problems, recorded } = await verifyAudit(dir);
  const first = problems[0] ? `${problems[0].line > 0 ? `line ${problems[0].line}: ` : ''}${problems[0].problem}` : (await auditDisagreements(dir, recorded))[0];
  if (first === undefined) return;
  throw new CaError(`audit.log is damaged (${printable(first)}); nothing was changed — investigate with \`hsm-openssl-ca audit verify --dir ${dir}\``);
}

/**
 * Runs one change to the CA directory under its lock: an interrupted change is finished first, the audit log
 * must be intact, then `work` signs and verifies in its workspace and returns its plan, which is journalled
 * whole and only then applied — so a kill at any point leaves the change undone, done, or named by `check`.
 */
export async function withCaChange<T>(dir: string, work: (context: ChangeContext) => Promise<CommitPlan<T>>, options: ChangeOptions): Promise<T> {
  return withCaLock(dir, async () => {
    const finished = await finishInterrupted<T>(dir, options);
    if (finished) return finished.resumed;
    await removeInterruptedWrites(dir, COMMIT_ONLY_DIRECTORIES);
    await requireIntactAudit(dir);
    const leftoverKey = await leftoverKeyFor(dir, options.command);
    let journalled = leftoverKey !== undefined;
    let plan: CommitPlan<T>;
    try {
      plan = await work({
        leftoverKey,
        keyGenerationStarts: async (key) => {
          await writePending(dir, { phase: 'generating-key', command: options.command as 'root' | 'intermediate', key });
          journalled = true;
        },
      });
    } catch (error) {
      // A failure (not a kill) already removed any key pair it made; only a kill leaves the journal behind.
      if (journalled) await removePending(dir);
      throw error;
    }
    const commit: PendingCommit = {
      phase: 'committing',
      command: options.command,
      summary: plan.summary,
      requestKey: options.requestKey,
      writes: storeWrites(plan.writes),
      audit: await prepareAudit(dir, plan.audit),
      result: encodeResult(plan.result),
    };
    await writePending(dir, commit);
    const notes = await finishCommit(dir, commit);
    if (notes.length === 0) await recordVerified(dir);
    if (notes.length > 0) throw new CaError(`${plan.summary} was issued and recorded, but ${notes.map(printable).join('; ')}`);
    return plan.result;
  }, options);
}

/** The audit fields of an issued certificate. */
export function certificateAudit(cert: DecodedCertificate, subject: string, sans: readonly string[] = []): Pick<AuditEvent, 'serial' | 'subject' | 'sans' | 'certificateSha256'> {
  return { serial: cert.serialHex, subject, sans, certificateSha256: createHash('sha256').update(cert.der).digest('hex') };
}

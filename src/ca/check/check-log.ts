import { printable } from '../../errors.js';
import { auditDisagreements } from '../audit/crosscheck.js';
import { verifyAudit } from '../audit/verify.js';
import type { IndexEntry } from '../../tools/parse/index-txt.js';
import type { CheckFinding } from './check.js';
import { journalPath, readPending, type Pending } from '../directory/journal.js';

/** What `check` says of an interrupted change, and how it is finished. */
function interruptedFinding(dir: string, pending: Pending): CheckFinding {
  const path = journalPath(dir);
  if (pending.phase === 'committing') {
    return {
      level: 'repairable',
      text: `interrupted \`${pending.command}\`: ${pending.summary} was signed and verified, and ${path} holds all of it, but it was not completely written; finish it with \`hsm-openssl-ca check --repair --dir ${dir}\` (or run the same command again). The rest of the directory is checked once it is finished`,
    };
  }
  const { key } = pending;
  return {
    level: 'repairable',
    text: `interrupted \`${pending.command}\`: it generated key pair '${key.label}' (id ${key.idHex}) on token '${key.tokenLabel}' and made no certificate (${path}); run \`hsm-openssl-ca ${pending.command} --dir ${dir}\` again — it removes that pair and starts over`,
  };
}

/** The journal of an interrupted change, if any; `committing` says the directory is mid-commit. */
export async function checkInterrupted(dir: string): Promise<{ findings: CheckFinding[]; committing: boolean }> {
  const pending = await readPending(dir);
  if (!pending) return { findings: [{ level: 'ok', text: `${dir}: no interrupted change` }], committing: false };
  return { findings: [interruptedFinding(dir, pending)], committing: pending.phase === 'committing' };
}

/** The audit log: its chain, its head, and whether every issuance and revocation in the databases has its record. */
export async function checkAuditLog(dir: string, parsed: ReadonlyMap<string, Iterable<IndexEntry>>): Promise<CheckFinding[]> {
  const verify = `\`hsm-openssl-ca audit verify --dir ${dir}\``;
  const { records, recorded, problems, warnings } = await verifyAudit(dir);
  const findings: CheckFinding[] = problems.map((p) => ({
    level: 'broken',
    text: `audit.log ${p.line > 0 ? `line ${p.line}` : 'as a whole'}: ${printable(p.problem)} (${verify} lists every problem)`,
  }));
  for (const text of await auditDisagreements(dir, recorded, parsed)) findings.push({ level: 'broken', text });
  if (findings.length === 0) findings.push({ level: 'ok', text: `audit.log: ${records} record(s), hash chain intact, ends where audit.head says, every issuance and revocation recorded` });
  for (const w of warnings) findings.push({ level: 'ok', text: `audit.log ${w.line > 0 ? `line ${w.line}` : ''} (warning): ${printable(w.problem)}` });
  return findings;
}

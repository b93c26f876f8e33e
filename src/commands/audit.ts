import { resolve } from 'node:path';
import { auditDisagreements } from '../ca/audit/crosscheck.js';
import { verifyAudit } from '../ca/audit/verify.js';
import { CaError, printable } from '../errors.js';
import { emitJson, jsonOutput } from './json-output.js';
import { printReport } from './output.js';

/**
 * `audit verify`: checks DIR/audit.log's hash chain, its end against audit.head, and its records against
 * both databases. The last line's hash is printed so an operator can record it elsewhere too: a rewrite of
 * log and head together is only detectable against such a record.
 */
export async function auditVerifyCommand(options: { dir: string }): Promise<void> {
  const dir = resolve(options.dir);
  const { records, recorded, problems, warnings, lastHash } = await verifyAudit(dir);
  const disagreements = await auditDisagreements(dir, recorded);
  const intact = problems.length === 0 && disagreements.length === 0;
  if (jsonOutput()) emitJson({ log: `${dir}/audit.log`, records, lastHash, problems, disagreements, warnings });
  else printReport(`audit log ${dir}/audit.log`, [['records', String(records)], ['last hash', lastHash]], intact ? ['hash chain intact: no line edited, removed or reordered; the log ends where audit.head says; every issuance and revocation in index.txt has its record'] : []);
  const where = (line: number): string => (line > 0 ? `line ${line}` : 'log');
  const lines = [...problems.map((p) => `  ${where(p.line)}: ${printable(p.problem)}`), ...disagreements.map((d) => `  database: ${printable(d)}`), ...warnings.map((w) => `  ${where(w.line)} (warning): ${printable(w.problem)}`)];
  if (lines.length > 0 && !jsonOutput()) process.stdout.write(`${lines.join('\n')}\n`);
  if (!intact) {
    throw new CaError(`audit.log fails verification (${problems.length + disagreements.length} problem(s)); restore it from a backup and find out who changed it`);
  }
}

import { resolve } from 'node:path';
import { verifyAudit } from '../ca/audit.js';
import { CaError, printable } from '../errors.js';
import { printReport } from './output.js';

/**
 * `audit verify`: checks the hash chain of DIR/audit.log. The last line's hash is printed so an operator
 * can record it elsewhere: removing the newest lines is only detectable against such a record.
 */
export async function auditVerifyCommand(options: { dir: string }): Promise<void> {
  const dir = resolve(options.dir);
  const { records, problems, lastHash } = await verifyAudit(dir);
  printReport(`audit log ${dir}/audit.log`, [['records', String(records)], ['last hash', lastHash]], problems.length === 0 ? ['hash chain intact: no line edited, removed or reordered'] : []);
  if (problems.length > 0) {
    process.stdout.write(problems.map((p) => `  line ${p.line}: ${printable(p.problem)}`).join('\n') + '\n');
    throw new CaError(`audit.log fails verification (${problems.length} problem(s)); restore it from a backup and find out who changed it`);
  }
}

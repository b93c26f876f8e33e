import { resolve } from 'node:path';
import { checkCaDirectory } from '../ca/check.js';
import { CaError, printable } from '../errors.js';

/** `check`: what is wrong with the CA directory, if anything; exit 1 when something is broken (repairable states only warn). */
export async function checkCommand(options: { dir: string }): Promise<void> {
  const findings = await checkCaDirectory(resolve(options.dir));
  const label = { ok: 'ok    ', repairable: 'REPAIR', broken: 'BROKEN' } as const;
  process.stdout.write(findings.map((f) => `${label[f.level]}  ${printable(f.text)}`).join('\n') + '\n');
  const broken = findings.filter((f) => f.level === 'broken').length;
  const repairable = findings.filter((f) => f.level === 'repairable').length;
  if (broken > 0) throw new CaError(`${broken} broken and ${repairable} repairable finding(s); fix the BROKEN lines first`);
  if (repairable > 0) process.stderr.write(`hsm-openssl-ca: ${repairable} finding(s) to repair; each REPAIR line says how — the CA can keep signing meanwhile\n`);
}

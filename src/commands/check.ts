import { resolve } from 'node:path';
import { checkCaDirectory } from '../ca/check/check.js';
import { repairCaDirectory } from '../ca/directory/repair.js';
import { CaError, printable } from '../errors.js';
import { emitJson, jsonOutput } from './json-output.js';

/** `check`: what is wrong with the CA directory, if anything; exit 1 when something is broken (repairable states only warn). */
export async function checkCommand(options: { dir: string; repair?: boolean }): Promise<void> {
  if (options.repair) {
    const done = await repairCaDirectory(resolve(options.dir), { onWait: (line) => process.stderr.write(`${line}\n`) });
    if (jsonOutput()) emitJson({ repaired: done });
    else process.stdout.write(done.length ? done.map((line) => `fixed   ${printable(line)}\n`).join('') : 'fixed   nothing: no interrupted change and no leftover of an interrupted write\n');
  }
  const findings = await checkCaDirectory(resolve(options.dir));
  const label = { ok: 'ok    ', repairable: 'REPAIR', broken: 'BROKEN' } as const;
  if (jsonOutput()) emitJson({ findings });
  else process.stdout.write(findings.map((f) => `${label[f.level]}  ${printable(f.text)}`).join('\n') + '\n');
  const broken = findings.filter((f) => f.level === 'broken').length;
  const repairable = findings.filter((f) => f.level === 'repairable').length;
  if (broken > 0) throw new CaError(`${broken} broken and ${repairable} repairable finding(s); fix the BROKEN lines first`);
  if (repairable > 0 && !jsonOutput()) process.stderr.write(`hsm-openssl-ca: ${repairable} finding(s) to repair; each REPAIR line says how — the CA can keep signing meanwhile\n`);
}

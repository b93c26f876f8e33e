import { diagnose } from '../ca/check/doctor.js';
import { CaError, printable } from '../errors.js';
import { emitJson, jsonOutput } from './json-output.js';
import { run } from '../tools/run.js';

export async function doctorCommand(options: { dir: string; module?: string; token?: string }): Promise<void> {
  const findings = await diagnose({ ...options, run });
  if (jsonOutput()) emitJson({ findings });
  else process.stdout.write(findings.map((f) => `${f.level === 'ok' ? 'ok  ' : f.level === 'warn' ? 'warn' : 'FAIL'}  ${printable(f.text)}`).join('\n') + '\n');
  const failures = findings.filter((f) => f.level === 'fail').length;
  if (failures > 0) throw new CaError(`${failures} problem(s) found; fix the FAIL lines above`);
}

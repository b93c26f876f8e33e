import type { TokenCommandOptions } from '../ca/context.js';
import { createIntermediate } from '../ca/intermediate.js';
import { day, printReport } from './output.js';

export async function intermediateCommand(options: TokenCommandOptions & { days: number; label: string }): Promise<void> {
  const intermediate = await createIntermediate(options);
  printReport(
    `intermediate CA created: ${intermediate.certificate}`,
    [
      ['subject', intermediate.subject],
      ['key', intermediate.keyUri],
      ['expires', day(intermediate.notAfter)],
      ['files', intermediate.files.join(', ')],
      ['next', `hsm-openssl-ca server REQ.csr --dir ${options.dir}`],
    ],
    intermediate.checks,
  );
}

import type { TokenCommandOptions } from '../ca/context.js';
import { createRoot } from '../ca/root.js';
import { day, printReport } from './output.js';

export async function rootCommand(options: TokenCommandOptions & { days: number; label: string }): Promise<void> {
  const root = await createRoot(options);
  printReport(
    `root CA created: ${root.certificate}`,
    [
      ['subject', root.subject],
      ['key', root.keyUri],
      ['expires', day(root.notAfter)],
      ['files', root.files.join(', ')],
      ['next', `hsm-openssl-ca intermediate --dir ${options.dir}`],
    ],
    root.checks,
  );
}

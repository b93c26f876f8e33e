import type { TokenCommandOptions } from '../ca/context.js';
import { signServer } from '../ca/server.js';
import { day, printReport } from './output.js';

export async function serverCommand(options: TokenCommandOptions & { csrPath: string; days: number; out?: string }): Promise<void> {
  const issued = await signServer(options);
  printReport(
    `server certificate issued: ${issued.certificate}`,
    [
      ['serial', issued.serial],
      ['subject', issued.subject],
      ['SANs', issued.sans.join(', ') || '(none)'],
      ['expires', day(issued.notAfter)],
      ...(issued.ignoredExtensions.length > 0 ? [['ignored', `${issued.ignoredExtensions.join(', ')} (requested by the CSR, not signed)`] as [string, string]] : []),
    ],
    issued.checks,
  );
}

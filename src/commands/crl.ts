import type { TokenCommandOptions } from '../ca/directory/context.js';
import { publishCrl } from '../ca/signing/revocation.js';
import { dryRunCrl } from '../ca/shadow/dry-run.js';
import { day, printDryRun, printReport } from './output.js';

export async function crlCommand(options: TokenCommandOptions & { root: boolean; days: number; dryRun?: boolean }): Promise<void> {
  if (options.dryRun) return printDryRun(await dryRunCrl(options));
  const crl = await publishCrl(options);
  printReport(
    `CRL published: ${crl.path}`,
    [
      ['CRL number', String(crl.number)],
      ['next update', day(crl.nextUpdate)],
      ['revoked', `${crl.revokedCount} certificate(s)`],
    ],
    crl.checks,
  );
}

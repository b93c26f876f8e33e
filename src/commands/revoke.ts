import type { TokenCommandOptions } from '../ca/directory/context.js';
import { revokeCertificate, type RevocationReason } from '../ca/signing/revocation.js';
import { dryRunCrl } from '../ca/shadow/dry-run.js';
import { crlFields } from './crl.js';
import { printDryRun, printReport } from './output.js';

export async function revokeCommand(options: TokenCommandOptions & { target?: string; reason: RevocationReason; root: boolean; crlDays: number; dryRun?: boolean }): Promise<void> {
  if (options.dryRun) return printDryRun(await dryRunCrl({ ...options, days: options.crlDays, revoke: { ...(options.target !== undefined ? { target: options.target } : {}), reason: options.reason } }));
  const revoked = await revokeCertificate(options);
  printReport(
    `revoked serial ${revoked.serial}: ${revoked.subject}`,
    [
      ['reason', revoked.reason],
      ['CRL', revoked.crl.path],
      ...crlFields(revoked.crl),
      ['revoked', `${revoked.crl.revokedCount} certificate(s) on the CRL`],
    ],
    [...revoked.crl.checks, ...revoked.crl.earlierKeys.flatMap((earlier) => earlier.checks)],
  );
}

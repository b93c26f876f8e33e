import type { TokenCommandOptions } from '../ca/directory/context.js';
import { revokeCertificate, type RevocationReason } from '../ca/signing/revocation.js';
import { crlFields } from './crl.js';
import { printReport } from './output.js';

export async function revokeCommand(options: TokenCommandOptions & { target?: string; reason: RevocationReason; root: boolean; crlDays: number }): Promise<void> {
  const revoked = await revokeCertificate(options);
  printReport(
    `revoked serial ${revoked.serial}: ${revoked.subject}`,
    [
      ['reason', revoked.reason],
      ['CRL', revoked.crl.path],
      ...crlFields(revoked.crl),
      ['revoked', `${revoked.crl.revokedCount} certificate(s) on the CRL`],
    ],
    revoked.crl.checks,
  );
}

import type { TokenCommandOptions } from '../ca/directory/context.js';
import { renewCertificate } from '../ca/signing/renew.js';
import { printLeafReport, printReport } from './output.js';

export async function renewCommand(options: TokenCommandOptions & { target: string; days: number; out?: string; revokeOld: boolean }): Promise<void> {
  const { issued, revocation } = await renewCertificate(options);
  printLeafReport(`renewed as ${issued.profile} certificate`, issued);
  if (revocation) printReport(`revoked the old serial ${revocation.serial} (superseded)`, [['CRL', revocation.crl.path], ['CRL number', String(revocation.crl.number)]], []);
}

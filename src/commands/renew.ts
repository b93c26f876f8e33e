import type { TokenCommandOptions } from '../ca/directory/context.js';
import { renewalRequest, renewCertificate } from '../ca/signing/renew.js';
import { dryRunLeaf } from '../ca/shadow/dry-run.js';
import { printDryRun, printLeafReport, printReport } from './output.js';

export async function renewCommand(options: TokenCommandOptions & { target: string; days: number; out?: string; revokeOld: boolean; dryRun?: boolean }): Promise<void> {
  // A dry run shows the new certificate; with --revoke-old, not yet the CRL that would follow.
  if (options.dryRun) return printDryRun(await dryRunLeaf((await renewalRequest(options)).request));
  const { issued, revocation } = await renewCertificate(options);
  printLeafReport(`renewed as ${issued.profile} certificate`, issued);
  if (revocation) printReport(`revoked the old serial ${revocation.serial} (superseded)`, [['CRL', revocation.crl.path], ['CRL number', String(revocation.crl.number)]], []);
}

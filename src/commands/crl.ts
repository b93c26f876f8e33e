import type { TokenCommandOptions } from '../ca/directory/context.js';
import { dryRunCrl } from '../ca/shadow/dry-run.js';
import { publishCrl, type PublishedCrl } from '../ca/signing/revocation.js';
import { day, printDryRun, printReport } from './output.js';

/** Where the new CRL went and where it must be copied: the DER file is what a CRL Distribution Point serves. */
export function crlFields(crl: PublishedCrl): Array<[string, string]> {
  return [
    ['DER', crl.derPath],
    ['publish', crl.url ? `copy ${crl.derPath} to ${crl.url}` : `copy ${crl.derPath} where relying parties fetch it (no CRL URL set: see init --crl-url, --root-crl-url)`],
    ['CRL number', String(crl.number)],
    ['next update', day(crl.nextUpdate)],
    // Numbered: --json makes each row a key of one object.
    ...crl.earlierKeys.map((earlier, i): [string, string] => [`earlier key ${i + 1}`, `${earlier.title}: CRL number ${earlier.number}, next update ${day(earlier.nextUpdate)}; ${earlier.url ? `copy ${earlier.derPath} to ${earlier.url}` : `publish ${earlier.derPath}`}`]),
  ];
}

export async function crlCommand(options: TokenCommandOptions & { root: boolean; days: number; dryRun?: boolean }): Promise<void> {
  if (options.dryRun) return printDryRun(await dryRunCrl(options));
  const crl = await publishCrl(options);
  printReport(`CRL published: ${crl.path}`, [...crlFields(crl), ['revoked', `${crl.revokedCount} certificate(s)`]], [...crl.checks, ...crl.earlierKeys.flatMap((earlier) => earlier.checks)]);
}

import { loadCa } from '../ca/directory/context.js';
import { caStatus } from '../ca/inventory/inventory.js';
import { CaError } from '../errors.js';
import { day, printReport } from './output.js';

/**
 * `status`: both CAs; fails (exit 1) when a CA certificate expires within `warnDays` or a CRL's nextUpdate
 * comes within `crlWarnDays`, so cron can alert. The two windows differ because their lifetimes do: a CRL
 * made with the default `crl --days 30` must pass right after it is published and still warn a week ahead.
 */
export async function statusCommand(options: { dir: string; warnDays: number; crlWarnDays: number }): Promise<void> {
  const ca = await loadCa({ dir: options.dir });
  const horizon = Date.now() + options.warnDays * 86_400_000;
  const crlHorizon = Date.now() + options.crlWarnDays * 86_400_000;
  const warnings: string[] = [];
  for (const authority of await caStatus(ca)) {
    printReport(
      `${authority.name} CA: ${authority.subject}`,
      [
        ['key', authority.keyUri],
        ['expires', day(authority.notAfter)],
        ['SHA-256', authority.fingerprint],
        ['issued', `${authority.issued} (${authority.revoked} revoked)`],
        ['CRL next', authority.crlNextUpdate ? day(authority.crlNextUpdate) : '(no CRL published)'],
        ...authority.earlierKeys.map((e, i): [string, string] => [`earlier key ${i + 1}`, `${e.title}: ${e.keyUri}, signs only its CRL until ${day(e.notAfter)}; CRL next ${e.crlNextUpdate ? day(e.crlNextUpdate) : '(no CRL published)'}`]),
      ],
      [],
    );
    if (authority.notAfter.getTime() <= horizon) warnings.push(`the ${authority.name} CA certificate expires ${day(authority.notAfter)}, within --warn-days ${options.warnDays}`);
    if (authority.crlNextUpdate && authority.crlNextUpdate.getTime() <= crlHorizon) warnings.push(`the ${authority.name} CRL's nextUpdate is ${day(authority.crlNextUpdate)}, within --crl-warn-days ${options.crlWarnDays} (publish one with \`hsm-openssl-ca crl${authority.name === 'root' ? ' --root' : ''}\`)`);
    for (const e of authority.earlierKeys) {
      // Its CRL's nextUpdate stops where its certificate does: no warning for what a new CRL could not extend.
      const extendable = e.crlNextUpdate && e.crlNextUpdate.getTime() + 86_400_000 < e.notAfter.getTime();
      if (extendable && e.crlNextUpdate!.getTime() <= crlHorizon) warnings.push(`the CRL of ${e.title} has nextUpdate ${day(e.crlNextUpdate!)}, within --crl-warn-days ${options.crlWarnDays} (publish one with \`hsm-openssl-ca crl\`)`);
    }
  }
  if (warnings.length > 0) throw new CaError(warnings.join('; '));
}

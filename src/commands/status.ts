import { loadCa } from '../ca/directory/context.js';
import { caStatus } from '../ca/inventory/inventory.js';
import { CaError } from '../errors.js';
import { day, printReport } from './output.js';

/** `status`: both CAs; fails (exit 1) when a CA certificate or CRL expires within `warnDays`, so cron can alert. */
export async function statusCommand(options: { dir: string; warnDays: number }): Promise<void> {
  const ca = await loadCa({ dir: options.dir });
  const horizon = Date.now() + options.warnDays * 86_400_000;
  const warnings: string[] = [];
  for (const authority of await caStatus(ca)) {
    printReport(
      `${authority.name} CA: ${authority.subject}`,
      [
        ['key', authority.keyUri],
        ['expires', day(authority.notAfter)],
        ['issued', `${authority.issued} (${authority.revoked} revoked)`],
        ['CRL next', authority.crlNextUpdate ? day(authority.crlNextUpdate) : '(no CRL published)'],
      ],
      [],
    );
    if (authority.notAfter.getTime() <= horizon) warnings.push(`the ${authority.name} CA certificate expires ${day(authority.notAfter)}`);
    if (authority.crlNextUpdate && authority.crlNextUpdate.getTime() <= horizon) warnings.push(`the ${authority.name} CRL's nextUpdate is ${day(authority.crlNextUpdate)} (publish one with \`hsm-openssl-ca crl${authority.name === 'root' ? ' --root' : ''}\`)`);
  }
  if (warnings.length > 0) throw new CaError(`${warnings.join('; ')} — within --warn-days ${options.warnDays}`);
}

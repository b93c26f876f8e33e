import { authority } from '../ca/signing/authority.js';
import { loadCa } from '../ca/directory/context.js';
import { issuedBy, markSuperseded, type IssuedCertificate } from '../ca/inventory/inventory.js';
import { printable } from '../errors.js';
import { emitJson } from './json-output.js';

/** `list`: what the intermediate issued (with `--root`: what the root signed, every intermediate), filtered; `--json` for scripts. */
export async function listCommand(options: { dir: string; expiring?: number; revoked: boolean; json: boolean; root?: boolean }): Promise<void> {
  const ca = await loadCa({ dir: options.dir });
  const horizon = Date.now() + (options.expiring ?? 0) * 86_400_000;
  const issued = await issuedBy(await authority(ca, options.root ? 'root' : 'intermediate'));
  const marked = options.root && ca.settings.intermediateKey ? markSuperseded(issued, (await authority(ca, 'intermediate')).certificate) : issued;
  const certificates = marked.filter(
    (c) => (!options.revoked || c.status === 'revoked') && (options.expiring === undefined || (c.status === 'valid' && c.notAfter.getTime() <= horizon)),
  );
  if (options.json) return emitJson(certificates);
  const cells = (c: IssuedCertificate): string[] => [c.serial, c.status, c.notAfter.toISOString().slice(0, 10), c.profile ?? '-', c.subject, c.sans.join(' ')].map(printable);
  const header = ['SERIAL', 'STATUS', 'NOT AFTER', 'PROFILE', 'SUBJECT', 'SANS'];
  // The padded columns' widths first, without making a row (the last column is not padded), then the lines: at
  // 100,000 certificates a table held whole, or rows made twice, was tens of MiB more. A loop, not
  // Math.max(...rows): 100,000 arguments would overflow the stack.
  const widths = header.map((h) => h.length);
  for (const c of certificates) {
    [c.serial, c.status, 'YYYY-MM-DD', c.profile ?? '-', c.subject].forEach((cell, i) => (widths[i] = Math.max(widths[i]!, printable(cell).length)));
  }
  const format = (row: string[]): string => row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  ');
  // A thousand lines per write: the whole table as one string would double the peak memory.
  process.stdout.write(`${format(header)}\n`);
  for (let start = 0; start < certificates.length; start += LINES_PER_WRITE) {
    process.stdout.write(`${certificates.slice(start, start + LINES_PER_WRITE).map((c) => format(cells(c))).join('\n')}\n`);
  }
}

const LINES_PER_WRITE = 1000;

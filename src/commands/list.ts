import { authority } from '../ca/signing/authority.js';
import { loadCa } from '../ca/directory/context.js';
import { issuedCertificates, markSuperseded, type IssuedCertificate } from '../ca/inventory/inventory.js';
import { printable } from '../errors.js';
import { emitJson } from './json-output.js';

/** `list`: what the intermediate issued (with `--root`: what the root signed, every intermediate), filtered; `--json` for scripts. */
export async function listCommand(options: { dir: string; expiring?: number; revoked: boolean; json: boolean; root?: boolean }): Promise<void> {
  const ca = await loadCa({ dir: options.dir });
  const horizon = Date.now() + (options.expiring ?? 0) * 86_400_000;
  const issued = issuedCertificates(await authority(ca, options.root ? 'root' : 'intermediate'));
  // What the root signed is a handful of intermediates: held whole, to compare with the active one.
  const marked = options.root && ca.settings.intermediateKey ? markSuperseded(await collected(issued), (await authority(ca, 'intermediate')).certificate) : issued;
  const wanted = (c: IssuedCertificate): boolean =>
    (!options.revoked || c.status === 'revoked') && (options.expiring === undefined || (c.status === 'valid' && c.notAfter.getTime() <= horizon));
  if (options.json) return emitJson(await collected(marked, wanted));
  writeTable(await tableOf(marked, wanted));
}

async function collected(certificates: AsyncIterable<IssuedCertificate> | Iterable<IssuedCertificate>, wanted = (_: IssuedCertificate): boolean => true): Promise<IssuedCertificate[]> {
  const kept: IssuedCertificate[] = [];
  for await (const c of certificates) if (wanted(c)) kept.push(c);
  return kept;
}

const HEADER = ['SERIAL', 'STATUS', 'NOT AFTER', 'PROFILE', 'SUBJECT', 'SANS'];

/**
 * The table's rows, each kept as its printable cells joined by a tab (printable() escapes every tab a cell
 * holds), and the widths of its padded columns. At 100,000 certificates their descriptions held until the
 * widths were known were 50 MiB of the peak; a row's one string is a fraction of that.
 */
async function tableOf(certificates: AsyncIterable<IssuedCertificate> | Iterable<IssuedCertificate>, wanted: (c: IssuedCertificate) => boolean): Promise<{ rows: string[]; widths: number[] }> {
  const rows: string[] = [];
  const widths = HEADER.map((h) => h.length);
  for await (const c of certificates) {
    if (!wanted(c)) continue;
    const cells = [c.serial, c.status, c.notAfter.toISOString().slice(0, 10), c.profile ?? '-', c.subject, c.sans.join(' ')].map(printable);
    // A loop, not Math.max(...rows) afterwards: 100,000 arguments would overflow the stack.
    cells.forEach((cell, i) => (widths[i] = Math.max(widths[i]!, cell.length)));
    rows.push(cells.join('\t'));
  }
  return { rows, widths };
}

/** The table, a thousand lines per write: the whole table as one string would double the peak memory. The last column is not padded. */
function writeTable({ rows, widths }: { rows: string[]; widths: number[] }): void {
  const format = (row: string[]): string => row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  ');
  process.stdout.write(`${format(HEADER)}\n`);
  for (let start = 0; start < rows.length; start += LINES_PER_WRITE) {
    process.stdout.write(`${rows.slice(start, start + LINES_PER_WRITE).map((row) => format(row.split('\t'))).join('\n')}\n`);
  }
}

const LINES_PER_WRITE = 1000;

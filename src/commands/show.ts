import { loadCa } from '../ca/directory/context.js';
import { describeCertificate } from '../ca/inventory/inventory.js';
import { lookup } from '../ca/inventory/lookup.js';
import { readCsr } from '../ca/signing/issue.js';
import type { IndexEntry } from '../tools/parse/index-txt.js';
import { formatName } from '../x509/decode.js';
import { sansFromRequestedExtensions } from '../x509/san.js';
import { describeKey } from '../x509/verify.js';
import { printReport } from './output.js';

function statusOf(entry: IndexEntry): string {
  if (entry.status === 'revoked') return `revoked ${entry.revokedAt?.toISOString().slice(0, 10)}${entry.reason ? ` (${entry.reason})` : ''}`;
  return entry.expires.getTime() < Date.now() ? 'expired' : 'valid';
}

/** `show TARGET`: a readable summary of an issued certificate, a CA certificate or a CSR. */
export async function showCommand(options: { dir: string; target: string }): Promise<void> {
  const ca = await loadCa({ dir: options.dir });
  const found = await lookup(ca, options.target);
  if (found.kind === 'csr') {
    // The same checks `server` makes before it signs: what is shown is what would be read.
    const { csr } = await readCsr(found.path);
    const names = sansFromRequestedExtensions(csr.requestedExtensions).map((san) => `${san.type}:${san.value}`);
    const others = csr.requestedExtensions.filter((e) => e.name !== 'subjectAltName').map((e) => e.name ?? e.id);
    printReport(`certificate signing request ${found.path}`, [
      ['subject', formatName(csr.subject)],
      ['key', describeKey(csr.spkiDer)],
      ['signature', 'valid (signed by its own key)'],
      ['SANs', names.join(', ') || '(none requested)'],
      ['requested', others.length > 0 ? `${others.join(', ')} (never copied: the CA decides the extensions)` : '(no other extensions)'],
      ['sign it', `hsm-openssl-ca server ${found.path} --dir ${ca.paths.dir}   (or client)`],
    ], []);
    return;
  }
  if (found.kind === 'ca') {
    const status = found.name === 'root' ? 'self-signed trust anchor' : found.entry ? `${statusOf(found.entry)} on the root's index.txt` : 'not in the root\'s index.txt';
    printReport(`${found.name} CA certificate`, [['status', status], ...describeCertificate(found.cert), ['file', found.path]], []);
    return;
  }
  const { issued, by, others } = found;
  printReport(
    `certificate ${issued.entry.serial}${by.name === 'root' ? ' (issued by the root)' : ''}`,
    [['status', statusOf(issued.entry)], ...describeCertificate(issued.cert), ['file', issued.path], ...(others > 0 ? [['older', `${others} other certificate(s) with this name: hsm-openssl-ca list`] as [string, string]] : [])],
    [],
  );
}

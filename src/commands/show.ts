import { authority } from '../ca/signing/authority.js';
import { loadCa } from '../ca/directory/context.js';
import { describeCertificate } from '../ca/inventory/inventory.js';
import { findIssued } from '../ca/inventory/issued.js';
import { printReport } from './output.js';

/** `show SERIAL|CERT`: a readable summary of one issued certificate (with `--root`: one the root signed) and its database status. */
export async function showCommand(options: { dir: string; target: string; root?: boolean }): Promise<void> {
  const ca = await loadCa({ dir: options.dir });
  const found = await findIssued(await authority(ca, options.root ? 'root' : 'intermediate'), options.target);
  const status = found.entry.status === 'revoked' ? `revoked ${found.entry.revokedAt?.toISOString().slice(0, 10)}${found.entry.reason ? ` (${found.entry.reason})` : ''}` : found.entry.expires.getTime() < Date.now() ? 'expired' : 'valid';
  printReport(`certificate ${found.entry.serial}`, [['status', status], ...describeCertificate(found.cert), ['file', found.path]], []);
}

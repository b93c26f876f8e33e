import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { IndexEntry } from '../../tools/parse/index-txt.js';
import { readIndex } from '../inventory/issued.js';
import { caPaths } from '../directory/layout.js';
import { serialValue } from '../signing/serial.js';
import { isMissing } from './record.js';
import type { AuditRecorded } from './verify.js';

/** A database's entries; an unreadable index is `check`'s to report, so here it just has none. */
async function entriesOf(databaseDir: string): Promise<IndexEntry[]> {
  return readIndex(databaseDir).catch(() => []);
}

async function exists(path: string): Promise<boolean> {
  return readFile(path).then(
    () => true,
    (error: unknown) => !isMissing(error),
  );
}

/**
 * Compares the log with what the CA directory says happened: a CA directory has its `init` record, every
 * certificate in either index.txt its `certificate-issued` record, every revoked one its `revoked` record.
 * A log deleted or emptied together with its head still fails here. `parsed` holds index.txt entries a caller
 * has already read, by database directory (`check`, which parses each index.txt once). Returns one text per
 * disagreement.
 */
export async function auditDisagreements(dir: string, recorded: AuditRecorded, parsed: ReadonlyMap<string, Iterable<IndexEntry>> = new Map()): Promise<string[]> {
  const paths = caPaths(dir);
  const found: string[] = [];
  if ((await exists(paths.settings)) && !recorded.init) {
    found.push(`${paths.settings} exists but audit.log has no init record: the log was deleted, emptied or cut short — restore it from your backup`);
  }
  // Sets, not a search of the log per index line: that was quadratic, hours at 100,000 certificates.
  const { issued, revoked } = recorded;
  for (const databaseDir of [paths.rootDatabase, paths.intermediateDir]) {
    const index = join(databaseDir, 'index.txt');
    for (const entry of parsed.get(databaseDir) ?? (await entriesOf(databaseDir))) {
      const serial = serialValue(entry.serial);
      if (!issued.has(serial)) found.push(`${index} lists serial ${entry.serial} (${entry.subject}) but audit.log has no certificate-issued record for it: an issuance escaped the log — find out how (the certificate is ${join(databaseDir, 'newcerts', `${entry.serial}.pem`)}) and restore the log from your backup`);
      if (entry.status === 'revoked' && !revoked.has(serial)) found.push(`${index} marks serial ${entry.serial} revoked but audit.log has no revoked record for it — restore the log from your backup`);
    }
  }
  return found;
}

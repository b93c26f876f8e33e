import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { caPaths } from '../directory/layout.js';
import { auditHeadPath } from './head.js';
import { auditPath } from './record.js';

/**
 * `DIR/audit.verified`: what the log, its head and both index.txt files looked like (inode, size, mtime and
 * ctime in nanoseconds) when a change last left them verified. Every change must refuse a damaged log, and
 * re-verifying the whole log and both databases is O(issued certificates) — seconds at 100,000. When none of
 * these files was touched since this change's predecessor committed, they are byte for byte what it
 * verified and appended to, so that work is skipped; anything else (an edit, a cut, a restore from backup,
 * a copy of the directory, raw `openssl ca`) changes a ctime, which no user can set back, and the full
 * verification runs. It is a cache: missing, torn or stale, it only costs that full verification, so it is
 * written plainly after the commit, never journalled. Like the log's unkeyed hashes it cannot stop someone
 * who rewrites these files and this one together; `check` and `audit verify` always verify everything.
 */
const VERIFIED_FILE = 'audit.verified';

function watchedFiles(dir: string): string[] {
  const paths = caPaths(dir);
  return [auditPath(dir), auditHeadPath(dir), join(paths.rootDatabase, 'index.txt'), join(paths.intermediateDir, 'index.txt')];
}

/** One line per watched file: its identity and times, or "missing". */
async function stamp(dir: string): Promise<string> {
  const lines: string[] = [];
  for (const path of watchedFiles(dir)) {
    const info = await stat(path, { bigint: true }).catch(() => undefined);
    lines.push(`${path} ${info ? `${info.dev}:${info.ino} ${info.size} ${info.mtimeNs} ${info.ctimeNs}` : 'missing'}`);
  }
  return `${lines.join('\n')}\n`;
}

/** Whether the log, its head and the databases are untouched since the last change verified and committed them. */
export async function unchangedSinceVerified(dir: string): Promise<boolean> {
  const recorded = await readFile(join(dir, VERIFIED_FILE), 'utf8').catch(() => undefined);
  return recorded !== undefined && recorded === (await stamp(dir));
}

/** Records the state a change just verified and committed (the caller holds the CA lock). */
export async function recordVerified(dir: string): Promise<void> {
  await writeFile(join(dir, VERIFIED_FILE), await stamp(dir), { mode: 0o644 });
}

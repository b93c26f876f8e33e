import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, realpathSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';

/** What `list` shows of a certificate that only its newcerts/ file says (index.txt says the rest). */
export interface FileSummary {
  readonly subject: string;
  readonly sans: readonly string[];
  readonly profile?: string;
  readonly notAfter: Date;
}

/**
 * Below this many certificates `list` reads every file (well under 100 ms); from here on it keeps what it
 * decoded, since reading and decoding 100,000 files takes seconds and the files never change once issued.
 */
export const CACHE_FROM = 1000;

/** [serial, file identity, subject, SANs, profile, notAfter in ms] — compact: 100,000 of them are parsed per `list`. */
type Row = [string, string, string, string[], string | null, number];

export interface SummaryCache {
  /** The summary of `file` (the certificate `serial` names): kept if the file is the one it was made from, else read. */
  summary(serial: string, file: string, read: () => FileSummary): FileSummary;
  /** Writes what changed, best effort: a cache that cannot be written only costs the next `list` its time. */
  save(): void;
}

/**
 * The cache lives in the user's cache directory ($XDG_CACHE_HOME or ~/.cache), not in the CA directory: `list`
 * is a reading command and must work, and change nothing, where the CA directory is read-only or backed up.
 */
export function summaryCachePath(databaseDir: string, env: NodeJS.ProcessEnv = process.env): string {
  const base = env['XDG_CACHE_HOME'] || join(homedir(), '.cache');
  const id = createHash('sha256').update(canonical(databaseDir)).digest('hex').slice(0, 24);
  return join(base, 'hsm-openssl-ca', `list-${id}.json`);
}

function canonical(dir: string): string {
  try {
    return realpathSync(dir);
  } catch {
    return resolve(dir);
  }
}

/**
 * A file is the one a summary was made from when inode, size, modification and change time all agree; a
 * certificate restored or replaced under the same name changes its change time, so it is read again.
 */
function identity(file: string): string | undefined {
  const info = statSync(file, { throwIfNoEntry: false });
  return info ? `${info.ino}:${info.size}:${info.mtimeMs}:${info.ctimeMs}` : undefined;
}

function load(path: string): Map<string, Row> {
  try {
    const rows = JSON.parse(readFileSync(path, 'utf8')) as unknown;
    const map = new Map<string, Row>();
    if (Array.isArray(rows)) for (const row of rows) if (isRow(row)) map.set(row[0], row);
    return map;
  } catch {
    return new Map();
  }
}

const isRow = (row: unknown): row is Row =>
  Array.isArray(row) &&
  row.length === 6 &&
  typeof row[0] === 'string' &&
  typeof row[1] === 'string' &&
  typeof row[2] === 'string' &&
  Array.isArray(row[3]) &&
  (row[4] === null || typeof row[4] === 'string') &&
  typeof row[5] === 'number';

const toSummary = (row: Row): FileSummary => ({ subject: row[2], sans: row[3], ...(row[4] !== null ? { profile: row[4] } : {}), notAfter: new Date(row[5]) });

const toRow = (serial: string, id: string, s: FileSummary): Row => [serial, id, s.subject, [...s.sans], s.profile ?? null, s.notAfter.getTime()];

function removeQuietly(path: string): void {
  try {
    rmSync(path, { force: true });
  } catch {
    // its directory is not there or not a directory: nothing was left behind
  }
}

/** Opens the cache at `path`; an unreadable or damaged one counts as empty. */
export function openSummaryCache(path: string): SummaryCache {
  const previous = load(path);
  const current = new Map<string, Row>();
  let changed = false;
  return {
    summary(serial, file, read) {
      const id = identity(file);
      const kept = previous.get(serial);
      if (id !== undefined && kept?.[1] === id) {
        current.set(serial, kept);
        return toSummary(kept);
      }
      const fresh = read();
      if (id !== undefined) current.set(serial, toRow(serial, id, fresh));
      changed = true;
      return fresh;
    },
    save() {
      // Entries no longer listed (a CA directory restored from an older backup) are dropped.
      if (!changed && current.size === previous.size) return;
      const temp = `${path}.${process.pid}.tmp`;
      try {
        mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
        writeFileSync(temp, JSON.stringify([...current.values()]), { mode: 0o600 });
        renameSync(temp, path);
      } catch {
        // Read-only home, full disk: the listing is right either way, only the next one is slower.
        removeQuietly(temp);
      }
    },
  };
}

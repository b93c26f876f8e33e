import { createHash } from 'node:crypto';
import { readFileSync, realpathSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { CacheWriter, removeQuietly } from './cache-writer.js';
import { PreviousLines } from './previous-lines.js';

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

/**
 * The cache file: this header line, then one line per certificate, `SERIAL<TAB>FILE IDENTITY<TAB>SUMMARY`, the
 * summary as JSON `[subject, SANs, profile or null, notAfter in ms]` (JSON never holds a raw tab or line break).
 * Lines are parsed only when asked for: 100,000 of them parsed up front as one JSON document took 36 MiB of heap
 * above the text itself, and `list` at that size must stay under 200 MiB.
 */
const HEADER = 'hsm-openssl-ca list cache 2';

export interface SummaryCache {
  /** The summary of `file` (the certificate `serial` names): kept if the file is the one it was made from, else read. */
  summary(serial: string, file: string, read: () => FileSummary): FileSummary;
  /** Writes what changed, best effort: a cache that cannot be written only costs the next `list` its time. */
  save(): void;
  /** Drops what was written so far: the listing failed, so the cache stays as it was. */
  discard(): void;
}

/**
 * The cache lives in the user's cache directory ($XDG_CACHE_HOME or ~/.cache), not in the CA directory: `list`
 * is a reading command and must work, and change nothing, where the CA directory is read-only or backed up.
 */
export function summaryCachePath(databaseDir: string, env: NodeJS.ProcessEnv = process.env): string {
  const base = env['XDG_CACHE_HOME'] || join(homedir(), '.cache');
  const id = createHash('sha256').update(canonical(databaseDir)).digest('hex').slice(0, 24);
  return join(base, 'hsm-openssl-ca', `list-${id}.txt`);
}

/** Where versions before the line format kept the same cache (one JSON document), removed when the new one is written. */
const legacyPath = (path: string): string => path.replace(/\.txt$/, '.json');

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

/** The lines of the cache file at `path` by serial; none if unreadable or another format. */
function load(path: string): PreviousLines {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return new PreviousLines('', 0);
  }
  return text.startsWith(`${HEADER}\n`) ? new PreviousLines(text, HEADER.length + 1) : new PreviousLines('', 0);
}

/** The summary a cache line holds for the file with identity `id`, or undefined if it holds another file's or is damaged. */
function summaryOf(line: string, id: string): FileSummary | undefined {
  const [, lineId, json] = line.split('\t');
  if (lineId !== id || json === undefined) return undefined;
  try {
    const value = JSON.parse(json) as unknown;
    if (!isSummary(value)) return undefined;
    const [subject, sans, profile, notAfter] = value;
    return { subject, sans, ...(profile !== null ? { profile } : {}), notAfter: new Date(notAfter) };
  } catch {
    return undefined;
  }
}

const isSummary = (value: unknown): value is [string, string[], string | null, number] =>
  Array.isArray(value) &&
  value.length === 4 &&
  typeof value[0] === 'string' &&
  Array.isArray(value[1]) &&
  value[1].every((san) => typeof san === 'string') &&
  (value[2] === null || typeof value[2] === 'string') &&
  typeof value[3] === 'number';

const lineOf = (serial: string, id: string, s: FileSummary): string => `${serial}\t${id}\t${JSON.stringify([s.subject, s.sans, s.profile ?? null, s.notAfter.getTime()])}`;

/**
 * Opens the cache at `path`; an unreadable or damaged one counts as empty. The new file is written while
 * `list` goes (cache-writer.ts), from the first summary that is not the kept one: a first `list` of 100,000
 * certificates held every fresh line until the end, 17 MB and more of its peak. Until then the lines kept
 * so far are noted (substrings of the text read), and a `list` where nothing changed writes nothing. A serial
 * index.txt repeats (a damaged database) gets a line each.
 */
export function openSummaryCache(path: string): SummaryCache {
  const previous = load(path);
  let writer: CacheWriter | undefined;
  let opened = false;
  let keptBefore: string[] = [];
  let lines = 0;
  let changed = false;
  const write = (line: string): void => {
    lines += 1;
    writer?.add(line);
  };
  const openWriter = (): void => {
    if (opened) return;
    opened = true;
    writer = CacheWriter.open(path, HEADER);
    for (const line of keptBefore) writer?.add(line);
    keptBefore = [];
  };
  return {
    summary(serial, file, read) {
      const id = identity(file);
      const kept = previous.get(serial);
      const cached = id !== undefined && kept !== undefined ? summaryOf(kept, id) : undefined;
      if (cached) {
        if (opened) {
          write(kept!);
        } else {
          lines += 1;
          keptBefore.push(kept!);
        }
        return cached;
      }
      const fresh = read();
      changed = true;
      openWriter();
      if (id !== undefined) write(lineOf(serial, id, fresh));
      return fresh;
    },
    save() {
      // Entries no longer listed (a CA directory restored from an older backup) are dropped.
      if (!changed && lines === previous.size) return;
      openWriter();
      if (writer?.finish()) removeQuietly(legacyPath(path));
    },
    discard() {
      writer?.abandon();
    },
  };
}

import { parseIndex, type IndexEntry } from '../../tools/parse/index-txt.js';
import { lines } from '../../text-lines.js';

/** One non-empty line of index.txt with its number (1-based) and its entry, undefined when it does not parse. */
export interface IndexLine {
  readonly line: number;
  readonly text: string;
  readonly entry: IndexEntry | undefined;
}

/** One line of index.txt that parsed, with its number for the findings that name it. */
export interface NumberedEntry {
  readonly line: number;
  readonly entry: IndexEntry;
}

/**
 * One index.txt, parsed again on every pass from the one text kept. `check` walks the entries five times
 * (the index itself, newcerts/, the CRL twice, the audit log); at 100,000 certificates the entries held
 * between those passes were most of its peak memory (~33 MiB), the text alone is 8.6 MB. A pass costs
 * about 0.3 s there, so `check` takes about a second longer than with the entries held.
 */
export class IndexDatabase implements Iterable<IndexEntry> {
  constructor(private readonly text: string) {}

  /** Every non-empty line, parsed where it parses: the bad ones are for `check` to name. */
  *lines(): Generator<IndexLine> {
    let line = 0;
    for (const text of lines(this.text)) {
      line += 1;
      if (text.length > 0) yield { line, text, entry: parsedOrUndefined(text) };
    }
  }

  /** The lines that parse. */
  *numbered(): Generator<NumberedEntry> {
    for (const { line, entry } of this.lines()) if (entry) yield { line, entry };
  }

  *[Symbol.iterator](): Generator<IndexEntry> {
    for (const { entry } of this.lines()) if (entry) yield entry;
  }

  /** How many lines parse. */
  entryCount(): number {
    let count = 0;
    for (const _ of this) count += 1;
    return count;
  }

  /** The number of its last line when the text does not end with a line break (openssl drops that line), else undefined. */
  unterminatedLine(): number | undefined {
    if (this.text.length === 0 || this.text.endsWith('\n')) return undefined;
    let count = 0;
    for (const _ of lines(this.text)) count += 1;
    return count;
  }
}

function parsedOrUndefined(line: string): IndexEntry | undefined {
  try {
    return parseIndex(line)[0];
  } catch {
    return undefined;
  }
}

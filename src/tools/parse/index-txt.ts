import { ParseError } from '../../errors.js';
import { parseAsn1Time } from '../../x509/decode.js';
import { lines } from '../../text-lines.js';

/** One line of an `openssl ca` database (index.txt). */
export interface IndexEntry {
  readonly status: 'valid' | 'revoked' | 'expired';
  readonly expires: Date;
  readonly revokedAt: Date | undefined;
  /** The CRL reason openssl recorded, e.g. "keyCompromise"; undefined for "unspecified" or none. */
  readonly reason: string | undefined;
  /** Upper-case hex, as in newcerts/SERIAL.pem. */
  readonly serial: string;
  /** OpenSSL's one-line form, e.g. "/C=US/O=Acme/CN=www.example.com". */
  readonly subject: string;
}

// A Map, not an object literal: an object would also answer to "constructor", "toString" or "__proto__".
const STATUS = new Map<string, IndexEntry['status']>([['V', 'valid'], ['R', 'revoked'], ['E', 'expired']]);

/** Parses index.txt; a line of another shape is a ParseError that shows the file. */
export function parseIndex(text: string): IndexEntry[] {
  return [...indexEntries(text)];
}

/**
 * index.txt's entries one at a time, for a caller that keeps less than the entries themselves: a large CA's index
 * has 100,000 lines, and entries held all at once live long enough to reach V8's old space.
 */
export function* indexEntries(text: string): Generator<IndexEntry> {
  let lineNumber = 0;
  for (const line of lines(text)) {
    lineNumber += 1;
    if (line.length > 0) yield parseLine(line, lineNumber);
  }
}

function parseLine(line: string, lineNumber: number): IndexEntry {
  const refused = (): ParseError => new ParseError(`the CA database index.txt (line ${lineNumber})`, line);
  const fields = line.split('\t');
  if (fields.length !== 6) throw refused();
  const [flag, expiry, revocation, serial, , subject] = fields as [string, string, string, string, string, string];
  const status = STATUS.get(flag);
  const expires = parseAsn1Time(expiry);
  const [revokedText, reason] = revocation.split(',');
  const revokedAt = revokedText ? parseAsn1Time(revokedText) : undefined;
  if (!status || !expires || !/^[0-9A-F]+$/.test(serial) || (status === 'revoked' && !revokedAt)) throw refused();
  return { status, expires, revokedAt, reason: reason && reason !== 'unspecified' ? reason : undefined, serial, subject };
}

/**
 * The serials index.txt lists, without parsing dates or subjects: all a signing needs to know that a new
 * serial is fresh, and at 100,000 lines the full parse would be most of the signing's own time. A line
 * without a hex serial field adds nothing (`check` names it).
 */
export function indexSerials(text: string): Set<bigint> {
  const serials = new Set<bigint>();
  for (const line of text.split('\n')) {
    const serial = line.split('\t', 4)[3];
    if (serial && /^[0-9A-Fa-f]+$/.test(serial)) serials.add(BigInt(`0x${serial}`));
  }
  return serials;
}

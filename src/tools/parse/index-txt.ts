import { ParseError } from '../../errors.js';
import { parseAsn1Time } from '../../x509/decode.js';

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

const STATUS: Record<string, IndexEntry['status']> = { V: 'valid', R: 'revoked', E: 'expired' };

/** Parses index.txt; a line of another shape is a ParseError that shows the file. */
export function parseIndex(text: string): IndexEntry[] {
  return text
    .split('\n')
    .map((line, index) => ({ line, index }))
    .filter(({ line }) => line.length > 0)
    .map(({ line, index }) => {
      const fields = line.split('\t');
      const [flag, expiry, revocation, serial, , subject] = fields;
      const status = STATUS[flag ?? ''];
      const expires = parseAsn1Time(expiry ?? '');
      const [revokedText, reason] = (revocation ?? '').split(',');
      const revokedAt = revokedText ? parseAsn1Time(revokedText) : undefined;
      if (fields.length !== 6 || !status || !expires || !/^[0-9A-F]+$/.test(serial ?? '') || (status === 'revoked' && !revokedAt)) {
        throw new ParseError(`the CA database index.txt (line ${index + 1})`, line);
      }
      return { status, expires, revokedAt, reason: reason && reason !== 'unspecified' ? reason : undefined, serial: serial!, subject: subject ?? '' };
    });
}

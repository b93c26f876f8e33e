import { CaError } from '../../errors.js';
import type { DecodedCertificate, DecodedCrl, Extension } from '../../x509/decode.js';

/** subjectKeyIdentifier and authorityKeyIdentifier: hashes of keys, which differ between the token and the shadow. */
const KEY_IDENTIFIERS = ['2.5.29.14', '2.5.29.35'];

/**
 * openssl reads the clock twice for one certificate or CRL without explicit dates (X509_gmtime_adj for the
 * start, X509_time_adj_ex for the end), so a second boundary between the reads makes a lifetime one second
 * longer or shorter in one of the two signings.
 */
const CLOCK_READS_TOLERANCE_MS = 2000;

/** 0 or 1, so that `differences` reports the field when two times are further apart than the tolerance. */
function apart(a: number, b: number, toleranceMs: number): [number, number] {
  return [0, Math.abs(a - b) > toleranceMs ? 1 : 0];
}

function extensionsText(extensions: readonly Extension[]): string[] {
  return extensions.filter((e) => !KEY_IDENTIFIERS.includes(e.id)).map((e) => `${e.id}${e.critical ? ' critical' : ''} ${Buffer.from(String(e['value']), 'binary').toString('hex')}`);
}

/** The fields that differ, by name; empty when none does. */
function differences(fields: Record<string, [unknown, unknown]>): string[] {
  return Object.entries(fields)
    .filter(([, [token, shadow]]) => JSON.stringify(token) !== JSON.stringify(shadow))
    .map(([name]) => name);
}

function requireNone(what: string, differing: string[]): void {
  if (differing.length > 0) {
    throw new CaError(`${what} signed on the token differs from the shadow CA's in ${differing.join(', ')}; nothing was written — report this with \`hsm-openssl-ca doctor\` output, the token's signature was not what the shadow judged`);
  }
}

/**
 * Compares what the token signed with what the shadow CA signed from the very same command and config:
 * equal in every field but the serial (random), the public key (for a CA certificate), the key identifiers
 * and the signature. notBefore may be `toleranceMs` apart where openssl takes no explicit date (req -x509).
 */
export function requireSameCertificate(what: string, token: DecodedCertificate, shadow: DecodedCertificate, toleranceMs = 0): string {
  const lifetime = (c: DecodedCertificate) => c.notAfter.getTime() - c.notBefore.getTime();
  requireNone(what, differences({
    'signature algorithm': [token.signatureAlgorithmOid, shadow.signatureAlgorithmOid],
    issuer: [token.issuerDer.toString('hex'), shadow.issuerDer.toString('hex')],
    subject: [token.subjectDer.toString('hex'), shadow.subjectDer.toString('hex')],
    notBefore: apart(token.notBefore.getTime(), shadow.notBefore.getTime(), toleranceMs),
    validity: apart(lifetime(token), lifetime(shadow), CLOCK_READS_TOLERANCE_MS),
    extensions: [extensionsText(token.extensions), extensionsText(shadow.extensions)],
  }));
  return 'token-signed = shadow-signed in every field but serial, signature, key identifiers and public key';
}

/** The same for a CRL; thisUpdate may be `toleranceMs` apart (openssl ca -gencrl takes the time itself). */
export function requireSameCrl(what: string, token: DecodedCrl, shadow: DecodedCrl, toleranceMs = 60_000): string {
  const period = (c: DecodedCrl) => (c.nextUpdate?.getTime() ?? 0) - c.thisUpdate.getTime();
  const entries = (c: DecodedCrl) => c.revoked.map((r) => [r.serialHex, r.revokedAt.getTime(), r.reasonCode]);
  requireNone(what, differences({
    'signature algorithm': [token.signatureAlgorithmOid, shadow.signatureAlgorithmOid],
    issuer: [token.issuerDer.toString('hex'), shadow.issuerDer.toString('hex')],
    thisUpdate: apart(token.thisUpdate.getTime(), shadow.thisUpdate.getTime(), toleranceMs),
    'nextUpdate - thisUpdate': apart(period(token), period(shadow), CLOCK_READS_TOLERANCE_MS),
    'CRL number': [String(token.crlNumber), String(shadow.crlNumber)],
    'revoked entries': [entries(token), entries(shadow)],
  }));
  return 'token-signed CRL = shadow-signed CRL in every field but signature and key identifier';
}

import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { decodeCertificate, decodeCrl, formatName, pemToDer, type DecodedCertificate } from '../../x509/decode.js';
import { sanStrings } from '../../x509/san.js';
import { describeKey, extension, signatureAlgorithmName } from '../../x509/verify.js';
import { authority, crlAuthorities, type Authority } from '../signing/authority.js';
import type { LoadedCa } from '../directory/context.js';
import { fileExists } from '../directory/context.js';
import { readIndex } from './issued.js';
import { indexEntries, type IndexEntry } from '../../tools/parse/index-txt.js';
import { profileFromExtendedKeyUsage } from '../signing/profiles.js';
import { CACHE_FROM, openSummaryCache, summaryCachePath, type FileSummary } from './summary-cache.js';

export interface IssuedCertificate {
  readonly serial: string;
  /** superseded: an older certificate of this directory's intermediate, replaced by `intermediate --renew`. */
  readonly status: 'valid' | 'revoked' | 'expired' | 'superseded';
  readonly subject: string;
  readonly sans: readonly string[];
  readonly notAfter: Date;
  readonly revokedAt?: Date;
  readonly reason?: string;
  readonly profile?: string;
  readonly file: string;
}

/** The profile a leaf was issued with, from its extended key usage; "CA" for a CA certificate. */
export function profileOf(cert: DecodedCertificate): string | undefined {
  if (extension(cert.extensions, 'basicConstraints')?.['cA'] === true) return 'CA';
  const eku = extension(cert.extensions, 'extKeyUsage') as { serverAuth?: boolean; clientAuth?: boolean } | undefined;
  return eku ? profileFromExtendedKeyUsage(eku) : undefined;
}

/**
 * What `list` needs from one newcerts/ file. Read synchronously, one file at a time: at 100,000 certificates
 * the promise API's round trips through the thread pool cost more than the reads, and a single descriptor at a
 * time never meets `ulimit -n` (EMFILE).
 */
function summariseFile(file: string): FileSummary {
  const cert = decodeCertificate(pemToDer(readFileSync(file, 'utf8'), 'CERTIFICATE', file));
  const profile = profileOf(cert);
  return { subject: formatName(cert.subject), sans: sanStrings(cert.extensions), notAfter: cert.notAfter, ...(profile ? { profile } : {}) };
}

/** One index entry as `list` shows it: status and revocation from the entry, the rest from its file. */
function describeEntry(entry: IndexEntry, file: string, summary: FileSummary): IssuedCertificate {
  const status = entry.status === 'valid' && entry.expires.getTime() < Date.now() ? 'expired' : entry.status;
  return {
    serial: entry.serial,
    status,
    subject: summary.subject,
    sans: summary.sans,
    notAfter: summary.notAfter,
    ...(entry.revokedAt ? { revokedAt: entry.revokedAt } : {}),
    ...(entry.reason ? { reason: entry.reason } : {}),
    ...(summary.profile ? { profile: summary.profile } : {}),
    file,
  };
}

/**
 * Everything a CA issued, from its index.txt and the certificates in newcerts/, one at a time: at 100,000
 * a caller that keeps less than the whole description of each (list's table) stays well under 200 MiB. A
 * valid entry past its notAfter is reported as expired even before `openssl ca -updatedb` marks it. A large
 * CA's file summaries come from the user's cache where the file is unchanged (summary-cache.ts), which is
 * saved once the last certificate has been described.
 */
export async function* issuedCertificates(auth: Authority): AsyncGenerator<IssuedCertificate> {
  const index = await readFile(join(auth.databaseDir, 'index.txt'), 'utf8');
  const cache = lineCount(index) >= CACHE_FROM ? openSummaryCache(summaryCachePath(auth.databaseDir)) : undefined;
  const newcerts = join(auth.databaseDir, 'newcerts');
  let complete = false;
  try {
    // Each entry described as it is parsed: at 100,000 the parsed entries held all at once were 33 MiB of the peak.
    for (const entry of indexEntries(index)) {
      const file = `${newcerts}/${entry.serial}.pem`;
      yield describeEntry(entry, file, cache ? cache.summary(entry.serial, file, () => summariseFile(file)) : summariseFile(file));
    }
    complete = true;
  } finally {
    // A listing that failed (a certificate that does not decode) leaves the cache as it was.
    if (complete) cache?.save();
    else cache?.discard();
  }
}

function lineCount(text: string): number {
  let count = 0;
  for (let at = text.indexOf('\n'); at !== -1; at = text.indexOf('\n', at + 1)) count += 1;
  return count;
}

/**
 * What the root signed, with this directory's older intermediate certificates (same subject as the active
 * one, another serial, still valid) marked superseded: kept on record after a renewal, not a second CA.
 */
export function markSuperseded(certificates: IssuedCertificate[], active: DecodedCertificate): IssuedCertificate[] {
  const subject = formatName(active.subject);
  return certificates.map((c) => (c.status === 'valid' && c.subject === subject && c.serial !== active.serialHex.toUpperCase() ? { ...c, status: 'superseded' } : c));
}

/** The SHA-256 fingerprint of a certificate as operators compare it: colon-separated upper-case hex. */
export function sha256Fingerprint(der: Buffer): string {
  return createHash('sha256').update(der).digest('hex').replace(/(..)(?!$)/g, '$1:').toUpperCase();
}

/** The fingerprint of the certificate in a PEM file. */
export async function fingerprintOfFile(path: string): Promise<string> {
  return sha256Fingerprint(pemToDer(await readFile(path, 'utf8'), 'CERTIFICATE', path));
}

/** A readable summary of one certificate: what an operator checks, not `openssl x509 -text`. */
export function describeCertificate(cert: DecodedCertificate): Array<[string, string]> {
  const ku: Record<string, unknown> = extension(cert.extensions, 'keyUsage') ?? {};
  const eku: Record<string, unknown> = extension(cert.extensions, 'extKeyUsage') ?? {};
  const bc = extension(cert.extensions, 'basicConstraints');
  const usages = ['digitalSignature', 'keyEncipherment', 'keyCertSign', 'cRLSign'].filter((u) => ku[u] === true);
  const extended = ['serverAuth', 'clientAuth', 'codeSigning', 'emailProtection'].filter((u) => eku[u] === true);
  return [
    ['serial', cert.serialHex],
    ['subject', formatName(cert.subject)],
    ['issuer', formatName(cert.issuer)],
    ['valid', `${cert.notBefore.toISOString().slice(0, 10)} to ${cert.notAfter.toISOString().slice(0, 10)}`],
    ['key', describeKey(cert.spkiDer)],
    ['signature', signatureAlgorithmName(cert.signatureAlgorithmOid)],
    ['CA', bc?.['cA'] === true ? `yes${bc['pathLenConstraint'] !== undefined ? `, pathlen ${String(bc['pathLenConstraint'])}` : ''}` : 'no'],
    ['SANs', sanStrings(cert.extensions).join(', ') || '(none)'],
    ['key usage', usages.join(', ') || '(none)'],
    ['ext. usage', extended.join(', ') || '(none)'],
    ['SHA-256', sha256Fingerprint(cert.der)],
  ];
}

export interface CaStatus {
  readonly name: 'root' | 'intermediate';
  readonly subject: string;
  readonly keyUri: string;
  readonly notAfter: Date;
  /** The CA certificate's SHA-256 fingerprint, for comparing the trust anchor out of band. */
  readonly fingerprint: string;
  readonly issued: number;
  readonly revoked: number;
  readonly crlNextUpdate: Date | undefined;
  /** The intermediate's earlier keys still signing CRLs (`intermediate --rekey`). */
  readonly earlierKeys: readonly EarlierKeyStatus[];
}

export interface EarlierKeyStatus {
  readonly title: string;
  readonly keyUri: string;
  /** When its certificate, and with it everything it issued, expires. */
  readonly notAfter: Date;
  readonly crlNextUpdate: Date | undefined;
}

async function crlNextUpdate(auth: Authority): Promise<Date | undefined> {
  const crlPem = (await fileExists(auth.crlPath)) ? await readFile(auth.crlPath, 'utf8') : undefined;
  return crlPem ? decodeCrl(pemToDer(crlPem, 'X509 CRL', auth.crlPath)).nextUpdate : undefined;
}

/** Both CAs at a glance, for `status`. */
export async function caStatus(ca: LoadedCa): Promise<CaStatus[]> {
  const out: CaStatus[] = [];
  for (const name of ['root', 'intermediate'] as const) {
    if (!(name === 'root' ? ca.settings.rootKey : ca.settings.intermediateKey)) continue;
    const auth = await authority(ca, name);
    // Counts need index.txt only, not a read of every certificate.
    const entries = await readIndex(auth.databaseDir);
    const earlier = (await crlAuthorities(ca, auth)).slice(1);
    out.push({
      name,
      subject: formatName(auth.certificate.subject),
      keyUri: auth.key.uri,
      notAfter: auth.certificate.notAfter,
      fingerprint: sha256Fingerprint(auth.certificate.der),
      issued: entries.length,
      revoked: entries.filter((e) => e.status === 'revoked').length,
      crlNextUpdate: await crlNextUpdate(auth),
      earlierKeys: await Promise.all(earlier.map(async (e) => ({ title: e.title, keyUri: e.key.uri, notAfter: e.certificate.notAfter, crlNextUpdate: await crlNextUpdate(e) }))),
    });
  }
  return out;
}

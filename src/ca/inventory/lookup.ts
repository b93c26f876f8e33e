import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { CaError, UsageError } from '../../errors.js';
import type { IndexEntry } from '../../tools/parse/index-txt.js';
import { decodeCertificate, pemToDer, type DecodedCertificate } from '../../x509/decode.js';
import { sanStrings } from '../../x509/san.js';
import type { LoadedCa } from '../directory/context.js';
import { authority, type Authority } from '../signing/authority.js';
import { findIssued, readIndex, type IssuedCertificate } from './issued.js';

/** What `show` was pointed at: a certificate one of our CAs issued, one of the CA certificates, or a CSR file. */
export type Found =
  | { readonly kind: 'issued'; readonly by: Authority; readonly issued: IssuedCertificate; readonly others: number }
  | { readonly kind: 'ca'; readonly name: 'root' | 'intermediate'; readonly cert: DecodedCertificate; readonly path: string; readonly entry?: IndexEntry }
  | { readonly kind: 'csr'; readonly path: string };

/** A serial prefix needs this many hex digits: fewer would match by accident in a CA of any size. */
const MIN_PREFIX = 4;

/** The CAs that exist so far, intermediate first: most lookups are for what it issued. */
async function authorities(ca: LoadedCa): Promise<Authority[]> {
  const found: Authority[] = [];
  for (const name of ['intermediate', 'root'] as const) {
    if (name === 'root' ? ca.settings.rootKey : ca.settings.intermediateKey) found.push(await authority(ca, name));
  }
  return found;
}

/**
 * Finds what `target` names: a file (certificate or CSR), a serial or a serial prefix of at least four hex
 * digits, or a name — a CN or SAN of issued certificates, case-insensitive. A name held by several
 * certificates (renewals) takes the one valid certificate if there is exactly one, else asks for a serial.
 */
export async function lookup(ca: LoadedCa, target: string): Promise<Found> {
  const cas = await authorities(ca);
  if (cas.length === 0) throw new CaError(`no CA yet in ${ca.paths.dir}: nothing to show; run \`hsm-openssl-ca root --dir ${ca.paths.dir}\` first`);
  if (await stat(target).then((info) => info.isFile(), () => false)) return lookupFile(ca, cas, target);
  const bySerial = await lookupSerial(cas, target);
  if (bySerial) return bySerial;
  return lookupName(cas, target);
}

async function lookupFile(ca: LoadedCa, cas: readonly Authority[], path: string): Promise<Found> {
  const text = await readFile(path, 'latin1');
  if (/-----BEGIN (NEW )?CERTIFICATE REQUEST-----/.test(text)) return { kind: 'csr', path };
  const cert = decodeCertificate(text.includes('-----BEGIN') ? pemToDer(text, 'CERTIFICATE', path) : Buffer.from(text, 'latin1'));
  const root = cas.find((auth) => auth.name === 'root');
  if (root && cert.der.equals(root.certificate.der)) return { kind: 'ca', name: 'root', cert, path: ca.paths.rootCert };
  const intermediate = cas.find((auth) => auth.name === 'intermediate');
  if (intermediate && cert.der.equals(intermediate.certificate.der)) {
    const entry = root ? (await readIndex(root.databaseDir)).find((e) => e.serial === cert.serialHex) : undefined;
    return { kind: 'ca', name: 'intermediate', cert, path: ca.paths.intermediateCert, ...(entry ? { entry } : {}) };
  }
  for (const by of cas) {
    if (cert.issuerDer.equals(by.certificate.subjectDer)) return { kind: 'issued', by, issued: await findIssued(by, path), others: 0 };
  }
  throw new CaError(`${path} was issued by neither CA of ${ca.paths.dir}; \`hsm-openssl-ca list\` shows what they issued`);
}

async function lookupSerial(cas: readonly Authority[], target: string): Promise<Found | undefined> {
  const hex = target.replace(/^0x/i, '').replace(/:/g, '').toUpperCase();
  if (!/^[0-9A-F]+$/.test(hex) || hex.length < MIN_PREFIX) return undefined;
  const matches: Array<{ by: Authority; serial: string }> = [];
  for (const by of cas) {
    for (const entry of await readIndex(by.databaseDir)) {
      const serial = entry.serial.replace(/^0+(?=.)/, '');
      if (serial.startsWith(hex.replace(/^0+(?=.)/, ''))) matches.push({ by, serial: entry.serial });
    }
  }
  if (matches.length > 1) throw new CaError(`serial prefix ${hex} matches ${matches.length} certificates (${matches.slice(0, 5).map((m) => m.serial).join(', ')}${matches.length > 5 ? ', …' : ''}); give more digits`);
  const [match] = matches;
  return match ? { kind: 'issued', by: match.by, issued: await findIssued(match.by, match.serial), others: 0 } : undefined;
}

/** True when an index.txt subject (OpenSSL's "/O=x/CN=name" form) has this CN. */
function subjectHasCn(subject: string, name: string): boolean {
  return subject.split('/').some((part) => part.toLowerCase() === `cn=${name}`);
}

async function lookupName(cas: readonly Authority[], target: string): Promise<Found> {
  const name = target.toLowerCase();
  const matches: Array<{ by: Authority; entry: IndexEntry }> = [];
  for (const by of cas) {
    for (const entry of await readIndex(by.databaseDir)) {
      if (subjectHasCn(entry.subject, name) || (await sansOf(by, entry)).some((san) => san.toLowerCase().replace(/^[a-z]+:/, '') === name)) matches.push({ by, entry });
    }
  }
  if (matches.length === 0) throw new UsageError(`"${target}" is not a file, not a serial (4 or more hex digits) in either index.txt, and no issued certificate has it as CN or SAN; see \`hsm-openssl-ca list\``);
  const current = matches.filter((m) => m.entry.status === 'valid' && m.entry.expires.getTime() >= Date.now());
  const chosen = matches.length === 1 ? matches[0] : current.length === 1 ? current[0] : undefined;
  if (!chosen) throw new CaError(`"${target}" names ${matches.length} certificates (${matches.map((m) => `${m.entry.serial} ${m.entry.status}`).join(', ')}); show one by its serial`);
  return { kind: 'issued', by: chosen.by, issued: await findIssued(chosen.by, chosen.entry.serial), others: matches.length - 1 };
}

/** The SANs of an issued certificate, read from newcerts/ one at a time (never all files open at once). */
async function sansOf(by: Authority, entry: IndexEntry): Promise<string[]> {
  const path = join(by.databaseDir, 'newcerts', `${entry.serial}.pem`);
  const pem = await readFile(path, 'utf8').catch(() => undefined);
  return pem === undefined ? [] : sanStrings(decodeCertificate(pemToDer(pem, 'CERTIFICATE', path)).extensions);
}

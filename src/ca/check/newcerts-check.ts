import { readFileSync } from 'node:fs';
import { opendir, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { IndexEntry } from '../../tools/parse/index-txt.js';
import { decodeCertificateEssentials, decodeCrl, decodeName, formatName, pemToDer, type CertificateEssentials, type DecodedCertificate } from '../../x509/decode.js';
import { serialValue } from '../signing/serial.js';
import { errorText, readOptional, shorten, STREAMED_DIRECTORY } from './check-files.js';
import type { IndexDatabase } from './index-database.js';
import { subjectMatchesIndex } from './index-subject.js';

/** Where `check` puts what it finds. */
export interface Findings {
  ok(text: string): void;
  repairable(text: string): void;
  broken(text: string): void;
}

/** What the newcerts/ check needs of the CA whose database it checks. */
export interface NewcertsCa {
  readonly name: 'root' | 'intermediate';
  readonly databaseDir: string;
  readonly crlPath: string;
  /** Undefined when the CA certificate is missing or did not verify: the issuer is then not compared. */
  readonly certificate: DecodedCertificate | undefined;
}

/**
 * newcerts/ against index.txt: each entry's certificate is there and agrees with its line (serial, expiry,
 * subject, issuer), and no certificate file lacks a line.
 */
export async function checkNewcerts(report: Findings, ca: NewcertsCa, indexPath: string, index: IndexDatabase, uniqueSerials: boolean): Promise<void> {
  const newcerts = join(ca.databaseDir, 'newcerts');
  const fileCount = await countCertificateFiles(newcerts);
  if (fileCount === undefined) {
    const recorded = index.entryCount();
    report.broken(`${newcerts}/ is missing${recorded ? ` with the ${recorded} certificates index.txt records` : ''}; recreate the directory and restore its files from your backup`);
    return;
  }
  const where = { ca, indexPath, index, newcerts };
  const pass = (uniqueSerials ? await exactNamesPass(where, fileCount) : undefined) ?? (await matchedFilesPass(where));
  for (const problem of pass.problems) report.broken(problem);
  if (pass.problems.length === 0 && pass.entries > 0) report.ok(`${newcerts}/: every index.txt entry has its certificate, and serial, subject and expiry agree`);

  const revokedOnCrl = await crlRevokedSerials(ca.crlPath);
  let orphans = 0;
  for (const [serial, name] of pass.unclaimed) {
    orphans += 1;
    const path = join(newcerts, name);
    if (revokedOnCrl.has(serial)) {
      report.broken(`${path} has no line in ${indexPath}, yet ${ca.crlPath} lists it as revoked: it was issued and index.txt lost its line — restore index.txt from your backup (keep ${path}, it is that certificate)`);
      continue;
    }
    // commitDatabase writes newcerts/ first and index.txt last, and the signed file is handed out only after that.
    report.repairable(`${path} has no line in ${indexPath}: a signing was interrupted after the certificate was written and before the database was updated, so it was never handed out. The next signing is unaffected; remove ${path}`);
  }
  if (orphans === 0) report.ok(`${newcerts}/: no certificate without an index.txt line`);
}

/** A certificate file of newcerts/: SERIAL.pem, the serial in hex of either case. */
const CERTIFICATE_FILE = /^([0-9A-Fa-f]+)\.pem$/;

/** What comparing each index entry with its newcerts/ file found, and the files no entry claimed (by serial). */
interface NewcertsPass {
  readonly problems: readonly string[];
  readonly entries: number;
  readonly unclaimed: ReadonlyMap<bigint, string>;
}

interface NewcertsPlace {
  readonly ca: NewcertsCa;
  readonly indexPath: string;
  readonly index: IndexDatabase;
  readonly newcerts: string;
}

/** How many certificate files newcerts/ holds, read one name at a time; undefined when it is missing. */
async function countCertificateFiles(newcerts: string): Promise<number | undefined> {
  let count = 0;
  try {
    for await (const entry of await opendir(newcerts, STREAMED_DIRECTORY)) if (CERTIFICATE_FILE.test(entry.name)) count += 1;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    return undefined;
  }
  return count;
}

/**
 * The usual case, without a map of newcerts/ (100,000 names and serials were 40 MiB of the peak): no serial
 * repeats, every entry's file is SERIAL.pem spelt as index.txt spells it, and newcerts/ holds no other
 * certificate file, so none is unclaimed. Undefined when that is not so; matchedFilesPass then finds what
 * this would have found, and the rest.
 */
async function exactNamesPass(place: NewcertsPlace, fileCount: number): Promise<NewcertsPass | undefined> {
  const problems: string[] = [];
  let entries = 0;
  for (const { line, entry } of place.index.numbered()) {
    entries += 1;
    const path = join(place.newcerts, `${entry.serial}.pem`);
    let bytes: Buffer;
    try {
      bytes = readFileSync(path);
    } catch {
      return undefined;
    }
    const problem = certificateProblem(path, bytes, entry, place.ca);
    if (problem) problems.push(entryFinding(place.indexPath, path, problem, entry, line));
  }
  return entries === fileCount ? { problems, entries, unclaimed: new Map() } : undefined;
}

/** Each entry against the file of its serial's value, however the name spells it; what is left is unclaimed. */
async function matchedFilesPass(place: NewcertsPlace): Promise<NewcertsPass> {
  const files = await certificateFiles(place.newcerts);
  const problems: string[] = [];
  let entries = 0;
  for (const { line, entry } of place.index.numbered()) {
    entries += 1;
    const serial = serialValue(entry.serial);
    const path = join(place.newcerts, files.get(serial) ?? `${entry.serial}.pem`);
    // What is left in `files` afterwards has no index.txt line (no set of 100,000 indexed serials beside it).
    files.delete(serial);
    const problem = await entryProblem(path, entry, place.ca);
    if (problem) problems.push(entryFinding(place.indexPath, path, problem, entry, line));
  }
  return { problems, entries, unclaimed: files };
}

const entryFinding = (indexPath: string, path: string, problem: string, entry: IndexEntry, line: number): string =>
  `${path}: ${problem} — serial ${entry.serial} (${shorten(entry.subject, 80)}, ${indexPath} line ${line}); restore the file from your backup (or from the copy handed to its subscriber)`;

/** newcerts/'s certificate files by serial. */
async function certificateFiles(newcerts: string): Promise<Map<bigint, string>> {
  const files = new Map<bigint, string>();
  for (const name of await readdir(newcerts)) {
    const match = CERTIFICATE_FILE.exec(name);
    if (match) files.set(serialValue(match[1]!), name);
  }
  return files;
}

/** The serials a CA's CRL lists, best effort: an unreadable CRL is reported by checkCrl, here it lists nothing. */
async function crlRevokedSerials(crlPath: string): Promise<Set<bigint>> {
  try {
    const bytes = await readOptional(crlPath);
    if (bytes === undefined) return new Set();
    return new Set(decodeCrl(pemToDer(bytes.toString('utf8'), 'X509 CRL', crlPath)).revoked.map((r) => serialValue(r.serialHex)));
  } catch {
    return new Set();
  }
}

/** What is wrong with one index entry's newcerts file, or undefined. Names are decoded only to say what differs. */
async function entryProblem(path: string, entry: IndexEntry, ca: NewcertsCa): Promise<string | undefined> {
  const bytes = await readOptional(path);
  if (bytes === undefined) return 'missing: index.txt records a certificate that is gone';
  return certificateProblem(path, bytes, entry, ca);
}

/** What is wrong with the certificate file `bytes` that index entry `entry` names, or undefined. */
function certificateProblem(path: string, bytes: Buffer, entry: IndexEntry, ca: NewcertsCa): string | undefined {
  let cert: CertificateEssentials;
  try {
    cert = decodeCertificateEssentials(pemToDer(bytes.toString('utf8'), 'CERTIFICATE', path));
  } catch (error) {
    return `does not decode (${errorText(error)})`;
  }
  if (serialValue(cert.serialHex) !== serialValue(entry.serial)) return `holds serial ${cert.serialHex}, not the serial index.txt records`;
  if (Math.floor(cert.notAfter.getTime() / 1000) !== Math.floor(entry.expires.getTime() / 1000)) {
    return `expires ${cert.notAfter.toISOString()} but index.txt says ${entry.expires.toISOString()}`;
  }
  if (!subjectMatchesIndex(cert.subjectDer, entry.subject)) return `has subject ${nameText(cert.subjectDer)}, which is not index.txt's "${shorten(entry.subject, 80)}"`;
  if (ca.certificate && !cert.issuerDer.equals(ca.certificate.subjectDer)) return `was issued by ${nameText(cert.issuerDer)}, not by the ${ca.name} CA`;
  return undefined;
}

function nameText(der: Buffer): string {
  try {
    return formatName(decodeName(der));
  } catch (error) {
    return `an undecodable name (${errorText(error)})`;
  }
}

import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { CaError, UsageError } from '../../errors.js';
import { indexSerials, parseIndex, type IndexEntry } from '../../tools/parse/index-txt.js';
import { decodeCertificate, pemToDer, type DecodedCertificate } from '../../x509/decode.js';
import { signatureValid } from '../../x509/verify.js';
import type { Authority } from '../signing/authority.js';
import { serialValue } from '../signing/serial.js';

/** Reads an index.txt; the entries say which serials exist and which are revoked. */
export async function readIndex(databaseDir: string): Promise<IndexEntry[]> {
  return parseIndex(await readFile(join(databaseDir, 'index.txt'), 'utf8'));
}

/** The serials an index.txt lists (each line's serial field only: the signing hot path). */
export async function readIndexSerials(databaseDir: string): Promise<Set<bigint>> {
  return indexSerials(await readFile(join(databaseDir, 'index.txt'), 'utf8'));
}

/** A certificate this CA issued: its database line, its newcerts/ file and the decoded certificate. */
export interface IssuedCertificate {
  readonly entry: IndexEntry;
  readonly path: string;
  readonly cert: DecodedCertificate;
}

/** Finds a certificate named by file or serial, and checks that this CA issued it and that its database knows it. */
export async function findIssued(auth: Authority, target: string): Promise<IssuedCertificate> {
  const isFile = await stat(target).then((info) => info.isFile(), () => false);
  const index = await readIndex(auth.databaseDir);
  let cert: DecodedCertificate;
  if (isFile) {
    cert = decodeCertificate(pemToDer(await readFile(target, 'utf8'), 'CERTIFICATE', target));
  } else {
    const hex = target.replace(/^0x/i, '').replace(/:/g, '');
    if (!/^[0-9a-fA-F]{1,40}$/.test(hex)) throw new UsageError(`"${target}" is neither a certificate file nor a serial number (hex); pass one of them`);
    const entry = index.find((e) => serialValue(e.serial) === serialValue(hex));
    if (!entry) throw new CaError(`serial ${hex.toUpperCase()} was not issued by the ${auth.name} CA (not in its index.txt); check it with \`hsm-openssl-ca list\``);
    const path = join(auth.databaseDir, 'newcerts', `${entry.serial}.pem`);
    cert = decodeCertificate(pemToDer(await readFile(path, 'utf8'), 'CERTIFICATE', path));
  }
  const signedBy = (signer: DecodedCertificate) => cert.issuerDer.equals(signer.subjectDer) && signatureValid(cert.tbsDer, cert.signature, cert.signatureAlgorithmOid, signer.spkiDer);
  // After `intermediate --rekey`, what this database holds may be signed by one of the intermediate's earlier keys.
  if (!signedBy(auth.certificate) && !(await auth.earlierCertificates()).some(signedBy)) {
    throw new CaError(`${target} was not issued by the ${auth.name} CA${auth.name === 'intermediate' ? ' (to revoke the intermediate itself, use --root)' : ''}`);
  }
  const entry = index.find((e) => serialValue(e.serial) === serialValue(cert.serialHex));
  if (!entry) throw new CaError(`serial ${cert.serialHex} is not in the ${auth.name} CA's index.txt; the database and the certificate disagree — run \`hsm-openssl-ca check\``);
  return { entry, path: join(auth.databaseDir, 'newcerts', `${entry.serial}.pem`), cert };
}


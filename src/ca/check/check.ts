import { opendir, readdir } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { printable } from '../../errors.js';
import { ATOMIC_TEMP } from '../../fs-atomic.js';
import type { IndexEntry } from '../../tools/parse/index-txt.js';
import { IndexDatabase } from './index-database.js';
import { decodeCertificate, decodeCrl, formatName, pemToDer, type DecodedCertificate, type DecodedCrl } from '../../x509/decode.js';
import { errorText, readOptional, shorten, STREAMED_DIRECTORY } from './check-files.js';
import { checkNewcerts } from './newcerts-check.js';
import { signatureValid } from '../../x509/verify.js';
import { checkAuditLog, checkInterrupted } from './check-log.js';
import { caPaths, intermediateCrlFiles, type CaPaths } from '../directory/layout.js';
import { LOCK_FILE, lockOwner, processAlive } from '../directory/lock.js';
import { describeKeys, intermediateGeneration, readSettings, SETTINGS_FILE, type Settings } from '../directory/settings.js';
import { opensslHex, serialValue } from '../signing/serial.js';

/**
 * One line of `hsm-openssl-ca check`.
 * - `ok`: the area was checked and is consistent.
 * - `repairable`: the CA's records are intact and the text names one safe step that fixes it (remove a named
 *   leftover file, publish a new CRL, rewrite a derived file); nothing issued is lost.
 * - `broken`: records disagree or are lost, or the next signing / CRL would fail or reuse a serial; the text
 *   says what to restore, but a person has to decide.
 */
export interface CheckFinding {
  readonly level: 'ok' | 'repairable' | 'broken';
  readonly text: string;
}

/** The lock's own temporary (`withCaLock` writes its owner beside the lock, then hard-links it into place; the name holds the pid). */
const LOCK_TEMP = /^\.hsm-openssl-ca\.lock\.(\d+)\.[0-9a-f]{8}$/;

class Report {
  readonly findings: CheckFinding[] = [];
  ok(text: string): void {
    this.findings.push({ level: 'ok', text });
  }
  repairable(text: string): void {
    this.findings.push({ level: 'repairable', text });
  }
  broken(text: string): void {
    this.findings.push({ level: 'broken', text });
  }
  /** Runs one area's checks; an unexpected failure (EACCES, EISDIR, …) becomes a finding instead of ending the report. */
  async area(what: string, work: () => Promise<void>): Promise<void> {
    try {
      await work();
    } catch (error) {
      this.broken(`${what}: could not be checked (${printable(error instanceof Error ? error.message : String(error))}); fix the file's permissions or restore it from your backup`);
    }
  }
}

/** One of the two `openssl ca` databases and the CA that owns it. */
interface CaUnderCheck {
  readonly name: 'root' | 'intermediate';
  readonly databaseDir: string;
  readonly certificatePath: string;
  readonly crlPath: string;
  readonly crlDerPath: string;
  /** The command that publishes this CA's CRL, with --dir. */
  readonly crlCommand: string;
  certificate: DecodedCertificate | undefined;
}

const day = (date: Date): string => date.toISOString().slice(0, 10);

/**
 * Reads DIR and reports on both CAs: settings, CA certificates and chain, each `openssl ca` database (index.txt,
 * serial, crlnumber, index.txt.attr, newcerts/), each CRL, the audit log against both databases, and
 * what interrupted runs left. Never writes.
 */
export async function checkCaDirectory(dir: string): Promise<CheckFinding[]> {
  const report = new Report();
  const paths = caPaths(resolve(dir));
  const settings = await checkSettings(report, paths.dir);
  const cas: [CaUnderCheck, CaUnderCheck] = [
    {
      name: 'root',
      databaseDir: paths.rootDatabase,
      certificatePath: paths.rootCert,
      crlPath: paths.rootCrl,
      crlDerPath: paths.rootCrlDer,
      crlCommand: `hsm-openssl-ca crl --root --dir ${paths.dir}`,
      certificate: undefined,
    },
    {
      name: 'intermediate',
      databaseDir: paths.intermediateDir,
      certificatePath: paths.intermediateCert,
      ...intermediateCrlFiles(paths, settings ? intermediateGeneration(settings) : 1),
      crlCommand: `hsm-openssl-ca crl --dir ${paths.dir}`,
      certificate: undefined,
    },
  ];
  let committing = false;
  await report.area('the journal of interrupted changes', async () => {
    const interrupted = await checkInterrupted(paths.dir);
    report.findings.push(...interrupted.findings);
    committing = interrupted.committing;
  });
  // Mid-commit, the databases and the log are ahead of or behind each other by design; the journal says how.
  if (committing) return report.findings;
  await report.area('the CA certificates', () => checkCaCertificates(report, cas, settings, paths.chain, paths.dir));
  const parsed = new Map<string, Iterable<IndexEntry>>();
  for (const ca of cas) {
    let entries: IndexDatabase | undefined;
    await report.area(`the ${ca.name} CA's database in ${ca.databaseDir}`, async () => {
      entries = await checkDatabase(report, ca);
    });
    if (entries) parsed.set(ca.databaseDir, entries);
    await report.area(`the ${ca.name} CRL ${ca.crlPath}`, () => checkCrl(report, ca, entries));
  }
  for (const earlier of settings ? await earlierKeys(report, paths, settings) : []) {
    await report.area(`the CRL of an earlier intermediate key ${earlier.crlPath}`, () => checkCrl(report, earlier, parsed.get(earlier.databaseDir)));
  }
  await report.area('the audit log', async () => {
    report.findings.push(...(await checkAuditLog(paths.dir, parsed)));
  });
  await report.area(`leftover files in ${paths.dir}`, () => checkLeftovers(report, paths.dir));
  return report.findings;
}

/**
 * The intermediate's earlier keys (`intermediate --rekey`) whose certificates have not expired: each still
 * signs the CRL of what it issued, at its own file, checked like the current one. A missing certificate is named.
 */
async function earlierKeys(report: Report, paths: CaPaths, settings: Settings): Promise<CaUnderCheck[]> {
  const out: CaUnderCheck[] = [];
  for (const [index, previous] of (settings.previousIntermediates ?? []).entries()) {
    const certificatePath = resolve(paths.dir, previous.certificate);
    const read = await readCertificate(report, certificatePath, undefined);
    if (!read || read.cert.notAfter <= new Date()) continue;
    out.push({ name: 'intermediate', databaseDir: paths.intermediateDir, certificatePath, ...intermediateCrlFiles(paths, index + 1), crlCommand: `hsm-openssl-ca crl --dir ${paths.dir}`, certificate: read.cert });
  }
  return out;
}

async function checkSettings(report: Report, dir: string): Promise<Settings | undefined> {
  const path = join(dir, SETTINGS_FILE);
  try {
    if ((await readOptional(path)) === undefined) {
      report.broken(`${path} is missing: this is not a CA directory made by \`hsm-openssl-ca init\`, or its settings were lost — restore the file from your backup (it records module, token, subject and the CA keys' URIs)`);
      return undefined;
    }
    const settings = await readSettings(dir);
    report.ok(`settings ${path}: ${describeKeys(settings)}, token '${printable(settings.token)}'`);
    return settings;
  } catch (error) {
    // readSettings names the file and says to restore it from the backup.
    report.broken(errorText(error));
    return undefined;
  }
}

/** Reads and decodes a PEM certificate; undefined (and a finding) when it is missing or does not decode. */
async function readCertificate(report: Report, path: string, notYet: string | undefined): Promise<{ cert: DecodedCertificate; bytes: Buffer } | undefined> {
  const bytes = await readOptional(path);
  if (bytes === undefined) {
    if (notYet !== undefined) report.ok(notYet);
    else report.broken(`${path} is missing; restore it from your backup — nothing can be signed or verified without it`);
    return undefined;
  }
  try {
    return { cert: decodeCertificate(pemToDer(bytes.toString('utf8'), 'CERTIFICATE', path)), bytes };
  } catch (error) {
    report.broken(`${path} does not decode (${errorText(error)}); restore it from your backup`);
    return undefined;
  }
}

async function checkCaCertificates(report: Report, cas: [CaUnderCheck, CaUnderCheck], settings: Settings | undefined, chainPath: string, dir: string): Promise<void> {
  const [root, intermediate] = cas;
  const rootNotYet = settings && !settings.rootKey ? `root CA: not created yet (${root.certificatePath}); \`hsm-openssl-ca root --dir ${dir}\` creates it` : undefined;
  const rootRead = await readCertificate(report, root.certificatePath, rootNotYet);
  if (rootRead) {
    const cert = rootRead.cert;
    if (!signedBy(cert, cert)) {
      report.broken(`${root.certificatePath} is not a valid self-signed root certificate (${formatName(cert.subject)}); restore it from your backup`);
    } else {
      root.certificate = cert;
      report.ok(`root CA ${root.certificatePath}: ${formatName(cert.subject)}, expires ${day(cert.notAfter)}`);
    }
    if (settings && !settings.rootKey) {
      report.broken(`${root.certificatePath} exists but ${join(dir, SETTINGS_FILE)} records no rootKey: \`hsm-openssl-ca root\` was interrupted after writing the certificate — add rootKey (label, id and URI of the key on the token; \`p11tool --list-privkeys\` shows them) to the settings, or restore both files from your backup`);
    }
  }

  const intermediateNotYet = settings && !settings.intermediateKey ? `intermediate CA: not created yet (${intermediate.certificatePath}); \`hsm-openssl-ca intermediate --dir ${dir}\` creates it` : undefined;
  const intermediateRead = await readCertificate(report, intermediate.certificatePath, intermediateNotYet);
  if (intermediateRead) {
    const cert = intermediateRead.cert;
    const issuedByRoot = root.certificate && signedBy(cert, root.certificate);
    if (root.certificate && !issuedByRoot) {
      report.broken(`${intermediate.certificatePath} (${formatName(cert.subject)}) was not issued by the root in ${root.certificatePath}; restore the pair from your backup`);
    } else {
      intermediate.certificate = cert;
      report.ok(`intermediate CA ${intermediate.certificatePath}: ${formatName(cert.subject)}, expires ${day(cert.notAfter)}${issuedByRoot ? ', signed by the root' : ''}`);
    }
    if (settings && !settings.intermediateKey) {
      report.broken(`${intermediate.certificatePath} exists but ${join(dir, SETTINGS_FILE)} records no intermediateKey: \`hsm-openssl-ca intermediate\` was interrupted after writing the certificate — add intermediateKey (label, id and URI of the key on the token) to the settings, or restore from your backup`);
    }
  }

  if (root.certificate) await checkSuperseded(report, dirname(intermediate.certificatePath), root.certificate, intermediate.certificate);
  const chain = await readOptional(chainPath);
  if (!intermediateRead || !rootRead) {
    if (chain !== undefined && !intermediateRead) report.repairable(`${chainPath} exists without ${intermediate.certificatePath}; restore the intermediate certificate (the chain cannot replace it)`);
    return;
  }
  const expected = Buffer.concat([intermediateRead.bytes, rootRead.bytes]);
  const rebuild = `rebuild it with \`cat ${intermediate.certificatePath} ${root.certificatePath} > ${chainPath}\``;
  if (chain === undefined) report.repairable(`${chainPath} is missing (the intermediate command writes it last); ${rebuild}`);
  else if (!chain.equals(expected)) report.repairable(`${chainPath} is not intermediate.crt followed by root.crt byte for byte; ${rebuild}`);
  else report.ok(`chain ${chainPath} = intermediate.crt + root.crt`);
}

/** Whether `issuer` signed `cert`: its name is cert's issuer and its key verifies cert's signature. */
function signedBy(cert: DecodedCertificate, issuer: DecodedCertificate): boolean {
  return cert.issuerDer.equals(issuer.subjectDer) && signatureValid(cert.tbsDer, cert.signature, cert.signatureAlgorithmOid, issuer.spkiDer);
}

/** intermediate-SERIAL.crt, kept by `intermediate --renew`: on record, not a problem, as long as the root signed it. */
async function checkSuperseded(report: Report, certsDir: string, root: DecodedCertificate, current: DecodedCertificate | undefined): Promise<void> {
  for (const name of (await readdir(certsDir).catch(() => [])).filter((n) => /^intermediate-[0-9A-F]+\.crt$/.test(n)).sort()) {
    const read = await readCertificate(report, join(certsDir, name), undefined);
    if (!read) continue;
    const sameKey = !current || read.cert.spkiDer.equals(current.spkiDer);
    const why = sameKey ? 'kept on record after `intermediate --renew`' : 'the certificate of an earlier key, kept after `intermediate --rekey`: it verifies what that key issued';
    if (signedBy(read.cert, root)) report.ok(`superseded intermediate certificate ${join(certsDir, name)}: expires ${day(read.cert.notAfter)}, signed by the root; ${why}`);
    else report.broken(`${join(certsDir, name)} was not issued by the root in this directory; restore it from your backup or remove it`);
  }
}

/** One hex number, as `openssl ca` reads it (a2i_ASN1_INTEGER: whole bytes, so an even number of digits). */
function parseHexFile(text: string): bigint | undefined {
  const match = /^([0-9A-Fa-f]+)\r?\n?$/.exec(text);
  return match && match[1]!.length % 2 === 0 ? serialValue(match[1]!) : undefined;
}

/** Checks one `openssl ca` database; returns its index (the good lines) for the CRL and audit log checks. */
async function checkDatabase(report: Report, ca: CaUnderCheck): Promise<IndexDatabase | undefined> {
  const indexPath = join(ca.databaseDir, 'index.txt');
  const read = await readIndexDatabase(report, indexPath, ca.name);
  await checkAttr(report, ca);
  await checkSerial(report, ca);
  if (read) await checkNewcerts(report, ca, indexPath, read.index, read.uniqueSerials);
  return read?.index;
}

/** index.txt read and checked line by line, or undefined (and a finding) when it is missing. */
async function readIndexDatabase(report: Report, indexPath: string, caName: CaUnderCheck['name']): Promise<{ index: IndexDatabase; uniqueSerials: boolean } | undefined> {
  const bytes = await readOptional(indexPath);
  if (bytes === undefined) {
    report.broken(`${indexPath} is missing: the ${caName} CA's record of what it issued is gone and \`openssl ca\` cannot run; restore it from your backup`);
    return undefined;
  }
  const index = new IndexDatabase(bytes.toString('utf8'));
  return { index, uniqueSerials: checkIndexText(report, indexPath, index) };
}

/** Checks index.txt line by line so one bad line is named instead of hiding the rest; returns whether no serial repeats. */
function checkIndexText(report: Report, indexPath: string, index: IndexDatabase): boolean {
  const count = { valid: 0, revoked: 0, expired: 0, bad: 0 };
  // The first line of each serial, and every line of a serial seen again: 100,000 serials need no array each.
  const firstLine = new Map<bigint, number>();
  const repeated = new Map<bigint, number[]>();
  for (const { line, text, entry } of index.lines()) {
    if (!entry) {
      count.bad += 1;
      report.broken(`${indexPath} line ${line} is not a complete openssl ca database line ("${shorten(text)}"); \`openssl ca\` cannot use the database — restore index.txt from your backup, or rewrite the line from the matching newcerts/SERIAL.pem`);
      continue;
    }
    count[entry.status] += 1;
    const serial = serialValue(entry.serial);
    const first = firstLine.get(serial);
    if (first === undefined) firstLine.set(serial, line);
    else repeated.set(serial, [...(repeated.get(serial) ?? [first]), line]);
  }
  const unterminated = index.unterminatedLine();
  if (unterminated !== undefined) {
    // Measured with openssl 3.0: TXT_DB_read drops an unterminated last line, and the next signing rewrites index.txt without it.
    report.broken(`${indexPath} does not end with a line break: \`openssl ca\` silently drops its last line and would lose that record on the next signing — if line ${unterminated} is complete, append a newline; otherwise restore index.txt from your backup`);
  }
  for (const [serial, lines] of repeated) {
    report.broken(`${indexPath} lists serial ${opensslHex(serial)} ${lines.length} times (lines ${lines.join(', ')}); \`openssl ca\` refuses a database with a repeated serial ("Error creating serial number index") — keep the line that matches newcerts/${opensslHex(serial)}.pem and remove the others, or restore index.txt from your backup`);
  }
  if (count.bad === 0 && repeated.size === 0) {
    const entries = count.valid + count.revoked + count.expired;
    report.ok(`${indexPath}: ${entries} ${entries === 1 ? 'entry' : 'entries'} (${count.valid} valid, ${count.revoked} revoked, ${count.expired} expired), no repeated serial`);
  }
  return repeated.size === 0;
}

async function checkAttr(report: Report, ca: CaUnderCheck): Promise<void> {
  const path = join(ca.databaseDir, 'index.txt.attr');
  const attr = await readOptional(path);
  if (attr === undefined) {
    report.broken(`${path} is missing; signing stops until it exists — recreate it with the single line "unique_subject = no"`);
  } else if (!/^[ \t]*unique_subject[ \t]*=[ \t]*no[ \t]*$/m.test(attr.toString('utf8'))) {
    report.repairable(`${path} does not say "unique_subject = no"; renewing a certificate with an existing subject would be refused — replace its content with the line "unique_subject = no"`);
  } else {
    report.ok(`${path}: unique_subject = no`);
  }
}

/**
 * Serials are drawn at random for every certificate (rand_serial in the configs), and openssl ca refuses one
 * index.txt already holds, so no file can make the next signing reuse a serial. A CA made by an older version
 * still has the counter file `serial`; it is no longer read, whatever it says.
 */
async function checkSerial(report: Report, ca: CaUnderCheck): Promise<void> {
  const path = join(ca.databaseDir, 'serial');
  if ((await readOptional(path)) === undefined) return;
  report.ok(`${path}: left by an older hsm-openssl-ca and no longer read — every serial is drawn at random (openssl ca rand_serial) and one already in index.txt is refused; the file may be removed`);
}

async function checkCrl(report: Report, ca: CaUnderCheck, entries: Iterable<IndexEntry> | undefined): Promise<void> {
  const revokedInIndex = new Map(filtered(entries ?? [], (e) => e.status === 'revoked').map((e) => [serialValue(e.serial), e]));
  const crlnumberPath = join(ca.databaseDir, 'crlnumber');
  const crlnumberText = await readOptional(crlnumberPath);
  const crlnumber = crlnumberText === undefined ? undefined : parseHexFile(crlnumberText.toString('utf8'));
  if (crlnumberText !== undefined && crlnumber === undefined) {
    report.broken(`${crlnumberPath} does not hold one hex number with an even number of digits ("${shorten(crlnumberText.toString('utf8').trim(), 60)}"); \`openssl ca -gencrl\` cannot read it — write the published CRL's number plus one into it (1000 if no CRL was published)`);
  }

  const bytes = await readOptional(ca.crlPath);
  if (bytes === undefined) {
    if (revokedInIndex.size > 0) {
      report.repairable(`${ca.crlPath} is missing but ${join(ca.databaseDir, 'index.txt')} has ${revokedInIndex.size} revoked certificate(s): publish a new CRL with \`${ca.crlCommand}\``);
    } else if (ca.certificate) {
      report.ok(`${ca.name} CRL: none published yet (${ca.crlPath}); nothing is revoked`);
    }
    if (crlnumberText !== undefined && crlnumber !== undefined) report.ok(`${crlnumberPath}: next CRL number ${opensslHex(crlnumber)}`);
    return;
  }

  let crl: DecodedCrl;
  try {
    crl = decodeCrl(pemToDer(bytes.toString('utf8'), 'X509 CRL', ca.crlPath));
  } catch (error) {
    report.repairable(`${ca.crlPath} does not decode (${errorText(error)}); publish a new CRL with \`${ca.crlCommand}\``);
    return;
  }
  let healthy = true;
  if (ca.certificate && (!crl.issuerDer.equals(ca.certificate.subjectDer) || !signatureValid(crl.tbsDer, crl.signature, crl.signatureAlgorithmOid, ca.certificate.spkiDer))) {
    healthy = false;
    report.repairable(`${ca.crlPath} is not signed by the ${ca.name} CA in ${ca.certificatePath}; publish a new CRL with \`${ca.crlCommand}\``);
  }

  if (crlnumberText === undefined) {
    if (crl.crlNumber !== undefined && crl.crlNumber >= 0x1000n) {
      healthy = false;
      report.broken(`${crlnumberPath} is missing, so the next CRL would be numbered 1000, not above the published CRL's ${opensslHex(crl.crlNumber)}; write ${opensslHex(crl.crlNumber + 1n)} into it`);
    }
  } else if (crlnumber !== undefined && crl.crlNumber !== undefined && crlnumber <= crl.crlNumber) {
    healthy = false;
    report.broken(`${crlnumberPath} says the next CRL number is ${opensslHex(crlnumber)}, but ${ca.crlPath} already has number ${opensslHex(crl.crlNumber)}: the next CRL would not supersede it — write ${opensslHex(crl.crlNumber + 1n)} into ${crlnumberPath}`);
  }

  if (entries) {
    const listed = new Set(crl.revoked.map((r) => serialValue(r.serialHex)));
    const missing = [...revokedInIndex.keys()].filter((serial) => !listed.has(serial));
    if (missing.length > 0) {
      healthy = false;
      report.repairable(`${ca.crlPath} does not list revoked serial(s) ${missing.map(opensslHex).join(', ')} that ${join(ca.databaseDir, 'index.txt')} marks revoked (a revocation was recorded but its CRL not written): publish a new CRL with \`${ca.crlCommand}\``);
    }
    const known = new Map(filtered(entries, (e) => listed.has(serialValue(e.serial))).map((e) => [serialValue(e.serial), e]));
    for (const revoked of crl.revoked) {
      const serial = serialValue(revoked.serialHex);
      if (revokedInIndex.has(serial)) continue;
      healthy = false;
      const entry = known.get(serial);
      report.broken(
        entry
          ? `${ca.crlPath} lists serial ${entry.serial} as revoked but ${join(ca.databaseDir, 'index.txt')} has it ${entry.status}: the database lost a revocation and the next CRL would drop it — restore index.txt from your backup, or revoke it again with \`hsm-openssl-ca revoke ${entry.serial}${ca.name === 'root' ? ' --root' : ''} --dir ${resolve(ca.databaseDir, ca.name === 'root' ? '.' : '..')}\``
          : `${ca.crlPath} lists serial ${revoked.serialHex}, which ${join(ca.databaseDir, 'index.txt')} does not know: the database lost a line — restore index.txt from your backup`,
      );
    }
  }

  if (!(await derCrlMatches(report, ca, pemToDer(bytes.toString('utf8'), 'X509 CRL', ca.crlPath)))) healthy = false;
  if (crl.nextUpdate === undefined) {
    healthy = false;
    report.repairable(`${ca.crlPath} has no nextUpdate; publish a new CRL with \`${ca.crlCommand}\``);
  } else if (crl.nextUpdate.getTime() <= Date.now()) {
    healthy = false;
    report.repairable(`${ca.crlPath}: CRL expired on ${crl.nextUpdate.toISOString()} (nextUpdate), so relying parties reject it; run \`${ca.crlCommand}\``);
  }
  if (healthy) {
    report.ok(`${ca.name} CRL ${ca.crlPath}: number ${crl.crlNumber === undefined ? "(none)" : String(crl.crlNumber)}, lists the ${crl.revoked.length} revoked serial(s) of index.txt, next update ${crl.nextUpdate ? day(crl.nextUpdate) : '(none)'}`);
  }
}

/** The entries `keep` accepts, without an array of all of them first. */
function filtered(entries: Iterable<IndexEntry>, keep: (entry: IndexEntry) => boolean): IndexEntry[] {
  const kept: IndexEntry[] = [];
  for (const entry of entries) if (keep(entry)) kept.push(entry);
  return kept;
}

/** The DER copy that a CRL Distribution Point serves must be the very CRL of the PEM file. */
async function derCrlMatches(report: Report, ca: CaUnderCheck, der: Buffer): Promise<boolean> {
  const published = await readOptional(ca.crlDerPath);
  if (published?.equals(der)) return true;
  report.repairable(
    published === undefined
      ? `${ca.crlDerPath} is missing: the CRL Distribution Point's file (DER) was never written beside ${ca.crlPath} (CA directories made by earlier versions lack it) — publish both with \`${ca.crlCommand}\``
      : `${ca.crlDerPath} is not the CRL in ${ca.crlPath}: relying parties fetching the Distribution Point would get another CRL — publish both again with \`${ca.crlCommand}\``,
  );
  return false;
}

async function checkLeftovers(report: Report, dir: string): Promise<void> {
  let found = 0;
  let lockHeld = false;
  const lockPath = join(dir, LOCK_FILE);
  const lock = await readOptional(lockPath);
  if (lock !== undefined) {
    const owner = lockOwner(lock.toString('utf8'));
    if (!owner.stale) {
      lockHeld = true;
      report.ok(`${lockPath}: ${owner.why} right now; what follows may be its work in progress — check again when it has finished`);
    } else {
      found += 1;
      report.repairable(`${lockPath} is a stale lock: ${owner.why}; the next command removes it by itself, or remove ${lockPath}`);
    }
  }
  const walk = async (current: string): Promise<void> => {
    // One entry at a time: newcerts/ holds 100,000 files, and an array of them all is tens of MiB.
    for await (const entry of await opendir(current, STREAMED_DIRECTORY)) {
      const path = join(current, entry.name);
      if (entry.isDirectory()) {
        await walk(path);
        continue;
      }
      if (!entry.isFile()) continue;
      const atomic = ATOMIC_TEMP.exec(entry.name);
      if (atomic) {
        found += 1;
        const target = join(current, atomic[1]!);
        report.repairable(`${path} is a leftover temporary file of an interrupted write of ${target}; writes are atomic (renamed into place only when complete), so ${target} was not touched — remove ${path}${lockHeld ? ' once the running command has finished' : ''}`);
        continue;
      }
      const lockTemp = current === dir ? LOCK_TEMP.exec(entry.name) : null;
      if (lockTemp && !processAlive(Number(lockTemp[1]))) {
        found += 1;
        report.repairable(`${path} is a leftover of taking the lock by a run (pid ${lockTemp[1]}) that is no longer running; remove ${path}`);
      }
    }
  };
  await walk(dir);
  if (found === 0) report.ok(`${dir}: no leftover temporary files and no stale lock`);
}

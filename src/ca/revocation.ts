import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { CaError, UsageError } from '../errors.js';
import { writeFileAtomic } from '../fs-atomic.js';
import { renderTemplate } from '../openssl-config.js';
import { readPin } from '../terminal.js';
import * as openssl from '../tools/openssl.js';
import { parseIndex, type IndexEntry } from '../tools/parse/index-txt.js';
import { decodeCertificate, decodeCrl, formatName, pemToDer, type DecodedCertificate, type DecodedCrl } from '../x509/decode.js';
import { signatureValid, verifyCrl } from '../x509/verify.js';
import { authority, type Authority } from './authority.js';
import { loadCa, type LoadedCa, type TokenCommandOptions } from './context.js';
import { withCaLock } from './lock.js';
import { openToken, requireTools } from './token.js';
import { commitDatabase, stageDatabase, withWorkspace, writeEngineConfig } from './workspace.js';

/** CRLReason names `openssl ca -crl_reason` takes (RFC 5280 5.3.1); removeFromCRL is not a reason to revoke. */
export const REVOCATION_REASONS = ['unspecified', 'keyCompromise', 'CACompromise', 'affiliationChanged', 'superseded', 'cessationOfOperation', 'certificateHold'] as const;
export type RevocationReason = (typeof REVOCATION_REASONS)[number];

export interface PublishedCrl {
  readonly path: string;
  readonly number: bigint;
  readonly nextUpdate: Date;
  readonly revokedCount: number;
  readonly checks: readonly string[];
}

const serialValue = (hex: string): bigint => BigInt(`0x${hex}`);

/** Reads an index.txt; the entries say which serials exist and which are revoked. */
export async function readIndex(databaseDir: string): Promise<IndexEntry[]> {
  return parseIndex(await readFile(join(databaseDir, 'index.txt'), 'utf8'));
}

/** Finds the certificate a `revoke` names, by file or serial, and checks this CA issued it and it is still valid. */
async function findIssued(auth: Authority, target: string): Promise<{ entry: IndexEntry; path: string; cert: DecodedCertificate }> {
  const isFile = await stat(target).then((info) => info.isFile(), () => false);
  let cert: DecodedCertificate;
  if (isFile) {
    cert = decodeCertificate(pemToDer(await readFile(target, 'utf8'), 'CERTIFICATE', target));
  } else {
    const hex = target.replace(/^0x/i, '').replace(/:/g, '');
    if (!/^[0-9a-fA-F]{1,40}$/.test(hex)) throw new UsageError(`"${target}" is neither a certificate file nor a serial number (hex); pass one of them`);
    const entry = (await readIndex(auth.databaseDir)).find((e) => serialValue(e.serial) === serialValue(hex));
    if (!entry) throw new CaError(`serial ${hex.toUpperCase()} was not issued by the ${auth.name} CA (not in its index.txt); check it with \`hsm-openssl-ca list\``);
    const path = join(auth.databaseDir, 'newcerts', `${entry.serial}.pem`);
    cert = decodeCertificate(pemToDer(await readFile(path, 'utf8'), 'CERTIFICATE', path));
  }
  if (!cert.issuerDer.equals(auth.certificate.subjectDer) || !signatureValid(cert.tbsDer, cert.signature, cert.signatureAlgorithmOid, auth.certificate.spkiDer)) {
    throw new CaError(`${target} was not issued by the ${auth.name} CA${auth.name === 'intermediate' ? ' (to revoke the intermediate itself, use --root)' : ''}`);
  }
  const entry = (await readIndex(auth.databaseDir)).find((e) => serialValue(e.serial) === serialValue(cert.serialHex));
  if (!entry) throw new CaError(`serial ${cert.serialHex} is not in the ${auth.name} CA's index.txt; the database and the certificate disagree — run \`hsm-openssl-ca check\``);
  if (entry.status === 'revoked') throw new CaError(`serial ${entry.serial} is already revoked (${entry.revokedAt?.toISOString().slice(0, 10)}${entry.reason ? `, ${entry.reason}` : ''}); nothing to do`);
  return { entry, path: join(auth.databaseDir, 'newcerts', `${entry.serial}.pem`), cert };
}

function requireCrlDays(days: number, auth: Authority): void {
  const left = Math.floor((auth.certificate.notAfter.getTime() - Date.now()) / 86_400_000);
  if (days > left) throw new UsageError(`--days ${days} would put the CRL's nextUpdate ${days - left} days after the ${auth.name} CA expires; use --days ${left} or less`);
}

async function previousCrlNumber(auth: Authority): Promise<bigint | undefined> {
  const pem = await readFile(auth.crlPath, 'utf8').catch(() => undefined);
  return pem ? decodeCrl(pemToDer(pem, 'X509 CRL', auth.crlPath)).crlNumber : undefined;
}

interface StagedAuthority {
  readonly engine: openssl.EngineContext;
  readonly staging: string;
  readonly config: string;
  readonly work: string;
}

/** Runs `work` against a staged copy of the CA's database, holding the lock, with the PIN read once. */
async function withStagedAuthority<T>(options: TokenCommandOptions, ca: LoadedCa, auth: Authority, work: (staged: StagedAuthority) => Promise<T>): Promise<T> {
  await requireTools();
  await openToken(options.run, ca.module, ca.tokenLabel);
  return withCaLock(ca.paths.dir, () =>
    withWorkspace(async (dir) => {
      const pin = await readPin({ pinFile: options.pinFile, tokenLabel: ca.tokenLabel });
      const staging = await stageDatabase(auth.databaseDir, dir);
      const config = join(dir, auth.configName);
      await writeFileAtomic(config, await renderTemplate(auth.configName, { ...auth.configContext, dir: staging }));
      const engine = { run: options.run, engineConfig: await writeEngineConfig(dir, ca.module), pin };
      return work({ engine, staging, config, work: dir });
    }),
  );
}

/** Generates a CRL in the staged database and verifies it against the CA and the staged index. */
async function stageCrl(staged: StagedAuthority, auth: Authority, ca: LoadedCa, days: number): Promise<{ pem: string; crl: DecodedCrl; checks: string[] }> {
  const out = join(staged.work, 'crl.pem');
  await openssl.generateCrl(staged.engine, { config: staged.config, days, digest: ca.settings.digest, out });
  const pem = await readFile(out, 'utf8');
  const crl = decodeCrl(pemToDer(pem, 'X509 CRL', 'the new CRL'));
  const revokedSerials = (await readIndex(staged.staging)).filter((e) => e.status === 'revoked').map((e) => e.serial);
  const checks = verifyCrl(`the ${auth.name} CRL`, crl, { issuer: auth.certificate, digest: ca.settings.digest, revokedSerials, days, previousNumber: await previousCrlNumber(auth) });
  return { pem, crl, checks };
}

function published(auth: Authority, crl: DecodedCrl, checks: string[]): PublishedCrl {
  return { path: auth.crlPath, number: crl.crlNumber!, nextUpdate: crl.nextUpdate!, revokedCount: crl.revoked.length, checks };
}

/** `crl [--root] [--days N]`: a fresh CRL signed on the token, with CRL number and nextUpdate. */
export async function publishCrl(options: TokenCommandOptions & { root: boolean; days: number }): Promise<PublishedCrl> {
  const ca = await loadCa(options);
  const auth = await authority(ca, options.root ? 'root' : 'intermediate');
  requireCrlDays(options.days, auth);
  return withStagedAuthority(options, ca, auth, async (staged) => {
    options.say(`signing the ${auth.name} CRL on token '${ca.tokenLabel}' (openssl ca -gencrl)…`);
    const { pem, crl, checks } = await stageCrl(staged, auth, ca, options.days);
    await commitDatabase(staged.staging, auth.databaseDir);
    await writeFileAtomic(auth.crlPath, pem);
    return published(auth, crl, checks);
  });
}

export interface Revocation {
  readonly serial: string;
  readonly subject: string;
  readonly reason: RevocationReason;
  readonly crl: PublishedCrl;
}

/**
 * `revoke CERT|SERIAL [--reason R] [--root]`: marks the certificate revoked and publishes a new CRL in the
 * same run, so a revocation is never recorded without being published. `--root` revokes with the root key
 * (the intermediate itself, when no target is given).
 */
export async function revokeCertificate(options: TokenCommandOptions & { target?: string; reason: RevocationReason; root: boolean; crlDays: number }): Promise<Revocation> {
  const ca = await loadCa(options);
  const auth = await authority(ca, options.root ? 'root' : 'intermediate');
  const target = options.target ?? (options.root ? ca.paths.intermediateCert : undefined);
  if (!target) throw new UsageError('name the certificate to revoke: a certificate file or its serial number');
  const found = await findIssued(auth, target);
  requireCrlDays(options.crlDays, auth);
  return withStagedAuthority(options, ca, auth, async (staged) => {
    options.say(`revoking serial ${found.entry.serial} (${formatName(found.cert.subject)}) with the ${auth.name} key on token '${ca.tokenLabel}'…`);
    await openssl.revoke(staged.engine, { config: staged.config, certificate: found.path, reason: options.reason });
    const entry = (await readIndex(staged.staging)).find((e) => e.serial === found.entry.serial);
    if (entry?.status !== 'revoked') throw new CaError(`openssl ca -revoke did not mark serial ${found.entry.serial} revoked; nothing was changed`);
    const { pem, crl, checks } = await stageCrl(staged, auth, ca, options.crlDays);
    await commitDatabase(staged.staging, auth.databaseDir);
    await writeFileAtomic(auth.crlPath, pem);
    return { serial: found.entry.serial, subject: formatName(found.cert.subject), reason: options.reason, crl: published(auth, crl, [`serial ${found.entry.serial} marked revoked (${options.reason}) in index.txt`, ...checks]) };
  });
}

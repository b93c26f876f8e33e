import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CaError, UsageError } from '../../errors.js';
import { renderTemplate } from '../../openssl-config.js';
import { confirm } from '../../terminal.js';
import * as openssl from '../../tools/openssl.js';
import { readOpensslOutput } from '../../tools/openssl-output.js';
import { sanStrings } from '../../x509/san.js';
import { daysUntil, decodeCrl, formatName, pemToDer, type DecodedCrl } from '../../x509/decode.js';
import { verifyCrl } from '../../x509/verify.js';
import { authority, type Authority } from './authority.js';
import { loadCa, type LoadedCa, type TokenCommandOptions } from '../directory/context.js';
import { findIssued, readIndex, type IssuedCertificate } from '../inventory/issued.js';
import type { AuditEvent } from '../audit/record.js';
import { certificateAudit, requestKey, resumeInterrupted, withCaChange, type ChangeOptions, type CommitPlan } from '../directory/change.js';
import { requireCaKey, signerFor } from '../token/signer.js';
import { openToken, pinFor, requireTools } from '../token/token.js';
import type { PlannedWrite } from '../directory/journal.js';
import { databaseWrites, stageDatabase, withWorkspace, writeWorkspaceFile } from '../directory/workspace.js';
import { shadowAuthority, type ShadowAuthority } from '../shadow/authority.js';
import { requireSameCrl } from '../shadow/compare.js';
import { rehearse, shadowRefused } from '../shadow/rehearse.js';

/** CRLReason names `openssl ca -crl_reason` takes (RFC 5280 5.3.1); removeFromCRL is not a reason to revoke. */
export const REVOCATION_REASONS = ['unspecified', 'keyCompromise', 'CACompromise', 'affiliationChanged', 'superseded', 'cessationOfOperation', 'certificateHold'] as const;
export type RevocationReason = (typeof REVOCATION_REASONS)[number];

export interface PublishedCrl {
  /** The PEM file; `derPath` holds the same CRL in DER, the file to publish at `url`. */
  readonly path: string;
  readonly derPath: string;
  readonly url: string | undefined;
  readonly number: bigint;
  readonly nextUpdate: Date;
  readonly revokedCount: number;
  readonly checks: readonly string[];
}

export function requireCrlDays(days: number, auth: Authority): void {
  const left = daysUntil(auth.certificate.notAfter);
  if (days > left) throw new UsageError(`--days ${days} would put the CRL's nextUpdate ${days - left} days after the ${auth.name} CA expires; use --days ${left} or less`);
}

async function previousCrlNumber(auth: Authority): Promise<bigint | undefined> {
  const pem = await readFile(auth.crlPath, 'utf8').catch(() => undefined);
  return pem ? decodeCrl(pemToDer(pem, 'X509 CRL', auth.crlPath)).crlNumber : undefined;
}

/** A CA's database staged in a workspace, with the CA's config pointing at it and the signer to use. */
export interface StagedAuthority {
  readonly signer: openssl.SigningContext;
  readonly staging: string;
  readonly config: string;
  readonly work: string;
  /** The shadow of this CA, which signs every CRL first. */
  readonly shadow: ShadowAuthority;
}

/** Renders the CA's own config (revoke, gencrl) against a staged database. */
export async function stagedAuthority(auth: Authority, signer: openssl.SigningContext, staging: string, work: string, shadow: ShadowAuthority): Promise<StagedAuthority> {
  return { signer, ...(await shadowStagedAuthority(auth, staging, work, shadow)) };
}

/** The same without a token: what a dry run works with. */
export async function shadowStagedAuthority(auth: Authority, staging: string, work: string, shadow: ShadowAuthority): Promise<Omit<StagedAuthority, 'signer'>> {
  const config = join(work, auth.configName);
  await writeWorkspaceFile(config, await renderTemplate(auth.configName, { ...auth.configContext, dir: staging }));
  return { staging, config, work, shadow };
}

/** Runs `work` against a staged copy of the CA's database, holding the lock, with the PIN read once. */
async function withStagedAuthority<T>(options: TokenCommandOptions, ca: LoadedCa, auth: Authority, change: ChangeOptions, work: (staged: StagedAuthority) => Promise<CommitPlan<T>>): Promise<T> {
  const role = auth.name === 'root' ? ca.rootToken : ca.intermediateToken;
  await requireTools();
  const token = await openToken(options.run, role, options);
  return withCaChange(ca.paths.dir, () =>
    withWorkspace(async (dir) => {
      const pin = await pinFor(role, options.say);
      await requireCaKey(token, pin, auth.key, role);
      const staging = await stageDatabase(auth.databaseDir, dir);
      const shadow = await shadowAuthority(options.run, ca, auth.name, dir);
      return work(await stagedAuthority(auth, await signerFor(token, role, pin, dir, options.say), staging, dir, shadow));
    }),
    change,
  );
}

function changeOptions(options: TokenCommandOptions, command: string, key: string): ChangeOptions {
  return { command, requestKey: key, timeoutMs: options.lockTimeoutMs, onWait: options.say, say: options.say };
}

/** `openssl ca -gencrl` in the staged database with `signer`, the CRL read back and verified against `issuer`. */
async function signCrl(staged: Omit<StagedAuthority, 'signer'>, auth: Authority, signer: openssl.CaSigner, days: number, out: string): Promise<{ pem: string; crl: DecodedCrl; checks: string[] }> {
  const printed = await openssl.generateCrl(signer, { config: staged.config, days, digest: auth.digest, out });
  const pem = await readOpensslOutput(out, 'openssl ca -gencrl', printed);
  const crl = decodeCrl(pemToDer(pem, 'X509 CRL', 'the new CRL'));
  const revokedSerials = (await readIndex(staged.staging)).filter((e) => e.status === 'revoked').map((e) => e.serial);
  const shadow = signer === staged.shadow;
  const issuer = shadow ? staged.shadow.decoded : auth.certificate;
  const checks = verifyCrl(`the ${shadow ? 'shadow ' : ''}${auth.name} CRL`, crl, { issuer, digest: auth.digest, revokedSerials, days, previousNumber: await previousCrlNumber(auth) });
  return { pem, crl, checks };
}

/** A CRL is published as PEM and as DER, in the same change: the two never disagree. */
function crlWrites(auth: Authority, pem: string): PlannedWrite[] {
  return [
    { path: auth.crlPath, data: pem },
    { path: auth.crlDerPath, data: pemToDer(pem, 'X509 CRL', 'the new CRL') },
  ];
}

/** The shadow CA's CRL from the staged database (put back afterwards), judged; its file is shadow-crl.pem. */
export async function shadowCrl(staged: Omit<StagedAuthority, 'signer'>, auth: Authority, days: number): Promise<{ pem: string; crl: DecodedCrl; checks: string[] }> {
  return rehearse(staged.staging, () => signCrl(staged, auth, staged.shadow, days, join(staged.work, 'shadow-crl.pem'))).catch((error: unknown) => {
    throw shadowRefused(`the ${auth.name} CRL`, error);
  });
}

/** Generates a CRL in the staged database: the shadow CA's first, judged, then the token's, compared with it. */
async function stageCrl(staged: StagedAuthority, auth: Authority, days: number): Promise<{ pem: string; crl: DecodedCrl; checks: string[] }> {
  const shadow = await shadowCrl(staged, auth, days);
  const signed = await signCrl(staged, auth, staged.signer, days, join(staged.work, 'crl.pem'));
  return { ...signed, checks: [...shadow.checks, ...signed.checks, requireSameCrl(`the ${auth.name} CRL`, signed.crl, shadow.crl)] };
}

function crlAudit(command: string, auth: Authority, crl: DecodedCrl): AuditEvent {
  return { action: 'crl-published', command, detail: `${auth.name} CRL number ${crl.crlNumber}, ${crl.revoked.length} revoked, next update ${crl.nextUpdate?.toISOString()}` };
}

function published(auth: Authority, crl: DecodedCrl, checks: string[]): PublishedCrl {
  return { path: auth.crlPath, derPath: auth.crlDerPath, url: auth.crlUrl, number: crl.crlNumber!, nextUpdate: crl.nextUpdate!, revokedCount: crl.revoked.length, checks };
}

/** `crl [--root] [--days N]`: a fresh CRL signed on the token, with CRL number and nextUpdate. */
export async function publishCrl(options: TokenCommandOptions & { root: boolean; days: number }): Promise<PublishedCrl> {
  const ca = await loadCa(options);
  const command = options.root ? 'crl --root' : 'crl';
  const change = changeOptions(options, command, requestKey(command, options.days));
  const resumed = await resumeInterrupted<PublishedCrl>(ca.paths.dir, change);
  if (resumed) return resumed;
  const auth = await authority(ca, options.root ? 'root' : 'intermediate');
  requireCrlDays(options.days, auth);
  return withStagedAuthority(options, ca, auth, change, async (staged) => {
    options.say(`signing the ${auth.name} CRL (openssl ca -gencrl)…`);
    const { pem, crl, checks } = await stageCrl(staged, auth, options.days);
    return {
      result: published(auth, crl, checks),
      summary: `${auth.name} CRL number ${crl.crlNumber} (${auth.crlPath})`,
      writes: [...(await databaseWrites(staged.staging, auth.databaseDir)), ...crlWrites(auth, pem)],
      audit: [crlAudit(command, auth, crl)],
    };
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
  const command = options.root ? 'revoke --root' : 'revoke';
  const change = changeOptions(options, command, requestKey(command, options.target, options.reason, options.crlDays));
  const resumed = await resumeInterrupted<Revocation>(ca.paths.dir, change);
  if (resumed) return resumed;
  const auth = await authority(ca, options.root ? 'root' : 'intermediate');
  const target = options.target ?? (options.root ? ca.paths.intermediateCert : undefined);
  if (!target) throw new UsageError('name the certificate to revoke: a certificate file or its serial number');
  const found = await findIssued(auth, target);
  if (found.entry.status === 'revoked') throw new CaError(`serial ${found.entry.serial} is already revoked (${found.entry.revokedAt?.toISOString().slice(0, 10)}${found.entry.reason ? `, ${found.entry.reason}` : ''}); nothing to do`);
  requireCrlDays(options.crlDays, auth);
  await confirm(
    `About to revoke with the ${auth.name} key, and publish its CRL:\n  serial   ${found.entry.serial}\n  subject  ${formatName(found.cert.subject)}\n  SANs     ${sanStrings(found.cert.extensions).join(', ') || '(none)'}\n  reason   ${options.reason}`,
    'Revoke the certificate?',
    'not revoked',
    options,
  );
  return withStagedAuthority(options, ca, auth, change, async (staged) => {
    const revoked = await revokeInStaging(staged, auth, found, { reason: options.reason, crlDays: options.crlDays, command, say: options.say });
    return { ...revoked, writes: [...(await databaseWrites(staged.staging, auth.databaseDir)), ...revoked.writes] };
  });
}

/**
 * Revokes a certificate in a staged database and generates the CRL there, verified. Returns the CRL's write
 * (the database's writes are the caller's: renew --revoke-old commits them with its own new certificate).
 */
export async function revokeInStaging(
  staged: StagedAuthority,
  auth: Authority,
  found: IssuedCertificate,
  how: { reason: RevocationReason; crlDays: number; command: string; say: (line: string) => void },
): Promise<{ result: Revocation; summary: string; writes: PlannedWrite[]; audit: AuditEvent[] }> {
  const subject = formatName(found.cert.subject);
  how.say(`revoking serial ${found.entry.serial} (${subject}) with the ${auth.name} key…`);
  await openssl.revoke(staged.signer, { config: staged.config, certificate: found.path, reason: how.reason });
  const entry = (await readIndex(staged.staging)).find((e) => e.serial === found.entry.serial);
  if (entry?.status !== 'revoked') throw new CaError(`openssl ca -revoke did not mark serial ${found.entry.serial} revoked; nothing was changed`);
  const { pem, crl, checks } = await stageCrl(staged, auth, how.crlDays);
  return {
    summary: `revocation of serial ${found.entry.serial} (${subject}) and ${auth.name} CRL number ${crl.crlNumber}`,
    writes: crlWrites(auth, pem),
    result: { serial: found.entry.serial, subject, reason: how.reason, crl: published(auth, crl, [`serial ${found.entry.serial} marked revoked (${how.reason}) in index.txt`, ...checks]) },
    audit: [{ action: 'revoked', command: how.command, ...certificateAudit(found.cert, subject), detail: how.reason }, crlAudit(how.command, auth, crl)],
  };
}

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
import { authority, crlAuthorities, type Authority } from './authority.js';
import type { Runner } from '../../tools/run.js';
import { loadCa, type LoadedCa, type TokenCommandOptions } from '../directory/context.js';
import { findIssued, readIndex, type IssuedCertificate } from '../inventory/issued.js';
import type { AuditEvent } from '../audit/record.js';
import { certificateAudit, requestKey, resumeInterrupted, withCaChange, type ChangeOptions, type CommitPlan } from '../directory/change.js';
import { requireCaKeys, signerFor } from '../token/signer.js';
import { openToken, pinFor, requireTools } from '../token/token.js';
import type { PlannedWrite } from '../directory/journal.js';
import { databaseWrites, stageDatabase, withWorkspace, writeWorkspaceFile } from '../directory/workspace.js';
import { shadowAuthority, type ShadowAuthority } from '../shadow/authority.js';
import { requireSameCrl } from '../shadow/compare.js';
import { rehearse, shadowRefused } from '../shadow/rehearse.js';

import type { RevocationReason } from './option-values.js';
export type { RevocationReason } from './option-values.js';

export interface PublishedCrl {
  /** Whose CRL: "intermediate", "root", or "intermediate key 1 (…)" for a key `intermediate --rekey` replaced. */
  readonly title: string;
  /** The PEM file; `derPath` holds the same CRL in DER, the file to publish at `url`. */
  readonly path: string;
  readonly derPath: string;
  readonly url: string | undefined;
  readonly number: bigint;
  readonly nextUpdate: Date;
  readonly revokedCount: number;
  readonly checks: readonly string[];
  /** The CRLs of the intermediate's earlier keys, republished in the same change (empty without a rekey). */
  readonly earlierKeys: readonly PublishedCrl[];
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
  const config = join(work, workspaceFile(auth, auth.configName));
  await writeWorkspaceFile(config, await renderTemplate(auth.configName, { ...auth.configContext, dir: staging }));
  return { staging, config, work, shadow };
}

/** A file of this CA in a workspace: an earlier key of the intermediate gets its own, beside the current key's. */
export function workspaceFile(auth: Authority, name: string): string {
  return auth.workspaceName === auth.name ? name : `${auth.workspaceName}-${name}`;
}

/** Runs `work` against a staged copy of the CA's database, holding the lock, with the PIN read once. */
async function withStagedAuthority<T>(options: TokenCommandOptions, ca: LoadedCa, auth: Authority, change: ChangeOptions, work: (staged: StagedAuthority) => Promise<CommitPlan<T>>): Promise<T> {
  const role = auth.name === 'root' ? ca.rootToken : ca.intermediateToken;
  await requireTools();
  const token = await openToken(options.run, role, options);
  return withCaChange(ca.paths.dir, () =>
    withWorkspace(async (dir) => {
      const pin = await pinFor(role, options.say);
      await requireCaKeys(token, pin, (await crlAuthorities(ca, auth)).map((each) => each.key), role);
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
  const checks = verifyCrl(`the ${shadow ? 'shadow ' : ''}${auth.title} CRL`, crl, { issuer, digest: auth.digest, revokedSerials, days, previousNumber: await previousCrlNumber(auth) });
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
  return rehearse(staged.staging, () => signCrl(staged, auth, staged.shadow, days, join(staged.work, workspaceFile(auth, 'shadow-crl.pem')))).catch((error: unknown) => {
    throw shadowRefused(`the ${auth.title} CRL`, error);
  });
}

/** Generates a CRL in the staged database: the shadow CA's first, judged, then the token's, compared with it. */
async function stageCrl(staged: StagedAuthority, auth: Authority, days: number): Promise<{ pem: string; crl: DecodedCrl; checks: string[] }> {
  const shadow = await shadowCrl(staged, auth, days);
  const signed = await signCrl(staged, auth, staged.signer, days, join(staged.work, workspaceFile(auth, 'crl.pem')));
  return { ...signed, checks: [...shadow.checks, ...signed.checks, requireSameCrl(`the ${auth.title} CRL`, signed.crl, shadow.crl)] };
}

function crlAudit(command: string, auth: Authority, crl: DecodedCrl): AuditEvent {
  return { action: 'crl-published', command, detail: `${auth.title} CRL number ${crl.crlNumber}, ${crl.revoked.length} revoked, next update ${crl.nextUpdate?.toISOString()}` };
}

function published(auth: Authority, crl: DecodedCrl, checks: string[], earlierKeys: readonly PublishedCrl[] = []): PublishedCrl {
  return { title: auth.title, path: auth.crlPath, derPath: auth.crlDerPath, url: auth.crlUrl, number: crl.crlNumber!, nextUpdate: crl.nextUpdate!, revokedCount: crl.revoked.length, checks, earlierKeys };
}

/** Where a CRL needs the token and the directory: who signs it, under which title. */
export interface CrlContext {
  readonly run: Runner;
  readonly ca: LoadedCa;
  readonly command: string;
}

/**
 * The intermediate's earlier keys whose CRLs a change of `auth`'s database republishes, each with its CRL's
 * days: nextUpdate stops where that key's certificate ends, and a key whose certificate ends within a day signs none.
 */
export async function earlierCrls(ca: LoadedCa, auth: Authority, days: number): Promise<Array<{ auth: Authority; days: number }>> {
  const out: Array<{ auth: Authority; days: number }> = [];
  for (const other of (await crlAuthorities(ca, auth)).slice(1)) {
    const otherDays = Math.min(days, daysUntil(other.certificate.notAfter));
    if (otherDays >= 1) out.push({ auth: other, days: otherDays });
  }
  return out;
}

/**
 * Every CRL a change of `auth`'s database publishes, generated in the staged database: `auth`'s own and,
 * for the intermediate after `intermediate --rekey`, one per earlier key still in service — each signed by
 * its own key and published at its own URL, since clients look for the CRL signed by the key that signed the
 * leaf. An earlier key's nextUpdate stops where its certificate ends.
 */
async function stageCrls(staged: StagedAuthority, auth: Authority, days: number, context: CrlContext) {
  const main = await stageCrl(staged, auth, days);
  const earlier: Array<{ auth: Authority; pem: string; crl: DecodedCrl; checks: string[] }> = [];
  for (const other of await earlierCrls(context.ca, auth, days)) {
    const shadow = await shadowAuthority(context.run, context.ca, 'intermediate', staged.work, other.auth);
    earlier.push({ auth: other.auth, ...(await stageCrl(await stagedAuthority(other.auth, staged.signer, staged.staging, staged.work, shadow), other.auth, other.days)) });
  }
  const earlierKeys = earlier.map((e) => published(e.auth, e.crl, e.checks));
  return {
    main,
    result: published(auth, main.crl, main.checks, earlierKeys),
    writes: [...crlWrites(auth, main.pem), ...earlier.flatMap((e) => crlWrites(e.auth, e.pem))],
    audit: [crlAudit(context.command, auth, main.crl), ...earlier.map((e) => crlAudit(context.command, e.auth, e.crl))],
  };
}

/**
 * The first CRL of the intermediate's new key, signed in the `intermediate --rekey` change itself: the new
 * key's URL serves a CRL from the start, and `check` finds one CRL per key. Its own staged copy of the database.
 */
export async function firstCrl(signer: openssl.SigningContext, auth: Authority, context: CrlContext & { work: string; days: number }) {
  const staging = await stageDatabase(auth.databaseDir, context.work, `${auth.workspaceName}-database`);
  const shadow = await shadowAuthority(context.run, context.ca, 'intermediate', context.work, auth);
  const { pem, crl, checks } = await stageCrl(await stagedAuthority(auth, signer, staging, context.work, shadow), auth, context.days);
  return { result: published(auth, crl, checks), writes: [...(await databaseWrites(staging, auth.databaseDir)), ...crlWrites(auth, pem)], audit: crlAudit(context.command, auth, crl) };
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
    const crls = await stageCrls(staged, auth, options.days, { run: options.run, ca, command });
    return {
      result: crls.result,
      summary: `${auth.name} CRL number ${crls.main.crl.crlNumber} (${auth.crlPath})${crls.result.earlierKeys.length ? ` and ${crls.result.earlierKeys.length} CRL(s) of earlier keys` : ''}`,
      writes: [...(await databaseWrites(staged.staging, auth.databaseDir)), ...crls.writes],
      audit: crls.audit,
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
    const revoked = await revokeInStaging(staged, auth, found, { reason: options.reason, crlDays: options.crlDays, command, say: options.say, run: options.run, ca });
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
  how: { reason: RevocationReason; crlDays: number; say: (line: string) => void } & CrlContext,
): Promise<{ result: Revocation; summary: string; writes: PlannedWrite[]; audit: AuditEvent[] }> {
  const subject = formatName(found.cert.subject);
  how.say(`revoking serial ${found.entry.serial} (${subject}) with the ${auth.name} key…`);
  await openssl.revoke(staged.signer, { config: staged.config, certificate: found.path, reason: how.reason });
  const entry = (await readIndex(staged.staging)).find((e) => e.serial === found.entry.serial);
  if (entry?.status !== 'revoked') throw new CaError(`openssl ca -revoke did not mark serial ${found.entry.serial} revoked; nothing was changed`);
  const crls = await stageCrls(staged, auth, how.crlDays, how);
  return {
    summary: `revocation of serial ${found.entry.serial} (${subject}) and ${auth.name} CRL number ${crls.main.crl.crlNumber}`,
    writes: crls.writes,
    result: { serial: found.entry.serial, subject, reason: how.reason, crl: { ...crls.result, checks: [`serial ${found.entry.serial} marked revoked (${how.reason}) in index.txt`, ...crls.result.checks] } },
    audit: [{ action: 'revoked', command: how.command, ...certificateAudit(found.cert, subject), detail: how.reason }, ...crls.audit],
  };
}

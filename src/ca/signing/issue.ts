import { readFile, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { CaError, UsageError } from '../../errors.js';
import { confirmSigning } from '../../terminal.js';
import * as openssl from '../../tools/openssl.js';
import { decodeCertificate, decodeCsr, formatName, pemToDer, type DecodedCsr } from '../../x509/decode.js';
import { parseSanText, requireDistinctSans, sanStrings, sansFromRequestedExtensions, type San } from '../../x509/san.js';
import { csrSignatureValid, describeKey, verifyLeafCertificate } from '../../x509/verify.js';
import { authority, earlierAuthorities } from './authority.js';
import { loadCa, type LoadedCa, type TokenCommandOptions } from '../directory/context.js';
import type { AuditEvent } from '../audit/record.js';
import { certificateAudit, requestKey, resumeInterrupted, withCaChange, type ChangeOptions } from '../directory/change.js';
import type { PlannedWrite } from '../directory/journal.js';
import type { Revocation } from './revocation.js';
import { requireWritableOutput } from '../directory/output-file.js';
import { decideLeafSubject } from './leaf-subject.js';
import type { requireWithinNameConstraints } from './name-constraints.js';
import { MAX_CSR_BYTES, requireCleanRequest, requireStrongKey, requireValidityWithin } from './leaf-policy.js';
import { PROFILES, type ProfileName } from './profiles.js';
import { signStaged, type SignRequest } from './sign.js';
import { requireCaKeys, signerFor } from '../token/signer.js';
import { openToken, pinFor, requireTools } from '../token/token.js';
import { databaseWrites, withWorkspace, writeWorkspaceFile } from '../directory/workspace.js';
import { shadowAuthority, type ShadowAuthority } from '../shadow/authority.js';
import { leafShadow } from '../shadow/judge.js';

export interface IssuedLeaf {
  readonly certificate: string;
  /** The same certificate followed by the intermediate's, for servers that send the chain. */
  readonly chain: string;
  readonly serial: string;
  readonly subject: string;
  readonly sans: readonly string[];
  readonly notAfter: Date;
  readonly profile: ProfileName;
  readonly ignoredExtensions: readonly string[];
  readonly checks: readonly string[];
  /** The predecessor's revocation, when the same change revoked it (renew --revoke-old). */
  readonly revocation?: Revocation;
}

export interface IssueOptions extends TokenCommandOptions {
  readonly csrPath: string;
  readonly days: number;
  readonly out?: string;
  readonly profile: ProfileName;
  /** Extra SANs from --san flags, added to the CSR's. */
  readonly sans: readonly string[];
  /** Replace the CSR's SANs instead of adding to them (renewal reuses the old certificate's). */
  readonly replaceSans?: boolean;
  /** The command for the audit log, when not the profile's own (renew). */
  readonly command?: string;
  /**
   * More of the same change, on the same staged database after the certificate verified: renew
   * --revoke-old revokes the predecessor there, so both are committed together or not at all.
   */
  /**
   * Test seam, never set by the CLI: the name-constraint pre-check to use, so a test can leave it out and
   * show that the shadow CA alone refuses what the constraints forbid before the token signs anything.
   */
  readonly nameConstraintPreCheck?: typeof requireWithinNameConstraints;
  /** --new-key: what identifies the request instead of the CSR's bytes, which a fresh key makes new on every run. */
  readonly requestIdentity?: string;
  /** --new-key's key and PKCS#12: checked like --out again under the lock, written exclusively in the same commit. */
  readonly deliveries?: Deliveries;
  /** Said in the audit record after the profile and validity: `--new-key`'s "key made here (EC:secp256r1)". */
  readonly auditNote?: string;
  readonly alsoRevoke?: (staged: { signer: openssl.SigningContext; staging: string; work: string }) => Promise<{ result: Revocation; summary: string; writes: PlannedWrite[]; audit: AuditEvent[] }>;
}

/** Files delivered with the certificate, made once it is signed and verified (`work`: the signing's workspace). */
export interface Deliveries {
  readonly files: ReadonlyArray<{ readonly path: string; readonly option: string }>;
  readonly writes: (signed: { certificate: string; chain: string; work: string }) => Promise<PlannedWrite[]>;
}

/** The change a leaf issuance makes, keyed by what was asked: a rerun of the same request gets its result. */
export async function leafChange(options: IssueOptions, csrPath: string, out: string): Promise<ChangeOptions> {
  const command = options.command ?? options.profile;
  const csr = options.requestIdentity ?? (await readFile(csrPath).catch(() => undefined));
  return {
    command,
    requestKey: requestKey(command, csr, out, options.profile, options.sans.join('\n'), options.replaceSans, options.days, options.alsoRevoke !== undefined),
    timeoutMs: options.lockTimeoutMs,
    onWait: options.say,
    say: options.say,
  };
}

/** Reads and checks a CSR from someone else: one PEM block (or DER), well-formed, signed by its own key. */
export async function readCsr(path: string): Promise<{ csr: DecodedCsr; keyType: 'ec' | 'rsa'; pem: string }> {
  const info = await stat(path).catch(() => {
    throw new UsageError(`cannot read the CSR ${path}: no such file`);
  });
  if (!info.isFile()) throw new UsageError(`the CSR ${path} is not a file`);
  if (info.size === 0) throw new UsageError(`the CSR ${path} is empty`);
  if (info.size > MAX_CSR_BYTES) throw new UsageError(`the CSR ${path} is ${info.size} bytes; a CSR is a few kilobytes — check the file`);
  const bytes = await readFile(path);
  const text = bytes.toString('latin1');
  try {
    const der = text.includes('-----BEGIN') ? pemToDer(text, 'CERTIFICATE REQUEST', path) : bytes;
    const csr = decodeCsr(der);
    const keyType = requireStrongKey(csr, path);
    if (!csrSignatureValid(csr)) throw new UsageError(`the CSR ${path} has an invalid signature (or an unsupported algorithm); ask for a new CSR`);
    requireCleanRequest(csr, path);
    return { csr, keyType, pem: `-----BEGIN CERTIFICATE REQUEST-----\n${der.toString('base64').replace(/.{64}/g, '$&\n').replace(/\n?$/, '\n')}-----END CERTIFICATE REQUEST-----\n` };
  } catch (error) {
    if (error instanceof CaError && !(error instanceof UsageError)) throw new UsageError(`the CSR ${path} is unreadable: ${error.message}`);
    throw error;
  }
}



/**
 * The SANs to issue: the CSR's plus the --san flags. With none at all, the CN becomes a DNS SAN when it
 * is a DNS name (browsers ignore the CN); a server certificate without any SAN is refused.
 */
function sansFor(csr: DecodedCsr, options: IssueOptions): San[] {
  const fromFlags = options.sans.map(parseSanText);
  const sans = options.replaceSans ? fromFlags : [...sansFromRequestedExtensions(csr.requestedExtensions), ...fromFlags];
  requireDistinctSans(sans, 'the certificate request with --san');
  if (sans.length > 0) return sans;
  const cn = csr.subject.find((a) => a.shortName === 'CN')?.value;
  try {
    return [parseSanText(`DNS:${cn}`)];
  } catch {
    if (options.profile === 'client') return [];
    throw new UsageError(`the CSR ${options.csrPath} requests no subjectAltName and its CN "${cn}" is not a DNS name; pass --san DNS:name or ask for a CSR with SANs`);
  }
}

/** The certificate next to its CSR: web.csr → web.crt. */
export function defaultOutput(csrPath: string): string {
  return csrPath.replace(/\.(csr|req|pem)$/i, '') + '.crt';
}

/**
 * Where the full chain goes beside a certificate: leaf then intermediate, the file nginx's ssl_certificate,
 * HAProxy's crt and a Kubernetes TLS secret's tls.crt take (the root stays out: clients hold it).
 */
export function chainOutput(out: string): string {
  return /\.(crt|pem|cer)$/i.test(out) ? out.replace(/\.(crt|pem|cer)$/i, '.chain.$1') : `${out}.chain.crt`;
}

/** Where the certificate goes: --out, else the CSR's path with .crt. */
export function leafOutput(options: Pick<IssueOptions, 'csrPath' | 'out'>): string {
  return resolve(options.out ?? defaultOutput(resolve(options.csrPath)));
}

/**
 * Every check of a leaf request that needs no token, and the signing request it makes in a workspace: the
 * same for a real issuance and a dry run.
 */
export async function planLeaf(options: IssueOptions, ca: LoadedCa, wantedOut: string) {
  const { settings, paths } = ca;
  const csrPath = resolve(options.csrPath);
  const { certificate: intermediate, key: intermediateKey, digest } = await authority(ca, 'intermediate');
  const { csr, keyType, pem: csrPem } = await readCsr(csrPath);
  const out = await requireWritableOutput(wantedOut, paths.dir);
  const chainOut = await requireWritableOutput(chainOutput(out), paths.dir);
  const sans = sansFor(csr, options);
  const nonTls = sans.find((san) => san.type === 'email' || san.type === 'URI');
  if (options.profile === 'server' && nonTls) {
    throw new UsageError(`SAN ${nonTls.type}:${nonTls.value} does not belong in a TLS server certificate (only DNS and IP names do); use --profile server-client or the client command`);
  }
  const subject = await decideLeafSubject(ca, { csr, sans, profile: options.profile, intermediate, ...(options.nameConstraintPreCheck ? { nameConstraintPreCheck: options.nameConstraintPreCheck } : {}) });
  requireValidityWithin(options.days, options.profile, intermediate);
  const profile = PROFILES[options.profile];
  const ignoredExtensions = csr.requestedExtensions.filter((e) => e.name !== 'subjectAltName').map((e) => e.name ?? e.id);
  const keyUsage = keyType === 'ec' ? ['digitalSignature'] : ['digitalSignature', 'keyEncipherment'];
  const sanText = sans.map((s) => `${s.type}:${s.value}`);
  const summary = `About to sign with the intermediate key (${options.profile} certificate):\n  subject  ${subject.text}${subject.text === formatName(csr.subject) ? '' : ` (the CSR asked for ${formatName(csr.subject)})`}\n  SANs     ${sanText.join(', ') || '(none)'}\n  key      ${describeKey(csr.spkiDer)}\n  validity ${options.days} days\n  ${profile.extendedKeyUsage.join(', ')}; ${keyUsage.join(', ')}${ignoredExtensions.length ? `\n  ignored  ${ignoredExtensions.join(', ')} (requested by the CSR)` : ''}`;
  const expect = { csr, digest, subject: subject.attributes, sans: sanText, keyUsage, extendedKeyUsage: profile.extendedKeyUsage };
  // A batch makes the shadow authority once for all its requests (`shadow`); a single signing makes its own.
  const request = async (work: string, csrCopy: string, shadow?: ShadowAuthority): Promise<Omit<SignRequest, 'signer'>> => ({
    workspace: work,
    caDir: paths.intermediateDir,
    templates: ['sign_server_csrs.ini', profile.template],
    context: {
      profile: options.profile,
      extensions: profile.section,
      privateKeyUri: intermediateKey.uri,
      certificate: paths.intermediateCert,
      digest,
      keyUsage: keyUsage.join(', '),
      sans: sans.map((san, i) => ({ type: san.type, index: i + 1, value: san.value })),
      subjectPolicy: subject.policy,
      copyExtensions: 'none',
      crlUrl: settings.crlUrl ?? '',
      caIssuersUrl: settings.caIssuersUrl ?? '',
    },
    extensions: profile.section,
    days: options.days,
    digest,
    csr: csrCopy,
    subject: subject.subj,
    shadow: leafShadow(shadow ?? (await shadowAuthority(options.run, ca, 'intermediate', work)), `${options.profile} certificate`, expect),
  });
  return { out, chainOut, csrPem, subject, intermediate, intermediateKey, expect, sanText, ignoredExtensions, summary, request };
}

/**
 * The article's "Sign a Server Certificate", with what it leaves out: the CSR is checked, its
 * subjectAltName entries are validated and carried over (the article's config drops them, and Chromium
 * and Go reject a server certificate without SANs), the profile decides the extensions, and the result is
 * verified against the chain before anything is written.
 */
export async function issueLeaf(options: IssueOptions): Promise<IssuedLeaf> {
  const ca = await loadCa(options);
  const { paths } = ca;
  const csrPath = resolve(options.csrPath);
  const wantedOut = leafOutput(options);
  const change = await leafChange(options, csrPath, wantedOut);
  const resumed = await resumeInterrupted<IssuedLeaf>(paths.dir, change);
  if (resumed) return resumed;
  const plan = await planLeaf(options, ca, wantedOut);
  const { out, chainOut, csrPem, subject, intermediate, intermediateKey, expect, sanText, ignoredExtensions } = plan;
  await confirmSigning(plan.summary, options);
  await requireTools();
  const token = await openToken(options.run, ca.intermediateToken, options);
  return withCaChange(paths.dir, () =>
    withWorkspace(async (work) => {
      // Again under the lock: a run that waited for it may find the file written by the run before.
      await requireWritableOutput(out, paths.dir);
      await requireWritableOutput(chainOut, paths.dir);
      for (const file of options.deliveries?.files ?? []) await requireWritableOutput(file.path, paths.dir, file.option);
      const pin = await pinFor(ca.intermediateToken, options.say);
      // A renewal that revokes its predecessor also signs the CRLs of the intermediate's earlier keys.
      const crlKeys = options.alsoRevoke ? (await earlierAuthorities(ca)).map((earlier) => earlier.key) : [];
      await requireCaKeys(token, pin, [intermediateKey, ...crlKeys], ca.intermediateToken);
      const csrCopy = join(work, 'request.csr');
      await writeWorkspaceFile(csrCopy, csrPem);
      options.say(`signing ${subject.text} (${options.profile}) with the intermediate key on token '${ca.intermediateToken.tokenLabel}' (openssl ca)…`);
      const signer = await signerFor(token, ca.intermediateToken, pin, work, options.say);
      const signed = await signStaged({ signer, ...(await plan.request(work, csrCopy)) });
      const cert = decodeCertificate(pemToDer(signed.pem, 'CERTIFICATE', 'the issued certificate'));
      const checks = [...signed.shadow.checks, ...verifyLeafCertificate(`the ${options.profile} certificate`, cert, { ...expect, issuer: intermediate }, sanStrings(cert.extensions))];
      await openssl.verifyChain(options.run, { root: paths.rootCert, untrusted: paths.intermediateCert, certificate: join(work, 'issued.crt') });
      checks.push('openssl verify -CAfile root.crt -untrusted intermediate.crt: OK');
      const revocation = options.alsoRevoke ? await options.alsoRevoke({ signer, staging: signed.staging, work }) : undefined;
      const chain = signed.pem + (await readFile(paths.intermediateCert, 'utf8'));
      const delivered = (await options.deliveries?.writes({ certificate: signed.pem, chain, work })) ?? [];
      const result: IssuedLeaf = { certificate: out, chain: chainOut, serial: cert.serialHex, subject: formatName(cert.subject), sans: sanText, notAfter: cert.notAfter, profile: options.profile, ignoredExtensions, checks, ...(revocation ? { revocation: revocation.result } : {}) };
      const issued = `${options.profile} certificate ${cert.serialHex} for ${result.subject} (${join(paths.intermediateDir, 'newcerts', `${cert.serialHex}.pem`)}, delivered to ${out})`;
      return {
        result,
        summary: revocation ? `${issued} and ${revocation.summary}` : issued,
        writes: [
          ...(await databaseWrites(signed.staging, paths.intermediateDir)),
          { path: join(paths.csrArchive, `${cert.serialHex}.csr`), data: csrPem },
          { path: join(paths.config, 'sign_server_csrs.ini'), data: signed.configText },
          // The key before its certificate: a commit killed between the two never leaves a certificate without it.
          ...delivered,
          { path: out, data: signed.pem, exclusive: true },
          { path: chainOut, data: chain, exclusive: true },
          ...(revocation?.writes ?? []),
        ],
        audit: [{ action: 'certificate-issued' as const, command: change.command, ...certificateAudit(cert, result.subject, sanText), detail: `${options.profile} certificate, ${options.days} days${options.auditNote ? `, ${options.auditNote}` : ''}` }, ...(revocation?.audit ?? [])],
      };
    }),
    change,
  );
}


import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { UsageError } from '../../errors.js';
import { confirmSigning } from '../../terminal.js';
import * as openssl from '../../tools/openssl.js';
import { daysUntil, decodeCertificate, formatName, pemToDer, type DecodedCertificate, type DecodedCsr, type NameAttribute } from '../../x509/decode.js';
import { describeKey, Verification, verifyCaCertificate } from '../../x509/verify.js';
import { fileExists, loadCa, type LoadedCa, type TokenCommandOptions } from '../directory/context.js';
import { certificateAudit, requestKey, resumeInterrupted, withCaChange } from '../directory/change.js';
import type { PlannedWrite } from '../directory/journal.js';
import { requireWritableOutput } from '../directory/output-file.js';
import { caDigest, type NameConstraints } from '../directory/settings.js';
import { databaseWrites, withWorkspace, writeWorkspaceFile } from '../directory/workspace.js';
import { requireCaKey, signerFor } from '../token/signer.js';
import { openToken, pinFor, requireTools } from '../token/token.js';
import { defaultOutput, readCsr } from './issue.js';
import { nameConstraintEntries } from './name-constraints.js';
import { signStaged, type ShadowStep } from './sign.js';
import { shadowAuthority, type ShadowAuthority } from '../shadow/authority.js';
import { intermediateShadow } from '../shadow/judge.js';

export interface ForeignIntermediateOptions extends TokenCommandOptions {
  readonly csrPath: string;
  readonly days: number;
  readonly pathlen: number;
  readonly nameConstraints?: NameConstraints;
  /** Where the certificate goes (default: next to the CSR, .crt); ignored when outDir is given. */
  readonly out?: string;
  /** The hand-over folder: intermediate.crt, chain.crt, root.crt, root.sha256. */
  readonly outDir?: string;
}

export interface ForeignIntermediate {
  readonly serial: string;
  readonly subject: string;
  readonly notAfter: Date;
  readonly pathlen: number;
  /** What the CSR asked for and the root did not write. */
  readonly ignoredExtensions: readonly string[];
  readonly files: readonly string[];
  /** SHA-256 of the root certificate's DER, lower-case hex: what `step ca bootstrap --fingerprint` takes. */
  readonly rootFingerprint: string;
  /** Where the root CRL is published (the settings' rootCrlUrl), and the file to publish there. */
  readonly rootCrlUrl?: string;
  readonly rootCrlFile: string;
  readonly checks: readonly string[];
}

/** The subject attributes `policy_foreign` keeps, in the order `openssl ca` (preserve = no) writes them. */
const POLICY_ORDER = ['C', 'ST', 'L', 'O', 'OU', 'CN'];
// Extensions the root writes into an intermediate: SKI, AKI, basicConstraints, keyUsage, CDP, nameConstraints.
const ALLOWED_EXTENSIONS = ['2.5.29.14', '2.5.29.35', '2.5.29.19', '2.5.29.15', '2.5.29.31', '2.5.29.30'];

/** DN equality the way path building sees it: case and runs of spaces do not matter. */
const sameName = (a: readonly NameAttribute[], b: readonly NameAttribute[]): boolean => {
  const key = (name: readonly NameAttribute[]) => formatName(name).toLowerCase().replace(/\s+/g, ' ');
  return key(a) === key(b);
};

/**
 * The subject the certificate will carry, or a one-line refusal: only C/ST/L/O/OU/CN, each once (so the
 * policy drops nothing silently), and never the root's or our own intermediate's name, which would make
 * verifiers build the wrong path.
 */
function foreignSubject(csr: DecodedCsr, path: string, taken: Array<{ name: string; cert: DecodedCertificate }>): NameAttribute[] {
  const other = csr.subject.find((a) => !POLICY_ORDER.includes(a.shortName));
  if (other) throw new UsageError(`the CSR ${path} has ${other.shortName}=${other.value} in its subject; an intermediate's subject may hold only ${POLICY_ORDER.join(', ')} — ask the online CA for a CSR without it`);
  const repeated = csr.subject.find((a, i) => csr.subject.findIndex((b) => b.shortName === a.shortName) !== i);
  if (repeated) throw new UsageError(`the CSR ${path} has ${repeated.shortName} twice in its subject; ask the online CA for a CSR with one`);
  const subject = [...csr.subject].sort((a, b) => POLICY_ORDER.indexOf(a.shortName) - POLICY_ORDER.indexOf(b.shortName));
  for (const { name, cert } of taken) {
    if (sameName(subject, cert.subject)) throw new UsageError(`the CSR ${path} asks for the subject ${formatName(subject)}, which is the ${name}'s; give the online CA's intermediate a name of its own`);
    if (csr.spkiDer.equals(cert.spkiDer)) throw new UsageError(`the CSR ${path} carries the ${name}'s public key; the online CA needs a key of its own`);
  }
  return subject;
}

/** What the hand-over folder holds, checked before the token is touched. */
async function handOverTargets(outDir: string, caDir: string): Promise<{ intermediate: string; chain: string; root: string; fingerprint: string }> {
  const target = (name: string) => requireWritableOutput(join(resolve(outDir), name), caDir, '--out-dir');
  return { intermediate: await target('intermediate.crt'), chain: await target('chain.crt'), root: await target('root.crt'), fingerprint: await target('root.sha256') };
}

async function plannedOutputs(options: ForeignIntermediateOptions, caDir: string): Promise<{ out?: string; handOver?: Awaited<ReturnType<typeof handOverTargets>> }> {
  if (options.outDir !== undefined) return { handOver: await handOverTargets(options.outDir, caDir) };
  return { out: await requireWritableOutput(resolve(options.out ?? defaultOutput(resolve(options.csrPath))), caDir) };
}

function outputWrites(outputs: Awaited<ReturnType<typeof plannedOutputs>>, pem: string, rootPem: string, fingerprint: string): PlannedWrite[] {
  if (outputs.out) return [{ path: outputs.out, data: pem, exclusive: true }];
  const h = outputs.handOver!;
  return [
    { path: h.intermediate, data: pem, exclusive: true },
    { path: h.chain, data: pem + rootPem, exclusive: true },
    { path: h.root, data: rootPem, exclusive: true },
    { path: h.fingerprint, data: `${fingerprint}\n`, exclusive: true },
  ];
}

function requireDaysWithinRoot(days: number, root: DecodedCertificate): void {
  const maxDays = daysUntil(root.notAfter);
  if (days > maxDays) throw new UsageError(`--days ${days} would outlive the root CA by ${days - maxDays} days (root expires ${root.notAfter.toISOString().slice(0, 10)}); use --days ${maxDays} or less`);
}

/** Our own intermediate, when there is one: its name and key are not for a foreign CA to take. */
async function ownIntermediate(ca: LoadedCa): Promise<Array<{ name: string; cert: DecodedCertificate }>> {
  if (!(await fileExists(ca.paths.intermediateCert))) return [];
  const pem = await readFile(ca.paths.intermediateCert, 'utf8');
  return [{ name: 'intermediate CA in this directory', cert: decodeCertificate(pemToDer(pem, 'CERTIFICATE', ca.paths.intermediateCert)) }];
}

/** The root's own checks on what `openssl ca` made: the usual CA checks, the subject, and no extension from elsewhere. */
/** What only a foreign intermediate must show: the subject decided here, no extension from the CSR, its constraints. */
function foreignOnlyChecks(what: string, cert: DecodedCertificate, expect: { subject: NameAttribute[]; constrained: boolean }): string[] {
  const ids = cert.extensions.map((e) => e.id);
  const stray = ids.filter((id) => !ALLOWED_EXTENSIONS.includes(id));
  const nc = cert.extensions.find((e) => e.id === '2.5.29.30');
  return new Verification(what)
    .check(`subject ${formatName(expect.subject)}`, formatName(cert.subject) === formatName(expect.subject), `found ${formatName(cert.subject)}`)
    .check('no extension from the CSR', stray.length === 0, `found ${stray.join(', ')}`)
    .check(expect.constrained ? 'nameConstraints critical' : 'no nameConstraints', expect.constrained ? nc?.critical === true : nc === undefined)
    .passed();
}

function verifyForeign(cert: DecodedCertificate, root: DecodedCertificate, expect: { csr: DecodedCsr; subject: NameAttribute[]; digest: ReturnType<typeof caDigest>; pathlen: number; constrained: boolean }): string[] {
  return [...foreignOnlyChecks('the foreign intermediate certificate', cert, expect), ...verifyCaCertificate('the foreign intermediate certificate', cert, { issuer: root, digest: expect.digest, tokenSpki: expect.csr.spkiDer, pathLength: expect.pathlen })];
}

/** The shadow root signs the foreign CSR first; its result must pass every check the real one will. */
function foreignShadow(shadow: ShadowAuthority, expect: { csr: DecodedCsr; subject: NameAttribute[]; digest: ReturnType<typeof caDigest>; pathlen: number; constrained: boolean }): ShadowStep {
  const base = intermediateShadow(shadow, { digest: expect.digest, tokenSpki: expect.csr.spkiDer, pathLength: expect.pathlen });
  return {
    key: shadow,
    async judge(pem, file) {
      const cert = decodeCertificate(pemToDer(pem, 'CERTIFICATE', 'the shadow foreign intermediate certificate'));
      return [...foreignOnlyChecks('the shadow foreign intermediate certificate', cert, expect), ...(await base.judge(pem, file))];
    },
  };
}

/**
 * `intermediate --csr FILE`: the root key signs an online CA's intermediate (step-ca, Vault, EJBCA). The CSR
 * is checked like a leaf's, its extensions are never copied (copy_extensions = none: the root's policy and the
 * flags decide), the certificate lands in the root's database and the audit log, and it is verified with the
 * tool's own checks and `openssl verify` before anything is written.
 */
export async function signForeignIntermediate(options: ForeignIntermediateOptions): Promise<ForeignIntermediate> {
  const ca = await loadCa(options);
  const { settings, paths } = ca;
  const csrPath = resolve(options.csrPath);
  const csrBytes = await readFile(csrPath).catch(() => undefined);
  const command = 'intermediate --csr';
  const change = { command, requestKey: requestKey(command, csrBytes, options.out, options.outDir, options.days, options.pathlen, JSON.stringify(options.nameConstraints ?? null)), timeoutMs: options.lockTimeoutMs, onWait: options.say, say: options.say };
  const resumed = await resumeInterrupted<ForeignIntermediate>(paths.dir, change);
  if (resumed) return resumed;
  const rootKey = settings.rootKey;
  if (!rootKey || !(await fileExists(paths.rootCert))) throw new UsageError(`no root CA yet in ${paths.dir}; run \`hsm-openssl-ca root --dir ${paths.dir}\` first`);
  const rootPem = await readFile(paths.rootCert, 'utf8');
  const root = decodeCertificate(pemToDer(rootPem, 'CERTIFICATE', paths.rootCert));
  const { csr, pem: csrPem } = await readCsr(csrPath);
  const subject = foreignSubject(csr, csrPath, [{ name: 'root CA', cert: root }, ...(await ownIntermediate(ca))]);
  requireDaysWithinRoot(options.days, root);
  await plannedOutputs(options, paths.dir);
  const constraints = nameConstraintEntries(options.nameConstraints);
  const requested = csr.requestedExtensions.map((e) => e.name ?? e.id);
  await confirmSigning(
    `About to sign an online CA's intermediate with the root key:\n  subject  ${formatName(subject)}\n  key      ${describeKey(csr.spkiDer)}\n  validity ${options.days} days\n  CA:TRUE, pathlen:${options.pathlen}; keyCertSign, cRLSign, digitalSignature${constraints.length ? `\n  names    ${constraints.map((c) => `${c.subtree} ${c.type}:${c.value}`).join(', ')}` : ''}${requested.length ? `\n  ignored  ${requested.join(', ')} (requested by the CSR)` : ''}`,
    options,
  );
  await requireTools();
  const token = await openToken(options.run, ca.rootToken, options);
  const digest = caDigest(settings, 'root');
  const fingerprint = createHash('sha256').update(root.der).digest('hex');
  const expectation = { csr, subject, digest, pathlen: options.pathlen, constrained: constraints.length > 0 };
  return withCaChange(paths.dir, () =>
    withWorkspace(async (work) => {
      // Again under the lock: a run that waited for it may find the files written by the run before.
      const targets = await plannedOutputs(options, paths.dir);
      const pin = await pinFor(ca.rootToken, options.say);
      await requireCaKey(token, pin, rootKey, ca.rootToken);
      const csrCopy = join(work, 'foreign.csr');
      await writeWorkspaceFile(csrCopy, csrPem);
      options.say(`signing the intermediate ${formatName(subject)} with the root key on token '${ca.rootToken.tokenLabel}' (openssl ca)…`);
      const signed = await signStaged({
        signer: await signerFor(token, ca.rootToken, pin, work, options.say),
        workspace: work,
        caDir: paths.dir,
        templates: ['sign_intermediate_csr.ini'],
        context: { privateKeyUri: rootKey.uri, certificate: paths.rootCert, digest, rootCrlUrl: settings.rootCrlUrl ?? '', nameConstraints: constraints, pathlen: options.pathlen, foreignSubject: true },
        extensions: 'v3_intermediate_ca',
        days: options.days,
        digest,
        csr: csrCopy,
        shadow: foreignShadow(await shadowAuthority(options.run, ca, 'root', work), expectation),
      });
      const cert = decodeCertificate(pemToDer(signed.pem, 'CERTIFICATE', 'the foreign intermediate certificate'));
      const checks = [...signed.shadow.checks, ...verifyForeign(cert, root, expectation)];
      await openssl.verifyChain(options.run, { root: paths.rootCert, certificate: join(work, 'issued.crt') });
      const writes = outputWrites(targets, signed.pem, rootPem, fingerprint);
      const result: ForeignIntermediate = {
        serial: cert.serialHex,
        subject: formatName(cert.subject),
        notAfter: cert.notAfter,
        pathlen: options.pathlen,
        ignoredExtensions: requested,
        files: writes.map((w) => w.path),
        rootFingerprint: fingerprint,
        ...(settings.rootCrlUrl ? { rootCrlUrl: settings.rootCrlUrl } : {}),
        rootCrlFile: paths.rootCrlDer,
        checks: [...checks, 'openssl verify -CAfile root.crt: OK'],
      };
      return {
        result,
        summary: `foreign intermediate CA certificate ${cert.serialHex} for ${result.subject} (${join(paths.dir, 'newcerts', `${cert.serialHex}.pem`)})`,
        writes: [...(await databaseWrites(signed.staging, paths.dir)), ...writes],
        audit: [{ action: 'certificate-issued' as const, command, ...certificateAudit(cert, result.subject), detail: `foreign intermediate CA, pathlen:${options.pathlen}${constraints.length ? `, ${constraints.map((c) => `${c.subtree} ${c.type}:${c.value}`).join(' ')}` : ''}, ${options.days} days` }],
      };
    }),
    change,
  );
}

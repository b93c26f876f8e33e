import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CaError } from '../../errors.js';
import { renderTemplate } from '../../openssl-config.js';
import { confirmSigning } from '../../terminal.js';
import * as openssl from '../../tools/openssl.js';
import type { SigningContext } from '../../tools/openssl.js';
import { readOpensslOutput } from '../../tools/openssl-output.js';
import { daysUntil, decodeCertificate, decodeCsr, formatName, pemToDer, type DecodedCsr, type NameAttribute } from '../../x509/decode.js';
import { csrSignatureValid, describeKey, Verification, verifyCaCertificate, type Digest } from '../../x509/verify.js';
import { fileExists, loadCa, type LoadedCa, type TokenCommandOptions } from '../directory/context.js';
import type { Runner } from '../../tools/run.js';
import { certificateAudit, requestKey, resumeInterrupted, withCaChange } from '../directory/change.js';
import type { IssuedCa } from './root.js';
import { bothPins, bothSigners, openBothTokens } from '../token/both-tokens.js';
import { nameConstraintEntries } from './name-constraints.js';
import { caDigest, caKeyType, requireKeyLabel, settingsWrite, type NameConstraints, type Settings } from '../directory/settings.js';
import { requireCaKey } from '../token/signer.js';
import { signStaged, type SignRequest } from './sign.js';
import { removeLeftoverKey, requireTools, withNewCaKey } from '../token/token.js';
import { databaseWrites, withWorkspace, writeWorkspaceFile } from '../directory/workspace.js';
import { shadowAuthority } from '../shadow/authority.js';
import { intermediateShadow } from '../shadow/judge.js';

/** The subject the CA's configs ask for, in their order. */
export function expectedSubject(settings: Settings, commonName: string): NameAttribute[] {
  const { subject } = settings;
  return [
    ...(subject.country ? [{ oid: '2.5.4.6', shortName: 'C', value: subject.country }] : []),
    ...(subject.state ? [{ oid: '2.5.4.8', shortName: 'ST', value: subject.state }] : []),
    { oid: '2.5.4.10', shortName: 'O', value: subject.organization },
    { oid: '2.5.4.11', shortName: 'OU', value: subject.organizationalUnit },
    { oid: '2.5.4.3', shortName: 'CN', value: commonName },
  ];
}

function verifyIntermediateCsr(csr: DecodedCsr, wanted: NameAttribute[], tokenSpki: Buffer): string[] {
  return new Verification('the intermediate CSR')
    .check('CSR signature valid', csrSignatureValid(csr))
    .check(`CSR subject ${formatName(wanted)}`, formatName(csr.subject) === formatName(wanted), `found ${formatName(csr.subject)}`)
    .check('CSR public key = the token\'s key', csr.spkiDer.equals(tokenSpki))
    .passed();
}

/** `create_intermediate_csr.ini` as rendered for this CA's intermediate subject. */
export function intermediateCsrConfig(settings: Settings, digest: Digest): Promise<string> {
  return renderTemplate('create_intermediate_csr.ini', { digest, subject: settings.subject, commonName: settings.intermediateCommonName });
}

/** The intermediate's CSR made on the token with KEYURI, checked: valid signature, the CA's subject, the token's public key. */
export async function intermediateCsr(
  signer: SigningContext,
  settings: Settings,
  request: { configText: string; digest: Digest; keyUri: string; tokenSpki: Buffer; work: string; say: (line: string) => void },
) {
  const csrConfig = join(request.work, 'create_intermediate_csr.ini');
  await writeWorkspaceFile(csrConfig, request.configText);
  const csrPath = join(request.work, 'intermediate.csr');
  request.say('creating the intermediate CSR on the token (openssl req -new)…');
  const printed = await openssl.createCsr(signer, { config: csrConfig, keyUri: request.keyUri, digest: request.digest, out: csrPath });
  const csrPem = await readOpensslOutput(csrPath, 'openssl req -new', printed);
  const csr = decodeCsr(pemToDer(csrPem, 'CERTIFICATE REQUEST', 'intermediate.csr'));
  return { csrPath, csrPem, csrChecks: verifyIntermediateCsr(csr, expectedSubject(settings, settings.intermediateCommonName), request.tokenSpki) };
}

/** What making our own intermediate needs, checked before any token is touched (also by its dry run). */
export async function planIntermediate(ca: LoadedCa, options: { days: number; nameConstraints?: NameConstraints }) {
  const { settings, paths } = ca;
  if (settings.intermediateKey || (await fileExists(paths.intermediateCert))) {
    throw new CaError(`the intermediate CA already exists (${paths.intermediateCert}); renew it with \`hsm-openssl-ca intermediate --renew --dir ${paths.dir}\`, or use a new --dir for a second one`);
  }
  return planRootSigning(ca, options);
}

/** What the root needs to sign an intermediate of this directory (new or renewed): its key, certificate, and validity cap. */
export async function planRootSigning(ca: LoadedCa, options: { days: number; nameConstraints?: NameConstraints }) {
  const { settings, paths } = ca;
  if (!settings.rootKey || !(await fileExists(paths.rootCert))) {
    throw new CaError(`no root CA yet in ${paths.dir}; run \`hsm-openssl-ca root --dir ${paths.dir}\` first`);
  }
  const rootPem = await readFile(paths.rootCert, 'utf8');
  const root = decodeCertificate(pemToDer(rootPem, 'CERTIFICATE', paths.rootCert));
  const maxDays = daysUntil(root.notAfter);
  if (options.days > maxDays) {
    throw new CaError(`--days ${options.days} would outlive the root CA by ${options.days - maxDays} days (root expires ${root.notAfter.toISOString().slice(0, 10)}); use --days ${maxDays} or less`);
  }
  return {
    rootKey: settings.rootKey,
    rootPem,
    root,
    keyType: caKeyType(settings, 'intermediate'),
    constraints: nameConstraintEntries(options.nameConstraints),
    digest: caDigest(settings, 'intermediate'),
    rootDigest: caDigest(settings, 'root'),
  };
}

/** The root's `openssl ca` run over the intermediate's CSR, shadow step included: the same for the token and a dry run. */
export async function intermediateSigning(
  run: Runner,
  ca: LoadedCa,
  plan: Awaited<ReturnType<typeof planRootSigning>>,
  request: { days: number; csr: string; work: string; tokenSpki: Buffer },
): Promise<Omit<SignRequest, 'signer'>> {
  const { settings, paths } = ca;
  return {
    workspace: request.work,
    caDir: paths.dir,
    templates: ['sign_intermediate_csr.ini'],
    context: { privateKeyUri: plan.rootKey.uri, certificate: paths.rootCert, digest: plan.rootDigest, rootCrlUrl: settings.rootCrlUrl ?? '', nameConstraints: plan.constraints, pathlen: 0, foreignSubject: false },
    extensions: 'v3_intermediate_ca',
    days: request.days,
    digest: plan.rootDigest,
    csr: request.csr,
    shadow: intermediateShadow(await shadowAuthority(run, ca, 'root', request.work), { digest: plan.rootDigest, tokenSpki: request.tokenSpki, pathLength: 0 }),
  };
}

/**
 * The root's signature over the intermediate's CSR (shadow CA first), then the certificate checked by our
 * verifier and by `openssl verify` against root.crt; it is also left in the workspace as intermediate.crt.
 */
export async function rootSignsIntermediate(
  run: Runner,
  ca: LoadedCa,
  plan: Awaited<ReturnType<typeof planRootSigning>>,
  request: { rootSigner: SigningContext; what: string; days: number; csr: string; work: string; tokenSpki: Buffer },
) {
  const signed = await signStaged({ signer: request.rootSigner, ...(await intermediateSigning(run, ca, plan, request)) });
  const cert = decodeCertificate(pemToDer(signed.pem, 'CERTIFICATE', ca.paths.intermediateCert));
  const certChecks = verifyCaCertificate(request.what, cert, { issuer: plan.root, digest: plan.rootDigest, tokenSpki: request.tokenSpki, pathLength: 0 });
  const issuedPath = join(request.work, 'intermediate.crt');
  await writeWorkspaceFile(issuedPath, signed.pem);
  await openssl.verifyChain(run, { root: ca.paths.rootCert, certificate: issuedPath });
  return { signed, cert, issuedPath, checks: [...signed.shadow.checks, ...certChecks, 'openssl verify -CAfile root.crt: OK'] };
}

/**
 * The article's "Creating the Intermediate Certificate Authority": key pair on the token, CSR from
 * `create_intermediate_csr.ini`, signed by the root key with `sign_intermediate_csr.ini` and `openssl ca`
 * (v3_intermediate_ca, pathlen:0), verified against root.crt, and chain.crt = intermediate + root.
 */
export async function createIntermediate(options: TokenCommandOptions & { days: number; label: string; nameConstraints?: NameConstraints }): Promise<IssuedCa> {
  requireKeyLabel('--label', options.label);
  const ca = await loadCa(options);
  const { settings, paths } = ca;
  const change = { command: 'intermediate', requestKey: requestKey('intermediate', options.label, options.days, JSON.stringify(options.nameConstraints ?? null)), timeoutMs: options.lockTimeoutMs, onWait: options.say, say: options.say };
  const resumed = await resumeInterrupted<IssuedCa>(paths.dir, change);
  if (resumed) return resumed;
  const plan = await planIntermediate(ca, options);
  const { rootKey, rootPem, keyType, constraints, digest } = plan;
  // Asked before anything slow or irreversible: the key pair is made on the token only after a yes.
  await confirmSigning(
    `About to generate the intermediate key (${keyType}, label '${options.label}') on token '${ca.intermediateToken.tokenLabel}' and sign its certificate with the root key:\n  subject  ${formatName(expectedSubject(settings, settings.intermediateCommonName))}\n  validity ${options.days} days\n  CA:TRUE, pathlen:0; keyCertSign, cRLSign, digitalSignature${constraints.length ? `\n  names    ${constraints.map((c) => `${c.subtree} ${c.type}:${c.value}`).join(', ')}` : ''}`,
    options,
  );
  await requireTools();
  const tokens = await openBothTokens(options, ca);
  const { token, rootToken } = tokens;
  return withCaChange(paths.dir, ({ leftoverKey, keyGenerationStarts }) =>
    withWorkspace(async (work) => {
      const pins = await bothPins(tokens, ca, options.say);
      const { pin, rootPin } = pins;
      if (leftoverKey) await removeLeftoverKey(token, pin, leftoverKey.idHex, options.say);
      options.say(`generating the intermediate key (${keyType}, label '${options.label}') on token '${ca.intermediateToken.tokenLabel}'…`);
      if (rootToken !== token) await requireCaKey(rootToken, rootPin, rootKey, ca.rootToken);
      const { signer, rootSigner } = await bothSigners(tokens, ca, pins, work, options.say);
      const csrConfigText = await intermediateCsrConfig(settings, digest);
      const starts = (idHex: string) => keyGenerationStarts({ role: 'intermediate', tokenLabel: ca.intermediateToken.tokenLabel, label: options.label, idHex });
      const { key, csrPem, signed, checks } = await withNewCaKey(token, pin, { keyType, label: options.label, workspace: work, starts }, async (key, tokenSpki) => {
        const { csrPath, csrPem, csrChecks } = await intermediateCsr(signer, settings, { configText: csrConfigText, digest, keyUri: key.uri, tokenSpki, work, say: options.say });
        options.say('signing the intermediate certificate with the root key (openssl ca)…');
        const { signed, checks } = await rootSignsIntermediate(options.run, ca, plan, { rootSigner, what: 'the intermediate certificate', days: options.days, csr: csrPath, work, tokenSpki });
        return { key, csrPem, signed, checks: [...csrChecks, ...checks] };
      });
      const files = {
        csrConfig: join(paths.config, 'create_intermediate_csr.ini'),
        signConfig: join(paths.config, 'sign_intermediate_csr.ini'),
      };
      const cert = decodeCertificate(pemToDer(signed.pem, 'CERTIFICATE', paths.intermediateCert));
      const result = {
        certificate: paths.intermediateCert,
        keyUri: key.uri,
        subject: formatName(cert.subject),
        notAfter: cert.notAfter,
        checks: [`key ${describeKey(cert.spkiDer)}`, ...checks],
        files: [paths.intermediateCert, paths.chain, paths.intermediateCsr, files.csrConfig, files.signConfig],
      };
      return {
        result,
        summary: `intermediate CA certificate ${cert.serialHex} for ${result.subject}, key ${key.uri}`,
        writes: [
          ...(await databaseWrites(signed.staging, paths.dir)),
          { path: files.csrConfig, data: csrConfigText },
          { path: files.signConfig, data: signed.configText },
          { path: paths.intermediateCsr, data: csrPem },
          { path: paths.intermediateCert, data: signed.pem },
          { path: paths.chain, data: signed.pem + rootPem },
          settingsWrite(paths.dir, { ...settings, intermediateKey: key, ...(options.nameConstraints ? { nameConstraints: options.nameConstraints } : {}) }),
        ],
        audit: [
          { action: 'key-generated' as const, command: 'intermediate', keyUri: key.uri, detail: `${keyType} on token '${ca.intermediateToken.tokenLabel}'` },
          { action: 'certificate-issued' as const, command: 'intermediate', ...certificateAudit(cert, result.subject), detail: 'intermediate CA' },
        ],
      };
    }),
    change,
  );
}

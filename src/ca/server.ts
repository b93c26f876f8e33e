import { readFile, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { CaError, UsageError } from '../errors.js';
import { writeFileAtomic } from '../fs-atomic.js';
import { confirmSigning, readPin } from '../terminal.js';
import * as openssl from '../tools/openssl.js';
import { decodeCertificate, decodeCsr, formatName, pemToDer, type DecodedCertificate, type DecodedCsr } from '../x509/decode.js';
import { parseSanText, sanStrings, sansFromRequestedExtensions, type San } from '../x509/san.js';
import { csrSignatureValid, describeKey, publicKeyOf, verifyLeafCertificate } from '../x509/verify.js';
import { fileExists, loadCa, type TokenCommandOptions } from './context.js';
import { withCaLock } from './lock.js';
import { signStaged } from './sign.js';
import { openToken, requireTools } from './token.js';
import { commitDatabase, withWorkspace, writeEngineConfig } from './workspace.js';

export interface IssuedLeaf {
  readonly certificate: string;
  readonly serial: string;
  readonly subject: string;
  readonly sans: readonly string[];
  readonly notAfter: Date;
  readonly ignoredExtensions: readonly string[];
  readonly checks: readonly string[];
}

const MAX_CSR_BYTES = 64 * 1024;
const ALLOWED_CURVES = ['prime256v1', 'secp384r1', 'secp521r1'];

/** Reads and checks a CSR from someone else: one PEM block (or DER), well-formed, signed by its own key. */
export async function readCsr(path: string): Promise<{ csr: DecodedCsr; pem: string }> {
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
    if (!csrSignatureValid(csr)) throw new UsageError(`the CSR ${path} has an invalid signature (or an unsupported algorithm); ask for a new CSR`);
    return { csr, pem: `-----BEGIN CERTIFICATE REQUEST-----\n${der.toString('base64').replace(/.{64}/g, '$&\n').replace(/\n?$/, '\n')}-----END CERTIFICATE REQUEST-----\n` };
  } catch (error) {
    if (error instanceof CaError && !(error instanceof UsageError)) throw new UsageError(`the CSR ${path} is unreadable: ${error.message}`);
    throw error;
  }
}

/** Refuses keys too weak to sign: RSA under 2048 bits and curves other than P-256/P-384/P-521. */
function requireStrongKey(csr: DecodedCsr, path: string): 'ec' | 'rsa' {
  let key;
  try {
    key = publicKeyOf(csr.spkiDer);
  } catch {
    throw new UsageError(`the CSR ${path} has a public key of an unsupported type; use EC P-256/P-384/P-521 or RSA ≥ 2048`);
  }
  const details = key.asymmetricKeyDetails ?? {};
  if (key.asymmetricKeyType === 'rsa' && (details.modulusLength ?? 0) >= 2048) return 'rsa';
  if (key.asymmetricKeyType === 'ec' && ALLOWED_CURVES.includes(details.namedCurve ?? '')) return 'ec';
  throw new UsageError(`the CSR ${path} has a weak or unsupported key (${describeKey(csr.spkiDer)}); use EC P-256/P-384/P-521 or RSA ≥ 2048`);
}

/** The SANs to issue: the CSR's, or its CN as a DNS name when it requests none (browsers ignore the CN). */
function sansFor(csr: DecodedCsr, path: string): San[] {
  const requested = sansFromRequestedExtensions(csr.requestedExtensions);
  if (requested.length > 0) return requested;
  const cn = csr.subject.find((a) => a.shortName === 'CN')?.value;
  try {
    return cn ? [parseSanText(`DNS:${cn}`)] : [];
  } catch {
    throw new UsageError(`the CSR ${path} requests no subjectAltName and its CN "${cn}" is not a DNS name; ask for a CSR with SANs`);
  }
}

function defaultOutput(csrPath: string): string {
  return csrPath.replace(/\.(csr|req|pem)$/i, '') + '.crt';
}

/**
 * The article's "Sign a Server Certificate", with what the article leaves out: the CSR is checked, its
 * subjectAltName entries are validated and carried over (the article's config drops them, and Chromium
 * and Go reject a server certificate without SANs), and the result is verified against the chain.
 */
export async function signServer(options: TokenCommandOptions & { csrPath: string; days: number; out?: string }): Promise<IssuedLeaf> {
  const ca = await loadCa(options);
  const { settings, paths } = ca;
  const intermediateKey = settings.intermediateKey;
  if (!intermediateKey || !(await fileExists(paths.intermediateCert))) {
    throw new CaError(`no intermediate CA yet in ${paths.dir}; run \`hsm-openssl-ca intermediate --dir ${paths.dir}\` first`);
  }
  const csrPath = resolve(options.csrPath);
  const out = resolve(options.out ?? defaultOutput(csrPath));
  if (out === csrPath) throw new UsageError(`--out ${out} is the CSR itself; choose another file`);
  if (await fileExists(out)) throw new UsageError(`${out} already exists; remove it or choose another --out`);
  const { csr, pem: csrPem } = await readCsr(csrPath);
  const keyType = requireStrongKey(csr, csrPath);
  if (!csr.subject.some((a) => a.shortName === 'CN' && a.value.length > 0)) {
    throw new UsageError(`the CSR ${csrPath} has no commonName; the signing policy requires one`);
  }
  const sans = sansFor(csr, csrPath);
  const ignoredExtensions = csr.requestedExtensions.filter((e) => e.name !== 'subjectAltName').map((e) => e.name ?? e.id);
  const intermediate = decodeCertificate(pemToDer(await readFile(paths.intermediateCert, 'utf8'), 'CERTIFICATE', paths.intermediateCert));
  const maxDays = Math.floor((intermediate.notAfter.getTime() - Date.now()) / 86_400_000);
  if (options.days > maxDays) {
    throw new UsageError(`--days ${options.days} would outlive the intermediate CA by ${options.days - maxDays} days (it expires ${intermediate.notAfter.toISOString().slice(0, 10)}); use --days ${maxDays} or less`);
  }
  const keyUsage = keyType === 'ec' ? ['digitalSignature'] : ['digitalSignature', 'keyEncipherment'];
  const sanText = sans.map((s) => `${s.type}:${s.value}`);
  await confirmSigning(
    `About to sign with the intermediate key:\n  subject  ${formatName(csr.subject)}\n  SANs     ${sanText.join(', ') || '(none)'}\n  key      ${describeKey(csr.spkiDer)}\n  validity ${options.days} days\n  serverAuth; ${keyUsage.join(', ')}${ignoredExtensions.length ? `\n  ignored  ${ignoredExtensions.join(', ')} (requested by the CSR)` : ''}`,
    options,
  );
  await requireTools();
  await openToken(options.run, ca.module, ca.tokenLabel);
  return withCaLock(paths.dir, () =>
    withWorkspace(async (work) => {
      const pin = await readPin({ pinFile: options.pinFile, tokenLabel: ca.tokenLabel });
      const csrCopy = join(work, 'request.csr');
      await writeFileAtomic(csrCopy, csrPem);
      options.say(`signing ${formatName(csr.subject)} with the intermediate key on token '${ca.tokenLabel}' (openssl ca)…`);
      const signed = await signStaged({
        run: options.run,
        pin,
        engineConfig: await writeEngineConfig(work, ca.module),
        workspace: work,
        caDir: paths.intermediateDir,
        template: 'sign_server_csrs.ini',
        context: {
          privateKeyUri: intermediateKey.uri,
          certificate: paths.intermediateCert,
          digest: settings.digest,
          keyUsage: keyUsage.join(', '),
          sans: sans.map((san, i) => ({ type: san.type, index: i + 1, value: san.value })),
        },
        extensions: 'server_cert',
        days: options.days,
        digest: settings.digest,
        csr: csrCopy,
      });
      const cert: DecodedCertificate = decodeCertificate(pemToDer(signed.pem, 'CERTIFICATE', 'the issued certificate'));
      const checks = verifyLeafCertificate('the server certificate', cert, { issuer: intermediate, csr, digest: settings.digest, sans: sanText, keyUsage, extendedKeyUsage: 'serverAuth' }, sanStrings(cert.extensions));
      const issuedPath = join(work, 'issued.crt');
      await openssl.verifyChain(options.run, { root: paths.rootCert, untrusted: paths.intermediateCert, certificate: issuedPath });
      checks.push('openssl verify -CAfile root.crt -untrusted intermediate.crt: OK');
      await commitDatabase(signed.staging, paths.intermediateDir);
      await writeFileAtomic(join(paths.csrArchive, `${cert.serialHex}.csr`), csrPem);
      await writeFileAtomic(join(paths.config, 'sign_server_csrs.ini'), signed.configText);
      await writeFileAtomic(out, signed.pem);
      return { certificate: out, serial: cert.serialHex, subject: formatName(cert.subject), sans: sanText, notAfter: cert.notAfter, ignoredExtensions, checks };
    }),
  );
}

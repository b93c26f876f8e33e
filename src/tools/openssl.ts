import type { Digest } from '../x509/verify.js';
import { keyLoadArgs, type OpensslBackend } from '../openssl/backend.js';
import { commandLine, type Runner, type RunResult } from './run.js';

/** The environment variable a PIN reaches openssl through (`-passin env:NAME`): never argv, never `pass:`. */
const PIN_VARIABLE = 'HSM_CA_PIN';

/** What every openssl call that signs on the token needs: the backend, its OPENSSL_CONF and the PIN. */
export interface SigningContext extends OpensslBackend {
  readonly run: Runner;
  readonly pin: string;
}

function signingOptions(context: SigningContext): { env: Record<string, string>; secrets: Record<string, string> } {
  return { env: { OPENSSL_CONF: context.config }, secrets: { [PIN_VARIABLE]: context.pin } };
}

/** The backend's key-loading argv and the PIN from the environment. */
function tokenArgs(context: Pick<SigningContext, 'backend'>): string[] {
  return [...keyLoadArgs(context.backend), '-passin', `env:${PIN_VARIABLE}`];
}

/** The argv of `openssl ca` signing a CSR, after the key's own arguments (`keyArgs`). */
export function signWithCaArgs(keyArgs: readonly string[], request: SignWithCaRequest): string[] {
  // -subj replaces the request's subject with the one the CA decided; -utf8 keeps non-ASCII values intact.
  const subject = request.subject === undefined ? [] : ['-subj', request.subject, '-utf8'];
  // Explicit dates (-enddate overrides -days) make the shadow's run and the token's give the very same validity.
  const dates = request.validity ? ['-startdate', request.validity.start, '-enddate', request.validity.end] : [];
  // -infiles takes every argument after it, so it comes last; each certificate then goes to -out in turn.
  const input = request.infiles ? ['-out', request.out, '-infiles', ...request.infiles] : ['-in', request.csr, '-out', request.out];
  return ['ca', '-config', request.config, ...keyArgs, '-batch', '-notext', '-extensions', request.extensions, '-days', String(request.days), ...dates, '-md', request.digest, ...subject, ...input];
}

/** The argv of `openssl ca -gencrl`, after the key's own arguments. */
export function generateCrlArgs(keyArgs: readonly string[], request: { config: string; days: number; digest: Digest; out: string }): string[] {
  return ['ca', '-config', request.config, ...keyArgs, '-batch', '-gencrl', '-crldays', String(request.days), '-md', request.digest, '-out', request.out];
}

/** The argv of `openssl ca -revoke`, after the key's own arguments; see revoke() for why `unspecified` is left out. */
export function revokeArgs(keyArgs: readonly string[], request: { config: string; certificate: string; reason: string }): string[] {
  const reason = request.reason === 'unspecified' ? [] : ['-crl_reason', request.reason];
  return ['ca', '-config', request.config, ...keyArgs, '-batch', '-revoke', request.certificate, ...reason];
}

/** A token run as a dry run shows it: the whole command line, the PIN only ever named as `env:HSM_CA_PIN`. */
export function tokenCommandLine(backend: Pick<SigningContext, 'backend'>, argsFor: (keyArgs: string[]) => string[]): string {
  return commandLine(['openssl', ...argsFor(tokenArgs(backend))]);
}

/** `openssl x509 -text` or `openssl crl -text`: a certificate or CRL as a person reads it. */
export async function asText(run: Runner, kind: 'x509' | 'crl', file: string): Promise<string> {
  return (await run('openssl', [kind, '-in', file, '-noout', '-text'])).stdout;
}

/**
 * The shadow CA's side of an `openssl ca` run: a software key and its certificate, given on the command line
 * so they override the config's token key and real certificate — the config itself stays the very same.
 */
export interface ShadowKey {
  readonly run: Runner;
  readonly keyFile: string;
  readonly certificate: string;
}

/** Who signs an `openssl ca` run: the token (through the backend, with the PIN) or the shadow CA. */
export type CaSigner = SigningContext | ShadowKey;

function isShadow(signer: CaSigner): signer is ShadowKey {
  return 'keyFile' in signer;
}

/** The argv that makes `openssl ca` sign with `signer`, and the environment that run needs. */
function caSigning(signer: CaSigner): { args: string[]; options: { env?: Record<string, string>; secrets?: Record<string, string> } } {
  if (isShadow(signer)) return { args: ['-keyfile', signer.keyFile, '-cert', signer.certificate], options: {} };
  return { args: tokenArgs(signer), options: signingOptions(signer) };
}

/** The argv of `openssl req -new -x509` (the self-signed root), after the key's own arguments. */
export function createSelfSignedArgs(keyArgs: readonly string[], request: { config: string; keyUri: string; days: number; digest: Digest; out: string }): string[] {
  return ['req', '-config', request.config, ...keyArgs, '-key', request.keyUri, '-new', '-x509', '-days', String(request.days), `-${request.digest}`, '-extensions', 'v3_ca', '-batch', '-out', request.out];
}

/** `openssl req -new -x509`: the self-signed root certificate, signed on the token (or by the shadow's key file). */
export async function createSelfSigned(
  context: CaSigner,
  request: { config: string; keyUri: string; days: number; digest: Digest; out: string },
): Promise<RunResult> {
  // The shadow's key is the PEM file named by keyUri: no backend, no PIN.
  const [args, options] = isShadow(context) ? [[], {}] : [tokenArgs(context), signingOptions(context)];
  return context.run('openssl', createSelfSignedArgs(args, request), options);
}

/** The argv of `openssl req -new` (a CSR), after the key's own arguments. */
export function createCsrArgs(keyArgs: readonly string[], request: { config: string; keyUri: string; digest: Digest; out: string }): string[] {
  return ['req', '-config', request.config, ...keyArgs, '-key', request.keyUri, '-new', `-${request.digest}`, '-batch', '-out', request.out];
}

/** `openssl req -new`: a CSR signed by a key on the token. */
export async function createCsr(context: SigningContext, request: { config: string; keyUri: string; digest: Digest; out: string }): Promise<RunResult> {
  return context.run('openssl', createCsrArgs(tokenArgs(context), request), signingOptions(context));
}

/** `openssl ca`: signs a CSR with the CA key named in the config's `private_key`. `-batch`: without it openssl exits 0 without issuing. */
export async function signWithCa(context: CaSigner, request: SignWithCaRequest): Promise<RunResult> {
  const { args, options } = caSigning(context);
  return context.run('openssl', signWithCaArgs(args, request), options);
}

export interface SignWithCaRequest {
  readonly config: string;
  readonly extensions: string;
  readonly days: number;
  readonly validity?: Validity;
  readonly digest: Digest;
  readonly csr: string;
  /** Several CSRs in one run (`-infiles`, one login): their certificates are written to `out` one after another. */
  readonly infiles?: readonly string[];
  readonly out: string;
  readonly subject?: string;
}

/** notBefore and notAfter as `openssl ca -startdate/-enddate` take them (UTCTime before 2050, as RFC 5280 asks). */
export interface Validity {
  readonly start: string;
  readonly end: string;
}

function asn1Time(date: Date): string {
  const text = date.toISOString().replace(/[-:T]/g, '').slice(0, 14) + 'Z';
  return date.getUTCFullYear() < 2050 ? text.slice(2) : text;
}

/** A validity of `days` days from now, to the second. */
export function validityFor(days: number, now = new Date()): Validity {
  const start = new Date(Math.floor(now.getTime() / 1000) * 1000);
  return { start: asn1Time(start), end: asn1Time(new Date(start.getTime() + days * 86_400_000)) };
}

/** `openssl verify`: an independent check of the chain, with no token involved. */
export async function verifyChain(run: Runner, chain: { root: string; untrusted?: string; certificate: string }): Promise<void> {
  await verifyChains(run, { ...chain, certificates: [chain.certificate] });
}

/** `openssl verify` of several certificates in one run: it exits non-zero when any of them fails. */
export async function verifyChains(run: Runner, chain: { root: string; untrusted?: string; certificates: readonly string[] }): Promise<void> {
  await run('openssl', ['verify', '-x509_strict', '-CAfile', chain.root, ...(chain.untrusted ? ['-untrusted', chain.untrusted] : []), ...chain.certificates]);
}

/** `openssl version`, e.g. "OpenSSL 3.0.19 27 Jan 2026 (Library: …)". */
export async function version(run: Runner): Promise<string> {
  return (await run('openssl', ['version'])).stdout.trim();
}

/**
 * `openssl ca -revoke`: marks a certificate revoked in the database; loads the CA key, so it needs the PIN.
 * Reason `unspecified` is recorded as no reason: given `-crl_reason unspecified`, openssl ca writes it into
 * index.txt and every later CRL carries a reasonCode extension for it, which RFC 5280 §5.3.1 says to omit.
 */
export async function revoke(context: CaSigner, request: { config: string; certificate: string; reason: string }): Promise<void> {
  const { args, options } = caSigning(context);
  await context.run('openssl', revokeArgs(args, request), options);
}

/** `openssl ca -gencrl`: a CRL signed on the token, numbered from the database's crlnumber. */
export async function generateCrl(context: CaSigner, request: { config: string; days: number; digest: Digest; out: string }): Promise<RunResult> {
  const { args, options } = caSigning(context);
  return context.run('openssl', generateCrlArgs(args, request), options);
}

/** openssl and node:crypto know secp256r1 only as prime256v1 or P-256: both take the NIST names. */
const NIST_CURVE: Record<string, string> = { secp256r1: 'P-256', secp384r1: 'P-384', secp521r1: 'P-521' };

/** What a generator needs for a software key of `keyType`: the curve by its NIST name, or the RSA size. */
export function keyParameters(keyType: `EC:${string}` | `rsa:${string}`): { curve: string } | { bits: number } {
  const [kind, size] = keyType.split(':') as [string, string];
  return kind === 'EC' ? { curve: NIST_CURVE[size] ?? size } : { bits: Number(size) };
}

/** The argv of `openssl genpkey` for a software key of `keyType` (a leaf's: never on the token). */
export function generateKeyArgs(keyType: `EC:${string}` | `rsa:${string}`, out: string): string[] {
  const key = keyParameters(keyType);
  const algorithm = 'curve' in key ? ['-algorithm', 'EC', '-pkeyopt', `ec_paramgen_curve:${key.curve}`] : ['-algorithm', 'RSA', '-pkeyopt', `rsa_keygen_bits:${key.bits}`];
  return ['genpkey', ...algorithm, '-out', out];
}

/**
 * The argv of `openssl req -new` for a leaf's own CSR, signed by its software key. `-config /dev/null`: the
 * subject comes from `-subj` alone, never from whatever openssl.cnf the machine has (the CA decides the
 * certificate's subject and names anyway).
 */
export function createLeafCsrArgs(request: { key: string; subject: string; out: string }): string[] {
  return ['req', '-new', '-config', '/dev/null', '-key', request.key, '-subj', request.subject, '-out', request.out];
}

/**
 * The argv of `openssl pkcs12 -export`: key, certificate and chain, encrypted with AES-256-CBC under PBKDF2
 * and MAC'd with SHA-256 (OpenSSL 3's defaults, spelled out so every version writes the same). The password
 * comes on stdin (`-passout stdin`): never in argv, never in a file, never in a child's environment.
 */
export function exportPkcs12Args(request: { key: string; chain: string; name: string; out: string }): string[] {
  return ['pkcs12', '-export', '-inkey', request.key, '-in', request.chain, '-name', request.name, '-keypbe', 'AES-256-CBC', '-certpbe', 'AES-256-CBC', '-macalg', 'sha256', '-passout', 'stdin', '-out', request.out];
}

/** `openssl pkcs12 -export` with the password on stdin. */
export async function exportPkcs12(run: Runner, request: { key: string; chain: string; name: string; out: string; password: string }): Promise<void> {
  await run('openssl', exportPkcs12Args(request), { input: `${request.password}\n` });
}

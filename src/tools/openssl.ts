import type { Digest } from '../x509/verify.js';
import { keyLoadArgs, type OpensslBackend } from '../openssl/backend.js';
import type { RunResult, Runner } from './run.js';

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
function tokenArgs(context: SigningContext): string[] {
  return [...keyLoadArgs(context.backend), '-passin', `env:${PIN_VARIABLE}`];
}

/** `openssl req -new -x509`: the self-signed root certificate, signed on the token. */
export async function createSelfSigned(
  context: SigningContext,
  request: { config: string; keyUri: string; days: number; digest: Digest; out: string },
): Promise<RunResult> {
  return context.run(
    'openssl',
    ['req', '-config', request.config, ...tokenArgs(context), '-key', request.keyUri, '-new', '-x509', '-days', String(request.days), `-${request.digest}`, '-extensions', 'v3_ca', '-batch', '-out', request.out],
    signingOptions(context),
  );
}

/** `openssl req -new`: a CSR signed by a key on the token. */
export async function createCsr(context: SigningContext, request: { config: string; keyUri: string; digest: Digest; out: string }): Promise<RunResult> {
  return context.run(
    'openssl',
    ['req', '-config', request.config, ...tokenArgs(context), '-key', request.keyUri, '-new', `-${request.digest}`, '-batch', '-out', request.out],
    signingOptions(context),
  );
}

/** `openssl ca`: signs a CSR with the CA key named in the config's `private_key`. `-batch`: without it openssl exits 0 without issuing. */
export async function signWithCa(
  context: SigningContext,
  request: { config: string; extensions: string; days: number; digest: Digest; csr: string; out: string; subject?: string },
): Promise<RunResult> {
  // -subj replaces the request's subject with the one the CA decided; -utf8 keeps non-ASCII values intact.
  const subject = request.subject === undefined ? [] : ['-subj', request.subject, '-utf8'];
  return context.run(
    'openssl',
    ['ca', '-config', request.config, ...tokenArgs(context), '-batch', '-notext', '-extensions', request.extensions, '-days', String(request.days), '-md', request.digest, ...subject, '-in', request.csr, '-out', request.out],
    signingOptions(context),
  );
}

/** `openssl verify`: an independent check of the chain, with no token involved. */
export async function verifyChain(run: Runner, chain: { root: string; untrusted?: string; certificate: string }): Promise<void> {
  await run('openssl', ['verify', '-x509_strict', '-CAfile', chain.root, ...(chain.untrusted ? ['-untrusted', chain.untrusted] : []), chain.certificate]);
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
export async function revoke(context: SigningContext, request: { config: string; certificate: string; reason: string }): Promise<void> {
  const reason = request.reason === 'unspecified' ? [] : ['-crl_reason', request.reason];
  await context.run(
    'openssl',
    ['ca', '-config', request.config, ...tokenArgs(context), '-batch', '-revoke', request.certificate, ...reason],
    signingOptions(context),
  );
}

/** `openssl ca -gencrl`: a CRL signed on the token, numbered from the database's crlnumber. */
export async function generateCrl(context: SigningContext, request: { config: string; days: number; digest: Digest; out: string }): Promise<RunResult> {
  return context.run(
    'openssl',
    ['ca', '-config', request.config, ...tokenArgs(context), '-batch', '-gencrl', '-crldays', String(request.days), '-md', request.digest, '-out', request.out],
    signingOptions(context),
  );
}

import type { Digest } from '../x509/verify.js';
import type { Runner } from './run.js';

/** The environment variable a PIN reaches openssl through (`-passin env:NAME`): never argv, never `pass:`. */
const PIN_VARIABLE = 'HSM_CA_PIN';

/** What every engine-backed openssl call needs: the generated OPENSSL_CONF and the PIN. */
export interface EngineContext {
  readonly run: Runner;
  /** Path of the rendered openssl_engine.cnf (MODULE_PATH), set as OPENSSL_CONF for the child only. */
  readonly engineConfig: string;
  readonly pin: string;
}

function engineOptions(context: EngineContext): { env: Record<string, string>; secrets: Record<string, string> } {
  return { env: { OPENSSL_CONF: context.engineConfig }, secrets: { [PIN_VARIABLE]: context.pin } };
}

const ENGINE_ARGS = ['-engine', 'pkcs11', '-passin', `env:${PIN_VARIABLE}`];

/** `openssl req -new -x509`: the self-signed root certificate, signed on the token. */
export async function createSelfSigned(
  context: EngineContext,
  request: { config: string; keyUri: string; days: number; digest: Digest; out: string },
): Promise<void> {
  await context.run(
    'openssl',
    ['req', '-config', request.config, ...ENGINE_ARGS, '-keyform', 'engine', '-key', request.keyUri, '-new', '-x509', '-days', String(request.days), `-${request.digest}`, '-extensions', 'v3_ca', '-batch', '-out', request.out],
    engineOptions(context),
  );
}

/** `openssl req -new`: a CSR signed by a key on the token. */
export async function createCsr(context: EngineContext, request: { config: string; keyUri: string; digest: Digest; out: string }): Promise<void> {
  await context.run(
    'openssl',
    ['req', '-config', request.config, ...ENGINE_ARGS, '-keyform', 'engine', '-key', request.keyUri, '-new', `-${request.digest}`, '-batch', '-out', request.out],
    engineOptions(context),
  );
}

/** `openssl ca`: signs a CSR with the CA key named in the config's `private_key`. `-batch`: without it openssl exits 0 without issuing. */
export async function signWithCa(
  context: EngineContext,
  request: { config: string; extensions: string; days: number; digest: Digest; csr: string; out: string },
): Promise<void> {
  await context.run(
    'openssl',
    ['ca', '-config', request.config, ...ENGINE_ARGS, '-keyform', 'engine', '-batch', '-notext', '-extensions', request.extensions, '-days', String(request.days), '-md', request.digest, '-in', request.csr, '-out', request.out],
    engineOptions(context),
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

/** Whether OpenSSL can load the libp11 `pkcs11` engine with the given OPENSSL_CONF. */
export async function engineAvailable(run: Runner, engineConfig: string): Promise<boolean> {
  const { stdout } = await run('openssl', ['engine', '-t', 'pkcs11'], { env: { OPENSSL_CONF: engineConfig } });
  return /\[ available \]/.test(stdout);
}

/** `openssl ca -revoke`: marks a certificate revoked in the database; loads the CA key, so it needs the PIN. */
export async function revoke(context: EngineContext, request: { config: string; certificate: string; reason: string }): Promise<void> {
  await context.run(
    'openssl',
    ['ca', '-config', request.config, ...ENGINE_ARGS, '-keyform', 'engine', '-batch', '-revoke', request.certificate, '-crl_reason', request.reason],
    engineOptions(context),
  );
}

/** `openssl ca -gencrl`: a CRL signed on the token, numbered from the database's crlnumber. */
export async function generateCrl(context: EngineContext, request: { config: string; days: number; digest: Digest; out: string }): Promise<void> {
  await context.run(
    'openssl',
    ['ca', '-config', request.config, ...ENGINE_ARGS, '-keyform', 'engine', '-batch', '-gencrl', '-crldays', String(request.days), '-md', request.digest, '-out', request.out],
    engineOptions(context),
  );
}

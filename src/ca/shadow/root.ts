import { createPublicKey } from 'node:crypto';
import { join } from 'node:path';
import * as openssl from '../../tools/openssl.js';
import { readOpensslOutput } from '../../tools/openssl-output.js';
import type { Runner } from '../../tools/run.js';
import { decodeCertificate, pemToDer, type DecodedCertificate } from '../../x509/decode.js';
import { verifyCaCertificate, type Digest } from '../../x509/verify.js';
import type { KeyType } from '../directory/settings.js';
import { shadowKey } from './keys.js';
import { shadowRefused } from './rehearse.js';

/**
 * How far apart the shadow root's notBefore and the token's may be: `openssl req -x509` (OpenSSL 3.0) takes
 * no start date, and between the two runs the token generates the root key, which on a real HSM takes
 * seconds to minutes. The lifetime (notAfter - notBefore) must still be identical.
 */
export const ROOT_NOT_BEFORE_TOLERANCE_MS = 10 * 60_000;

/**
 * The shadow of `root`: the very same `openssl req -x509` with the very same config, signed by a software key
 * of the root's algorithm, and judged as the real root will be, before the token makes its key.
 */
export async function shadowRoot(run: Runner, keyType: KeyType, request: { config: string; days: number; digest: Digest; work: string }): Promise<{ pem: string; decoded: DecodedCertificate; checks: string[] }> {
  try {
    const key = await shadowKey(keyType, 'root', request.work);
    const out = join(request.work, 'shadow-root.crt');
    const printed = await openssl.createSelfSigned({ run, keyFile: key.file, certificate: out }, { config: request.config, keyUri: key.file, days: request.days, digest: request.digest, out });
    const pem = await readOpensslOutput(out, 'openssl req -x509 (shadow CA)', printed);
    const decoded = decodeCertificate(pemToDer(pem, 'CERTIFICATE', 'the shadow root certificate'));
    const spki = createPublicKey(key.key).export({ type: 'spki', format: 'der' });
    const checks = verifyCaCertificate('the shadow root certificate', decoded, { issuer: undefined, digest: request.digest, tokenSpki: spki, pathLength: undefined });
    await openssl.verifyChain(run, { root: out, certificate: out });
    return { pem, decoded, checks: [...checks, 'openssl verify of the shadow root: OK'] };
  } catch (error) {
    throw shadowRefused('the root certificate', error);
  }
}

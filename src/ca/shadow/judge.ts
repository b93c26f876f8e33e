import { CaError, ToolFailedError } from '../../errors.js';
import * as openssl from '../../tools/openssl.js';
import { decodeCertificate, pemToDer } from '../../x509/decode.js';
import { sanStrings } from '../../x509/san.js';
import { verifyCaCertificate, verifyLeafCertificate, type CaCertificateExpectations, type LeafExpectations } from '../../x509/verify.js';
import type { ShadowStep } from '../signing/sign.js';
import type { ShadowAuthority } from './authority.js';

/** `openssl verify` against the shadow chain, its refusal worded by openssl's reason ("permitted subtree violation"). */
async function verifyShadowChain(shadow: ShadowAuthority, files: string | readonly string[], untrusted?: string): Promise<void> {
  await openssl.verifyChains(shadow.run, { root: shadow.rootFile, ...(untrusted ? { untrusted } : {}), certificates: typeof files === 'string' ? [files] : files }).catch((error: unknown) => {
    const reason = error instanceof ToolFailedError ? /error \d+ at \d+ depth lookup: (.*)/.exec(error.stderr)?.[1] : undefined;
    throw reason ? new CaError(`openssl verify against the shadow chain: ${reason}`) : error;
  });
}

/**
 * The shadow step of a leaf issuance: the shadow intermediate signs, and its certificate must pass the tool's
 * verifier and `openssl verify` against the shadow chain, which carries the real name constraints.
 */
export function leafShadow(shadow: ShadowAuthority, what: string, expect: Omit<LeafExpectations, 'issuer'>): ShadowStep {
  const inspect = (pem: string): string[] => {
    const cert = decodeCertificate(pemToDer(pem, 'CERTIFICATE', `the shadow ${what}`));
    return verifyLeafCertificate(`the shadow ${what}`, cert, { ...expect, issuer: shadow.decoded }, sanStrings(cert.extensions));
  };
  const verifyChains = async (files: readonly string[]): Promise<string> => {
    await verifyShadowChain(shadow, files, shadow.certificate);
    return 'openssl verify against the shadow chain (the real name constraints): OK';
  };
  return { key: shadow, inspect, verifyChains, judge: async (pem, file) => [...inspect(pem), await verifyChains([file])] };
}

/** The shadow step of signing an intermediate: the shadow root signs the token's CSR, judged like the real one. */
export function intermediateShadow(shadow: ShadowAuthority, expect: Omit<CaCertificateExpectations, 'issuer'>): ShadowStep {
  return {
    key: shadow,
    async judge(pem, file) {
      const cert = decodeCertificate(pemToDer(pem, 'CERTIFICATE', 'the shadow intermediate certificate'));
      const checks = verifyCaCertificate('the shadow intermediate certificate', cert, { ...expect, issuer: shadow.decoded });
      await verifyShadowChain(shadow, file);
      return [...checks, 'openssl verify against the shadow root: OK'];
    },
  };
}

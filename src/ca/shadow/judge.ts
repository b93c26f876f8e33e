import { CaError, ToolFailedError } from '../../errors.js';
import * as openssl from '../../tools/openssl.js';
import { decodeCertificate, pemToDer } from '../../x509/decode.js';
import { sanStrings } from '../../x509/san.js';
import { verifyCaCertificate, verifyLeafCertificate, type CaCertificateExpectations, type LeafExpectations } from '../../x509/verify.js';
import type { ShadowStep } from '../signing/sign.js';
import type { ShadowAuthority } from './authority.js';

/** `openssl verify` against the shadow chain, its refusal worded by openssl's reason ("permitted subtree violation"). */
async function verifyShadowChain(shadow: ShadowAuthority, file: string, untrusted?: string): Promise<void> {
  await openssl.verifyChain(shadow.run, { root: shadow.rootFile, ...(untrusted ? { untrusted } : {}), certificate: file }).catch((error: unknown) => {
    const reason = error instanceof ToolFailedError ? /error \d+ at \d+ depth lookup: (.*)/.exec(error.stderr)?.[1] : undefined;
    throw reason ? new CaError(`openssl verify against the shadow chain: ${reason}`) : error;
  });
}

/**
 * The shadow step of a leaf issuance: the shadow intermediate signs, and its certificate must pass the tool's
 * verifier and `openssl verify` against the shadow chain, which carries the real name constraints.
 */
export function leafShadow(shadow: ShadowAuthority, what: string, expect: Omit<LeafExpectations, 'issuer'>): ShadowStep {
  return {
    key: shadow,
    async judge(pem, file) {
      const cert = decodeCertificate(pemToDer(pem, 'CERTIFICATE', `the shadow ${what}`));
      const checks = verifyLeafCertificate(`the shadow ${what}`, cert, { ...expect, issuer: shadow.decoded }, sanStrings(cert.extensions));
      await verifyShadowChain(shadow, file, shadow.certificate);
      return [...checks, 'openssl verify against the shadow chain (the real name constraints): OK'];
    },
  };
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

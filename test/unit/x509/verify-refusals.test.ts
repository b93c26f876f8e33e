import { describe, it, expect } from '@jest/globals';
import { csrSignatureValid, VerificationError, verifyCaCertificate, verifyCrl, verifyLeafCertificate } from '../../../src/x509/verify.js';
import { sanStrings } from '../../../src/x509/san.js';
import type { DecodedCertificate } from '../../../src/x509/decode.js';
import { makeCa, makeCrl, makeCsr, makeLeaf, throwawayKey, type CertificateOptions, type CrlOptions } from './factory.js';

// Each test breaks exactly one property of a hand-made, otherwise valid input and expects exactly that
// check, and no other, to fail.

const DAY = 86_400_000;
const rootKey = throwawayKey();
const intermediateKey = throwawayKey();
const leafKey = throwawayKey();
const strangerKey = throwawayKey();
const root = makeCa({ commonName: 'Test Root', key: rootKey, notAfter: new Date(Date.now() + 3650 * DAY) });
const intermediate = makeCa({ commonName: 'Test Intermediate', key: intermediateKey, issuer: root, basicConstraints: { cA: true, pathLenConstraint: 0, critical: true }, notAfter: new Date(Date.now() + 1000 * DAY) });
const leafCsr = makeCsr(leafKey);

/** The checks a VerificationError names as failed, split out of its message. */
function failedChecks(fn: () => unknown): string[] {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(VerificationError);
    const listed = /failed verification: (.*); nothing was written/.exec((error as Error).message);
    return listed ? listed[1]!.split('; ') : [];
  }
  throw new Error('expected a VerificationError');
}

describe('verifyCaCertificate on hand-made intermediates', () => {
  const expectations = { issuer: root.decoded, digest: 'sha256', tokenSpki: intermediate.decoded.spkiDer, pathLength: 0 } as const;
  const intermediateWith = (options: Partial<CertificateOptions>): DecodedCertificate =>
    makeCa({ commonName: 'Test Intermediate', key: intermediateKey, issuer: root, basicConstraints: { cA: true, pathLenConstraint: 0, critical: true }, notAfter: new Date(Date.now() + 1000 * DAY), ...options }).decoded;
  const refusal = (options: Partial<CertificateOptions>): string[] => failedChecks(() => verifyCaCertificate('int', intermediateWith(options), expectations));

  it('passes the well-formed intermediate', () => {
    expect(verifyCaCertificate('int', intermediate.decoded, expectations)).toHaveLength(11);
  });

  it('refuses another issuer name', () => {
    expect(refusal({ issuerName: 'Someone Else' })).toEqual(["issuer = the root's subject"]);
  });

  it('refuses a signature by a key other than the root', () => {
    expect(refusal({ signWith: strangerKey })).toEqual(['signature valid under the root key']);
  });

  it('refuses a digest other than the configured one', () => {
    expect(refusal({ digest: 'sha384' })).toEqual(['signature algorithm sha384WithRSAEncryption (expected sha256 with the signing key\'s algorithm)']);
  });

  it('refuses basicConstraints that are not critical', () => {
    expect(refusal({ basicConstraints: { cA: true, pathLenConstraint: 0 } })).toEqual(['basicConstraints critical CA:TRUE']);
  });

  it('refuses CA:FALSE', () => {
    expect(refusal({ basicConstraints: { cA: false, critical: true } })).toEqual(['basicConstraints critical CA:TRUE', 'pathlen:0 (found undefined)']);
  });

  it('refuses a path length other than expected', () => {
    expect(refusal({ basicConstraints: { cA: true, pathLenConstraint: 1, critical: true } })).toEqual(['pathlen:0 (found 1)']);
  });

  it.each(['keyCertSign', 'cRLSign', 'digitalSignature', 'critical'])('refuses a keyUsage without %s', (missing) => {
    const keyUsage: Record<string, unknown> = { keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true };
    delete keyUsage[missing];
    expect(refusal({ keyUsage })).toEqual(['keyUsage critical keyCertSign, cRLSign, digitalSignature']);
  });

  it('refuses a missing subjectKeyIdentifier', () => {
    expect(refusal({ subjectKeyId: false })).toEqual(['subjectKeyIdentifier present']);
  });

  it('refuses a public key other than the token\'s', () => {
    expect(refusal({ key: strangerKey })).toEqual(["public key = the token's key"]);
  });

  it('refuses an expired certificate', () => {
    expect(refusal({ notBefore: new Date(Date.now() - 10 * DAY), notAfter: new Date(Date.now() - DAY) })).toEqual(['currently valid']);
  });

  it('refuses a certificate valid only from tomorrow', () => {
    expect(refusal({ notBefore: new Date(Date.now() + DAY) })).toEqual(['currently valid']);
  });

  it('refuses an authorityKeyIdentifier other than the root\'s', () => {
    expect(refusal({ authorityKeyId: 'not the root key id!' })).toEqual(["authorityKeyIdentifier = root's subjectKeyIdentifier"]);
  });

  it('refuses a validity beyond the root\'s', () => {
    expect(refusal({ notAfter: new Date(root.decoded.notAfter.getTime() + 1000) })).toEqual(["within the root's validity"]);
  });

  it('accepts a validity ending with the root\'s', () => {
    expect(() => verifyCaCertificate('int', intermediateWith({ notAfter: root.decoded.notAfter }), expectations)).not.toThrow();
  });

  it('accepts a certificate valid from 30 seconds ahead (clock skew)', () => {
    expect(() => verifyCaCertificate('int', intermediateWith({ notBefore: new Date(Date.now() + 30_000) }), expectations)).not.toThrow();
  });

  it('accepts a path length of 1 when 1 is expected', () => {
    const cert = intermediateWith({ basicConstraints: { cA: true, pathLenConstraint: 1, critical: true } });
    expect(verifyCaCertificate('int', cert, { ...expectations, pathLength: 1 })).toContain('pathlen:1');
  });

  it('refuses a self-signed root whose issuer is not its subject', () => {
    const rootExpect = { issuer: undefined, digest: 'sha256', tokenSpki: root.decoded.spkiDer, pathLength: undefined } as const;
    const renamed = makeCa({ commonName: 'Test Root', key: rootKey, issuerName: 'Other Root' }).decoded;
    expect(failedChecks(() => verifyCaCertificate('root', renamed, rootExpect))).toEqual(['self-signed: issuer = subject']);
  });
});

describe('verifyLeafCertificate on hand-made leaves', () => {
  const leaf = makeLeaf({ key: leafKey, issuer: intermediate });
  const expectations = {
    issuer: intermediate.decoded,
    csr: leafCsr,
    digest: 'sha256',
    subject: leaf.decoded.subject,
    sans: ['DNS:www.example.com', 'IP:10.0.0.1'],
    keyUsage: ['digitalSignature', 'keyEncipherment'],
    extendedKeyUsage: ['serverAuth'] as readonly string[],
  } as const;
  const refusal = (options: Partial<CertificateOptions>, expect = expectations): string[] => {
    const cert = makeLeaf({ key: leafKey, issuer: intermediate, ...options }).decoded;
    return failedChecks(() => verifyLeafCertificate('leaf', cert, expect, sanStrings(cert.extensions)));
  };

  it('passes the well-formed leaf', () => {
    expect(verifyLeafCertificate('leaf', leaf.decoded, expectations, sanStrings(leaf.decoded.extensions))).toHaveLength(11);
  });

  it('refuses another issuer name', () => {
    expect(refusal({ issuerName: 'Someone Else' })).toEqual(["issuer = the intermediate's subject"]);
  });

  it('refuses a signature by a key other than the intermediate', () => {
    expect(refusal({ signWith: strangerKey })).toEqual(['signature valid under the intermediate key']);
  });

  it('refuses a digest other than the configured one', () => {
    expect(refusal({ digest: 'sha512' })).toEqual(['signature algorithm sha512WithRSAEncryption']);
  });

  it('refuses a public key other than the CSR\'s', () => {
    expect(refusal({ key: strangerKey })).toEqual(["public key = the CSR's key"]);
  });

  it('refuses a subject other than the decided one', () => {
    expect(refusal({ commonName: 'other.example.com' })).toEqual(['subject CN=other.example.com, as decided (expected CN=www.example.com)']);
  });

  it('refuses CA:TRUE', () => {
    expect(refusal({ basicConstraints: { cA: true } })).toEqual(['basicConstraints CA:FALSE']);
  });

  it('refuses a missing basicConstraints', () => {
    expect(refusal({ basicConstraints: null })).toEqual(['basicConstraints CA:FALSE']);
  });

  it.each(['keyCertSign', 'cRLSign'])('refuses a keyUsage carrying %s', (usage) => {
    expect(refusal({ keyUsage: { digitalSignature: true, keyEncipherment: true, [usage]: true, critical: true } })).toEqual(['keyUsage critical digitalSignature, keyEncipherment']);
  });

  it('refuses a keyUsage that is not critical', () => {
    expect(refusal({ keyUsage: { digitalSignature: true, keyEncipherment: true } })).toEqual(['keyUsage critical digitalSignature, keyEncipherment']);
  });

  it('refuses a keyUsage missing an expected usage', () => {
    expect(refusal({ keyUsage: { digitalSignature: true, critical: true } })).toEqual(['keyUsage critical digitalSignature, keyEncipherment']);
  });

  it('refuses clientAuth on a server-only leaf', () => {
    expect(refusal({ extKeyUsage: { serverAuth: true, clientAuth: true } })).toEqual(['extendedKeyUsage serverAuth']);
  });

  it('refuses a missing serverAuth', () => {
    expect(refusal({ extKeyUsage: { clientAuth: true } })).toEqual(['extendedKeyUsage serverAuth']);
  });

  it('refuses serverAuth on a client-only leaf', () => {
    expect(refusal({ extKeyUsage: { serverAuth: true, clientAuth: true } }, { ...expectations, extendedKeyUsage: ['clientAuth'] })).toEqual(['extendedKeyUsage clientAuth']);
  });

  it('refuses SANs other than the requested ones', () => {
    expect(refusal({ altNames: [{ type: 2, value: 'www.example.com' }, { type: 7, ip: '10.0.0.2' }] })).toEqual([
      'subjectAltName DNS:www.example.com, IP:10.0.0.1 (found DNS:www.example.com, IP:10.0.0.2)',
    ]);
  });

  it('refuses an authorityKeyIdentifier other than the intermediate\'s', () => {
    expect(refusal({ authorityKeyId: root.cert.generateSubjectKeyIdentifier().getBytes() })).toEqual(["authorityKeyIdentifier = intermediate's subjectKeyIdentifier"]);
  });

  it('refuses a validity beyond the intermediate\'s', () => {
    expect(refusal({ notAfter: new Date(intermediate.decoded.notAfter.getTime() + 1000) })).toEqual(["within the intermediate's validity"]);
  });

  it('accepts a validity ending with the intermediate\'s', () => {
    const cert = makeLeaf({ key: leafKey, issuer: intermediate, notAfter: intermediate.decoded.notAfter }).decoded;
    expect(() => verifyLeafCertificate('leaf', cert, expectations, sanStrings(cert.extensions))).not.toThrow();
  });
});

describe('verifyCrl on hand-made CRLs', () => {
  const expectations = { issuer: intermediate.decoded, digest: 'sha256', revokedSerials: ['0A', '1B2C'], days: 30, previousNumber: 4n } as const;
  const crlWith = (options: Partial<CrlOptions>) => makeCrl({ issuer: intermediate, number: 5n, revoked: ['0A', '1B2C'], ...options });
  const refusal = (options: Partial<CrlOptions>, expect = expectations): string[] => failedChecks(() => verifyCrl('crl', crlWith(options), expect));

  it('passes the well-formed CRL', () => {
    expect(verifyCrl('crl', crlWith({}), expectations)).toHaveLength(7);
  });

  it('passes the first CRL, with no previous number', () => {
    expect(verifyCrl('crl', crlWith({ number: 1n }), { ...expectations, previousNumber: undefined })).toContain('CRL number 1');
  });

  it('refuses another issuer name', () => {
    expect(refusal({ issuerName: 'Someone Else' })).toEqual(["issuer = the CA's subject"]);
  });

  it('refuses a signature by a key other than the CA\'s', () => {
    expect(refusal({ signWith: strangerKey })).toEqual(['signature valid under the CA key']);
  });

  it('refuses a digest other than the configured one', () => {
    expect(refusal({ digest: 'sha384' })).toEqual(['signature algorithm sha384WithRSAEncryption']);
  });

  it('refuses an authorityKeyIdentifier other than the CA\'s', () => {
    expect(refusal({ authorityKeyId: root.cert.generateSubjectKeyIdentifier().getBytes() })).toEqual(["authorityKeyIdentifier = the CA's subjectKeyIdentifier"]);
  });

  it('refuses a missing authorityKeyIdentifier', () => {
    expect(refusal({ authorityKeyId: null })).toEqual(["authorityKeyIdentifier = the CA's subjectKeyIdentifier"]);
  });

  it('refuses a CRL number equal to the last', () => {
    expect(refusal({ number: 4n })).toEqual(['CRL number 4 (previous 4)']);
  });

  it('refuses a CRL number below the last', () => {
    expect(refusal({ number: 3n })).toEqual(['CRL number 3 (previous 4)']);
  });

  it('refuses a missing CRL number', () => {
    expect(refusal({ number: undefined })).toEqual(['CRL number (none) (previous 4)']);
  });

  it('refuses a nextUpdate other than thisUpdate + days', () => {
    expect(refusal({ days: 31 })).toEqual([expect.stringMatching(/^nextUpdate \d{4}-\d\d-\d\d$/)]);
  });

  it('accepts a nextUpdate within the hour of thisUpdate + days', () => {
    expect(() => verifyCrl('crl', crlWith({ days: 30 + 59 / 1440 }), expectations)).not.toThrow();
  });

  it('refuses a missing nextUpdate', () => {
    expect(refusal({ days: null })).toEqual(['nextUpdate (none)']);
  });

  it('refuses a revoked serial the database does not hold', () => {
    expect(refusal({ revoked: ['0A', '1B2C', '3D'] })).toEqual(['3 revoked serial(s), as in the database (CRL lists 0A, 1B2C, 3D)']);
  });

  it('refuses a CRL missing a revoked serial', () => {
    expect(refusal({ revoked: ['0A'] })).toEqual(['1 revoked serial(s), as in the database (CRL lists 0A)']);
  });

  it('refuses an empty CRL when the database holds revocations', () => {
    expect(refusal({ revoked: [] })).toEqual(['0 revoked serial(s), as in the database (CRL lists none)']);
  });

  it('accepts the revoked serials in any order', () => {
    expect(() => verifyCrl('crl', crlWith({ revoked: ['1B2C', '0A'] }), expectations)).not.toThrow();
    expect(() => verifyCrl('crl', crlWith({}), { ...expectations, revokedSerials: ['1B2C', '0A'] })).not.toThrow();
  });
});

describe('csrSignatureValid on hand-made CSRs', () => {
  it('accepts a CSR signed by its own key', () => {
    expect(csrSignatureValid(leafCsr)).toBe(true);
  });

  it('refuses a CSR signed by another key', () => {
    expect(csrSignatureValid(makeCsr(leafKey, { signWith: strangerKey }))).toBe(false);
  });
});

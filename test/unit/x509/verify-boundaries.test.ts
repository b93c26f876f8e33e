/**
 * The edges of the verification checks, each on both sides: the exact millisecond a CA certificate stops (or
 * starts, with the minute of clock skew) being current, the hour a CRL's nextUpdate may be off, a CRL without an
 * authorityKeyIdentifier from a CA without a subjectKeyIdentifier, and an AKI without its keyIdentifier.
 */
import { afterEach, describe, expect, it, jest } from '@jest/globals';
import { authorityKeyId, VerificationError, verifyCaCertificate, verifyCrl, verifyLeafCertificate } from '../../../src/x509/verify.js';
import { sanStrings } from '../../../src/x509/san.js';
import { makeCa, makeCrl, makeCsr, makeLeaf, throwawayKey } from './factory.js';

const DAY = 86_400_000;
const rootKey = throwawayKey();
const intermediateKey = throwawayKey();
const root = makeCa({ commonName: 'Edge Root', key: rootKey, notAfter: new Date(Date.now() + 3650 * DAY) });
const notBefore = new Date(Math.floor(Date.now() / 1000) * 1000 - DAY);
const notAfter = new Date(notBefore.getTime() + 100 * DAY);
const intermediate = makeCa({ commonName: 'Edge Intermediate', key: intermediateKey, issuer: root, basicConstraints: { cA: true, pathLenConstraint: 0, critical: true }, notBefore, notAfter });
const caExpectations = { issuer: root.decoded, digest: 'sha256', tokenSpki: intermediate.decoded.spkiDer, pathLength: 0 } as const;

/** The checks a VerificationError names as failed. */
function failedChecks(fn: () => unknown): string[] {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(VerificationError);
    return /failed verification: (.*); nothing was written/.exec((error as Error).message)![1]!.split('; ');
  }
  throw new Error('expected a VerificationError');
}

afterEach(() => {
  jest.restoreAllMocks();
});
const clockAt = (ms: number) => jest.spyOn(Date, 'now').mockReturnValue(ms);

describe('verifyCaCertificate: currently valid, to the millisecond', () => {
  it('accepts the last millisecond before notAfter, refuses notAfter itself', () => {
    clockAt(notAfter.getTime() - 1);
    expect(() => verifyCaCertificate('int', intermediate.decoded, caExpectations)).not.toThrow();
    clockAt(notAfter.getTime());
    expect(failedChecks(() => verifyCaCertificate('int', intermediate.decoded, caExpectations))).toEqual(['currently valid']);
  });

  it('accepts a notBefore exactly one minute ahead of the clock, refuses one millisecond more', () => {
    clockAt(notBefore.getTime() - 60_000);
    expect(() => verifyCaCertificate('int', intermediate.decoded, caExpectations)).not.toThrow();
    clockAt(notBefore.getTime() - 60_001);
    expect(failedChecks(() => verifyCaCertificate('int', intermediate.decoded, caExpectations))).toEqual(['currently valid']);
  });
});

describe('verifyCrl: the edges of nextUpdate and the key identifier', () => {
  const expectations = { issuer: intermediate.decoded, digest: 'sha256', revokedSerials: [], days: 30, previousNumber: undefined } as const;

  it('refuses a nextUpdate exactly an hour off thisUpdate + days, and accepts one a second less', () => {
    expect(failedChecks(() => verifyCrl('crl', makeCrl({ issuer: intermediate, number: 1n, days: 30 + 1 / 24 }), expectations))).toEqual([expect.stringMatching(/^nextUpdate /)]);
    expect(() => verifyCrl('crl', makeCrl({ issuer: intermediate, number: 1n, days: 30 + 3599 / 86_400 }), expectations)).not.toThrow();
    expect(failedChecks(() => verifyCrl('crl', makeCrl({ issuer: intermediate, number: 1n, days: 30 - 1 / 24 }), expectations))).toEqual([expect.stringMatching(/^nextUpdate /)]);
  });

  it('refuses a CRL without authorityKeyIdentifier even when its CA has no subjectKeyIdentifier to compare with', () => {
    const bare = makeCa({ commonName: 'Edge Intermediate', key: intermediateKey, issuer: root, subjectKeyId: false });
    const crl = makeCrl({ issuer: bare, number: 1n, authorityKeyId: null });
    expect(failedChecks(() => verifyCrl('crl', crl, { ...expectations, issuer: bare.decoded }))).toEqual(["authorityKeyIdentifier = the CA's subjectKeyIdentifier"]);
  });
});

describe('authorityKeyId', () => {
  /** An authorityKeyIdentifier extension holding the given DER content, as node-forge leaves it (binary string). */
  const aki = (hex: string) => [{ id: '2.5.29.35', name: 'authorityKeyIdentifier', critical: false, value: Buffer.from(hex, 'hex').toString('binary') }];

  it('reads the [0] keyIdentifier, also after another field', () => {
    expect(authorityKeyId(aki('3004' + '80020a0b'))).toBe('0a0b');
    expect(authorityKeyId(aki('3008' + '81020a0b' + '80020c0d'))).toBe('0c0d');
  });

  it('finds none in an AKI holding only the issuer serial [2] or issuer name [1], whatever their bytes', () => {
    expect(authorityKeyId(aki('3004' + '82020a0b'))).toBeUndefined();
    expect(authorityKeyId(aki('3004' + '81020a0b'))).toBeUndefined();
    expect(authorityKeyId(aki('3004' + '40020a0b'))).toBeUndefined(); // [APPLICATION 0], not [0]
  });
});

describe('verifyLeafCertificate without SANs', () => {
  it('names the expected SANs "(none)" in its check', () => {
    const leaf = makeLeaf({ key: throwawayKey(), issuer: intermediate, notAfter, altNames: undefined });
    const csr = makeCsr(leaf.key);
    const checks = verifyLeafCertificate('leaf', leaf.decoded, { issuer: intermediate.decoded, csr, digest: 'sha256', subject: leaf.decoded.subject, sans: [], keyUsage: ['digitalSignature', 'keyEncipherment'], extendedKeyUsage: ['serverAuth'] }, sanStrings(leaf.decoded.extensions));
    expect(checks).toContain('subjectAltName (none)');
  });
});

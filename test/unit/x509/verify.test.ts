import { describe, it, expect } from '@jest/globals';
import { CaError } from '../../../src/errors.js';
import {
  authorityKeyId,
  csrSignatureValid,
  describeKey,
  signatureAlgorithmMatches,
  signatureAlgorithmName,
  signatureValid,
  subjectKeyId,
  Verification,
  VerificationError,
  verifyCaCertificate,
  verifyLeafCertificate,
} from '../../../src/x509/verify.js';
import { generateKeyPairSync } from 'node:crypto';
import { sanStrings } from '../../../src/x509/san.js';
import { certificate, csr, keyIdOf, publicKeyDer } from './fixtures.js';

const root = certificate('root-ec.crt');
const intermediate = certificate('intermediate-ec.crt');
const rsaRoot = certificate('root-rsa.crt');
const leaf = certificate('server-sans.crt');
const leafCsr = csr('server-sans.csr');

/** The message of the error `fn` throws (fails the test if it does not throw). */
function failure(fn: () => unknown): VerificationError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(VerificationError);
    return error as VerificationError;
  }
  throw new Error('expected a VerificationError');
}

describe('verifyCaCertificate', () => {
  const rootExpect = { issuer: undefined, digest: 'sha512', tokenSpki: root.spkiDer, pathLength: undefined } as const;
  const intermediateExpect = { issuer: root, digest: 'sha512', tokenSpki: intermediate.spkiDer, pathLength: 0 } as const;

  it('passes the EC root and lists its checks', () => {
    const checks = verifyCaCertificate('the root certificate', root, rootExpect);
    expect(checks).toEqual([
      'self-signed: issuer = subject',
      'signature valid under the own key',
      'signature algorithm ecdsa-with-SHA512',
      'basicConstraints critical CA:TRUE',
      'no path length limit',
      'keyUsage critical keyCertSign, cRLSign, digitalSignature',
      'subjectKeyIdentifier present',
      "public key = the token's key",
      'currently valid',
    ]);
  });

  it('passes the root with the token key read from a PUBLIC KEY file', () => {
    expect(() => verifyCaCertificate('root', root, { ...rootExpect, tokenSpki: publicKeyDer('root-ec.pub.pem') })).not.toThrow();
  });

  it('passes the intermediate against the root', () => {
    const checks = verifyCaCertificate('the intermediate certificate', intermediate, intermediateExpect);
    expect(checks).toContain("issuer = the root's subject");
    expect(checks).toContain('signature valid under the root key');
    expect(checks).toContain('pathlen:0');
    expect(checks).toContain("authorityKeyIdentifier = root's subjectKeyIdentifier");
    expect(checks).toContain("within the root's validity");
    expect(checks).toHaveLength(11);
  });

  it('passes the RSA root with sha256', () => {
    expect(verifyCaCertificate('rsa root', rsaRoot, { issuer: undefined, digest: 'sha256', tokenSpki: rsaRoot.spkiDer, pathLength: undefined })).toContain(
      'signature algorithm sha256WithRSAEncryption',
    );
  });

  it('names the failed check for a wrong token key', () => {
    const error = failure(() => verifyCaCertificate('the root certificate', root, { ...rootExpect, tokenSpki: intermediate.spkiDer }));
    expect(error.message).toMatch(/^the root certificate failed verification: public key = the token's key; nothing was written/);
    expect(error).toBeInstanceOf(CaError);
    expect(error.exitCode).toBe(1);
  });

  it('names the failed check for a wrong digest', () => {
    const error = failure(() => verifyCaCertificate('the root certificate', root, { ...rootExpect, digest: 'sha256' }));
    expect(error.message).toContain("signature algorithm ecdsa-with-SHA512 (expected sha256 with the signing key's algorithm)");
    expect(error.message).not.toContain('public key');
    const rsa = failure(() => verifyCaCertificate('rsa root', rsaRoot, { issuer: undefined, digest: 'sha512', tokenSpki: rsaRoot.spkiDer, pathLength: undefined }));
    expect(rsa.message).toContain('signature algorithm sha256WithRSAEncryption (expected sha512');
  });

  it('names the failed checks for a wrong issuer', () => {
    const error = failure(() => verifyCaCertificate('the intermediate certificate', intermediate, { ...intermediateExpect, issuer: rsaRoot }));
    expect(error.message).toContain("issuer = the root's subject");
    expect(error.message).toContain('signature valid under the root key');
    expect(error.message).toContain("authorityKeyIdentifier = root's subjectKeyIdentifier");
    expect(error.message).not.toContain('pathlen:0');
  });

  it('refuses the root as its own intermediate and an intermediate presented as self-signed', () => {
    expect(failure(() => verifyCaCertificate('x', intermediate, { ...intermediateExpect, issuer: undefined })).message).toContain(
      'self-signed: issuer = subject',
    );
    expect(failure(() => verifyCaCertificate('x', intermediate, { ...intermediateExpect, issuer: intermediate })).message).toContain(
      'signature valid under the root key',
    );
  });

  it('names a wrong path length', () => {
    expect(failure(() => verifyCaCertificate('root', root, { ...rootExpect, pathLength: 0 })).message).toContain('pathlen:0 (found undefined)');
    expect(failure(() => verifyCaCertificate('int', intermediate, { ...intermediateExpect, pathLength: undefined })).message).toContain(
      'no path length limit (found 0)',
    );
  });

  it('refuses a leaf certificate as a CA', () => {
    const error = failure(() => verifyCaCertificate('leaf', leaf, { issuer: intermediate, digest: 'sha512', tokenSpki: leaf.spkiDer, pathLength: 0 }));
    expect(error.message).toContain('basicConstraints critical CA:TRUE');
    expect(error.message).toContain('keyUsage critical keyCertSign, cRLSign, digitalSignature');
  });

  it('refuses a certificate that is not currently valid', () => {
    const expired = { ...root, notAfter: new Date(Date.now() - 1000) };
    expect(failure(() => verifyCaCertificate('root', expired, rootExpect)).message).toContain('currently valid');
    const future = { ...root, notBefore: new Date(Date.now() + 3_600_000) };
    expect(failure(() => verifyCaCertificate('root', future, rootExpect)).message).toContain('currently valid');
  });

  it('refuses an intermediate that outlives the root', () => {
    const shortRoot = { ...root, notAfter: new Date(intermediate.notAfter.getTime() - 1000) };
    expect(failure(() => verifyCaCertificate('int', intermediate, { ...intermediateExpect, issuer: shortRoot })).message).toContain(
      "within the root's validity",
    );
  });

  it('passes an intermediate whose authorityKeyIdentifier also carries the issuer name and serial', () => {
    // openssl x509 -extfile with authorityKeyIdentifier = keyid:always,issuer:always; `openssl verify` accepts it.
    const withIssuer = certificate('intermediate-aki-issuer.crt');
    expect(() => verifyCaCertificate('the intermediate certificate', withIssuer, intermediateExpect)).not.toThrow();
  });
});

describe('verifyLeafCertificate', () => {
  const expectations = {
    issuer: intermediate,
    csr: leafCsr,
    digest: 'sha512',
    subject: leaf.subject,
    sans: ['DNS:www.example.com', 'DNS:example.com', 'IP:10.0.0.1', 'IP:::1'],
    keyUsage: ['digitalSignature'],
    extendedKeyUsage: ['serverAuth'],
  } as const;

  it('passes the server certificate', () => {
    const checks = verifyLeafCertificate('the server certificate', leaf, expectations, sanStrings(leaf.extensions));
    expect(checks).toContain('subjectAltName DNS:www.example.com, DNS:example.com, IP:10.0.0.1, IP:::1');
    expect(checks).toContain('keyUsage critical digitalSignature');
    expect(checks).toContain('extendedKeyUsage serverAuth');
    expect(checks).toHaveLength(11);
  });

  it('refuses a leaf that lacks one of two expected extended key usages, and says which SANs it found', () => {
    const eku = failure(() => verifyLeafCertificate('leaf', leaf, { ...expectations, extendedKeyUsage: ['serverAuth', 'clientAuth'] }, sanStrings(leaf.extensions)));
    expect(eku.message).toContain('extendedKeyUsage serverAuth, clientAuth');
    const sans = failure(() => verifyLeafCertificate('leaf', leaf, expectations, []));
    expect(sans.message).toContain('(found none)');
  });

  it('names the failed checks for a wrong issuer', () => {
    const error = failure(() => verifyLeafCertificate('leaf', leaf, { ...expectations, issuer: root }, sanStrings(leaf.extensions)));
    expect(error.message).toContain("issuer = the intermediate's subject");
    expect(error.message).toContain('signature valid under the intermediate key');
    expect(error.message).toContain("authorityKeyIdentifier = intermediate's subjectKeyIdentifier");
  });

  it('names a SAN mismatch, a key mismatch, a missing key usage and a wrong digest', () => {
    expect(failure(() => verifyLeafCertificate('leaf', leaf, { ...expectations, sans: ['DNS:www.example.com'] }, sanStrings(leaf.extensions))).message).toContain(
      'subjectAltName DNS:www.example.com (found DNS:www.example.com, DNS:example.com, IP:10.0.0.1, IP:::1)',
    );
    expect(failure(() => verifyLeafCertificate('leaf', leaf, { ...expectations, csr: csr('server-no-sans.csr') }, sanStrings(leaf.extensions))).message).toContain(
      "public key = the CSR's key",
    );
    expect(failure(() => verifyLeafCertificate('leaf', leaf, { ...expectations, keyUsage: ['digitalSignature', 'keyEncipherment'] }, sanStrings(leaf.extensions))).message).toContain(
      'keyUsage critical digitalSignature, keyEncipherment',
    );
    expect(failure(() => verifyLeafCertificate('leaf', leaf, { ...expectations, digest: 'sha256' }, sanStrings(leaf.extensions))).message).toContain(
      'signature algorithm ecdsa-with-SHA512',
    );
  });

  it('names a subject other than the one the CA decided', () => {
    const decided = [{ shortName: 'CN', value: 'other.example.com' }];
    expect(failure(() => verifyLeafCertificate('leaf', leaf, { ...expectations, subject: decided }, sanStrings(leaf.extensions))).message).toContain('expected CN=other.example.com');
  });

  it('does not pass the key identifier check when neither certificate has one', () => {
    // RFC 5280 4.2.1.1: a non-self-signed certificate must carry an AKI; "undefined = undefined" is no match.
    const issuerWithoutSki = { ...intermediate, extensions: intermediate.extensions.filter((e) => e.name !== 'subjectKeyIdentifier') };
    const leafWithoutAki = { ...leaf, extensions: leaf.extensions.filter((e) => e.name !== 'authorityKeyIdentifier') };
    const error = failure(() => verifyLeafCertificate('leaf', leafWithoutAki, { ...expectations, issuer: issuerWithoutSki }, sanStrings(leaf.extensions)));
    expect(error.message).toContain("authorityKeyIdentifier = intermediate's subjectKeyIdentifier");
  });

  it('refuses a leaf without an authorityKeyIdentifier', () => {
    const leafWithoutAki = { ...leaf, extensions: leaf.extensions.filter((e) => e.name !== 'authorityKeyIdentifier') };
    expect(failure(() => verifyLeafCertificate('leaf', leafWithoutAki, expectations, sanStrings(leaf.extensions))).message).toContain(
      "authorityKeyIdentifier = intermediate's subjectKeyIdentifier",
    );
  });

  it('refuses a CA certificate as a leaf', () => {
    const error = failure(() =>
      verifyLeafCertificate('int', intermediate, { ...expectations, issuer: root, csr: { ...leafCsr, spkiDer: intermediate.spkiDer } }, []),
    );
    expect(error.message).toContain('basicConstraints CA:FALSE');
    expect(error.message).toContain('extendedKeyUsage serverAuth');
  });
});

describe('signatureValid and csrSignatureValid', () => {
  it('checks certificate signatures under the issuer key', () => {
    expect(signatureValid(root.tbsDer, root.signature, root.signatureAlgorithmOid, root.spkiDer)).toBe(true);
    expect(signatureValid(intermediate.tbsDer, intermediate.signature, intermediate.signatureAlgorithmOid, root.spkiDer)).toBe(true);
    expect(signatureValid(leaf.tbsDer, leaf.signature, leaf.signatureAlgorithmOid, intermediate.spkiDer)).toBe(true);
    expect(signatureValid(rsaRoot.tbsDer, rsaRoot.signature, rsaRoot.signatureAlgorithmOid, rsaRoot.spkiDer)).toBe(true);
  });

  it('is false for the wrong key, key type, algorithm, data or signature', () => {
    expect(signatureValid(intermediate.tbsDer, intermediate.signature, intermediate.signatureAlgorithmOid, intermediate.spkiDer)).toBe(false);
    expect(signatureValid(root.tbsDer, root.signature, root.signatureAlgorithmOid, rsaRoot.spkiDer)).toBe(false);
    expect(signatureValid(root.tbsDer, root.signature, '1.2.840.10045.4.3.3', root.spkiDer)).toBe(false);
    expect(signatureValid(root.tbsDer, root.signature, '1.2.840.10045.4.1', root.spkiDer)).toBe(false); // ecdsa-with-SHA1
    expect(signatureValid(root.tbsDer.subarray(1), root.signature, root.signatureAlgorithmOid, root.spkiDer)).toBe(false);
    expect(signatureValid(root.tbsDer, Buffer.alloc(0), root.signatureAlgorithmOid, root.spkiDer)).toBe(false);
    expect(signatureValid(root.tbsDer, root.signature, root.signatureAlgorithmOid, Buffer.from('not a key'))).toBe(false);
  });

  it('is false for a valid RSA signature presented under an ECDSA algorithm (the key type must be the algorithm\'s)', () => {
    expect(signatureValid(rsaRoot.tbsDer, rsaRoot.signature, '1.2.840.10045.4.3.2', rsaRoot.spkiDer)).toBe(false);
  });

  it('signatureAlgorithmMatches needs the digest and the key type, and knows the OID', () => {
    expect(signatureAlgorithmMatches(rsaRoot.signatureAlgorithmOid, 'sha256', rsaRoot.spkiDer)).toBe(true);
    expect(signatureAlgorithmMatches(rsaRoot.signatureAlgorithmOid, 'sha256', root.spkiDer)).toBe(false);
    expect(signatureAlgorithmMatches(rsaRoot.signatureAlgorithmOid, 'sha384', rsaRoot.spkiDer)).toBe(false);
    expect(signatureAlgorithmMatches('1.2.3.4', 'sha256', rsaRoot.spkiDer)).toBe(false);
  });

  it('accepts the untouched CSRs and refuses the tampered one', () => {
    for (const name of ['server-sans.csr', 'server-no-sans.csr', 'server-ca-true.csr', 'utf8-subject.csr']) {
      expect([name, csrSignatureValid(csr(name))]).toEqual([name, true]);
    }
    expect(csrSignatureValid(csr('server-tampered.csr'))).toBe(false);
  });
});

describe('describeKey', () => {
  it('names curves and RSA sizes', () => {
    expect(describeKey(root.spkiDer)).toBe('EC P-384');
    expect(describeKey(leafCsr.spkiDer)).toBe('EC P-256');
    expect(describeKey(rsaRoot.spkiDer)).toBe('RSA 2048');
  });

  it('names other key types by their type, and an unknown signature algorithm by its OID', () => {
    const ed25519 = generateKeyPairSync('ed25519').publicKey.export({ format: 'der', type: 'spki' });
    expect(describeKey(ed25519)).toBe('ed25519');
    expect(signatureAlgorithmName('1.2.3.4')).toBe('1.2.3.4');
  });
});

describe('authorityKeyId and subjectKeyId', () => {
  it('reads the key identifiers as hex', () => {
    expect(subjectKeyId(root.extensions)).toBe(keyIdOf(root.spkiDer));
    expect(authorityKeyId(root.extensions)).toBe(keyIdOf(root.spkiDer));
    expect(subjectKeyId(intermediate.extensions)).toBe(keyIdOf(intermediate.spkiDer));
    expect(authorityKeyId(intermediate.extensions)).toBe(subjectKeyId(root.extensions));
    expect(authorityKeyId(leaf.extensions)).toBe(subjectKeyId(intermediate.extensions));
    expect(subjectKeyId(root.extensions)).toMatch(/^[0-9a-f]{40}$/);
  });

  it('is undefined without the extension', () => {
    expect(subjectKeyId([])).toBeUndefined();
    expect(authorityKeyId([])).toBeUndefined();
    expect(authorityKeyId(leafCsr.requestedExtensions)).toBeUndefined();
  });

  it('is undefined for an AKI that carries only the issuer\'s serial ([2], no [0] keyIdentifier)', () => {
    const serialOnly = { id: '2.5.29.35', name: 'authorityKeyIdentifier', value: '\x30\x03\x82\x01\x05' };
    expect(authorityKeyId([serialOnly])).toBeUndefined();
  });

  it('reads the keyIdentifier of an AKI that also carries authorityCertIssuer and serial', () => {
    const withIssuer = certificate('intermediate-aki-issuer.crt');
    expect(authorityKeyId(withIssuer.extensions)).toBe(subjectKeyId(root.extensions));
  });
});

describe('Verification', () => {
  it('returns the passed checks in order', () => {
    expect(new Verification('x').check('a', true).check('b', true, 'unused').passed()).toEqual(['a', 'b']);
  });

  it('throws one VerificationError listing every failure with its detail', () => {
    const v = new Verification('the thing').check('a', true).check('b', false, 'found 3').check('c', false);
    expect(() => v.passed()).toThrow(VerificationError);
    expect(() => v.passed()).toThrow(/^the thing failed verification: b \(found 3\); c; nothing was written/);
  });
});

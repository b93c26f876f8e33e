import { describe, expect, it } from '@jest/globals';
import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import { requireSameCertificate, requireSameCrl } from '../../../src/ca/shadow/compare.js';
import { shadowRefused } from '../../../src/ca/shadow/rehearse.js';
import { resignCertificate } from '../../../src/ca/shadow/resign.js';
import { CaError, ToolFailedError, ToolMissingError } from '../../../src/errors.js';
import type { DecodedCertificate, DecodedCrl } from '../../../src/x509/decode.js';
import { signatureValid, subjectKeyId } from '../../../src/x509/verify.js';
import { certificate } from '../x509/fixtures.js';

const key = (curve: string) => generateKeyPairSync('ec', { namedCurve: curve }).privateKey;

describe('resignCertificate: the shadow copy of a real CA certificate', () => {
  const real = certificate('intermediate-ec.crt');
  const shadowKey = key(real.spkiDer.length > 100 ? 'secp384r1' : 'prime256v1');
  const shadowRootKey = key('prime256v1');
  const shadow = resignCertificate(real, createPublicKey(shadowKey), shadowRootKey);

  it('keeps every field but the public key and the signature, the real key identifiers included', () => {
    expect(shadow.serialHex).toBe(real.serialHex);
    expect(shadow.subjectDer).toEqual(real.subjectDer);
    expect(shadow.issuerDer).toEqual(real.issuerDer);
    expect([shadow.notBefore, shadow.notAfter]).toEqual([real.notBefore, real.notAfter]);
    expect(shadow.extensions).toEqual(real.extensions);
    expect(subjectKeyId(shadow.extensions)).toBe(subjectKeyId(real.extensions));
    expect(shadow.spkiDer).toEqual(createPublicKey(shadowKey).export({ type: 'spki', format: 'der' }));
    expect(shadow.spkiDer).not.toEqual(real.spkiDer);
  });

  it('is signed by the shadow root key under the same algorithm', () => {
    expect(shadow.signatureAlgorithmOid).toBe(real.signatureAlgorithmOid);
    expect(signatureValid(shadow.tbsDer, shadow.signature, shadow.signatureAlgorithmOid, createPublicKey(shadowRootKey).export({ type: 'spki', format: 'der' }))).toBe(true);
  });

  it('passes the field-by-field comparison with the real one', () => {
    expect(requireSameCertificate('the certificate', real, shadow)).toMatch(/^token-signed = shadow-signed/);
  });
});

describe('requireSameCertificate', () => {
  const token = certificate('server-sans.crt');
  const like = (change: Partial<DecodedCertificate>): DecodedCertificate => ({ ...token, ...change });
  const withExtension = (name: string, change: Record<string, unknown>) => like({ extensions: token.extensions.map((e) => (e.name === name ? { ...e, ...change } : e)) });

  it('ignores serial, signature, public key and key identifiers', () => {
    const other = certificate('intermediate-ec.crt');
    const keyIds = token.extensions.filter((e) => e.name === 'subjectKeyIdentifier' || e.name === 'authorityKeyIdentifier').map((e) => ({ ...e, value: 'different' }));
    const shadow = like({ serialHex: '01', signature: Buffer.from('x'), spkiDer: other.spkiDer, extensions: [...token.extensions.filter((e) => !keyIds.some((k) => k.id === e.id)), ...keyIds] });
    expect(() => requireSameCertificate('the certificate', token, shadow)).not.toThrow();
  });

  it.each([
    ['extensions', withExtension('subjectAltName', { value: 'other names' })],
    ['extensions', withExtension('keyUsage', { critical: false })],
    ['extensions', like({ extensions: token.extensions.slice(1) })],
    ['subject', like({ subjectDer: certificate('intermediate-ec.crt').subjectDer })],
    ['issuer', like({ issuerDer: certificate('root-ec.crt').subjectDer })],
    ['notBefore', like({ notBefore: new Date(token.notBefore.getTime() + 1000), notAfter: new Date(token.notAfter.getTime() + 1000) })],
    ['validity', like({ notAfter: new Date(token.notAfter.getTime() + 2001) })],
    ['validity', like({ notAfter: new Date(token.notAfter.getTime() - 2001) })],
    ['signature algorithm', like({ signatureAlgorithmOid: '1.2.840.10045.4.3.3' })],
  ])('refuses a token result that differs in %s', (field, shadow) => {
    expect(() => requireSameCertificate('the certificate', token, shadow)).toThrow(new RegExp(`^the certificate signed on the token differs from the shadow CA's in ${field}; nothing was written`));
  });

  it('allows a stated notBefore tolerance, and only that', () => {
    const later = like({ notBefore: new Date(token.notBefore.getTime() + 30_000), notAfter: new Date(token.notAfter.getTime() + 30_000) });
    expect(() => requireSameCertificate('the root certificate', token, later, 60_000)).not.toThrow();
    expect(() => requireSameCertificate('the root certificate', token, later, 10_000)).toThrow(/differs from the shadow CA's in notBefore/);
  });

  it.each([1000, -1000, 2000, -2000])('accepts a lifetime %i ms apart: openssl reads the clock once for each end', (ms) => {
    expect(() => requireSameCertificate('the certificate', token, like({ notAfter: new Date(token.notAfter.getTime() + ms) }))).not.toThrow();
  });
});

describe('requireSameCrl', () => {
  const at = (s: number) => new Date(Date.UTC(2026, 10, 28, 0, 0, s));
  const token: DecodedCrl = {
    der: Buffer.alloc(0), tbsDer: Buffer.alloc(0), signatureAlgorithmOid: '1.2.840.10045.4.3.2', signature: Buffer.from('a'), issuerDer: Buffer.from('issuer'),
    thisUpdate: at(0), nextUpdate: new Date(at(0).getTime() + 30 * 86_400_000), crlNumber: 4097n, authorityKeyId: 'aa',
    revoked: [{ serialHex: '0A', revokedAt: at(-100), reasonCode: 1 } as DecodedCrl['revoked'][number]],
  };

  it('accepts the shadow CRL made a few seconds earlier with another key', () => {
    const shadow = { ...token, thisUpdate: at(-3), nextUpdate: new Date(token.nextUpdate!.getTime() - 3000), signature: Buffer.from('b'), authorityKeyId: 'bb' };
    expect(requireSameCrl('the intermediate CRL', token, shadow)).toMatch(/^token-signed CRL = shadow-signed CRL/);
  });

  it.each([1000, -1000, 2000, -2000])('accepts a period %i ms apart: openssl reads the clock once for thisUpdate and once for nextUpdate', (ms) => {
    expect(() => requireSameCrl('the intermediate CRL', token, { ...token, nextUpdate: new Date(token.nextUpdate!.getTime() + ms) })).not.toThrow();
  });

  it.each([
    ['CRL number', { crlNumber: 4098n }],
    ['revoked entries', { revoked: [] }],
    ['nextUpdate - thisUpdate', { nextUpdate: new Date(token.nextUpdate!.getTime() + 86_400_000) }],
    ['nextUpdate - thisUpdate', { nextUpdate: new Date(token.nextUpdate!.getTime() + 2001) }],
    ['nextUpdate - thisUpdate', { nextUpdate: new Date(token.nextUpdate!.getTime() - 2001) }],
    ['issuer', { issuerDer: Buffer.from('other') }],
  ])('refuses a token CRL that differs in %s', (field, change) => {
    expect(() => requireSameCrl('the intermediate CRL', token, { ...token, ...change })).toThrow(new RegExp(`differs from the shadow CA's in ${field};`));
  });
});

describe('shadowRefused', () => {
  it('words a judged refusal as the request to change, a failed tool as what openssl names, and passes a missing tool through', () => {
    expect(shadowRefused('the certificate', new CaError('openssl verify against the shadow chain: permitted subtree violation')).message).toBe(
      'the shadow CA refused the certificate, so nothing was signed on the token and nothing was changed: openssl verify against the shadow chain: permitted subtree violation — change the request (names, profile, validity) and run again',
    );
    expect(shadowRefused('the certificate', new ToolFailedError('openssl failed (exit 1): unable to load index.txt', 'openssl', '')).message).toMatch(
      /: openssl failed \(exit 1\): unable to load index\.txt — fix what openssl names \(the request, or the tools: `hsm-openssl-ca doctor`\) and run again$/,
    );
    const missing = new ToolMissingError('openssl', 'openssl');
    expect(shadowRefused('the certificate', missing)).toBe(missing);
    const crashed = new ToolFailedError('openssl was killed by SIGSEGV (Database updated); nothing it wrote is used', 'openssl', '');
    expect(shadowRefused('the certificate', crashed)).toBe(crashed);
  });
});

import { describe, expect, it } from '@jest/globals';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MAX_CSR_BYTES, MAX_TLS_DAYS, requireCleanRequest, requireStrongKey, requireValidityWithin } from '../../../src/ca/signing/leaf-policy.js';
import { readCsr } from '../../../src/ca/signing/issue.js';
import type { DecodedCertificate, DecodedCsr, NameAttribute } from '../../../src/x509/decode.js';

const DAY = 86_400_000;
/** An issuer valid for 1000 more days and some hours (daysUntil rounds down). */
const issuer = { notAfter: new Date(Date.now() + 1000 * DAY + 6 * 3_600_000) } as DecodedCertificate;

describe('requireValidityWithin', () => {
  it.each(['server', 'server-client'] as const)('accepts %s for 398 days', (profile) => {
    expect(MAX_TLS_DAYS).toBe(398);
    expect(() => requireValidityWithin(398, profile, issuer)).not.toThrow();
  });

  it.each(['server', 'server-client'] as const)('refuses %s for 399 days', (profile) => {
    expect(() => requireValidityWithin(399, profile, issuer)).toThrow(
      '--days 399 is longer than 398 days, which browsers and Apple platforms reject for TLS server certificates; use --days 398 or less',
    );
  });

  it('accepts client for 399 days', () => {
    expect(() => requireValidityWithin(399, 'client', issuer)).not.toThrow();
  });

  it('accepts a validity ending on the issuer\'s last whole day', () => {
    expect(() => requireValidityWithin(1000, 'client', issuer)).not.toThrow();
  });

  it('refuses a validity one day beyond the issuer\'s', () => {
    expect(() => requireValidityWithin(1001, 'client', issuer)).toThrow(/^--days 1001 would outlive the intermediate CA by 1 days \(it expires \d{4}-\d\d-\d\d\); use --days 1000 or less, or renew the intermediate first \(`hsm-openssl-ca intermediate --renew --days N`\)$/);
  });
});

/** A CSR reduced to what requireStrongKey reads: the public key of a fresh key of `type`. */
function csrWithKey(type: 'rsa' | 'ec' | 'ed25519', options: { modulusLength?: number; namedCurve?: string } = {}): DecodedCsr {
  const { publicKey } = generateKeyPairSync(type as 'rsa', options as { modulusLength: number });
  return { spkiDer: publicKey.export({ type: 'spki', format: 'der' }) } as DecodedCsr;
}

/** A CSR reduced to the public key of a PEM, its bytes as they are (a round trip through node:crypto could re-encode them). */
const csrWithSpki = (pem: string): DecodedCsr => ({ spkiDer: Buffer.from(pem.replace(/-----[A-Z ]+-----|\s/g, ''), 'base64') }) as DecodedCsr;

/** A P-256 public key with its domain parameters spelled out: `openssl ecparam -name prime256v1 -genkey -param_enc explicit | openssl ec -pubout -param_enc explicit`. */
const EXPLICIT_P256_SPKI = `-----BEGIN PUBLIC KEY-----
MIIBSzCCAQMGByqGSM49AgEwgfcCAQEwLAYHKoZIzj0BAQIhAP////8AAAABAAAA
AAAAAAAAAAAA////////////////MFsEIP////8AAAABAAAAAAAAAAAAAAAA////
///////////8BCBaxjXYqjqT57PrvVV2mIa8ZR0GsMxTsPY7zjw+J9JgSwMVAMSd
NgiG5wSTamZ44ROdJreBn36QBEEEaxfR8uEsQkf4vOblY6RA8ncDfYEt6zOg9KE5
RdiYwpZP40Li/hp/m47n60p8D54WK84zV2sxXs7LtkBoN79R9QIhAP////8AAAAA
//////////+85vqtpxeehPO5ysL8YyVRAgEBA0IABHfVc0tnGxQiztGMs8lb7b7c
Xdxp8VMwT2JXzwS155jNa597rJ15QPZu6GUZV6PbhvJDwC2iMOwxg+hw4fdf8Y8=
-----END PUBLIC KEY-----
`;

describe('requireStrongKey', () => {
  it('accepts RSA 2048 and refuses RSA 2047', () => {
    expect(requireStrongKey(csrWithKey('rsa', { modulusLength: 2048 }), 'r.csr')).toBe('rsa');
    expect(() => requireStrongKey(csrWithKey('rsa', { modulusLength: 2047 }), 'r.csr')).toThrow('the CSR r.csr has a weak or unsupported key (RSA 2047); use EC P-256/P-384/P-521 or RSA ≥ 2048');
  });

  it.each(['prime256v1', 'secp384r1', 'secp521r1'])('accepts the curve %s', (namedCurve) => {
    expect(requireStrongKey(csrWithKey('ec', { namedCurve }), 'e.csr')).toBe('ec');
  });

  it('refuses the curve secp256k1', () => {
    expect(() => requireStrongKey(csrWithKey('ec', { namedCurve: 'secp256k1' }), 'e.csr')).toThrow('the CSR e.csr has a weak or unsupported key (EC secp256k1)');
  });

  it('refuses an Ed25519 key', () => {
    expect(() => requireStrongKey(csrWithKey('ed25519'), 'e.csr')).toThrow('the CSR e.csr has a weak or unsupported key (ed25519)');
  });

  it('refuses a DSA key of 2048 bits (a modulus length is not enough: it must be RSA)', () => {
    const { publicKey } = generateKeyPairSync('dsa', { modulusLength: 2048, divisorLength: 256 });
    expect(() => requireStrongKey({ spkiDer: publicKey.export({ type: 'spki', format: 'der' }) } as DecodedCsr, 'd.csr')).toThrow('the CSR d.csr has a weak or unsupported key (dsa)');
  });

  it('refuses a P-256 key given with explicit curve parameters instead of the curve\'s name', () => {
    expect(() => requireStrongKey(csrWithSpki(EXPLICIT_P256_SPKI), 'x.csr')).toThrow(
      'the CSR x.csr has an EC key with explicit curve parameters, which RFC 5480 forbids and openssl verify refuses; ask for a CSR whose key names its curve (openssl ecparam -name prime256v1 without -param_enc explicit)',
    );
  });

  it('refuses a key node cannot read', () => {
    expect(() => requireStrongKey({ spkiDer: Buffer.from('3000', 'hex') } as DecodedCsr, 'x.csr')).toThrow('the CSR x.csr has a public key of an unsupported type');
  });
});

const attribute = (shortName: string, value: string): NameAttribute => ({ oid: '', shortName, value });
const request = (subject: NameAttribute[], requestedExtensions: DecodedCsr['requestedExtensions'] = []): DecodedCsr => ({ subject, requestedExtensions }) as unknown as DecodedCsr;

describe('requireCleanRequest', () => {
  it('accepts a commonName of 64 characters outside the BMP', () => {
    expect(() => requireCleanRequest(request([attribute('CN', '𝒜'.repeat(64))]), 'c.csr')).not.toThrow();
  });

  it('refuses a commonName of 65 characters outside the BMP', () => {
    expect(() => requireCleanRequest(request([attribute('CN', '𝒜'.repeat(65))]), 'c.csr')).toThrow('the CSR c.csr has a commonName longer than 64 characters');
  });

  it('refuses a missing or blank commonName', () => {
    expect(() => requireCleanRequest(request([attribute('O', 'Org')]), 'c.csr')).toThrow('the CSR c.csr has no commonName');
    expect(() => requireCleanRequest(request([attribute('CN', '  ')]), 'c.csr')).toThrow('the CSR c.csr has no commonName');
  });

  it('refuses a blank commonName beside a real one as missing', () => {
    expect(() => requireCleanRequest(request([attribute('CN', 'a.example.com'), attribute('CN', ' ')]), 'c.csr')).toThrow('the CSR c.csr has no commonName');
  });

  it('refuses two commonNames', () => {
    expect(() => requireCleanRequest(request([attribute('CN', 'a.example.com'), attribute('CN', 'b.example.com')]), 'c.csr')).toThrow('the CSR c.csr has 2 commonNames');
  });

  it('refuses a control character in any attribute', () => {
    expect(() => requireCleanRequest(request([attribute('O', 'Org\u202e'), attribute('CN', 'a.example.com')]), 'c.csr')).toThrow('the CSR c.csr has a control character or a bidi/format character in its subject (O=Org');
  });

  it('refuses an extension requested twice', () => {
    const san = { id: '2.5.29.17', name: 'subjectAltName' };
    expect(() => requireCleanRequest(request([attribute('CN', 'a.example.com')], [san, { id: '2.5.29.15' }, san]), 'c.csr')).toThrow('the CSR c.csr requests the extension subjectAltName twice');
    const keyUsage = { id: '2.5.29.15', name: 'keyUsage' };
    expect(() => requireCleanRequest(request([attribute('CN', 'a.example.com')], [san, keyUsage, keyUsage]), 'c.csr')).toThrow('the CSR c.csr requests the extension keyUsage twice');
  });

  it('accepts different extensions, each requested once', () => {
    expect(() => requireCleanRequest(request([attribute('CN', 'a.example.com')], [{ id: '2.5.29.17', name: 'subjectAltName' }, { id: '2.5.29.15', name: 'keyUsage' }]), 'c.csr')).not.toThrow();
  });
});

describe('readCsr size limit', () => {
  const withFile = async (bytes: number, check: (path: string) => Promise<void>): Promise<void> => {
    const dir = await mkdtemp(join(tmpdir(), 'hsm-openssl-ca-csr-'));
    try {
      await writeFile(join(dir, 'r.csr'), Buffer.alloc(bytes, 0x30));
      await check(join(dir, 'r.csr'));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  };

  it('reads a file of 64 KiB (refused then as unreadable, not for its size)', async () => {
    expect(MAX_CSR_BYTES).toBe(65536);
    await withFile(65536, (path) => expect(readCsr(path)).rejects.toThrow(`the CSR ${path} is unreadable`));
  });

  it('refuses a file over 64 KiB for its size', async () => {
    await withFile(65537, (path) => expect(readCsr(path)).rejects.toThrow(`the CSR ${path} is 65537 bytes; a CSR is a few kilobytes — check the file`));
  });
});

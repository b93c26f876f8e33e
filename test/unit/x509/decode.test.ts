import { describe, it, expect } from '@jest/globals';
import { createPublicKey } from 'node:crypto';
import { DecodeError, decodeCertificate, decodeCsr, formatName, pemToDer, type Extension } from '../../../src/x509/decode.js';
import { certificate, certificateDer, csr, csrDer, fixtureText, keyIdOf, pseudoRandomBytes, publicKeyDer } from './fixtures.js';

const ROOT_SUBJECT = 'C=US, ST=California, O=Example Org, OU=Example Org Certificate Authority, CN=Example Org Root CA';
const INTERMEDIATE_SUBJECT = 'C=US, ST=California, O=Example Org, OU=Example Org Certificate Authority, CN=Example Org Intermediate CA';

const ext = (extensions: readonly Extension[], name: string): Extension | undefined => extensions.find((e) => e.name === name);

function toPem(der: Buffer, label: string): string {
  const lines = der.toString('base64').match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}

describe('decodeCertificate', () => {
  it('decodes the EC P-384 root', () => {
    const root = certificate('root-ec.crt');
    expect(formatName(root.subject)).toBe(ROOT_SUBJECT);
    expect(formatName(root.issuer)).toBe(ROOT_SUBJECT);
    expect(root.issuerDer.equals(root.subjectDer)).toBe(true);
    expect(root.serialHex).toBe('01');
    expect(root.signatureAlgorithmOid).toBe('1.2.840.10045.4.3.4'); // ecdsa-with-SHA512
    expect(root.notBefore).toEqual(new Date('2024-01-01T00:00:00Z'));
    expect(root.notAfter).toEqual(new Date('2040-01-01T00:00:00Z'));
    expect(root.spkiDer.equals(publicKeyDer('root-ec.pub.pem'))).toBe(true);
    expect(createPublicKey({ key: root.spkiDer, format: 'der', type: 'spki' }).asymmetricKeyDetails?.namedCurve).toBe('secp384r1');
    expect(root.subject.map((a) => [a.oid, a.shortName])).toEqual([
      ['2.5.4.6', 'C'],
      ['2.5.4.8', 'ST'],
      ['2.5.4.10', 'O'],
      ['2.5.4.11', 'OU'],
      ['2.5.4.3', 'CN'],
    ]);
  });

  it('decodes the root v3_ca extensions', () => {
    const root = certificate('root-ec.crt');
    expect(root.extensions.map((e) => e.name).sort()).toEqual(['authorityKeyIdentifier', 'basicConstraints', 'keyUsage', 'subjectKeyIdentifier']);
    const bc = ext(root.extensions, 'basicConstraints')!;
    expect(bc).toMatchObject({ critical: true, cA: true });
    expect(bc['pathLenConstraint']).toBeUndefined();
    expect(ext(root.extensions, 'keyUsage')).toMatchObject({
      critical: true,
      digitalSignature: true,
      keyCertSign: true,
      cRLSign: true,
      keyEncipherment: false,
      nonRepudiation: false,
    });
    expect(ext(root.extensions, 'subjectKeyIdentifier')).toMatchObject({ critical: false, subjectKeyIdentifier: keyIdOf(root.spkiDer) });
  });

  it('decodes the intermediate: issuer = root, pathlen 0', () => {
    const root = certificate('root-ec.crt');
    const intermediate = certificate('intermediate-ec.crt');
    expect(formatName(intermediate.subject)).toBe(INTERMEDIATE_SUBJECT);
    expect(formatName(intermediate.issuer)).toBe(ROOT_SUBJECT);
    expect(intermediate.issuerDer.equals(root.subjectDer)).toBe(true);
    expect(intermediate.serialHex).toBe('1000');
    expect(intermediate.signatureAlgorithmOid).toBe('1.2.840.10045.4.3.4');
    expect(ext(intermediate.extensions, 'basicConstraints')).toMatchObject({ critical: true, cA: true, pathLenConstraint: 0 });
    expect(intermediate.spkiDer.equals(publicKeyDer('intermediate-ec.pub.pem'))).toBe(true);
    expect(intermediate.notAfter).toEqual(new Date('2039-12-31T00:00:00Z'));
    expect(intermediate.notAfter.getTime()).toBeLessThanOrEqual(root.notAfter.getTime());
  });

  it('decodes the server certificate: SANs, extensions and a serial with its high bit set', () => {
    const leaf = certificate('server-sans.crt');
    expect(formatName(leaf.subject)).toBe('CN=www.example.com');
    expect(formatName(leaf.issuer)).toBe(INTERMEDIATE_SUBJECT);
    expect(leaf.serialHex).toBe('8BADF00D'); // DER 00 8B AD F0 0D: the sign byte is dropped
    expect(leaf.notBefore).toEqual(new Date('2024-01-01T00:00:00Z'));
    expect(leaf.notAfter).toEqual(new Date('2039-06-30T00:00:00Z'));
    expect(ext(leaf.extensions, 'basicConstraints')).toMatchObject({ critical: true, cA: false });
    expect(ext(leaf.extensions, 'keyUsage')).toMatchObject({ critical: true, digitalSignature: true, keyCertSign: false, cRLSign: false });
    expect(ext(leaf.extensions, 'extKeyUsage')).toMatchObject({ serverAuth: true });
    const san = ext(leaf.extensions, 'subjectAltName')!;
    expect((san['altNames'] as Array<{ type: number }>).map((n) => n.type)).toEqual([2, 2, 7, 7]);
    expect((san['altNames'] as Array<{ value: string }>).slice(0, 2).map((n) => n.value)).toEqual(['www.example.com', 'example.com']);
  });

  it('decodes a UTF-8 subject exactly (RSA root, O=Müller GmbH)', () => {
    const root = certificate('root-rsa.crt');
    expect(root.subject).toEqual([
      { oid: '2.5.4.6', shortName: 'C', value: 'DE' },
      { oid: '2.5.4.10', shortName: 'O', value: 'Müller GmbH' },
      { oid: '2.5.4.3', shortName: 'CN', value: 'Müller Root CA RSA' },
    ]);
    expect(formatName(root.subject)).toBe('C=DE, O=Müller GmbH, CN=Müller Root CA RSA');
    expect(root.subject[1]!.value.normalize('NFC')).toBe(root.subject[1]!.value);
    expect(root.signatureAlgorithmOid).toBe('1.2.840.113549.1.1.11'); // sha256WithRSAEncryption
    expect(root.serialHex).toBe('02');
  });

  it('cuts tbsDer out of the original bytes without re-encoding', () => {
    const der = certificateDer('intermediate-ec.crt');
    const decoded = decodeCertificate(der);
    expect(decoded.der).toBe(der);
    expect(der.indexOf(decoded.tbsDer)).toBeGreaterThan(0);
    expect(der.subarray(der.length - decoded.signature.length).equals(decoded.signature)).toBe(true);
  });

  it('refuses a CSR where a certificate is expected', () => {
    expect(() => decodeCertificate(csrDer('server-sans.csr'))).toThrow(DecodeError);
  });

  it('refuses truncated DER and trailing bytes', () => {
    const der = certificateDer('root-ec.crt');
    expect(() => decodeCertificate(der.subarray(0, der.length - 1))).toThrow(DecodeError);
    expect(() => decodeCertificate(der.subarray(0, 100))).toThrow(DecodeError);
    expect(() => decodeCertificate(Buffer.concat([der, Buffer.from([0])]))).toThrow(/malformed certificate/);
  });
});

describe('decodeCsr', () => {
  it('decodes the SAN CSR', () => {
    const request = csr('server-sans.csr');
    expect(formatName(request.subject)).toBe('CN=www.example.com');
    expect(request.signatureAlgorithmOid).toBe('1.2.840.10045.4.3.2'); // ecdsa-with-SHA256
    expect(createPublicKey({ key: request.spkiDer, format: 'der', type: 'spki' }).asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
    expect(request.requestedExtensions.map((e) => e.name)).toEqual(['subjectAltName']);
    const altNames = request.requestedExtensions[0]!['altNames'] as Array<{ type: number; value: string }>;
    expect(altNames.map((n) => n.type)).toEqual([2, 2, 7, 7]);
    expect(Buffer.from(altNames[2]!.value, 'binary')).toEqual(Buffer.from([10, 0, 0, 1]));
    expect(Buffer.from(altNames[3]!.value, 'binary')).toEqual(Buffer.from('00000000000000000000000000000001', 'hex'));
  });

  it('decodes a CSR without extensions', () => {
    const request = csr('server-no-sans.csr');
    expect(request.subject).toEqual([{ oid: '2.5.4.3', shortName: 'CN', value: 'host.example.com' }]);
    expect(request.requestedExtensions).toEqual([]);
  });

  it('decodes a CSR-requested basicConstraints CA:TRUE', () => {
    const request = csr('server-ca-true.csr');
    expect(ext(request.requestedExtensions, 'basicConstraints')).toMatchObject({ critical: true, cA: true });
    expect(ext(request.requestedExtensions, 'subjectAltName')).toBeDefined();
  });

  it('decodes a UTF-8 subject exactly', () => {
    expect(csr('utf8-subject.csr').subject).toEqual([
      { oid: '2.5.4.6', shortName: 'C', value: 'DE' },
      { oid: '2.5.4.10', shortName: 'O', value: 'Müller GmbH' },
      { oid: '2.5.4.3', shortName: 'CN', value: 'müller.example' },
    ]);
  });

  it('decodes the tampered CSR (its signature is checked elsewhere)', () => {
    const tampered = csr('server-tampered.csr');
    const original = csr('server-sans.csr');
    expect(tampered.infoDer.equals(original.infoDer)).toBe(true);
    expect(tampered.signature.equals(original.signature)).toBe(false);
    expect(tampered.signature.length).toBe(original.signature.length);
  });

  const der = (): Buffer => csrDer('server-sans.csr');
  it.each<[string, () => Buffer]>([
    ['empty input', () => Buffer.alloc(0)],
    ['one byte', () => Buffer.from([0x30])],
    ['truncated DER (last byte cut)', () => der().subarray(0, der().length - 1)],
    ['truncated DER (half)', () => der().subarray(0, der().length >> 1)],
    ['trailing garbage', () => Buffer.concat([der(), Buffer.from('00', 'hex')])],
    ['a certificate', () => certificateDer('root-ec.crt')],
    ['random bytes (seed 1)', () => pseudoRandomBytes(300, 1)],
    ['random bytes (seed 2)', () => pseudoRandomBytes(64, 2)],
    ['random bytes behind a SEQUENCE header', () => Buffer.concat([Buffer.from([0x30, 0x81, 0xc8]), pseudoRandomBytes(200, 3)])],
    ['indefinite length', () => Buffer.from([0x30, 0x80, 0x00, 0x00])],
    ['PEM text instead of DER', () => Buffer.from(fixtureText('server-sans.csr'))],
  ])('throws DecodeError on %s', (_what, input) => {
    expect(() => decodeCsr(input())).toThrow(DecodeError);
    expect(() => decodeCsr(input())).toThrow(/^malformed CSR: /);
  });

  it('throws DecodeError on many random inputs, never another error type', () => {
    for (let seed = 1; seed <= 200; seed += 1) {
      const bytes = pseudoRandomBytes(16 + (seed % 180), seed);
      if (seed % 2 === 0) bytes[0] = 0x30;
      let thrown: unknown;
      try {
        decodeCsr(bytes);
      } catch (error) {
        thrown = error;
      }
      expect(thrown).toBeInstanceOf(DecodeError);
    }
  });
});

describe('pemToDer', () => {
  const pem = fixtureText('server-sans.csr');

  it('returns the DER of a single block', () => {
    const der = pemToDer(pem, 'CERTIFICATE REQUEST', 'server.csr');
    expect(der[0]).toBe(0x30);
    expect(toPem(der, 'CERTIFICATE REQUEST')).toBe(pem);
  });

  it('accepts CRLF line endings, surrounding text and the NEW CERTIFICATE REQUEST label', () => {
    const der = pemToDer(pem, 'CERTIFICATE REQUEST', 'server.csr');
    expect(pemToDer(pem.replace(/\n/g, '\r\n'), 'CERTIFICATE REQUEST', 'x').equals(der)).toBe(true);
    expect(pemToDer(`Certificate Request:\n  junk\n${pem}trailer\n`, 'CERTIFICATE REQUEST', 'x').equals(der)).toBe(true);
    expect(pemToDer(pem.replace(/CERTIFICATE REQUEST/g, 'NEW CERTIFICATE REQUEST'), 'CERTIFICATE REQUEST', 'x').equals(der)).toBe(true);
  });

  it('reads a PUBLIC KEY block', () => {
    expect(publicKeyDer('root-ec.pub.pem').equals(certificate('root-ec.crt').spkiDer)).toBe(true);
  });

  it.each<[string, string, RegExp]>([
    ['an empty string', '', /holds no PEM block/],
    ['whitespace', '\n\n  \n', /holds no PEM block/],
    ['bare base64', pem.replace(/-----[A-Z ]+-----\n?/g, ''), /holds no PEM block/],
    ['two PEM blocks', pem + pem, /holds 2 PEM blocks/],
    ['a CSR followed by a certificate', pem + fixtureText('root-ec.crt'), /holds 2 PEM blocks/],
    ['a CERTIFICATE where a CSR is expected', fixtureText('root-ec.crt'), /holds a "CERTIFICATE" PEM block; expected "CERTIFICATE REQUEST"/],
    ['a PUBLIC KEY where a CSR is expected', fixtureText('root-ec.pub.pem'), /holds a "PUBLIC KEY" PEM block/],
    ['an empty block', '-----BEGIN CERTIFICATE REQUEST-----\n-----END CERTIFICATE REQUEST-----\n', /is empty/],
    ['mismatched BEGIN/END labels', pem.replace('-----END CERTIFICATE REQUEST-----', '-----END CERTIFICATE-----'), /holds no PEM block/],
  ])('throws DecodeError on %s', (_what, text, message) => {
    expect(() => pemToDer(text, 'CERTIFICATE REQUEST', 'request.csr')).toThrow(DecodeError);
    expect(() => pemToDer(text, 'CERTIFICATE REQUEST', 'request.csr')).toThrow(message);
    expect(() => pemToDer(text, 'CERTIFICATE REQUEST', 'request.csr')).toThrow(/request\.csr/);
  });

  it('refuses a CSR where a certificate is expected', () => {
    expect(() => pemToDer(pem, 'CERTIFICATE', 'root.crt')).toThrow(DecodeError);
  });

  it('yields DER that decodeCsr refuses when the PEM body is truncated or random', () => {
    const body = pem.split('\n').slice(1, -2);
    const truncated = `-----BEGIN CERTIFICATE REQUEST-----\n${body.slice(0, 2).join('\n')}\n-----END CERTIFICATE REQUEST-----\n`;
    expect(() => decodeCsr(pemToDer(truncated, 'CERTIFICATE REQUEST', 'x'))).toThrow(DecodeError);
    const random = toPem(pseudoRandomBytes(180, 42), 'CERTIFICATE REQUEST');
    expect(() => decodeCsr(pemToDer(random, 'CERTIFICATE REQUEST', 'x'))).toThrow(DecodeError);
  });
});

describe('formatName', () => {
  it('joins attributes with commas', () => {
    expect(formatName([])).toBe('');
    expect(
      formatName([
        { shortName: 'C', value: 'US' },
        { shortName: 'CN', value: 'Root' },
      ]),
    ).toBe('C=US, CN=Root');
  });
});

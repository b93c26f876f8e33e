import { describe, expect, it } from '@jest/globals';
import { decodeCertificate, decodeCrl, decodeCsr, parseAsn1Time } from '../../../src/x509/decode.js';

/** One DER TLV with its length in the short or long form. */
function tlv(tag: number, ...content: Buffer[]): Buffer {
  const body = Buffer.concat(content);
  const length = body.length < 0x80 ? Buffer.from([body.length]) : Buffer.from([0x82, body.length >> 8, body.length & 0xff]);
  return Buffer.concat([Buffer.from([tag]), length, body]);
}
const SEQUENCE = 0x30;
const bytes = (...values: number[]): Buffer => Buffer.from(values);
const sha256WithRsa = tlv(0x06, bytes(0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0b));

/** Each refusal of the DER reader and of the certificate's outer frame, with its own message. */
describe('decodeCertificate on hand-made bad DER', () => {
  it.each([
    ['one byte', bytes(0x30), 'truncated DER'],
    ['a multi-byte tag', bytes(0x3f, 0x00), 'unsupported multi-byte DER tag'],
    ['a long-form length of zero octets', bytes(0x30, 0x80), 'bad DER length'],
    ['a long-form length of five octets', bytes(0x30, 0x85, 0, 0, 0, 0, 1, 0x05), 'bad DER length'],
    ['a long-form length cut short', bytes(0x30, 0x82, 0x01), 'bad DER length'],
    ['a length past the end', bytes(0x30, 0x05, 0x00), 'DER length runs past the end of the data'],
    ['bytes after the certificate', bytes(0x30, 0x00, 0x00), 'the certificate is not a single DER SEQUENCE'],
    ['a SET instead of a SEQUENCE', bytes(0x31, 0x00), 'the certificate is not a single DER SEQUENCE'],
    ['nothing inside', bytes(0x30, 0x00), 'the certificate lacks its signature'],
    ['an OCTET STRING for the signature', tlv(SEQUENCE, tlv(SEQUENCE), tlv(SEQUENCE, sha256WithRsa), tlv(0x04, bytes(0))), 'the certificate lacks its signature'],
    ['an algorithm without its OID', tlv(SEQUENCE, tlv(SEQUENCE), tlv(SEQUENCE, tlv(0x05)), tlv(0x03, bytes(0))), 'the certificate has no signature algorithm'],
    ['a signed part without its fields', tlv(SEQUENCE, tlv(SEQUENCE, tlv(0x02, bytes(1))), tlv(SEQUENCE, sha256WithRsa), tlv(0x03, bytes(0))), 'the certificate is missing fields'],
  ])('refuses %s', (_what, der, message) => {
    expect(() => decodeCertificate(der)).toThrow(new RegExp(`^malformed certificate: ${message}$`));
  });

  it('takes a four-octet long-form length (the reader\'s limit) and reads on to the next problem', () => {
    expect(() => decodeCertificate(bytes(0x30, 0x84, 0, 0, 0, 1, 0x05))).toThrow(/^malformed certificate: truncated DER$/);
  });
});

const ascii = (text: string): Buffer => Buffer.from(text, 'latin1');
const utcTime = (text: string): Buffer => tlv(0x17, ascii(text));
const signedBy = (tbs: Buffer): Buffer => tlv(SEQUENCE, tbs, tlv(SEQUENCE, sha256WithRsa), tlv(0x03, bytes(0)));
const emptyName = tlv(SEQUENCE);

describe('the fields inside a certificate, CSR and CRL, on hand-made bad DER', () => {
  const certificateWith = (validity: Buffer): Buffer => signedBy(tlv(SEQUENCE, tlv(0x02, bytes(1)), tlv(SEQUENCE, sha256WithRsa), emptyName, validity, emptyName, tlv(SEQUENCE)));

  it('refuses a certificate whose validity lacks notAfter, or holds a time of the wrong length', () => {
    expect(() => decodeCertificate(certificateWith(tlv(SEQUENCE, utcTime('250101000000Z'))))).toThrow(/^malformed certificate: the certificate has no validity$/);
    expect(() => decodeCertificate(certificateWith(tlv(SEQUENCE, utcTime('2501010000Z'), utcTime('260101000000Z'))))).toThrow(/^malformed certificate: bad validity time "2501010000Z"$/);
  });

  it('refuses a CSR without its subject and key', () => {
    expect(() => decodeCsr(signedBy(tlv(SEQUENCE, tlv(0x02, bytes(0)))))).toThrow(/^malformed CSR: the CSR is missing fields$/);
  });

  it('refuses a CRL without issuer or thisUpdate, and a revoked entry without its date', () => {
    expect(() => decodeCrl(signedBy(tlv(SEQUENCE, tlv(0x02, bytes(1)), tlv(SEQUENCE, sha256WithRsa))))).toThrow(/^malformed CRL: the CRL is missing fields$/);
    const revoked = tlv(SEQUENCE, tlv(SEQUENCE, tlv(0x02, bytes(5))));
    expect(() => decodeCrl(signedBy(tlv(SEQUENCE, tlv(0x02, bytes(1)), tlv(SEQUENCE, sha256WithRsa), emptyName, utcTime('250101000000Z'), revoked)))).toThrow(/^malformed CRL: a revoked entry is missing fields$/);
  });

  it('reads a CRL number of zero', () => {
    const crlNumber = tlv(SEQUENCE, tlv(0x06, bytes(0x55, 0x1d, 0x14)), tlv(0x04, tlv(0x02, Buffer.alloc(0))));
    const crl = decodeCrl(signedBy(tlv(SEQUENCE, tlv(0x02, bytes(1)), tlv(SEQUENCE, sha256WithRsa), emptyName, utcTime('250101000000Z'), tlv(0xa0, tlv(SEQUENCE, crlNumber)))));
    expect(crl.crlNumber).toBe(0n);
  });
});

describe('parseAsn1Time', () => {
  it('takes only the whole text', () => {
    expect(parseAsn1Time('x251231235959Z')).toBeUndefined();
    expect(parseAsn1Time('251231235959Zx')).toBeUndefined();
    expect(parseAsn1Time('251231235959Z')?.toISOString()).toBe('2025-12-31T23:59:59.000Z');
  });
});

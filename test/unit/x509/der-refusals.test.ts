import { describe, expect, it } from '@jest/globals';
import { decodeCertificate } from '../../../src/x509/decode.js';

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

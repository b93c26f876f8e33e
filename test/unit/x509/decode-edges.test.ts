/**
 * The decoders on DER built byte by byte: a CRL's optional fields each present and absent (version, nextUpdate
 * as UTCTime or GeneralizedTime, revoked list, extensions), entry extensions around the reason code, an AKI
 * without its keyIdentifier, a critical extension, times of the wrong length, the refusals' own messages; a
 * CSR's attributes besides extensionRequest; the DER reader's length limit; daysUntil. No signature is checked.
 */
import { afterEach, describe, expect, it, jest } from '@jest/globals';
import { daysUntil, decodeCertificate, decodeCrl, decodeCsr, rawName } from '../../../src/x509/decode.js';

/** One DER TLV (short or one-octet long form length), hex in and out. */
function tlv(tag: number, ...content: string[]): string {
  const body = content.join('');
  const length = body.length / 2;
  const len = length < 0x80 ? length.toString(16).padStart(2, '0') : `81${length.toString(16).padStart(2, '0')}`;
  return tag.toString(16).padStart(2, '0') + len + body;
}
const seq = (...items: string[]) => tlv(0x30, ...items);
const oid = (hex: string) => tlv(0x06, hex);
const ascii = (text: string) => Buffer.from(text, 'ascii').toString('hex');
const utc = (text: string) => tlv(0x17, ascii(text));
const generalized = (text: string) => tlv(0x18, ascii(text));
const ext = (oidHex: string, valueHex: string) => seq(oid(oidHex), tlv(0x04, valueHex));

const ALGORITHM = seq(oid('2a8648ce3d040302')); // ecdsa-with-SHA256
const ISSUER = seq(tlv(0x31, seq(oid('550403'), tlv(0x0c, ascii('Edge CA')))));
const THIS_UPDATE = utc('261128000000Z');
const REASON = '551d15'; // 2.5.29.21
const INVALIDITY_DATE = '551d18'; // 2.5.29.24
const CRL_NUMBER = '551d14';
const AKI = '551d23';

/** A signed CRL around `tbsFields` (whatever the test puts there), with a dummy signature. */
const crl = (...tbsFields: string[]) => decodeCrl(Buffer.from(seq(seq(...tbsFields), ALGORITHM, tlv(0x03, '00aabb')), 'hex'));
const entry = (serialHex: string, ...extensions: string[]) => seq(tlv(0x02, serialHex), THIS_UPDATE, ...(extensions.length ? [seq(...extensions)] : []));

describe('decodeCrl, field by field', () => {
  it('reads a v1 CRL (no version field) with only issuer and thisUpdate', () => {
    const decoded = crl(ALGORITHM, ISSUER, THIS_UPDATE);
    expect(decoded.issuerDer.toString('hex')).toBe(ISSUER);
    expect(decoded.thisUpdate.toISOString()).toBe('2026-11-28T00:00:00.000Z');
    expect([decoded.nextUpdate, decoded.revoked, decoded.crlNumber, decoded.authorityKeyId]).toEqual([undefined, [], undefined, undefined]);
  });

  it('reads nextUpdate as UTCTime or as GeneralizedTime', () => {
    expect(crl(tlv(0x02, '01'), ALGORITHM, ISSUER, THIS_UPDATE, utc('261228000000Z')).nextUpdate?.toISOString()).toBe('2026-12-28T00:00:00.000Z');
    expect(crl(tlv(0x02, '01'), ALGORITHM, ISSUER, THIS_UPDATE, generalized('20261228000000Z')).nextUpdate?.toISOString()).toBe('2026-12-28T00:00:00.000Z');
  });

  it('reads an entry\'s reason code wherever it stands among its extensions, and none where it has none', () => {
    const revoked = seq(
      entry('0a', ext(INVALIDITY_DATE, generalized('20261127000000Z')), ext(REASON, tlv(0x0a, '01'))),
      entry('0b', ext(INVALIDITY_DATE, generalized('20261127000000Z'))),
      entry('0c'),
    );
    expect(crl(tlv(0x02, '01'), ALGORITHM, ISSUER, THIS_UPDATE, revoked).revoked.map((r) => [r.serialHex, r.reasonCode])).toEqual([['0A', 1], ['0B', undefined], ['0C', undefined]]);
  });

  it('finds no key identifier in an AKI holding only the issuer serial', () => {
    const extensions = tlv(0xa0, seq(ext(CRL_NUMBER, tlv(0x02, '05')), ext(AKI, seq(tlv(0x82, '0a0b')))));
    const decoded = crl(tlv(0x02, '01'), ALGORITHM, ISSUER, THIS_UPDATE, extensions);
    expect([decoded.crlNumber, decoded.authorityKeyId]).toEqual([5n, undefined]);
  });

  it('takes extensions only from a [0] field: a stray field after the revoked list is not read as them', () => {
    const stray = seq(ext(CRL_NUMBER, tlv(0x02, '05')));
    expect(crl(tlv(0x02, '01'), ALGORITHM, ISSUER, THIS_UPDATE, seq(entry('0a')), stray).crlNumber).toBeUndefined();
  });

  it('reads an extension marked critical: its value is the last of its fields', () => {
    const extensions = tlv(0xa0, seq(seq(oid(CRL_NUMBER), tlv(0x01, 'ff'), tlv(0x04, tlv(0x02, '07')))));
    expect(crl(tlv(0x02, '01'), ALGORITHM, ISSUER, THIS_UPDATE, extensions).crlNumber).toBe(7n);
  });

  it('takes a time only at its type\'s length: UTCTime 13 characters, GeneralizedTime 15', () => {
    expect(() => crl(ALGORITHM, ISSUER, utc('20261128000000Z'))).toThrow(/^malformed CRL: bad validity time "20261128000000Z"$/);
    expect(() => crl(ALGORITHM, ISSUER, generalized('261128000000Z'))).toThrow(/^malformed CRL: bad validity time "261128000000Z"$/);
  });

  it('refuses a CRL without thisUpdate, or without any field, with its own message', () => {
    expect(() => crl(tlv(0x02, '01'), ALGORITHM, ISSUER)).toThrow(/^malformed CRL: the CRL is missing fields$/);
    expect(() => crl()).toThrow(/^malformed CRL: the CRL is missing fields$/);
  });

  it('reads a CSR\'s requested extensions from its extensionRequest only, not from another attribute', () => {
    const key = seq(seq(oid('2a8648ce3d0201'), oid('2a8648ce3d030107')), tlv(0x03, '0004' + '11'.repeat(64)));
    const san = ext('551d11', seq(tlv(0x82, ascii('www.example.com'))));
    const challengePassword = seq(oid('2a864886f70d010907'), tlv(0x31, tlv(0x0c, ascii('secret'))));
    const extensionRequest = seq(oid('2a864886f70d01090e'), tlv(0x31, seq(san)));
    const info = seq(tlv(0x02, '00'), ISSUER, key, tlv(0xa0, challengePassword, extensionRequest));
    const decoded = decodeCsr(Buffer.from(seq(info, ALGORITHM, tlv(0x03, '00aabb')), 'hex'));
    expect(decoded.requestedExtensions.map((e) => e.id)).toEqual(['2.5.29.17']);
  });

  it('names the CRL, and a CSR, in the refusal of a structure without its signature', () => {
    expect(() => decodeCrl(Buffer.from(seq(seq(ALGORITHM)), 'hex'))).toThrow(/^malformed CRL: the CRL lacks its signature$/);
    expect(() => decodeCsr(Buffer.from(seq(seq(ALGORITHM)), 'hex'))).toThrow(/^malformed CSR: the CSR lacks its signature$/);
  });
});

describe('the DER reader and daysUntil', () => {
  afterEach(() => {
    jest.restoreAllMocks();
  });

  it('takes a long-form length whose octets end exactly at the end of the input', () => {
    expect(rawName(Buffer.from('308100', 'hex'))).toEqual([]);
  });

  it('counts whole days from now, rounding down, negative once passed', () => {
    jest.spyOn(Date, 'now').mockReturnValue(Date.UTC(2026, 10, 28));
    expect(daysUntil(new Date(Date.UTC(2026, 10, 30, 23)))).toBe(2);
    expect(daysUntil(new Date(Date.UTC(2026, 10, 27, 12)))).toBe(-1);
  });
});

describe('decodeCertificate on certificates built byte by byte', () => {
  const KEY = seq(seq(oid('2a8648ce3d0201'), oid('2a8648ce3d030107')), tlv(0x03, '0004' + '11'.repeat(64)));
  const VALIDITY = seq(utc('261128000000Z'), utc('271128000000Z'));
  const SAN = ext('551d11', seq(tlv(0x82, ascii('www.example.com'))));
  /** A certificate of `fields` after the version (serial, algorithm, issuer, validity, subject, key, optional ones). */
  const certificate = (...fields: string[]) => decodeCertificate(Buffer.from(seq(seq(...fields), ALGORITHM, tlv(0x03, '00aabb')), 'hex'));
  const v3 = (subject: string, ...optional: string[]) => certificate(tlv(0xa0, tlv(0x02, '02')), tlv(0x02, '0a'), ALGORITHM, ISSUER, VALIDITY, subject, KEY, ...optional);

  it('finds the [3] extensions after an [1] issuerUniqueID', () => {
    expect(v3(ISSUER, tlv(0x81, '00ff'), tlv(0xa3, seq(SAN))).extensions.map((e) => e.id)).toEqual(['2.5.29.17']);
  });

  it('refuses extensions it cannot read, saying so', () => {
    expect(() => v3(ISSUER, tlv(0xa3, seq(tlv(0x04, '00'))))).toThrow(/^malformed certificate: unreadable extensions \(.+\)$/);
  });

  it('refuses a certificate without fields with its own message', () => {
    expect(() => certificate()).toThrow(/^malformed certificate: the certificate is missing fields$/);
  });

  it('passes the decoder\'s own message through for a subject it cannot read', () => {
    expect(() => v3(seq(tlv(0x31, '00')))).toThrow(/^malformed certificate: [A-Z][^:]*\.$/);
  });
});

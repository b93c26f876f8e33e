/**
 * The check every freshly signed serial passes before anything is committed: positive, at most 20 octets,
 * at least 64 bits wide, and new to the database it was signed against.
 */
import { describe, expect, it } from '@jest/globals';
import forge from 'node-forge';
import { opensslHex, requireFreshSerial, serialOctets, serialValue } from '../../../src/ca/signing/serial.js';
import { certificate, certificateDer } from '../x509/fixtures.js';

/** The start of a v3 certificate: SEQUENCE { SEQUENCE { [0] { INTEGER 2 }, INTEGER serial } }, enough to hold a serial. */
function withSerial(octetsHex: string, version1 = false): Buffer {
  const { asn1 } = forge;
  const integer = (bytes: string) => asn1.create(asn1.Class.UNIVERSAL, asn1.Type.INTEGER, false, bytes);
  const version = asn1.create(asn1.Class.CONTEXT_SPECIFIC, 0, true, [integer('\x02')]);
  const serial = integer(forge.util.hexToBytes(octetsHex));
  const tbs = asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SEQUENCE, true, version1 ? [serial, integer('\x01')] : [version, serial]);
  const cert = asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SEQUENCE, true, [tbs]);
  return Buffer.from(asn1.toDer(cert).getBytes(), 'binary');
}

const RANDOM_159_BITS = '5A3F0C9E1B2D4F6081A2B3C4D5E6F70112345678';

describe('requireFreshSerial', () => {
  it('reads the serial of a real certificate', () => {
    expect(serialOctets(certificateDer('root-ec.crt')).toString('hex').toUpperCase().replace(/^00/, '')).toBe(certificate('root-ec.crt').serialHex);
  });

  it('accepts a positive serial of 64 to 159 bits that the database does not hold', () => {
    expect(requireFreshSerial(withSerial(RANDOM_159_BITS), new Set([1n, 2n]))).toBe(BigInt(`0x${RANDOM_159_BITS}`));
    expect(requireFreshSerial(withSerial('8000000000000000'.padStart(18, '0')), new Set())).toBe(1n << 63n);
  });

  it('reads the serial of a version 1 certificate (no [0] version field) too', () => {
    expect(requireFreshSerial(withSerial(RANDOM_159_BITS, true), new Set())).toBe(BigInt(`0x${RANDOM_159_BITS}`));
  });

  it('refuses a serial the database already holds', () => {
    expect(() => requireFreshSerial(withSerial(RANDOM_159_BITS), new Set([BigInt(`0x${RANDOM_159_BITS}`)]))).toThrow(`openssl signed serial ${RANDOM_159_BITS}, which index.txt already holds`);
  });

  it('names a repeated serial as index.txt writes it, without the sign octet DER adds when the top bit is set', () => {
    // One draw in 512 of openssl's 159 random bits: a zero top byte, then one with its high bit set.
    const index = '85D85E6D30401DD30405E8F44DC9615A2C7B03';
    expect(() => requireFreshSerial(withSerial(`00${index}`), new Set([BigInt(`0x${index}`)]))).toThrow(`openssl signed serial ${index}, which index.txt already holds`);
  });

  it('names a counter-sized serial in upper-case hex, as openssl and index.txt write it', () => {
    expect(() => requireFreshSerial(withSerial('0ABCDEF0'), new Set())).toThrow('openssl signed a certificate with serial 0ABCDEF0, narrower than 64 bits');
  });

  it('refuses a counter-sized serial (fewer than 64 bits)', () => {
    expect(() => requireFreshSerial(withSerial('7FFFFFFFFFFFFFFF'), new Set())).toThrow(/narrower than 64 bits/);
    expect(() => requireFreshSerial(withSerial('1001'), new Set())).toThrow(/narrower than 64 bits/);
  });

  it('refuses a negative or zero serial, and one longer than 20 octets', () => {
    expect(() => requireFreshSerial(withSerial(`80${'11'.repeat(15)}`), new Set())).toThrow(/negative/);
    expect(() => requireFreshSerial(withSerial('00'), new Set())).toThrow(/with serial 0;/);
    expect(() => requireFreshSerial(withSerial(''), new Set())).toThrow(/negative serial \(\)/);
    expect(() => requireFreshSerial(withSerial(`7F${'11'.repeat(20)}`), new Set())).toThrow(/21-octet/);
  });
});

describe('opensslHex and serialValue', () => {
  it('write a serial as openssl does: upper-case, whole bytes (a leading 0 for an odd digit count), no sign octet', () => {
    expect(opensslHex(0xabcn)).toBe('0ABC');
    expect(opensslHex(0xabcdn)).toBe('ABCD');
    expect(opensslHex(0x85d85en)).toBe('85D85E');
  });

  it('read a serial back from either case, with or without the sign octet', () => {
    expect(serialValue('0ABC')).toBe(0xabcn);
    expect(serialValue('0085d85e')).toBe(0x85d85en);
  });
});

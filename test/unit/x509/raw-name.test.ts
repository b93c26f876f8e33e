import { describe, expect, it } from '@jest/globals';
import forge from 'node-forge';
import { decodeCertificate, decodeCertificateEssentials, decodeName, formatName, rawName } from '../../../src/x509/decode.js';
import { subjectMatchesIndex } from '../../../src/ca/check/index-subject.js';
import { certificateDer } from './fixtures.js';

const { asn1 } = forge;

/** A DER Name from RDNs of [oid, string tag, value], each inner list one RDN (two entries: multi-valued). */
function nameDer(rdns: ReadonlyArray<ReadonlyArray<readonly [string, number, string]>>): Buffer {
  const name = asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SEQUENCE, true,
    rdns.map((rdn) => asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SET, true,
      rdn.map(([oid, tag, value]) => asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SEQUENCE, true, [
        asn1.create(asn1.Class.UNIVERSAL, asn1.Type.OID, false, asn1.oidToDer(oid).getBytes()),
        asn1.create(asn1.Class.UNIVERSAL, tag, false, value),
      ])))));
  return Buffer.from(asn1.toDer(name).getBytes(), 'binary');
}

const UTF8 = 0x0c;
const PRINTABLE = 0x13;
const IA5 = 0x16;

describe('rawName', () => {
  it('decodes every OID form: one-byte arcs, multi-byte arcs, a first arc of 2 above 39', () => {
    const der = nameDer([[['2.5.4.3', UTF8, 'a']], [['1.2.840.113549.1.9.1', IA5, 'b']], [['0.9.2342.19200300.100.1.25', IA5, 'c']], [['2.999.16383.128', UTF8, 'd']]]);
    expect(rawName(der).map((rdn) => rdn.map((a) => a.oid))).toEqual([['2.5.4.3'], ['1.2.840.113549.1.9.1'], ['0.9.2342.19200300.100.1.25'], ['2.999.16383.128']]);
  });

  it('keeps a multi-valued RDN together, with each value\'s string type and bytes', () => {
    const [rdn] = rawName(nameDer([[['2.5.4.3', UTF8, 'Caf\xc3\xa9'], ['2.5.4.10', PRINTABLE, 'Org']]]));
    expect(rdn!.map((a) => [a.tag, a.value.toString('hex')])).toEqual([[UTF8, '436166c3a9'], [PRINTABLE, '4f7267']]);
  });

  it('refuses an OID cut in the middle of an arc, an attribute without a value, and bytes after the name', () => {
    const good = nameDer([[['2.5.4.3', UTF8, 'a']]]);
    const cutOid = Buffer.from(good);
    cutOid[good.indexOf(Buffer.from([0x06, 0x03, 0x55, 0x04, 0x03])) + 4] = 0x83;
    expect(() => rawName(cutOid)).toThrow(/bad OBJECT IDENTIFIER/);
    const noValue = Buffer.from('3009310730050603550403', 'hex'); // SEQUENCE { SET { SEQUENCE { OID 2.5.4.3 } } }
    expect(() => rawName(noValue)).toThrow(/lacks its type or value/);
    expect(() => rawName(Buffer.concat([good, Buffer.from([0])]))).toThrow(/single DER SEQUENCE/);
  });

  it('refuses a name that is a SET, an attribute type that is no OID, and an OID without content', () => {
    const good = nameDer([[['2.5.4.3', UTF8, 'a']]]);
    expect(() => rawName(Buffer.concat([Buffer.from([0x31]), good.subarray(1)]))).toThrow('a name is not a single DER SEQUENCE');
    expect(() => rawName(Buffer.from('300a3108300602010113017a', 'hex'))).toThrow('a name attribute lacks its type or value'); // type INTEGER 1
    expect(() => rawName(Buffer.from('300b3109300706001303616263', 'hex'))).toThrow('bad OBJECT IDENTIFIER'); // OID of no bytes
  });
});

describe('decodeName', () => {
  it('reads BMPString as UTF-16 and names attributes by their short names', () => {
    const der = nameDer([[['2.5.4.10', 0x1e, '\x00C\x00a\x00f\x00\xe9']], [['2.5.4.3', UTF8, 'x']]]);
    expect(formatName(decodeName(der))).toBe('O=Café, CN=x');
  });

  it.each([
    ['a UniversalString value', 0x1c, '\x00\x00\x00a', 'UniversalString names are not supported'],
    ['a UTF8String that is not UTF-8', UTF8, '\xff\xfe', 'a name contains bytes that are not valid UTF-8'],
    ['an INTEGER value', 0x02, '\x01', 'a name attribute is not a string'],
  ])('refuses %s', (_what, tag, value, message) => {
    expect(() => decodeName(nameDer([[['2.5.4.3', tag, value]]]))).toThrow(new RegExp(`^${message}$`));
  });
});

describe('decodeCertificateEssentials', () => {
  it('gives the serial, issuer, subject and expiry the full decode gives', () => {
    for (const file of ['root-ec.crt', 'intermediate-ec.crt']) {
      const der = certificateDer(file);
      const full = decodeCertificate(der);
      expect(decodeCertificateEssentials(der)).toEqual({ serialHex: full.serialHex, issuerDer: full.issuerDer, subjectDer: full.subjectDer, notAfter: full.notAfter });
    }
  });

  it('refuses a damaged certificate as malformed', () => {
    expect(() => decodeCertificateEssentials(certificateDer('root-ec.crt').subarray(0, 100))).toThrow(/^malformed certificate: /);
  });
});

describe('subjectMatchesIndex on the names openssl ca writes', () => {
  it('matches the plain form of every attribute in its table, emailAddress, UID and DC included', () => {
    const der = nameDer([[['0.9.2342.19200300.100.1.25', IA5, 'example']], [['0.9.2342.19200300.100.1.1', UTF8, 'u1']], [['1.2.840.113549.1.9.1', IA5, 'ops@example.com']], [['2.5.4.3', UTF8, 'a/b+c']]]);
    expect(subjectMatchesIndex(der, '/DC=example/UID=u1/emailAddress=ops@example.com/CN=a\\/b\\+c')).toBe(true);
    expect(subjectMatchesIndex(der, '/DC=example/UID=u1/emailAddress=ops@example.com/CN=a/b+c')).toBe(true);
    expect(subjectMatchesIndex(der, '/DC=example/UID=u2/emailAddress=ops@example.com/CN=a\\/b\\+c')).toBe(false);
    expect(subjectMatchesIndex(der, '/DC=example/UID=u1/CN=a\\/b\\+c')).toBe(false);
  });

  it('matches a multi-valued RDN and an attribute outside its table by pattern', () => {
    const der = nameDer([[['2.5.4.10', PRINTABLE, 'Org'], ['2.5.4.3', UTF8, 'x']], [['1.3.6.1.4.1.99999.1', UTF8, 'v']]]);
    expect(subjectMatchesIndex(der, '/O=Org+CN=x/1.3.6.1.4.1.99999.1=v')).toBe(true);
    expect(subjectMatchesIndex(der, '/O=Org/CN=x/someName=v')).toBe(true);
    expect(subjectMatchesIndex(der, '/O=Org+CN=y/someName=v')).toBe(false);
  });

  it('refuses a name that does not decode', () => {
    expect(subjectMatchesIndex(Buffer.from([0x30, 0x05, 0x31]), '/CN=x')).toBe(false);
  });
});

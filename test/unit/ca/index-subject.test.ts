/**
 * The two renderings `check` compares index.txt's subject field with: openssl ca 3.0's plain string for the
 * usual subject, and the pattern of every rendering an OpenSSL release writes. Each is tested on its own,
 * since subjectMatchesIndex tries the pattern whenever the plain string differs and so hides the string's
 * mistakes that only make it differ.
 */
import { describe, expect, it } from '@jest/globals';
import { plainRendering, subjectMatchesIndex, subjectPattern } from '../../../src/ca/check/index-subject.js';
import type { RawNameAttribute } from '../../../src/x509/decode.js';

const CN = '2.5.4.3';
const O = '2.5.4.10';
const C = '2.5.4.6';
const UNKNOWN = '1.3.6.1.4.1.99999.1';
const UTF8 = 0x0c;
const PRINTABLE = 0x13;
const T61 = 0x14;

const attribute = (oid: string, value: string | Buffer, tag = UTF8): RawNameAttribute => ({ oid, tag, value: typeof value === 'string' ? Buffer.from(value, 'latin1') : value });
const single = (...attributes: RawNameAttribute[]): RawNameAttribute[][] => attributes.map((a) => [a]);

describe('plainRendering', () => {
  it('writes single-valued RDNs of known attributes as openssl ca 3.0 does, escaping only / and +', () => {
    expect(plainRendering(single(attribute(C, 'US', PRINTABLE), attribute(O, 'Slash/Plus+ Co. ~(x)'), attribute(CN, 'www.example.com')))).toBe('/C=US/O=Slash\\/Plus\\+ Co. ~(x)/CN=www.example.com');
    expect(plainRendering([])).toBe('');
  });

  it('has no plain form for a multi-valued RDN, an attribute it has no short name for, or a byte outside printable ASCII', () => {
    expect(plainRendering([[attribute(CN, 'a'), attribute(O, 'b')]])).toBeUndefined();
    expect(plainRendering([[]])).toBeUndefined();
    expect(plainRendering(single(attribute(UNKNOWN, 'a')))).toBeUndefined();
    expect(plainRendering(single(attribute(CN, 'a'), attribute(UNKNOWN, 'b')))).toBeUndefined();
    for (const byte of [0x00, 0x1f, 0x7f, 0x80, 0xe9]) expect(plainRendering(single(attribute(CN, Buffer.from([0x61, byte]))))).toBeUndefined();
  });
});

describe('subjectPattern', () => {
  const matches = (name: RawNameAttribute[][], text: string): boolean => subjectPattern(name).test(text);

  it('takes / and + escaped (3.0) or not (1.1.1), and escapes nothing else', () => {
    const name = single(attribute(O, 'a/b+c'));
    for (const text of ['/O=a\\/b\\+c', '/O=a/b+c', '/O=a\\/b+c']) expect(matches(name, text)).toBe(true);
    for (const text of ['/O=\\a/b+c', '/O=a/\\b+c', '/O=a//b+c', '/O=a.b+c']) expect(matches(name, text)).toBe(false);
  });

  it('writes printable ASCII, space and ~ included, as itself and every other byte as \\xHH with two digits', () => {
    expect(matches(single(attribute(CN, ' ~')), '/CN= ~')).toBe(true);
    expect(matches(single(attribute(CN, ' ~')), '/CN=\\x20\\x7E')).toBe(false);
    for (const byte of [0x01, 0x1f, 0x7f]) {
      const name = single(attribute(CN, Buffer.from([byte]), PRINTABLE));
      const hex = byte.toString(16).toUpperCase().padStart(2, '0');
      expect(matches(name, `/CN=\\x${hex}`)).toBe(true);
      expect(matches(name, `/CN=${String.fromCharCode(byte)}`)).toBe(false);
    }
  });

  it('takes a UTF8String\'s characters as UTF-8 or as \\xHH bytes; any other string type, or UTF-8 that does not decode, only as bytes', () => {
    expect(matches(single(attribute(O, Buffer.from('Café', 'utf8'))), '/O=Caf\\xC3\\xA9')).toBe(true);
    expect(matches(single(attribute(O, Buffer.from('Café', 'utf8'))), '/O=Café')).toBe(true);
    expect(matches(single(attribute(O, Buffer.from('Café', 'utf8'))), '/O=Caf\\xC3é')).toBe(false);
    const latin1 = Buffer.from('Caf\xe9', 'latin1');
    expect(matches(single(attribute(O, latin1, T61)), '/O=Caf\\xE9')).toBe(true);
    expect(matches(single(attribute(O, latin1, T61)), '/O=Café')).toBe(false);
    expect(matches(single(attribute(O, latin1, UTF8)), '/O=Caf\\xE9')).toBe(true);
    expect(matches(single(attribute(O, latin1, UTF8)), '/O=Café')).toBe(false);
    // Bytes that happen to be valid UTF-8 in a T61String are still bytes.
    expect(matches(single(attribute(O, Buffer.from('Café', 'utf8'), T61)), '/O=Caf\\xC3\\xA9')).toBe(true);
    expect(matches(single(attribute(O, Buffer.from('Café', 'utf8'), T61)), '/O=Café')).toBe(false);
  });

  it('writes a control character or DEL of a UTF8String only as \\xHH, never as itself', () => {
    for (const byte of [0x01, 0x7f]) {
      const name = single(attribute(CN, Buffer.from([0x61, byte]), UTF8));
      const hex = byte.toString(16).toUpperCase().padStart(2, '0');
      expect(matches(name, `/CN=a\\x${hex}`)).toBe(true);
      expect(matches(name, `/CN=a${String.fromCharCode(byte)}`)).toBe(false);
    }
  });

  it('matches a character outside the BMP as itself or as its four bytes', () => {
    const name = single(attribute(O, Buffer.from('a😀', 'utf8')));
    expect(matches(name, '/O=a😀')).toBe(true);
    expect(matches(name, '/O=a\\xF0\\x9F\\x98\\x80')).toBe(true);
  });

  it('joins the members of a multi-valued RDN with + or /, never starts with +, and takes any attribute name for an unknown OID', () => {
    const rdn = [[attribute(CN, 'a'), attribute(O, 'b')]];
    expect(matches(rdn, '/CN=a+O=b')).toBe(true);
    expect(matches(rdn, '/CN=a/O=b')).toBe(true);
    expect(matches(rdn, '+CN=a+O=b')).toBe(false);
    expect(matches(rdn, '/O=b+CN=a')).toBe(false);
    const unknown = single(attribute(CN, 'a'), attribute(UNKNOWN, 'b'));
    expect(matches(unknown, '/CN=a/1.3.6.1.4.1.99999.1=b')).toBe(true);
    expect(matches(unknown, '/CN=a/someName=b')).toBe(true);
    expect(matches(unknown, '/CN=a/=b')).toBe(false);
    expect(matches(unknown, '/CN=a/CN b=b')).toBe(false);
  });

  it('matches the whole field only', () => {
    const name = single(attribute(CN, 'a'));
    expect(matches(name, '/CN=a')).toBe(true);
    expect(matches(name, 'x/CN=a')).toBe(false);
    expect(matches(name, '/CN=ax')).toBe(false);
    expect(matches(name, '/cn=a')).toBe(false);
  });
});

describe('subjectMatchesIndex', () => {
  it('accepts every plain rendering through the pattern too, so the plain comparison is only a shortcut', () => {
    const names = [single(attribute(C, 'US', PRINTABLE), attribute(O, 'Slash/Plus+ Co. ~(x)'), attribute(CN, 'www.example.com')), single(attribute(CN, ' ')), []];
    for (const name of names) expect(subjectPattern(name).test(plainRendering(name)!)).toBe(true);
  });

  it('refuses a subject that does not decode', () => {
    expect(subjectMatchesIndex(Buffer.from('3003', 'hex'), '')).toBe(false);
  });
});

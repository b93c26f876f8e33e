import { describe, expect, it } from '@jest/globals';
import { ParseError } from '../../../../src/errors.js';
import { indexSerials, parseIndex } from '../../../../src/tools/parse/index-txt.js';
import { parseAsn1Time } from '../../../../src/x509/decode.js';

// Lines as `openssl ca` 3.0 writes them: status, expiry, revocation[,reason], serial, file, subject.
const INDEX = [
  'V\t271207144453Z\t\t382731BD18A0A82C8CCC15B186D274AC\tunknown\t/O=Example/CN=www.example.com',
  'R\t271207150721Z\t261127150724Z,keyCompromise\t52E4B519D2D55659ED9BECB6D9B6B266\tunknown\t/CN=a.example.com',
  'R\t271207150721Z\t261127150724Z\t0A\tunknown\t/CN=b.example.com',
  'E\t20501231235959Z\t\t0B\tunknown\t/CN=c.example.com',
].join('\n');

describe('parseIndex', () => {
  it('reads valid, revoked (with and without a reason) and expired entries', () => {
    const entries = parseIndex(`${INDEX}\n`);
    expect(entries.map((e) => [e.status, e.serial, e.reason, e.subject])).toEqual([
      ['valid', '382731BD18A0A82C8CCC15B186D274AC', undefined, '/O=Example/CN=www.example.com'],
      ['revoked', '52E4B519D2D55659ED9BECB6D9B6B266', 'keyCompromise', '/CN=a.example.com'],
      ['revoked', '0A', undefined, '/CN=b.example.com'],
      ['expired', '0B', undefined, '/CN=c.example.com'],
    ]);
    expect(entries[0]!.expires.toISOString()).toBe('2027-12-07T14:44:53.000Z');
    expect(entries[1]!.revokedAt?.toISOString()).toBe('2026-11-27T15:07:24.000Z');
    expect(entries[3]!.expires.toISOString()).toBe('2050-12-31T23:59:59.000Z');
  });

  it('skips an empty line between entries', () => {
    expect(parseIndex(`${INDEX.split('\n')[0]}\n\n${INDEX.split('\n')[2]}\n`).map((e) => e.serial)).toEqual(['382731BD18A0A82C8CCC15B186D274AC', '0A']);
  });

  it('is empty for a new CA', () => {
    expect(parseIndex('')).toEqual([]);
  });

  it.each([
    ['an unknown status', 'X\t271207144453Z\t\t0A\tunknown\t/CN=x'],
    ['a revoked line without a date', 'R\t271207144453Z\t\t0A\tunknown\t/CN=x'],
    ['a lower-case serial', 'V\t271207144453Z\t\t0a\tunknown\t/CN=x'],
    ['missing fields', 'V\t271207144453Z\t0A'],
    ['one field too few, every other one good', 'V\t271207144453Z\t\t0A\tunknown'],
    ['a field too many', 'V\t271207144453Z\t\t0A\tunknown\t/CN=x\textra'],
    ['a serial with a non-hex prefix', 'V\t271207144453Z\t\tx0A\tunknown\t/CN=x'],
    ['an expiry that is no time', 'V\t2712071444Z\t\t0A\tunknown\t/CN=x'],
  ])('refuses %s, showing the line', (_name, line) => {
    expect(() => parseIndex(line)).toThrow(ParseError);
    expect(() => parseIndex(line)).toThrow(line.split('\t')[0]!);
  });

  it('names the line a refusal is about, and reads the reason "unspecified" as none', () => {
    expect(() => parseIndex(`${INDEX.split('\n')[0]}\nX\t271207144453Z\t\t0A\tunknown\t/CN=x\n`)).toThrow(/index\.txt \(line 2\)/);
    expect(parseIndex('R\t271207150721Z\t261127150724Z,unspecified\t0A\tunknown\t/CN=b\n')[0]!.reason).toBeUndefined();
  });

  it.each(['constructor', 'toString', '__proto__'])('refuses the status %s, a name every object has', (flag) => {
    expect(() => parseIndex(`${flag}\t271207144453Z\t\t0A\tunknown\t/CN=x`)).toThrow(/index\.txt \(line 1\)/);
  });
});

describe('indexSerials', () => {
  it('gives the serial of every line, revoked and expired ones too, as numbers (leading zeros do not matter)', () => {
    expect(indexSerials(`${INDEX}\n`)).toEqual(new Set([0x382731bd18a0a82c8ccc15b186d274acn, 0x52e4b519d2d55659ed9becb6d9b6b266n, 0x0an, 0x0bn]));
    expect(indexSerials('')).toEqual(new Set());
  });

  it('skips a line without a hex serial field', () => {
    expect(indexSerials('V\t271207144453Z\t\tXYZ\tunknown\t/CN=a\nV\t271207144453Z\n')).toEqual(new Set());
    expect(indexSerials('V\t271207144453Z\t\tG1\tunknown\t/CN=a\nV\t271207144453Z\t\t1G\tunknown\t/CN=b\n')).toEqual(new Set());
  });
});

describe('parseAsn1Time', () => {
  it('reads UTCTime around the 1950/2049 pivot and GeneralizedTime', () => {
    expect(parseAsn1Time('491231235959Z')?.getUTCFullYear()).toBe(2049);
    expect(parseAsn1Time('500101000000Z')?.getUTCFullYear()).toBe(1950);
    expect(parseAsn1Time('20610101000000Z')?.getUTCFullYear()).toBe(2061);
    expect(parseAsn1Time('2610101000000')).toBeUndefined();
  });
});

/**
 * The edges of the name-constraint pre-check that mirror OpenSSL's rules (v3_ncons.c): a name the same length
 * as the base, a base with a leading dot, an IPv6 address without "::", an address of the other family under
 * a range that spans everything, and CNs that only look like host names.
 */
import { describe, expect, it } from '@jest/globals';
import { commonNameAsHostName, nameConstraintViolation } from '../../../src/ca/signing/name-constraints.js';
import type { San } from '../../../src/x509/san.js';

const dns = (value: string): San => ({ type: 'DNS', value });
const ip = (value: string): San => ({ type: 'IP', value });
const violation = (sans: San[], constraints: { dns?: string[]; ip?: string[] }, commonName = 'Alice') =>
  nameConstraintViolation({ sans, commonName }, { dns: constraints.dns ?? [], ip: constraints.ip ?? [] });

describe('nameConstraintViolation at the edges', () => {
  it('refuses a name exactly as long as the permitted base but not equal to it', () => {
    expect(violation([dns('evil.com')], { dns: ['good.com'] })).toBe("SAN DNS:evil.com is outside the intermediate's name constraints (permitted: good.com)");
  });

  it('takes a base with a leading dot (as a foreign intermediate may carry) as "below this domain"', () => {
    expect(violation([dns('www.example.com')], { dns: ['.example.com'] })).toBeUndefined();
  });

  it('reads an IPv6 address without "::" as its 16 bytes', () => {
    expect(violation([ip('2001:db8:1:2:3:4:5:6')], { ip: ['2001:db8::/32'] })).toBeUndefined();
    expect(violation([ip('2001:db9:1:2:3:4:5:6')], { ip: ['2001:db8::/32'] })).toMatch(/^SAN IP:2001:db9:1:2:3:4:5:6 is outside/);
  });

  it('never lets an IPv4 address into an IPv6 range, even ::/0', () => {
    expect(violation([ip('10.1.2.3')], { ip: ['::/0'] })).toBe("SAN IP:10.1.2.3 is outside the intermediate's name constraints (permitted: ::/0)");
  });

  it('names every permitted base when a host-like CN without DNS SAN falls outside', () => {
    expect(violation([], { dns: ['a.example', 'b.example'] }, 'www.evil.com')).toBe(
      "the CN www.evil.com is outside the intermediate's DNS name constraints (permitted: a.example, b.example): with no DNS SAN, verifiers check a CN that looks like a host name; ask for a CSR with a CN inside them",
    );
  });
});

describe('commonNameAsHostName at the edges', () => {
  it('drops any number of trailing NULs, as OpenSSL does, but not a NUL inside', () => {
    expect(commonNameAsHostName('www.evil.com\0\0')).toBe('www.evil.com');
    expect(commonNameAsHostName('www.evil\0.com')).toBeUndefined();
  });

  it('does not count a dot that follows a "-"', () => {
    expect(commonNameAsHostName('ab-.cd')).toBeUndefined();
  });
});

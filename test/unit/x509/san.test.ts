import { describe, it, expect } from '@jest/globals';
import { UsageError } from '../../../src/errors.js';
import type { Extension } from '../../../src/x509/decode.js';
import { dnsNameProblem, MAX_SANS, parseSanText, requireDistinctSans, sanStrings, sansFromRequestedExtensions, type San } from '../../../src/x509/san.js';
import { certificate, csr } from './fixtures.js';

/** A subjectAltName extension as node-forge decodes it; values are binary strings. */
function sanExtension(altNames: Array<{ type: number; value: string }>): Extension[] {
  return [{ id: '2.5.29.17', name: 'subjectAltName', critical: false, altNames }];
}
const ipBytes = (hex: string): string => Buffer.from(hex, 'hex').toString('binary');

describe('sansFromRequestedExtensions', () => {
  it('returns the four SANs of the CSR in order, IPv6 normalised', () => {
    expect(sansFromRequestedExtensions(csr('server-sans.csr').requestedExtensions)).toEqual([
      { type: 'DNS', value: 'www.example.com' },
      { type: 'DNS', value: 'example.com' },
      { type: 'IP', value: '10.0.0.1' },
      { type: 'IP', value: '::1' },
    ]);
  });

  it('returns nothing for a CSR without SANs', () => {
    expect(sansFromRequestedExtensions(csr('server-no-sans.csr').requestedExtensions)).toEqual([]);
    expect(sansFromRequestedExtensions([])).toEqual([]);
  });

  it('reads only the subjectAltName of a CSR that also requests CA:TRUE', () => {
    expect(sansFromRequestedExtensions(csr('server-ca-true.csr').requestedExtensions)).toEqual([{ type: 'DNS', value: 'evil.example.com' }]);
  });

  it('reads an email SAN next to a DNS SAN', () => {
    expect(sansFromRequestedExtensions(csr('server-email-san.csr').requestedExtensions)).toEqual([
      { type: 'DNS', value: 'mail.example.com' },
      { type: 'email', value: 'admin@example.com' },
    ]);
  });

  it('refuses more than MAX_SANS requested entries by their count, before reading any of them', () => {
    const many = Array.from({ length: MAX_SANS + 1 }, (_, i) => ({ type: 2, value: `host${i}.example.com` }));
    expect(() => sansFromRequestedExtensions(sanExtension(many))).toThrow(new UsageError(`the CSR requests ${MAX_SANS + 1} subjectAltName entries; at most ${MAX_SANS} are signed`));
    expect(sansFromRequestedExtensions(sanExtension(many.slice(1)))).toHaveLength(MAX_SANS);
  });

  it('reads an entry without a value as an empty name, and refuses it as such', () => {
    expect(() => sansFromRequestedExtensions([{ id: '2.5.29.17', name: 'subjectAltName', critical: false, altNames: [{ type: 2 }] }])).toThrow(new UsageError('SAN DNS name "" refused: it is empty'));
  });

  it('names the CSR as the source of a duplicate', () => {
    const dns = (value: string) => ({ type: 2, value });
    expect(() => sansFromRequestedExtensions(sanExtension([dns('a.example.com'), dns('a.example.com')]))).toThrow(new UsageError('the CSR has the SAN DNS:a.example.com twice; remove the duplicate'));
  });

  it('refuses duplicate SANs', () => {
    const extensions = csr('server-dup-san.csr').requestedExtensions;
    expect(() => sansFromRequestedExtensions(extensions)).toThrow(UsageError);
    expect(() => sansFromRequestedExtensions(extensions)).toThrow(/the SAN DNS:www\.example\.com twice/);
  });

  it('refuses duplicates that differ only in case, a trailing dot or the IPv6 spelling', () => {
    const dns = (value: string) => ({ type: 2, value });
    expect(() => sansFromRequestedExtensions(sanExtension([dns('www.example.com'), dns('WWW.Example.COM')]))).toThrow(/twice/);
    expect(() => sansFromRequestedExtensions(sanExtension([dns('www.example.com'), dns('www.example.com.')]))).toThrow(/twice/);
    const loopback = ipBytes('00000000000000000000000000000001');
    expect(() => sansFromRequestedExtensions(sanExtension([{ type: 7, value: loopback }, { type: 7, value: loopback }]))).toThrow(/IP:::1 twice/);
  });

  it('refuses a wildcard that is not the whole leftmost label', () => {
    const extensions = csr('server-bad-wildcard.csr').requestedExtensions;
    expect(() => sansFromRequestedExtensions(extensions)).toThrow(UsageError);
    expect(() => sansFromRequestedExtensions(extensions)).toThrow(/a\.\*\.example\.com.*wildcard is allowed only as the whole leftmost label/);
  });

  it('normalises IPv6 and IPv4-mapped addresses from their 16 bytes', () => {
    expect(
      sansFromRequestedExtensions(
        sanExtension([
          { type: 7, value: ipBytes('20010db8000000000000000000000001') },
          { type: 7, value: ipBytes('fe800000000000000000000000000000') },
          { type: 7, value: ipBytes('c0a80001') },
        ]),
      ),
    ).toEqual([
      { type: 'IP', value: '2001:db8::1' },
      { type: 'IP', value: 'fe80::' },
      { type: 'IP', value: '192.168.0.1' },
    ]);
  });

  it('refuses an IP SAN of the wrong length and other name types', () => {
    expect(() => sansFromRequestedExtensions(sanExtension([{ type: 7, value: ipBytes('0a000001ffffff00') }]))).toThrow(/has 8 bytes/);
    expect(sansFromRequestedExtensions(sanExtension([{ type: 6, value: 'https://example.com/' }]))).toEqual([{ type: 'URI', value: 'https://example.com/' }]);
    expect(() => sansFromRequestedExtensions(sanExtension([{ type: 6, value: 'javascript:alert(1)' }]))).toThrow(/not an absolute URI/);
    expect(() => sansFromRequestedExtensions(sanExtension([{ type: 0, value: '' }]))).toThrow(/\botherName\b/);
    expect(() => sansFromRequestedExtensions(sanExtension([{ type: 3, value: '' }]))).toThrow(/type.?3\b/);
  });

  it('refuses two subjectAltName extensions, and more than MAX_SANS names given on the command line', () => {
    expect(() => sansFromRequestedExtensions([...sanExtension([{ type: 2, value: 'a.example.com' }]), ...sanExtension([{ type: 2, value: 'b.example.com' }])])).toThrow(/the CSR requests 2 subjectAltName extensions; RFC 5280 allows one/);
    const many: San[] = Array.from({ length: MAX_SANS + 1 }, (_, i) => ({ type: 'DNS', value: `h${i}.example.com` }));
    expect(() => requireDistinctSans(many, '--san')).toThrow(new RegExp(`--san has ${MAX_SANS + 1} subjectAltName entries; at most ${MAX_SANS} are signed`));
    expect(() => requireDistinctSans(many.slice(0, MAX_SANS), '--san')).not.toThrow();
  });

  it('refuses a DNS SAN with non-ASCII bytes (IA5String must be punycode)', () => {
    expect(() => sansFromRequestedExtensions(sanExtension([{ type: 2, value: Buffer.from('müller.de').toString('binary') }]))).toThrow(UsageError);
  });
});

describe('sanStrings', () => {
  it('lists the issued certificate SANs as DNS:x / IP:y', () => {
    expect(sanStrings(certificate('server-sans.crt').extensions)).toEqual(['DNS:www.example.com', 'DNS:example.com', 'IP:10.0.0.1', 'IP:::1']);
  });

  it('is empty for a CA certificate without SANs', () => {
    expect(sanStrings(certificate('root-ec.crt').extensions)).toEqual([]);
  });
});

describe('dnsNameProblem', () => {
  it.each([
    'example.com',
    'www.example.com',
    '*.example.com',
    'xn--mnchen-3ya.de',
    'localhost',
    'a-b.example.com',
    'example.com.',
    `${'a'.repeat(63)}.example.com`,
    '1host.example.com',
    '10.0.0.example',
    [`${'a'.repeat(63)}`, `${'b'.repeat(63)}`, `${'c'.repeat(63)}`, `${'d'.repeat(61)}`].join('.'), // 253 characters
  ])('accepts %s', (name) => {
    expect(dnsNameProblem(name)).toBeUndefined();
  });

  it.each<[string, string, RegExp]>([
    ['empty', '', /empty/],
    ['a bare wildcard', '*', /wildcard needs at least two labels/],
    ['*.com', '*.com', /wildcard needs at least two labels/],
    ['foo*.example.com', 'foo*.example.com', /wildcard is allowed only as the whole leftmost label/],
    ['a.*.example.com', 'a.*.example.com', /wildcard is allowed only as the whole leftmost label/],
    ['*.*.example.com', '*.*.example.com', /wildcard/],
    ['-a.example.com', '-a.example.com', /label "-a"/],
    ['a-.example.com', 'a-.example.com', /label "a-"/],
    ['a 64-character label', `${'a'.repeat(64)}.example.com`, /label "a{64}"/],
    ['an empty label', 'www..example.com', /label ""/],
    ['a leading dot', '.example.com', /label ""/],
    ['an IPv4 address', '1.2.3.4', /IP address/],
    ['an IPv4 address with a trailing dot', '1.2.3.4.', /IP address/],
    ['a space', 'www.exa mple.com', /spaces/],
    ['a tab', 'www.example.com\t', /control/],
    ['non-ASCII', 'münchen.de', /non-ASCII/],
    ['an underscore', '_dmarc.example.com', /label "_dmarc"/],
    ['254 characters', [`${'a'.repeat(63)}`, `${'b'.repeat(63)}`, `${'c'.repeat(63)}`, `${'d'.repeat(62)}`].join('.'), /longer than 253/],
  ])('refuses %s', (_what, name, reason) => {
    expect(dnsNameProblem(name)).toMatch(reason);
  });
});

describe('parseSanText', () => {
  it.each<[string, San]>([
    ['DNS:www.example.com', { type: 'DNS', value: 'www.example.com' }],
    ['dns:www.example.com', { type: 'DNS', value: 'www.example.com' }],
    ['DNS:www.example.com.', { type: 'DNS', value: 'www.example.com' }],
    ['DNS:*.example.com', { type: 'DNS', value: '*.example.com' }],
    ['IP:10.0.0.1', { type: 'IP', value: '10.0.0.1' }],
    ['ip:10.0.0.1', { type: 'IP', value: '10.0.0.1' }],
    ['IP:0:0:0:0:0:0:0:1', { type: 'IP', value: '::1' }],
    ['IP:::1', { type: 'IP', value: '::1' }],
    ['IP:2001:DB8:0:0:0:0:0:1', { type: 'IP', value: '2001:db8::1' }],
    ['email:admin@example.com', { type: 'email', value: 'admin@example.com' }],
    ['URI:https://example.com/', { type: 'URI', value: 'https://example.com/' }],
    ['URI:spiffe://cluster.local/ns/a/sa/b', { type: 'URI', value: 'spiffe://cluster.local/ns/a/sa/b' }],
  ])('parses %s', (text, san) => {
    expect(parseSanText(text)).toEqual(san);
  });

  const NOT_IP = /is not an IPv4 or IPv6 address/;
  const NOT_EMAIL = /is not a plain e-mail address \(letters, digits and \. _ % \+ - before @, a DNS name after it\)/;
  const NOT_URI = /is not an absolute URI without spaces \(schemes: https, http, spiffe, urn, ldap\)/;
  const CONTROL = /contains a control character or a bidi\/format character/;
  it.each<[string, RegExp]>([
    ['www.example.com', /must be DNS:name, IP:address, email:address or URI:uri/],
    ['xDNS:www.example.com', /must be DNS:name, IP:address, email:address or URI:uri/],
    ['email:admin', NOT_EMAIL],
    ['email:a b@example.com', NOT_EMAIL],
    ['email:admin@*.example.com', NOT_EMAIL],
    ['email:admin@example.com\nDNS:evil.com', CONTROL],
    ['URI:example.com', NOT_URI],
    ['URI:https://exa mple.com/', NOT_URI],
    ['URI: https://example.com/', NOT_URI],
    ['URI:https://example.com/ ', NOT_URI],
    ['URI:file:///etc/passwd', NOT_URI],
    ['DNS:', /refused: it is empty/],
    ['DNS:a.*.example.com', /refused: a wildcard is allowed only as the whole leftmost label/],
    ['DNS:1.2.3.4', /refused: it is an IP address; request it as an IP SAN/],
    ['DNS:10.20.30.40', /refused: it is an IP address; request it as an IP SAN/],
    ['DNS:www.example.com\nDNS:evil.com', CONTROL],
    ['IP:', NOT_IP],
    ['IP:300.0.0.1', NOT_IP],
    ['IP:10.0.0', NOT_IP],
    ['IP:example.com', NOT_IP],
    ['IP:10.0.0.1/24', NOT_IP],
    ['IP: 10.0.0.1', NOT_IP],
  ])('refuses %j with a UsageError saying why', (text, message) => {
    expect(() => parseSanText(text)).toThrow(UsageError);
    expect(() => parseSanText(text)).toThrow(message);
  });

  it('takes DNS names whose labels only begin or end with digits', () => {
    expect(parseSanText('DNS:host1.2')).toEqual({ type: 'DNS', value: 'host1.2' });
    expect(parseSanText('DNS:1host.2')).toEqual({ type: 'DNS', value: '1host.2' });
  });

  it('refuses an IPv6 address with a zone id with a UsageError', () => {
    // A SAN iPAddress is 16 bytes: a zone id (%eth0) has no place in it.
    expect(() => parseSanText('IP:fe80::1%eth0')).toThrow(UsageError);
    expect(() => parseSanText('IP:fe80::1%eth0')).toThrow(/has an IPv6 zone; a certificate's IP address cannot carry one/);
  });
});

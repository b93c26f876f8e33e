import { describe, expect, it } from '@jest/globals';
import { cidrToAddressMask, commonNameAsHostName, nameConstraintEntries, nameConstraintViolation, parseCidr, parsePermittedDns, requireWithinNameConstraints } from '../../../src/ca/signing/name-constraints.js';
import { UsageError } from '../../../src/errors.js';
import type { San } from '../../../src/x509/san.js';

describe('name constraints', () => {
  const constraints = { dns: ['example.com'], ip: ['10.0.0.0/8', 'fd00::/8'] };

  it.each([
    ['10.0.0.0/8', '10.0.0.0/255.0.0.0'],
    ['192.168.1.0/24', '192.168.1.0/255.255.255.0'],
    ['172.16.0.0/12', '172.16.0.0/255.240.0.0'],
    ['fd00::/8', 'fd00::/ff00:0:0:0:0:0:0:0'],
    ['2001:db8::/32', '2001:db8::/ffff:ffff:0:0:0:0:0:0'],
  ])('writes %s as address/netmask %s for OpenSSL', (cidr, expected) => {
    expect(cidrToAddressMask(cidr)).toBe(expected);
  });

  it.each(['10.0.0.0', '10.0.0.0/33', 'fd00::/129', 'example.com/8', '10.0.0.0/-1'])('refuses the CIDR %s', (cidr) => {
    expect(() => parseCidr(cidr)).toThrow(`--permit-ip ${cidr} is not a CIDR range such as 10.0.0.0/8 or fd00::/8`);
  });

  it.each([
    ['10.1.2.3/32', { address: '10.1.2.3', prefix: 32, family: 'ipv4' }],
    ['10.0.0.0/0', { address: '10.0.0.0', prefix: 0, family: 'ipv4' }],
    ['fd00::1/128', { address: 'fd00::1', prefix: 128, family: 'ipv6' }],
    ['::/0', { address: '::', prefix: 0, family: 'ipv6' }],
  ])('accepts the CIDR %s, a prefix at the limit', (cidr, expected) => {
    expect(parseCidr(cidr)).toEqual(expected);
  });

  it('writes single-host ranges as full netmasks', () => {
    expect(cidrToAddressMask('10.1.2.3/32')).toBe('10.1.2.3/255.255.255.255');
    expect(cidrToAddressMask('fd00::1/128')).toBe('fd00::1/ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff');
  });

  it('confines a /32 and a /128 to their one address', () => {
    const single = { dns: [], ip: ['10.1.2.3/32', 'fd00::1/128'] };
    expect(nameConstraintViolation({ sans: [{ type: 'IP', value: '10.1.2.3' }, { type: 'IP', value: 'fd00::1' }], commonName: 'x' }, single)).toBeUndefined();
    expect(nameConstraintViolation({ sans: [{ type: 'IP', value: '10.1.2.4' }], commonName: 'x' }, single)).toContain('10.1.2.4');
    expect(nameConstraintViolation({ sans: [{ type: 'IP', value: 'fd00::2' }], commonName: 'x' }, single)).toContain('fd00::2');
  });

  it('normalises a permitted domain and refuses wildcards', () => {
    expect(parsePermittedDns('.Example.COM')).toBe('example.com');
    expect(() => parsePermittedDns('*.example.com')).toThrow(/wildcards/);
    expect(() => parsePermittedDns('exa mple.com')).toThrow(UsageError);
  });

  const check = (sans: San[], commonName = 'Some Service'): string | undefined => nameConstraintViolation({ sans, commonName }, constraints);

  it('accepts names inside the subtrees, wildcards and other types included', () => {
    expect(
      check([
        { type: 'DNS', value: 'example.com' },
        { type: 'DNS', value: 'a.b.Example.com' },
        { type: 'DNS', value: '*.example.com' },
        { type: 'IP', value: '10.255.0.1' },
        { type: 'IP', value: 'fd12::1' },
        { type: 'email', value: 'a@elsewhere.org' },
        { type: 'URI', value: 'https://elsewhere.org/' },
      ]),
    ).toBeUndefined();
  });

  it.each([
    [{ type: 'DNS', value: 'badexample.com' }, /DNS:badexample.com is outside/],
    [{ type: 'DNS', value: 'example.com.evil.org' }, /outside/],
    [{ type: 'IP', value: '11.0.0.1' }, /IP:11.0.0.1 is outside .*10\.0\.0\.0\/8/],
    [{ type: 'IP', value: '2001:db8::1' }, /outside/],
    // IPv4-mapped IPv6 is 16 bytes: OpenSSL never matches it against an IPv4 range.
    [{ type: 'IP', value: '::ffff:a01:203' }, /IP:::ffff:a01:203 is outside .*IPv4-mapped/],
  ] as Array<[San, RegExp]>)('refuses %j', (san, message) => {
    expect(() => requireWithinNameConstraints({ sans: [san], commonName: 'x' }, constraints)).toThrow(message);
  });

  it('binds only the types it has subtrees for, and a name within any one of several subtrees', () => {
    const ipOnly = { dns: [], ip: ['10.0.0.0/8'] };
    const dnsOnly = { dns: ['example.com', 'example.org'], ip: [] };
    expect(nameConstraintViolation({ sans: [{ type: 'DNS', value: 'anything.test' }], commonName: 'anything.test' }, ipOnly)).toBeUndefined();
    expect(nameConstraintViolation({ sans: [{ type: 'IP', value: '192.0.2.1' }, { type: 'DNS', value: 'www.example.org' }], commonName: 'x' }, dnsOnly)).toBeUndefined();
    expect(() => requireWithinNameConstraints({ sans: [{ type: 'DNS', value: 'www.example.com' }], commonName: 'x' }, dnsOnly)).not.toThrow();
  });

  it('lists every permitted subtree in a refusal, and the IPv4-mapped hint only for a mapped address', () => {
    expect(() => requireWithinNameConstraints({ sans: [{ type: 'DNS', value: 'evil.test' }], commonName: 'x' }, { dns: ['example.com', 'example.org'], ip: [] })).toThrow(
      "SAN DNS:evil.test is outside the intermediate's name constraints (permitted: example.com, example.org); it cannot be issued by this CA",
    );
    expect(() => requireWithinNameConstraints({ sans: [{ type: 'IP', value: '2001:db8::ffff:a01:203' }], commonName: 'x' }, constraints)).toThrow(
      "SAN IP:2001:db8::ffff:a01:203 is outside the intermediate's name constraints (permitted: 10.0.0.0/8, fd00::/8); it cannot be issued by this CA",
    );
    expect(check([], 'www.evil.com')).toBe(
      "the CN www.evil.com is outside the intermediate's DNS name constraints (permitted: example.com): with no DNS SAN, verifiers check a CN that looks like a host name; ask for a CSR with a CN inside them",
    );
  });

  it('names the option in a refused domain, and drops only a leading dot', () => {
    expect(() => parsePermittedDns('exa mple.com')).toThrow(/^--permit-dns exa mple\.com refused: /);
    expect(() => parsePermittedDns('a..b.com', '--exclude-dns')).toThrow(/^--exclude-dns a\.\.b\.com refused: /);
    expect(parsePermittedDns('a.example.com')).toBe('a.example.com');
  });

  it('refuses a CIDR with more before or after it', () => {
    for (const cidr of ['x10.0.0.0/8', '10.0.0.0/8x']) expect(() => parseCidr(cidr)).toThrow(/is not a CIDR range/);
  });

  it('checks a host-like CN against the DNS constraints only when there is no DNS SAN, as OpenSSL does', () => {
    expect(check([{ type: 'email', value: 'a@example.com' }], 'www.evil.com')).toMatch(/the CN www.evil.com is outside/);
    expect(check([], '10.1.2.3')).toMatch(/the CN 10.1.2.3/);
    expect(check([{ type: 'DNS', value: 'www.example.com' }], 'www.evil.com')).toBeUndefined();
    for (const notHostLike of ['Alice Example', '*.evil.com', 'www.evil.com.', 'evil', '-a.evil.com', 'a..evil.com', 'a-.evil.com']) {
      expect(check([], notHostLike)).toBeUndefined();
    }
    expect(check([], 'WWW.Example.COM')).toBeUndefined();
  });

  it('takes a CN as a host name the way cn2dnsid does', () => {
    expect(commonNameAsHostName('a_b.example.com')).toBe('a_b.example.com');
    expect(commonNameAsHostName('a-b.c')).toBe('a-b.c');
    expect(commonNameAsHostName('a.-b')).toBeUndefined();
    expect(commonNameAsHostName('müller.example.com')).toBeUndefined();
  });

  it('lists the template entries in order, DNS first', () => {
    expect(nameConstraintEntries(constraints)).toEqual([
      { subtree: 'permitted', type: 'DNS', index: 1, value: 'example.com' },
      { subtree: 'permitted', type: 'IP', index: 2, value: '10.0.0.0/255.0.0.0' },
      { subtree: 'permitted', type: 'IP', index: 3, value: 'fd00::/ff00:0:0:0:0:0:0:0' },
    ]);
    expect(nameConstraintEntries({ dns: ['example.com'], ip: [], excludedDns: ['secret.example.com'] })).toEqual([
      { subtree: 'permitted', type: 'DNS', index: 1, value: 'example.com' },
      { subtree: 'excluded', type: 'DNS', index: 2, value: 'secret.example.com' },
    ]);
    expect(nameConstraintEntries(undefined)).toEqual([]);
  });
});

import { BlockList, isIPv4 } from 'node:net';
import { UsageError } from '../../errors.js';
import { dnsNameProblem, type San } from '../../x509/san.js';
import type { NameConstraints } from '../directory/settings.js';

/** Parses "10.0.0.0/8" or "fd00::/8" into address, prefix length and family. */
export function parseCidr(text: string): { address: string; prefix: number; family: 'ipv4' | 'ipv6' } {
  const match = /^([0-9A-Fa-f.:]+)\/(\d{1,3})$/.exec(text);
  const family = match && isIPv4(match[1]!) ? 'ipv4' : 'ipv6';
  // Stryker disable next-line UnaryOperator: without a match the prefix is never used, the next check throws first
  const prefix = match ? Number(match[2]) : -1;
  try {
    // Stryker disable next-line ConditionalExpression: without it match[1] throws a TypeError into the same refusal
    if (!match) throw new Error();
    // Refuses a prefix past 32 (IPv4) or 128 (IPv6) itself (tests: /33 and /129 refused, /32 and /128 taken).
    new BlockList().addSubnet(match[1]!, prefix, family);
  } catch {
    throw new UsageError(`--permit-ip ${text} is not a CIDR range such as 10.0.0.0/8 or fd00::/8`);
  }
  return { address: match[1]!, prefix, family };
}

/** Validates a --permit-dns (or --exclude-dns) value: a DNS name (a leading dot is dropped), no wildcard. */
export function parsePermittedDns(text: string, option = '--permit-dns'): string {
  const name = text.replace(/^\./, '');
  const problem = name.includes('*') ? 'wildcards have no meaning in a name constraint' : dnsNameProblem(name);
  if (problem) throw new UsageError(`${option} ${text} refused: ${problem}`);
  return name.toLowerCase();
}

/**
 * OpenSSL's nc_dns: the name equals the base or ends with "." + base, compared ASCII case-insensitively.
 * A wildcard is just a label here, so *.example.com is within example.com but not within www.example.com.
 */
function dnsWithin(name: string, base: string): boolean {
  const [lower, suffix] = [name.toLowerCase(), base.toLowerCase()];
  if (!lower.endsWith(suffix)) return false;
  return lower.length === suffix.length || suffix.startsWith('.') || lower[lower.length - suffix.length - 1] === '.';
}

/** The 4 or 16 bytes of an address, as a certificate carries them. */
function ipBytes(address: string): Buffer {
  if (isIPv4(address)) return Buffer.from(address.split('.').map(Number));
  // The URL parser canonicalises: lower case, one "::" at most, an embedded IPv4 tail turned into hex groups.
  // Stryker disable next-line StringLiteral: split() always returns a first element, so the default is never taken
  const [left = '', right] = new URL(`http://[${address}]/`).hostname.slice(1, -1).split('::');
  const groups = (text: string | undefined): string[] => (text ? text.split(':') : []);
  // Stryker disable next-line StringLiteral: an empty group parses as NaN, which the byte arithmetic below turns into 0 as well
  const all = [...groups(left), ...Array<string>(8 - groups(left).length - groups(right).length).fill('0'), ...groups(right)];
  return Buffer.from(all.flatMap((group) => [parseInt(group, 16) >> 8, parseInt(group, 16) & 0xff]));
}

/**
 * OpenSSL's nc_ip: an IPv4 address matches only IPv4 ranges and an IPv6 one only IPv6 ranges, so
 * ::ffff:10.1.2.3 (IPv4-mapped) is outside 10.0.0.0/8 (Node's BlockList would say inside).
 */
function ipWithin(address: string, cidr: string): boolean {
  const host = ipBytes(address);
  const { address: baseAddress, prefix } = parseCidr(cidr);
  const base = ipBytes(baseAddress);
  if (host.length !== base.length) return false;
  return [...host].every((byte, i) => {
    const mask = (0xff << (8 - Math.max(0, Math.min(8, prefix - i * 8)))) & 0xff;
    return (byte & mask) === (base[i]! & mask);
  });
}

/**
 * OpenSSL's cn2dnsid: a CN counts as a host name when it is letters, digits and "_", with "-" and "."
 * only inside and at least one "." that has no "." or "-" next to it. "www.evil.com" and "10.1.2.3" do;
 * "Alice", "*.evil.com" and "www.evil.com." do not.
 */
export function commonNameAsHostName(cn: string): string | undefined {
  const text = cn.replace(/\0+$/, '');
  let hostLike = false;
  // Stryker disable next-line EqualityOperator: one step past the end tests undefined against /[A-Za-z0-9_]/, which matches "undefined" and continues
  for (let i = 0; i < text.length; i += 1) {
    const c = text[i]!;
    if (/[A-Za-z0-9_]/.test(c)) continue;
    const inner = i > 0 && i < text.length - 1;
    if (inner && c === '-') continue;
    // Stryker disable next-line ArithmeticOperator: two dots in a row fail here (next is '.') or at the second (previous is '.'), so looking back finds the same
    const beforeDot = text[i + 1] === '.';
    if (inner && c === '.' && !beforeDot && text[i - 1] !== '-' && text[i + 1] !== '-') {
      hostLike = true;
      continue;
    }
    return undefined;
  }
  return hostLike ? text : undefined;
}

/**
 * What a verifier would find outside the constraints, or undefined. The rules are OpenSSL's
 * (crypto/x509/v3_ncons.c, check_name_constraints in x509_vfy.c), proven against `openssl verify` by
 * test/integration/name-constraints-differential.test.ts:
 * - a constraint binds only names of its own type, so e-mail and URI names pass (this CA writes no
 *   e-mail or URI constraints, and issues no emailAddress in subjects);
 * - with permitted subtrees of a type, every name of that type must be within one of them;
 * - a leaf without a DNS SAN has its CN checked as a DNS name when the CN looks like a host name.
 */
export function nameConstraintViolation(names: { sans: readonly San[]; commonName: string }, constraints: NameConstraints): string | undefined {
  const dnsOutside = (name: string): boolean => constraints.dns.length > 0 && !constraints.dns.some((base) => dnsWithin(name, base));
  for (const san of names.sans) {
    if (san.type === 'DNS' && dnsOutside(san.value)) return `SAN DNS:${san.value} is outside the intermediate's name constraints (permitted: ${constraints.dns.join(', ')})`;
    if (san.type === 'IP' && constraints.ip.length > 0 && !constraints.ip.some((cidr) => ipWithin(san.value, cidr))) {
      const mapped = /^::ffff:/i.test(san.value) ? '; verifiers treat an IPv4-mapped IPv6 address as IPv6, so request the IPv4 address itself' : '';
      return `SAN IP:${san.value} is outside the intermediate's name constraints (permitted: ${constraints.ip.join(', ')}${mapped})`;
    }
  }
  const host = names.sans.some((san) => san.type === 'DNS') ? undefined : commonNameAsHostName(names.commonName);
  if (host !== undefined && dnsOutside(host)) {
    return `the CN ${names.commonName} is outside the intermediate's DNS name constraints (permitted: ${constraints.dns.join(', ')}): with no DNS SAN, verifiers check a CN that looks like a host name; ask for a CSR with a CN inside them`;
  }
  return undefined;
}

/**
 * Refuses names outside the intermediate's name constraints before the token is touched: verifiers would
 * reject such a certificate anyway.
 */
export function requireWithinNameConstraints(names: { sans: readonly San[]; commonName: string }, constraints: NameConstraints): void {
  const violation = nameConstraintViolation(names, constraints);
  if (violation) throw new UsageError(`${violation}; it cannot be issued by this CA`);
}

/** "10.0.0.0/8" → "10.0.0.0/255.0.0.0": OpenSSL's config wants an IP constraint as address/netmask. */
export function cidrToAddressMask(cidr: string): string {
  const { address, prefix, family } = parseCidr(cidr);
  const bits = family === 'ipv4' ? 32 : 128;
  const mask = Array.from({ length: bits / 8 }, (_, i) => {
    const ones = Math.max(0, Math.min(8, prefix - i * 8));
    return (0xff << (8 - ones)) & 0xff;
  });
  if (family === 'ipv4') return `${address}/${mask.join('.')}`;
  const groups = Array.from({ length: 8 }, (_, i) => ((mask[i * 2]! << 8) | mask[i * 2 + 1]!).toString(16));
  return `${address}/${groups.join(':')}`;
}

/** The intermediate's name constraints as template entries: `permitted;DNS.1 = …`, `permitted;IP.2 = …`, `excluded;DNS.3 = …`. */
export function nameConstraintEntries(constraints: NameConstraints | undefined): Array<{ subtree: 'permitted' | 'excluded'; type: string; index: number; value: string }> {
  if (!constraints) return [];
  const entries = [
    ...constraints.dns.map((value) => ({ subtree: 'permitted' as const, type: 'DNS', value })),
    ...constraints.ip.map((cidr) => ({ subtree: 'permitted' as const, type: 'IP', value: cidrToAddressMask(cidr) })),
    ...(constraints.excludedDns ?? []).map((value) => ({ subtree: 'excluded' as const, type: 'DNS', value })),
  ];
  return entries.map((entry, i) => ({ ...entry, index: i + 1 }));
}

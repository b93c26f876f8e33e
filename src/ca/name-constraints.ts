import { BlockList, isIPv4 } from 'node:net';
import { UsageError } from '../errors.js';
import { dnsNameProblem, type San } from '../x509/san.js';
import type { NameConstraints } from './settings.js';

/** Parses "10.0.0.0/8" or "fd00::/8" into address, prefix length and family. */
export function parseCidr(text: string): { address: string; prefix: number; family: 'ipv4' | 'ipv6' } {
  const match = /^([0-9A-Fa-f.:]+)\/(\d{1,3})$/.exec(text);
  const family = match && isIPv4(match[1]!) ? 'ipv4' : 'ipv6';
  const prefix = match ? Number(match[2]) : -1;
  try {
    if (!match || prefix > (family === 'ipv4' ? 32 : 128)) throw new Error();
    new BlockList().addSubnet(match[1]!, prefix, family);
  } catch {
    throw new UsageError(`--permit-ip ${text} is not a CIDR range such as 10.0.0.0/8 or fd00::/8`);
  }
  return { address: match[1]!, prefix, family };
}

/** Validates a --permit-dns value: a DNS name (a leading dot is dropped), no wildcard. */
export function parsePermittedDns(text: string): string {
  const name = text.replace(/^\./, '');
  const problem = name.includes('*') ? 'wildcards have no meaning in a name constraint' : dnsNameProblem(name);
  if (problem) throw new UsageError(`--permit-dns ${text} refused: ${problem}`);
  return name.toLowerCase();
}

/** A DNS name is within a permitted subtree when it equals it or ends with "." + it (RFC 5280 4.2.1.10). */
function dnsPermitted(name: string, permitted: readonly string[]): boolean {
  const lower = name.toLowerCase().replace(/^\*\./, '');
  return permitted.some((base) => lower === base || lower.endsWith(`.${base}`));
}

function ipPermitted(address: string, permitted: readonly string[]): boolean {
  const list = new BlockList();
  for (const cidr of permitted) {
    const { address: base, prefix, family } = parseCidr(cidr);
    list.addSubnet(base, prefix, family);
  }
  return list.check(address, isIPv4(address) ? 'ipv4' : 'ipv6');
}

/**
 * Refuses a SAN outside the intermediate's name constraints before the token is touched: clients would
 * reject such a certificate anyway. A constraint only binds names of its own type, as in RFC 5280.
 */
export function requireWithinNameConstraints(sans: readonly San[], constraints: NameConstraints): void {
  for (const san of sans) {
    if (san.type === 'DNS' && constraints.dns.length > 0 && !dnsPermitted(san.value, constraints.dns)) {
      throw new UsageError(`SAN DNS:${san.value} is outside the intermediate's name constraints (permitted: ${constraints.dns.join(', ')}); it cannot be issued by this CA`);
    }
    if (san.type === 'IP' && constraints.ip.length > 0 && !ipPermitted(san.value, constraints.ip)) {
      throw new UsageError(`SAN IP:${san.value} is outside the intermediate's name constraints (permitted: ${constraints.ip.join(', ')}); it cannot be issued by this CA`);
    }
  }
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

/** The intermediate's name constraints as template entries: `permitted;DNS.1 = …`, `permitted;IP.2 = …`. */
export function nameConstraintEntries(constraints: NameConstraints | undefined): Array<{ type: string; index: number; value: string }> {
  if (!constraints) return [];
  const entries = [...constraints.dns.map((value) => ({ type: 'DNS', value })), ...constraints.ip.map((cidr) => ({ type: 'IP', value: cidrToAddressMask(cidr) }))];
  return entries.map((entry, i) => ({ ...entry, index: i + 1 }));
}

import { isIPv4, isIPv6 } from 'node:net';
import { printable, UNSAFE_CHARACTER, UsageError } from '../errors.js';
import type { Extension } from './decode.js';

/** A subjectAltName entry this CA issues. */
export interface San {
  readonly type: 'DNS' | 'IP' | 'email' | 'URI';
  readonly value: string;
}

/** More than this many names in one certificate is refused: no real server needs it, and TLS stacks slow down. */
export const MAX_SANS = 100;

const LABEL = /^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$/;

/** Why `name` is not a DNS name this CA signs, or undefined when it is fine. */
export function dnsNameProblem(name: string): string | undefined {
  if (name.length === 0) return 'it is empty';
  if (name.length > 253) return 'it is longer than 253 characters';
  if (/[^\x21-\x7e]/.test(name)) return 'it contains spaces, control or non-ASCII characters (use the punycode xn-- form)';
  const labels = name.replace(/\.$/, '').split('.');
  if (labels.every((label) => /^\d+$/.test(label))) return 'it is an IP address; request it as an IP SAN';
  const [first, ...rest] = labels;
  if (first === '*' && rest.length < 2) return 'a wildcard needs at least two labels after it (*.example.com)';
  const badLabel = (first === '*' ? rest : labels).find((label) => !LABEL.test(label));
  if (badLabel !== undefined) {
    return badLabel.includes('*')
      ? 'a wildcard is allowed only as the whole leftmost label (*.example.com)'
      : `label "${badLabel}" is not 1–63 letters, digits or inner hyphens`;
  }
  return undefined;
}

export function ipFromBytes(bytes: Buffer): string | undefined {
  if (bytes.length === 4) return [...bytes].join('.');
  if (bytes.length !== 16) return undefined;
  const groups = Array.from({ length: 8 }, (_, i) => bytes.readUInt16BE(i * 2).toString(16)).join(':');
  return new URL(`http://[${groups}]/`).hostname.slice(1, -1);
}

const GENERAL_NAME_TYPES: Record<number, string> = { 0: 'otherName', 1: 'email', 2: 'DNS', 4: 'dirName', 6: 'URI', 7: 'IP', 8: 'registeredID' };

const EMAIL_LOCAL_PART = /^[A-Za-z0-9._%+-]{1,64}$/;
const URI_SCHEMES = ['https:', 'http:', 'spiffe:', 'urn:', 'ldap:'];

function ip(text: string, value: string): San {
  if (isIPv4(value)) return { type: 'IP', value };
  if (value.includes('%')) throw new UsageError(`SAN "${text}" has an IPv6 zone; a certificate's IP address cannot carry one`);
  if (isIPv6(value)) return { type: 'IP', value: new URL(`http://[${value}]/`).hostname.slice(1, -1) };
  throw new UsageError(`SAN "${text}" is not an IPv4 or IPv6 address`);
}

function email(text: string, value: string): San {
  const at = value.lastIndexOf('@');
  // Stryker disable next-line EqualityOperator: an address starting with @ (at = 0) is refused anyway, by the local part's {1,64}
  const domainProblem = at > 0 ? dnsNameProblem(value.slice(at + 1)) : 'it has no @domain';
  if (!EMAIL_LOCAL_PART.test(value.slice(0, at)) || domainProblem || value.includes('*')) {
    throw new UsageError(`SAN "${text}" is not a plain e-mail address (letters, digits and . _ % + - before @, a DNS name after it)`);
  }
  return { type: 'email', value };
}

function uri(text: string, value: string): San {
  const parsed = /^[\x21-\x7e]+$/.test(value) && URL.canParse(value) ? new URL(value) : undefined;
  if (!parsed || !URI_SCHEMES.includes(parsed.protocol)) {
    throw new UsageError(`SAN "${text}" is not an absolute URI without spaces (schemes: ${URI_SCHEMES.map((s) => s.slice(0, -1)).join(', ')})`);
  }
  return { type: 'URI', value };
}

/** Validates and normalises one SAN given as `DNS:name`, `IP:address`, `email:address` or `URI:uri`. */
export function parseSanText(text: string): San {
  if (UNSAFE_CHARACTER.test(text)) throw new UsageError(`SAN "${printable(text)}" contains a control character or a bidi/format character; ask for a name without it`);
  // Stryker disable next-line Regex: without $ it matches the same: line terminators, the only characters . stops at, were refused above
  const match = /^(DNS|IP|email|URI):(.*)$/i.exec(text);
  if (!match) throw new UsageError(`SAN "${text}" must be DNS:name, IP:address, email:address or URI:uri`);
  const type = match[1]!.toUpperCase();
  const value = match[2]!;
  if (type === 'IP') return ip(text, value);
  if (type === 'EMAIL') return email(text, value);
  if (type === 'URI') return uri(text, value);
  const problem = dnsNameProblem(value);
  if (problem) throw new UsageError(`SAN DNS name "${value}" refused: ${problem}`);
  return { type: 'DNS', value: value.replace(/\.$/, '') };
}

/** Refuses duplicates (case-insensitively) and more than MAX_SANS entries. */
export function requireDistinctSans(sans: readonly San[], source: string): void {
  if (sans.length > MAX_SANS) throw new UsageError(`${source} has ${sans.length} subjectAltName entries; at most ${MAX_SANS} are signed`);
  const seen = new Set<string>();
  for (const entry of sans) {
    // Stryker disable next-line MethodExpression: folding case to upper instead of lower finds the same duplicates
    const key = `${entry.type}:${entry.value.toLowerCase()}`;
    if (seen.has(key)) throw new UsageError(`${source} has the SAN ${entry.type}:${entry.value} twice; remove the duplicate`);
    seen.add(key);
  }
}

/**
 * The subjectAltName entries a CSR requests, validated. Entries of other types, duplicates, or too many
 * are refused with the reason; the caller decides what happens to the CSR's other requested extensions.
 */
export function sansFromRequestedExtensions(extensions: readonly Extension[]): San[] {
  const all = extensions.filter((e) => e.name === 'subjectAltName');
  if (all.length > 1) throw new UsageError(`the CSR requests ${all.length} subjectAltName extensions; RFC 5280 allows one`);
  const san = all[0];
  const altNames = (san?.['altNames'] ?? []) as Array<{ type: number; value: string }>;
  if (altNames.length > MAX_SANS) throw new UsageError(`the CSR requests ${altNames.length} subjectAltName entries; at most ${MAX_SANS} are signed`);
  const sans = altNames.map((entry): San => {
    const raw = Buffer.from(entry.value ?? '', 'binary');
    if (entry.type === 7) {
      const address = ipFromBytes(raw);
      if (!address) throw new UsageError(`the CSR's IP SAN has ${raw.length} bytes; an IP address has 4 or 16`);
      return { type: 'IP', value: address };
    }
    const prefix = { 1: 'email', 2: 'DNS', 6: 'URI' }[entry.type];
    if (prefix) return parseSanText(`${prefix}:${raw.toString('utf8')}`);
    throw new UsageError(`the CSR requests a SAN of type ${GENERAL_NAME_TYPES[entry.type] ?? entry.type}; only DNS, IP, email and URI names are signed`);
  });
  requireDistinctSans(sans, 'the CSR');
  return sans;
}

/** The SANs of an issued certificate, in "DNS:x" / "IP:y" form, for comparing with what was requested. */
export function sanStrings(extensions: readonly Extension[]): string[] {
  return sansFromRequestedExtensions(extensions).map((san) => `${san.type}:${san.value}`);
}

import { isIP } from 'node:net';
import { UsageError } from '../../errors.js';
import { formatName, type DecodedCertificate, type DecodedCsr } from '../../x509/decode.js';
import type { San } from '../../x509/san.js';
import { authority } from './authority.js';
import type { LoadedCa } from '../directory/context.js';
import { requireWithinNameConstraints } from './name-constraints.js';
import type { ProfileName } from './profiles.js';
import { LEAF_ATTRIBUTE_VALUE, type Settings } from '../directory/settings.js';

/** The subject a leaf is issued with: decided here, never copied from the request beyond its CN. */
export interface LeafSubject {
  readonly attributes: ReadonlyArray<{ readonly shortName: string; readonly value: string }>;
  readonly commonName: string;
  /** "O=…, CN=…", escaped for the terminal. */
  readonly text: string;
  /** The `openssl ca -subj` argument: each value with OpenSSL's separators (\ / +) backslash-escaped. */
  readonly subj: string;
  /** The fields the config's policy lists besides commonName (`openssl ca` drops every other field). */
  readonly policy: readonly string[];
}

const POLICY_FIELD: Record<string, string> = { C: 'countryName', ST: 'stateOrProvinceName', O: 'organizationName', OU: 'organizationalUnitName' };

/** The leaf subject the settings describe: the CA's chosen attributes (`leafSubject`), then the CSR's CN. */
export function leafSubjectFor(settings: Settings, commonName: string): LeafSubject {
  const attributes = [
    ...(settings.leafSubject ?? []).map((name) => ({ shortName: name, value: LEAF_ATTRIBUTE_VALUE[name](settings.subject) ?? '' })),
    { shortName: 'CN', value: commonName },
  ];
  return {
    attributes,
    commonName,
    text: formatName(attributes),
    subj: attributes.map((a) => `/${a.shortName}=${a.value.replace(/[\\/+]/g, '\\$&')}`).join(''),
    policy: attributes.filter((a) => a.shortName !== 'CN').map((a) => POLICY_FIELD[a.shortName]!),
  };
}

/** A name as verifiers compare distinguished names (RFC 5280 7.1): case and runs of spaces do not count. */
const canonical = (attributes: ReadonlyArray<{ shortName: string; value: string }>): string =>
  // Stryker disable next-line MethodExpression: folding case to upper instead of lower compares the same
  JSON.stringify(attributes.map((a) => [a.shortName, a.value.trim().replace(/\s+/g, ' ').toLowerCase()]));

/** Refuses a leaf subject equal to a CA's: such a certificate looks self-issued and like its CA to anyone reading names. */
export function requireNotCaSubject(subject: LeafSubject, cas: ReadonlyArray<{ name: string; certificate: DecodedCertificate }>): void {
  const clash = cas.find((ca) => canonical(ca.certificate.subject) === canonical(subject.attributes));
  if (clash) throw new UsageError(`the subject ${subject.text} would equal the ${clash.name} CA's own subject; ask for a CSR with another CN`);
}

/** Whether a CN names one of the SANs the way a TLS client compares them: DNS case-insensitively (a final dot aside), IP by address. */
function commonNameIsSan(cn: string, san: San): boolean {
  if (san.type === 'DNS') return cn.replace(/\.$/, '').toLowerCase() === san.value.toLowerCase();
  // Stryker disable next-line Regex: a URL's hostname has brackets only around an IPv6 address, at both ends
  return san.type === 'IP' && isIP(cn) !== 0 && new URL(`http://${isIP(cn) === 6 ? `[${cn}]` : cn}/`).hostname.replace(/^\[|\]$/g, '') === san.value;
}

/** A server certificate's CN must be one of its DNS or IP SANs: a CN that names something else misleads whoever reads it. */
export function requireCommonNameAmongSans(subject: LeafSubject, sans: readonly San[], profile: ProfileName): void {
  if (profile === 'client' || sans.some((san) => commonNameIsSan(subject.commonName, san))) return;
  throw new UsageError(`the CN ${subject.commonName} is not among the SANs (${sans.map((s) => `${s.type}:${s.value}`).join(', ')}) of this ${profile} certificate; add --san ${isIP(subject.commonName) ? 'IP' : 'DNS'}:${subject.commonName} if the server has that name, or ask for a new CSR whose CN is one of them`);
}

/** The CSR's one commonName (readCsr has already refused requests without exactly one). */
function commonNameOf(csr: DecodedCsr): string {
  return csr.subject.find((a) => a.shortName === 'CN')!.value;
}

/**
 * The subject a leaf is issued with, once every check on its names that needs no token has passed: not a
 * CA's subject, a server profile's CN among its SANs, every name within the intermediate's constraints.
 */
export async function decideLeafSubject(
  ca: LoadedCa,
  request: { csr: DecodedCsr; sans: readonly San[]; profile: ProfileName; intermediate: DecodedCertificate; nameConstraintPreCheck?: typeof requireWithinNameConstraints },
): Promise<LeafSubject> {
  const subject = leafSubjectFor(ca.settings, commonNameOf(request.csr));
  requireNotCaSubject(subject, [{ name: 'intermediate', certificate: request.intermediate }, { name: 'root', certificate: (await authority(ca, 'root')).certificate }]);
  requireCommonNameAmongSans(subject, request.sans, request.profile);
  if (ca.settings.nameConstraints) (request.nameConstraintPreCheck ?? requireWithinNameConstraints)({ sans: request.sans, commonName: subject.commonName }, ca.settings.nameConstraints);
  return subject;
}

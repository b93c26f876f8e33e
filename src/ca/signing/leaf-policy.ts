import type forge from 'node-forge';
import { printable, UNSAFE_CHARACTER, UsageError } from '../../errors.js';
import { nodeForge } from '../../x509/forge.js';
import { daysUntil, type DecodedCertificate, type DecodedCsr } from '../../x509/decode.js';
import { describeKey, publicKeyOf } from '../../x509/verify.js';
import type { ProfileName } from './profiles.js';

// The leaf-signing policy as pure functions over decoded requests, unit-tested at each limit (issue.ts runs them).

/** Server certificates default to at most this: Apple and Chromium reject longer-lived TLS certificates. */
export const MAX_TLS_DAYS = 398;
export const MAX_CSR_BYTES = 64 * 1024;
/** Only an EC key has a namedCurve (node's asymmetricKeyDetails), so finding it here is the type check too; other keys give undefined. */
const ALLOWED_CURVES: ReadonlySet<string | undefined> = new Set(['prime256v1', 'secp384r1', 'secp521r1']);

/** Refuses keys too weak to sign: RSA under 2048 bits and curves other than P-256/P-384/P-521. */
export function requireStrongKey(csr: DecodedCsr, path: string): 'ec' | 'rsa' {
  let key;
  try {
    key = publicKeyOf(csr.spkiDer);
  } catch {
    throw new UsageError(`the CSR ${path} has a public key of an unsupported type; use EC P-256/P-384/P-521 or RSA ≥ 2048`);
  }
  const details = key.asymmetricKeyDetails ?? {};
  if (key.asymmetricKeyType === 'rsa' && (details.modulusLength ?? 0) >= 2048) return 'rsa';
  if (ALLOWED_CURVES.has(details.namedCurve)) {
    if (!namesItsCurve(csr.spkiDer)) throw new UsageError(`the CSR ${path} has an EC key with explicit curve parameters, which RFC 5480 forbids and openssl verify refuses; ask for a CSR whose key names its curve (openssl ecparam -name prime256v1 without -param_enc explicit)`);
    return 'ec';
  }
  throw new UsageError(`the CSR ${path} has a weak or unsupported key (${describeKey(csr.spkiDer)}); use EC P-256/P-384/P-521 or RSA ≥ 2048`);
}

/**
 * Whether an EC SubjectPublicKeyInfo names its curve by OID (RFC 5480 2.1.1). node:crypto reports the same
 * namedCurve for a key that spells the curve's parameters out (a SEQUENCE), which certificates must not
 * carry. The key was read by node:crypto already, so its algorithm has parameters, one of the ECParameters
 * choices.
 */
function namesItsCurve(spkiDer: Buffer): boolean {
  const { asn1, util } = nodeForge();
  const spki = asn1.fromDer(util.createBuffer(spkiDer.toString('binary')));
  const parameters = ((spki.value as forge.asn1.Asn1[])[0]!.value as forge.asn1.Asn1[])[1]!;
  return parameters.type === asn1.Type.OID;
}

/** Refuses a subject with control characters or an over-long CN, and an extension requested twice. */
export function requireCleanRequest(csr: DecodedCsr, path: string): void {
  const dirty = csr.subject.find((a) => UNSAFE_CHARACTER.test(a.value));
  if (dirty) throw new UsageError(`the CSR ${path} has a control character or a bidi/format character in its subject (${dirty.shortName}=${printable(dirty.value)}); ask for a new CSR`);
  const cn = csr.subject.filter((a) => a.shortName === 'CN');
  if (cn.length === 0 || cn.some((a) => a.value.trim().length === 0)) throw new UsageError(`the CSR ${path} has no commonName; the signing policy requires one`);
  if (cn.length > 1) throw new UsageError(`the CSR ${path} has ${cn.length} commonNames; ask for a CSR with one`);
  if ([...cn[0]!.value].length > 64) throw new UsageError(`the CSR ${path} has a commonName longer than 64 characters (the X.509 upper bound); put long names in SANs`);
  const ids = csr.requestedExtensions.map((e) => e.id);
  const repeated = ids.find((id, i) => ids.indexOf(id) !== i);
  if (repeated) throw new UsageError(`the CSR ${path} requests the extension ${csr.requestedExtensions.find((e) => e.id === repeated)?.name ?? repeated} twice; RFC 5280 allows one`);
}

/** Refuses a validity beyond the issuer's, and beyond MAX_TLS_DAYS for a profile with serverAuth. */
export function requireValidityWithin(days: number, profile: ProfileName, issuer: DecodedCertificate): void {
  const maxDays = daysUntil(issuer.notAfter);
  if (days > maxDays) {
    throw new UsageError(`--days ${days} would outlive the intermediate CA by ${days - maxDays} days (it expires ${issuer.notAfter.toISOString().slice(0, 10)}); use --days ${maxDays} or less, or renew the intermediate first (\`hsm-openssl-ca intermediate --renew --days N\`)`);
  }
  if (profile !== 'client' && days > MAX_TLS_DAYS) {
    throw new UsageError(`--days ${days} is longer than ${MAX_TLS_DAYS} days, which browsers and Apple platforms reject for TLS server certificates; use --days ${MAX_TLS_DAYS} or less`);
  }
}
